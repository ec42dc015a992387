"""Exact word n-gram containment: the share of a text's n-grams found anywhere in the corpus.

A shard stores the sorted unique 64-bit hashes of its documents' word n-grams
(``ngram_hashes.npy``) and, for each, the first document it occurs in
(``ngram_docs.npy``). Membership is a binary search; shards merge by union.

Beside containment, each text gets ``ngram_alignment``: the share of its words
that are matched, either inside an n-gram found in the corpus or equal to the
word they align with in its best document (the one most of its matched n-grams
come from), anchored on those n-grams. A copy with a quarter of
its words replaced keeps few whole 8-grams (0.75^8: about 10%) but three quarters
of its words in place; unseen text sharing one stock phrase with a page aligns
only over that phrase. It costs no index bytes: the best document is the one
tokenised for the evidence anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from overlap import kernels
from overlap.index.store import Shard, ShardWriter
from overlap.lexical import LexicalBatch
from overlap.signals.base import DocStore, SignalResult
from overlap.signals.runs import SortedRuns, spill_bytes

NAME = "ngram"
HASHES = "ngram_hashes.npy"
DOCS = "ngram_docs.npy"


def default_params() -> dict:
    """8-grams, as in the PaLM and Llama 2 contamination studies (GPT-3 used 13)."""
    return {"ngram_n": 8}


class Builder:
    """Collects one shard's n-gram hashes in bounded memory.

    Hashes are buffered with their document numbers up to the memory budget
    (``options["spill_bytes"]``, ``$OVERLAP_SPILL_BYTES``, default 128 MiB),
    sorted into runs spilled to the shard's temp folder, and merged at the end
    into the sorted unique hashes with each one's first document (see
    ``signals/runs.py``); the spill files are gone before the shard commits.
    """

    def __init__(self, params: dict, writer: ShardWriter, options: dict | None = None):
        self.n = params["ngram_n"]
        self.writer = writer
        self.runs = SortedRuns(writer.path(".spill-ngram"), np.uint32, unique=True, budget=spill_bytes(options))
        self.total = 0

    def add(self, batch: LexicalBatch, texts: list[str], doc_base: int) -> None:
        grams, offsets = batch.grams(self.n)
        docs = np.repeat(np.arange(len(batch), dtype=np.uint32) + np.uint32(doc_base), np.diff(offsets))
        self.total += len(grams)
        self.runs.add(grams, docs)

    def finish(self) -> dict[str, int]:
        unique = self.runs.finish(self.writer.path(HASHES), self.writer.path(DOCS))
        return {"ngrams": self.total, "unique_ngrams": unique}


@dataclass
class Partial:
    """For each query n-gram: the document of this shard holding it, or -1."""

    doc: np.ndarray


class Reader:
    def __init__(self, shard: Shard, params: dict):
        self.n = params["ngram_n"]
        self.hashes = shard.array(HASHES)
        self.docs = shard.array(DOCS)

    def query(self, batch: LexicalBatch, prepared: object = None) -> Partial:
        grams, _ = batch.grams(self.n)
        return Partial(kernels.lookup(self.hashes, self.docs, grams))


def merge(partials: list[Partial], batch: LexicalBatch, docs: DocStore, params: dict) -> SignalResult:
    """Union over shards; evidence is the longest run of matched n-grams in one document."""
    n = params["ngram_n"]
    grams, offsets = batch.grams(n)
    shard = np.full(len(grams), -1, dtype=np.int64)
    doc = np.full(len(grams), -1, dtype=np.int64)
    for number, part in enumerate(partials):
        fresh = (shard < 0) & (part.doc >= 0)
        shard[fresh] = number
        doc[fresh] = part.doc[fresh]
    result = SignalResult.empty(len(batch))
    counts = np.diff(offsets)
    matched = np.concatenate([[0], np.cumsum(shard >= 0)])
    hits = matched[offsets[1:]] - matched[offsets[:-1]]
    has = counts > 0
    result.score[has] = hits[has] / counts[has]
    # Choose each text's evidence first, then locate it document by document, so each
    # corpus document is tokenised once however many texts cite it.
    plans = []
    for d in np.flatnonzero(hits > 0):
        lo, hi = offsets[d], offsets[d + 1]
        key, mine = _best_document(shard[lo:hi], doc[lo:hi])
        start, length = _longest_run(mine)
        plans.append((key, int(d), start, length, np.flatnonzero(mine), np.flatnonzero(shard[lo:hi] >= 0)))
    plans.sort(key=lambda plan: plan[:4])
    alignment = np.where(counts > 0, 0.0, np.nan)
    sorted_for = None
    for key, d, start, length, anchors, matched in plans:
        lo = offsets[d]
        _attach_evidence(result, d, docs, n, grams[lo + start : lo + start + length], key)
        if key != sorted_for:  # plans are sorted by document: sort each one's n-grams once
            document, sorted_for = docs.lexical(key >> 32, key & 0xFFFFFFFF), key
            order = np.argsort(document.grams(n)[0], kind="stable")
            sorted_grams = document.grams(n)[0][order]
        alignment[d] = _alignment(batch, d, grams[lo + anchors], anchors, matched, document, sorted_grams, order, n)
    result.features[ALIGNMENT] = alignment
    return result


ALIGNMENT = "ngram_alignment"


def _best_document(shard: np.ndarray, doc: np.ndarray) -> tuple[int, np.ndarray]:
    """The (shard, document) key most of a text's matched n-grams come from, and which n-grams those are."""
    keys = shard * (1 << 32) + doc
    values, counts = np.unique(keys[shard >= 0], return_counts=True)
    key = int(values[np.argmax(counts)])
    return key, keys == key


