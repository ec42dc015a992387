"""Records of a dataset copied, unchanged, into a new file of the dataset's own format.

:func:`copy_records` writes the records named by a list of row numbers (in that
order, repeats allowed) from a JSON lines, JSON array, CSV or Parquet file
(compressed or not) or a ``datasets`` folder, keeping each record's original
bytes, so a resampled dataset (:mod:`overlap.weights.resample` says which rows) reads
exactly like the input. Rows are counted as the readers of
:mod:`overlap.io.formats` count records.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from overlap.io.formats import BOM, JSON_SUFFIXES, RECORD_SUFFIXES, format_of, open_binary
from overlap.io.hf import is_hf_dataset, read_hf_table
from overlap.io.writers import atomic_path, refuse_existing

_JSON_WHITESPACE = b" \t\r\n"
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def copy_records(
    dataset_path: str | os.PathLike[str],
    rows: np.ndarray,
    out_path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    unique_ids: str | None = None,
) -> int:
    """Write the records of ``dataset_path`` named by ``rows``, in that order, to ``out_path``.

    ``unique_ids`` (an id field name, JSON lines only): a record's second and later copies
    get ``<id>#2``, ``<id>#3``, ... in that field (those copies alone are re-encoded), so the
    resampled dataset can itself be scanned.

    Row k is the k-th record in input order, 0-based, counted as the readers in
    :mod:`overlap.io.formats` count them: the k-th non-blank JSON line, JSON array
    element, Parquet row or CSV record after the header. A row may repeat.
    Records are copied, never re-encoded: JSON lines and array elements keep
    their original bytes (so keys, key order and number spelling survive), CSV
    records keep their raw text under the original header, Parquet keeps its
    schema, metadata included. ``out_path`` needs the input's suffix, compression
    included (.jsonl.zst stays .jsonl.zst); a ``datasets`` folder (save_to_disk or
    hub cache) is written as one .parquet file with its Arrow schema and metadata.
    The file appears whole or not at all.

    Returns:
        The number of records written, ``len(rows)``.

    Raises:
        FileExistsError: ``out_path`` exists and ``overwrite`` is False.
        ValueError: an unsupported or mismatched format, ``out_path`` is the
            input itself, or ``rows`` is not a 1-D integer array.
        IndexError: a row beyond the dataset's records.
    """
    source, out = Path(dataset_path), Path(out_path)
    fmt = copy_format(source)
    if fmt not in RECORD_SUFFIXES:
        raise ValueError(f"{source}: cannot resample this format; supported: {', '.join(RECORD_SUFFIXES)}")
    if format_of(out) != fmt:
        raise ValueError(f"{out}: the resampled dataset keeps the input's format, so its name must end in {fmt}")
    if out.exists() and out.resolve() == source.resolve():
        raise ValueError(f"{out} is the input dataset; write the resampled one elsewhere")
    refuse_existing(out, overwrite)
    rows = np.asarray(rows)
    if unique_ids is not None and (fmt in JSON_SUFFIXES or is_hf_dataset(source) or fmt in (".parquet", ".csv")):
        raise ValueError(f"{source}: unique ids for repeated records are written for JSON lines datasets only")
    if rows.ndim != 1 or (rows.size and not np.issubdtype(rows.dtype, np.integer)):
        raise ValueError(f"rows must be a 1-D integer array, got shape {rows.shape} of {rows.dtype}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temp, open(temp, "wb") as sink:
        if is_hf_dataset(source):
            _write_table_rows(read_hf_table(source), rows, source, sink)
        elif fmt == ".parquet":
            _write_parquet(source, rows, sink)
        elif fmt == ".csv":
            _write_csv(source, rows, sink)
        else:
            with open_binary(source, fmt) as stream, _writer(sink, fmt) as target:
                _write_json(source, fmt, rows, stream, target, unique_ids)
    return int(rows.size)


def copy_format(dataset_path: str | os.PathLike[str]) -> str | None:
    """The suffix a copy of this dataset's records must have: its own, or .parquet for a datasets folder."""
    return ".parquet" if is_hf_dataset(dataset_path) else format_of(dataset_path)


def _check_rows(rows: np.ndarray, count: int, source: Path) -> None:
    if rows.size and (rows.min() < 0 or rows.max() >= count):
        bad = int(rows[(rows < 0) | (rows >= count)][0])
        raise IndexError(f"row {bad} is out of range: {source} has {count} records")


