"""Stream mode of the n-gram signal: the dataset's n-grams in memory, each corpus file probed past them.

Per corpus file (a shard), every distinct query n-gram gets the first document
of the file holding it, exactly what the file's index shard would store in
``ngram_docs.npy``, and the number of documents of the file holding it (its
``ngram_counts.npy``, counted exactly and saturated once summed); files are merged in order by union (the first file holding
an n-gram keeps it), and the scores and evidence are assembled by the same
code as index mode (:func:`overlap.signals.ngram.index.assemble`). So values and
evidence are identical to a scan of the index of the same files.

Evidence needs the text of the documents cited; a file's task keeps the
normalised text of each document that is first to hold some query n-gram, and
the merge keeps only those still cited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from overlap.signals import probe
from overlap.index.sorting import unique_keys
from overlap.text.batch import LexicalBatch
from overlap.signals.ngram import counts as ngram_counts
from overlap.signals.ngram import index as ngram
from overlap.signals.base import SignalResult
from overlap.signals.stream_docs import CitedDocs


@dataclass
class Side:
    """The dataset's side: its distinct n-gram hashes (sorted) in a probe table."""

    table: probe.KeyTable


def side(batch: LexicalBatch, params: dict, options: dict | None = None) -> Side:
    """Build the in-memory table of the query texts' n-grams."""
    grams, _ = batch.grams(params["ngram_n"])
    return Side(probe.KeyTable.build(unique_keys(grams)))


@dataclass
class Partial:
    """Per distinct query n-gram: the first document of this file holding it (-1: none) and how many
    documents of the file hold it; the cited documents."""

    first: np.ndarray
    count: np.ndarray
    cited: dict[int, tuple[str, bytes]] = field(default_factory=dict)


class Probe:
    """One corpus file's pass: batch after batch, in document order."""

    def __init__(self, side: Side, params: dict, options: dict | None = None):
        self.side = side
        self.n = params["ngram_n"]
        size = len(side.table.keys)
        self.partial = Partial(np.full(size, -1, dtype=np.int64), np.zeros(size, dtype=np.int64))
        self.last = np.full(size, -1, dtype=np.int64)

    def add(self, batch: LexicalBatch, ids: list[str], doc_base: int) -> None:
        grams, offsets = batch.grams(self.n)
        cited = ngram_counts.first_docs_counts(self.side.table, grams, offsets, self.partial.first, self.last,
                                               self.partial.count, doc_base)
        for d in np.flatnonzero(cited).tolist():
            self.partial.cited[doc_base + d] = (ids[d], batch.text_bytes(d))

    def finish(self) -> Partial:
        return self.partial


class Merger:
    """Union of the files' partials, in file order, holding only the documents still cited."""

    def __init__(self, side: Side, params: dict):
        self.side = side
        self.params = params
        size = len(side.table.keys)
        self.shard = np.full(size, -1, dtype=np.int64)
        self.doc = np.full(size, -1, dtype=np.int64)
        self.freq = np.zeros(size, dtype=np.int64)
        self.docs = CitedDocs()

    def add(self, number: int, part: Partial) -> None:
        before = self.shard >= 0
        ngram.union_into(self.shard, self.doc, number, part.first)
        self.freq += part.count
        taken = (self.shard == number) & ~before
        for row in np.unique(self.doc[taken]).tolist():
            self.docs.add(number, row, *part.cited[row])

    def result(self, batch: LexicalBatch) -> SignalResult:
        """Scores and evidence per query text, as index mode assembles them."""
        return self._assemble(batch, exposure=True)

    def scored(self, batch: LexicalBatch) -> SignalResult:
        """:meth:`result` without the exposure details (what calibration reads: scores and features)."""
        return self._assemble(batch, exposure=False)

    def _assemble(self, batch: LexicalBatch, exposure: bool) -> SignalResult:
        grams, _ = batch.grams(self.params["ngram_n"])
        place = np.searchsorted(self.side.table.keys, grams)
        shard, doc = self.shard[place], self.doc[place]
        result = ngram.assemble(shard, doc, batch, self.docs, self.params,
                                freq=self.freq[place] if exposure else None)
        result.doc_ids = [self.docs.doc_id(int(s), int(d)) if s >= 0 else None
                          for s, d in zip(result.shard, result.doc)]
        return result