def _alignment(batch: LexicalBatch, d: int, anchor_grams: np.ndarray, anchor_at: np.ndarray, matched: np.ndarray,
               document: LexicalBatch, sorted_grams: np.ndarray, order: np.ndarray, n: int) -> float:
    """Share of text ``d``'s words in a ``matched`` n-gram or equal to their aligned word in ``document``
    (whose n-grams are ``sorted_grams``, at positions ``order``)."""
    found = np.minimum(np.searchsorted(sorted_grams, anchor_grams), len(order) - 1)
    present = sorted_grams[found] == anchor_grams
    words = batch.word_hashes[batch.word_offsets[d] : batch.word_offsets[d + 1]]
    aligned = kernels.aligned_words(words, document.word_hashes, anchor_at[present], order[found[present]], matched, n)
    return aligned / len(words)


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """``(start, length)`` of the (first) longest run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    if not len(starts):
        return 0, 0
    lengths = np.flatnonzero(edges == -1) - starts
    best = int(np.argmax(lengths))
    return int(starts[best]), int(lengths[best])


def _attach_evidence(result, d, docs, n, run, key) -> None:
    s, row = key >> 32, key & 0xFFFFFFFF
    located = _locate(docs.lexical(s, row), run, n)
    if located is None:
        # The run's n-grams are each in the document but not contiguously: cite one n-gram.
        located = _locate(docs.lexical(s, row), run[:1], n)
    result.shard[d], result.doc[d] = s, row
    if located is not None:
        result.start[d], result.end[d], result.match[d] = docs.excerpt(s, row, *located)


def _locate(doc: LexicalBatch, run: np.ndarray, n: int) -> tuple[int, int] | None:
    """Byte span in the (tokenised, normalised) document of a run of consecutive n-grams."""
    grams, _ = doc.grams(n)
    width = len(run)
    for i in np.flatnonzero(grams == run[0]):
        if i + width <= len(grams) and np.array_equal(grams[i : i + width], run):
            words = int(doc.word_counts()[0])
            last_word = min(int(i) + width - 1 + n, words)
            start, end, _ = doc.span_text(0, int(i), last_word)
            return start, end
    return None
