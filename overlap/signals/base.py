"""What every signal module shares: its shape and the results it hands to scoring.

A signal module (``ngram``, ``minhash``, ``embedding``) has the same small shape:

* ``NAME`` and ``default_params() -> dict`` (every parameter that affects its files);
* ``Builder(params, writer, options)`` with ``add(batch, texts, doc_base)`` and ``finish() -> counts``;
* ``Reader(shard, params)`` with ``query(batch, texts) -> partial`` (plain numpy arrays);
* ``merge(partials, batch, docs, params) -> SignalResult`` combining per-shard partials
  (max or union) and attaching the evidence of the winning shard, cut from ``docs``
  (the index's document store, ``index/documents.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SignalResult:
    """Per query text: a score and the evidence behind it.

    ``score`` is NaN where the signal has nothing to say (an empty text).
    ``shard``/``doc`` are -1 where nothing matched; ``start``/``end`` are
    character offsets of ``match`` in the normalised corpus document.
    ``features`` holds further per-text values a signal measures on the way
    (column name -> array), scored beside ``score`` (see ``score.FEATURES``).
    """

    score: np.ndarray
    shard: np.ndarray
    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    match: list[str | None]
    features: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def empty(cls, n: int) -> "SignalResult":
        return cls(
            np.full(n, np.nan),
            np.full(n, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            [None] * n,
        )


@dataclass
class FileBest:
    """Stream mode: per query text, one corpus file's best match (row -1: none) and its evidence."""

    row: np.ndarray
    score: np.ndarray
    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    match: list[str | None]
    doc_id: list[str | None]
