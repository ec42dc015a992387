"""Exact word n-gram containment: the share of a text's n-grams found anywhere in the corpus.

A shard stores the sorted unique 64-bit hashes of its documents' word n-grams
(``ngram_hashes.npy``) and, for each, the first document it occurs in
(``ngram_docs.npy``). Membership is a binary search; shards merge by union.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from overlap.index.store import Shard, ShardWriter
from overlap.lexical import LexicalBatch
from overlap.signals.base import DocStore, SignalResult

NAME = "ngram"
HASHES = "ngram_hashes.npy"
DOCS = "ngram_docs.npy"


def default_params() -> dict:
    """8-grams, as in the PaLM and Llama 2 contamination studies (GPT-3 used 13)."""
    return {"ngram_n": 8}


def _unique_first(hashes: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique hashes and the document of each one's first occurrence."""
    order = np.argsort(hashes, kind="stable")
    hashes, docs = hashes[order], docs[order]
    keep = np.ones(len(hashes), dtype=bool)
    keep[1:] = hashes[1:] != hashes[:-1]
    return hashes[keep], docs[keep]


class Builder:
    """Accumulates one shard's n-gram hashes, deduplicated batch by batch."""

    def __init__(self, params: dict, writer: ShardWriter, options: dict | None = None):
        self.n = params["ngram_n"]
        self.writer = writer
        self.hashes: list[np.ndarray] = []
        self.docs: list[np.ndarray] = []
        self.total = 0

    def add(self, batch: LexicalBatch, texts: list[str], doc_base: int) -> None:
        grams, offsets = batch.grams(self.n)
        docs = np.repeat(np.arange(len(batch), dtype=np.uint32) + np.uint32(doc_base), np.diff(offsets))
        self.total += len(grams)
        h, d = _unique_first(grams, docs)
        self.hashes.append(h)
        self.docs.append(d)

    def finish(self) -> dict[str, int]:
        if self.hashes:
            hashes, docs = _unique_first(np.concatenate(self.hashes), np.concatenate(self.docs))
        else:
            hashes, docs = np.zeros(0, np.uint64), np.zeros(0, np.uint32)
        self.writer.save_array(HASHES, hashes)
        self.writer.save_array(DOCS, docs)
        return {"ngrams": self.total, "unique_ngrams": len(hashes)}


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
        doc = np.full(len(grams), -1, dtype=np.int64)
        if len(self.hashes):
            idx = np.searchsorted(self.hashes, grams)
            idx[idx == len(self.hashes)] = 0
            found = self.hashes[idx] == grams
            doc[found] = self.docs[idx[found]]
        return Partial(doc)


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
    for d in range(len(batch)):
        lo, hi = offsets[d], offsets[d + 1]
        if hi == lo:
            continue
        found = shard[lo:hi] >= 0
        result.score[d] = found.mean()
        if found.any():
            _attach_evidence(result, d, batch, docs, n, grams[lo:hi], shard[lo:hi], doc[lo:hi])
    return result


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """``(start, length)`` of the longest run of True in ``mask``."""
    best_start, best_len, start = 0, 0, -1
    for i, value in enumerate(np.append(mask, False)):
        if value and start < 0:
            start = i
        elif not value and start >= 0:
            if i - start > best_len:
                best_start, best_len = start, i - start
            start = -1
    return best_start, best_len


def _attach_evidence(result, d, batch, docs, n, grams, shard, doc) -> None:
    keys = shard * (1 << 32) + doc
    matched = keys[shard >= 0]
    values, counts = np.unique(matched, return_counts=True)
    key = values[np.argmax(counts)]
    start, length = _longest_run(keys == key)
    s, row = int(key >> 32), int(key & 0xFFFFFFFF)
    located = _locate(docs.lexical(s, row), grams[start : start + length], n)
    if located is None:
        # The run's n-grams are each in the document but not contiguously: cite one n-gram.
        length = 1
        located = _locate(docs.lexical(s, row), grams[start : start + 1], n)
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