@contextmanager
def _writer(sink: BinaryIO, fmt: str) -> Iterator[BinaryIO]:
    """``sink`` compressed as the suffix says; closing the result leaves ``sink`` open."""
    if fmt.endswith(".gz"):
        with gzip.GzipFile(filename="", fileobj=sink, mode="wb", mtime=0) as stream:  # mtime=0: reproducible
            yield stream
    elif fmt.endswith(".zst"):
        with zstandard.ZstdCompressor().stream_writer(sink, closefd=False) as stream:
            yield stream
    else:
        yield sink


def _write_json(source: Path, fmt: str, rows: np.ndarray, stream: BinaryIO, target: BinaryIO,
                unique_ids: str | None = None) -> None:
    """JSON lines stay lines; a JSON array (a .json file starting with '[') stays an array."""
    lines = iter(stream)
    head = [next(lines, b"")]
    if head[0].startswith(BOM):
        head[0] = head[0][len(BOM) :]
    while head[-1] and not head[-1].strip(_JSON_WHITESPACE):
        head.append(next(lines, b""))
    if fmt in JSON_SUFFIXES and head[-1].lstrip(_JSON_WHITESPACE).startswith(b"["):
        elements = _array_elements((b"".join(head) + stream.read()).decode(), source)
        _check_rows(rows, len(elements), source)
        body = ",\n".join(elements[k] for k in rows.tolist())
        target.write(f"[\n{body}\n]\n".encode() if body else b"[]\n")
        return
    wanted = set(rows.tolist())
    kept: dict[int, bytes] = {}
    count = 0
    for line in itertools.chain(head, lines):
        body = line.rstrip(b"\r\n")
        if body.strip(_JSON_WHITESPACE):
            if count in wanted:
                kept[count] = body
            count += 1
    _check_rows(rows, count, source)
    copies: dict[int, int] = {}
    for k in rows.tolist():
        copies[k] = copies.get(k, 0) + 1
        body = kept[k]
        if unique_ids is not None and copies[k] > 1:
            record = json.loads(body)
            if isinstance(record, dict) and unique_ids in record:
                record[unique_ids] = f"{record[unique_ids]}#{copies[k]}"
                body = json.dumps(record, ensure_ascii=False).encode()
        target.write(body + b"\n")


def _array_elements(text: str, source: Path) -> list[str]:
    """The source text of each element of the JSON array ``text``."""
    decoder = json.JSONDecoder()
    at = _JSON_SPACE.match(text).end() + 1  # past the '['
    at = _JSON_SPACE.match(text, at).end()
    elements: list[str] = []
    while text[at : at + 1] != "]":
        try:
            _, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}: invalid JSON at element {len(elements)}: {error}") from None
        elements.append(text[at:end])
        at = _JSON_SPACE.match(text, end).end()
        if text[at : at + 1] == ",":
            at = _JSON_SPACE.match(text, at + 1).end()
        elif text[at : at + 1] != "]":
            raise ValueError(f"{source}: expected ',' or ']' after element {len(elements) - 1}")
    return elements


def _write_parquet(source: Path, rows: np.ndarray, sink: BinaryIO) -> None:
    _write_table_rows(pq.read_table(source), rows, source, sink)


def _write_table_rows(table: pa.Table, rows: np.ndarray, source: Path, sink: BinaryIO) -> None:
    _check_rows(rows, table.num_rows, source)
    pq.write_table(table.take(pa.array(rows, type=pa.int64())), sink)


def _write_csv(source: Path, rows: np.ndarray, sink: BinaryIO) -> None:
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # long fields, as the reader allows
    # surrogateescape: invalid bytes pass through unchanged, as the reader keeps them.
    with source.open(encoding="utf-8", errors="surrogateescape", newline="") as f:
        lines = list(f)
    # csv.reader's line_num says how many physical lines each record took, so a
    # record with quoted newlines is copied whole, in its original quoting.
    reader = csv.reader(lines)
    records: list[str] = []
    consumed = 0
    for fields in reader:
        if fields:
            records.append("".join(lines[consumed : reader.line_num]))
        consumed = reader.line_num
    if not records:
        raise ValueError(f"{source}: no CSV header")
    header, records = records[0], records[1:]
    _check_rows(rows, len(records), source)
    newline = header[len(header.rstrip("\r\n")) :] or "\n"
    for text in [header, *(records[k] for k in rows.tolist())]:
        sink.write(text.encode("utf-8", "surrogateescape"))
        if not text.endswith(("\n", "\r")):
            sink.write(newline.encode())
