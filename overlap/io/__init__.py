"""Input and output: dataset and corpus readers, chat layouts, atomic writers."""

from overlap.io.errors import InputError, Reject
from overlap.io.formats import SUPPORTED_SUFFIXES, expand_sources, iter_records
from overlap.io.layouts import (
    LAYOUTS,
    CorpusBatch,
    Example,
    detect_layout,
    iter_corpus_batches,
    read_dataset,
    to_example,
)
from overlap.io.writers import (
    atomic_path,
    atomic_write_bytes,
    check_table_output,
    read_table,
    refuse_existing,
    table_metadata,
    write_rejects,
    write_table,
)

__all__ = [
    "LAYOUTS",
    "SUPPORTED_SUFFIXES",
    "CorpusBatch",
    "Example",
    "InputError",
    "Reject",
    "atomic_path",
    "atomic_write_bytes",
    "check_table_output",
    "detect_layout",
    "expand_sources",
    "iter_corpus_batches",
    "iter_records",
    "read_dataset",
    "read_table",
    "refuse_existing",
    "table_metadata",
    "to_example",
    "write_rejects",
    "write_table",
]
