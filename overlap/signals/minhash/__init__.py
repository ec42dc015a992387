"""Near-duplicate similarity: best estimated Jaccard against a corpus window, via MinHash LSH.

``index`` builds and queries the LSH bands of an index, ``stream`` probes corpus
windows past the dataset's signatures, ``kernels`` holds the compiled sketches,
``dedup`` the near-duplicate groups inside a dataset.
"""

from __future__ import annotations

from overlap.signals.base import Signal, StreamMode
from overlap.signals.minhash import dedup, stream
from overlap.signals.minhash.index import Builder, NAME, Reader, default_params, merge

SIGNAL = Signal(
    name=NAME,
    column="minhash_jaccard",
    evidence="minhash",
    title="near-duplicate (MinHash Jaccard)",
    short="near-dup",
    default_params=default_params,
    Builder=Builder,
    Reader=Reader,
    merge=merge,
    stream=StreamMode(stream.side, stream.Probe, stream.Merger),
    duplicate_groups=dedup.duplicate_groups,
    lexical=True,
)
