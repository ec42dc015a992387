"""Exact word n-gram containment: the share of a text's n-grams found anywhere in the corpus.

A shard stores the set of its documents' word n-gram hashes as a bucketed hash
set (``signals/hashtable.py``: ``ngram_hashes.npy`` holds 32 bits of each
hash, ``ngram_buckets.npy`` where each bucket starts, about 4.25 bytes per
n-gram) and, for each, the group of documents its first occurrence is in
(``ngram_docs.npy``, ``uint16``). A group is one document while a shard has at
most 65,536 of them, and ``ceil(documents / 65536)`` consecutive documents
beyond: evidence then looks for the matched run in each document of the group.
Membership is a binary search in one bucket; shards merge by union.

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

from overlap.index.documents import DocStore
from overlap.index.runs import SortedRuns, spill_bytes
from overlap.index.store import Shard, ShardWriter
from overlap.text.batch import LexicalBatch
from overlap.text.kernels import aligned_words
from overlap.signals.ngram import hashtable
from overlap.signals.base import SignalResult

NAME = "ngram"
HASHES = "ngram_hashes.npy"
BUCKETS = "ngram_buckets.npy"
DOCS = "ngram_docs.npy"
DOC_DTYPE = np.uint16
DOC_GROUPS = 1 << 16


def doc_group(documents: int) -> int:
    """Documents per group in a shard of ``documents`` documents (a group number fits ``DOC_DTYPE``)."""
    return max(1, -(-documents // DOC_GROUPS))


def default_params() -> dict:
    """8-grams, as in the PaLM and Llama 2 contamination studies (GPT-3 used 13)."""
    return {"ngram_n": 8}


class Builder:
    """Collects one shard's n-gram hashes in bounded memory.

    Hashes are buffered with their document numbers up to the memory budget
    (``options["spill_bytes"]``, ``$OVERLAP_SPILL_BYTES``, default 128 MiB),
    sorted into runs spilled to the shard's temp folder, and merged at the end
    into the bucketed hash set with each hash's first document group (see
    ``index/runs.py``); the spill files are gone before the shard commits.
    """

    def __init__(self, params: dict, writer: ShardWriter, options: dict | None = None):
        self.n = params["ngram_n"]
        self.writer = writer
        self.runs = SortedRuns(writer.path(".spill-ngram"), np.uint32, unique=True, budget=spill_bytes(options))
        self.total = 0
        self.documents = 0

    def add(self, batch: LexicalBatch, texts: list[str], doc_base: int) -> None:
        grams, offsets = batch.grams(self.n)
        docs = np.repeat(np.arange(len(batch), dtype=np.uint32) + np.uint32(doc_base), np.diff(offsets))
        self.total += len(grams)
        self.documents = max(self.documents, doc_base + len(batch))
        self.runs.add(grams, docs)

    def finish(self) -> dict[str, int]:
        w = self.writer
        table = hashtable.BucketedWriter(w.path(HASHES), w.path(BUCKETS), w.path(DOCS), self.total, DOC_DTYPE)
        group = doc_group(self.documents)
        self.runs.drain(lambda hashes, docs: table.append(hashes, (docs // group).astype(DOC_DTYPE)))
        return {"ngrams": self.total, "unique_ngrams": table.close()}


@dataclass
class Partial:
    """For each query n-gram: the document group of this shard holding it, or -1; and the group size."""

    doc: np.ndarray
    group: int


class Reader:
    def __init__(self, shard: Shard, params: dict):
        self.n = params["ngram_n"]
        self.hashes = shard.array(HASHES)
        self.buckets = shard.array(BUCKETS)
        self.docs = shard.array(DOCS)
        self.group = doc_group(shard.entry["counts"]["documents"])

    def query(self, batch: LexicalBatch, prepared: object = None) -> Partial:
        grams, _ = batch.grams(self.n)
        return Partial(hashtable.lookup(self.buckets, self.hashes, self.docs, grams), self.group)


def merge(partials: list[Partial], batch: LexicalBatch, docs: DocStore, params: dict) -> SignalResult:
    """Union over shards; evidence is the longest run of matched n-grams in one document (group)."""
    grams, _ = batch.grams(params["ngram_n"])
    shard = np.full(len(grams), -1, dtype=np.int64)
    doc = np.full(len(grams), -1, dtype=np.int64)
    for number, part in enumerate(partials):
        union_into(shard, doc, number, part.doc)
    return assemble(shard, doc, batch, docs, params, [part.group for part in partials])


def union_into(shard: np.ndarray, doc: np.ndarray, number: int, part_doc: np.ndarray) -> None:
    """Give every n-gram not yet held by an earlier shard the document of shard ``number`` holding it."""
    fresh = (shard < 0) & (part_doc >= 0)
    shard[fresh] = number
    doc[fresh] = part_doc[fresh]


def assemble(
    shard: np.ndarray, doc: np.ndarray, batch: LexicalBatch, docs: DocStore, params: dict,
    groups: list[int] | None = None,
) -> SignalResult:
    """Scores and evidence from the (shard, document group) holding each query n-gram (-1: none).

    ``groups[s]`` is shard ``s``'s documents per group (see :func:`doc_group`); ``None``: one each.
    """
    n = params["ngram_n"]
    grams, offsets = batch.grams(n)
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
        group = groups[key >> 32] if groups else 1
        _attach_evidence(result, d, docs, n, grams[lo + start : lo + start + length], key, group)
        # Align against the document the evidence was found in (one document of the key's group).
        cited = (int(result.shard[d]) << 32) | int(result.doc[d])
        if cited != sorted_for:
            document, sorted_for = docs.lexical(int(result.shard[d]), int(result.doc[d])), cited
            order = np.argsort(document.grams(n)[0], kind="stable")
            sorted_grams = document.grams(n)[0][order]
        alignment[d] = _alignment(batch, d, grams[lo + anchors], anchors, matched, document, sorted_grams, order, n)
    result.features[ALIGNMENT] = alignment
    return result


ALIGNMENT = "ngram_alignment"


def _best_document(shard: np.ndarray, doc: np.ndarray) -> tuple[int, np.ndarray]:
    """The (shard, document group) key most of a text's matched n-grams come from, and which n-grams those are."""
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
    aligned = aligned_words(words, document.word_hashes, anchor_at[present], order[found[present]], matched, n)
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


def _attach_evidence(result, d, docs, n, run, key, group) -> None:
    """Cite the first document of the key's group that holds the run (else one of its n-grams)."""
    s, g = key >> 32, key & 0xFFFFFFFF
    rows = range(g, g + 1) if group == 1 else range(g * group, min((g + 1) * group, docs.documents(s)))
    for piece in (run, run[:1]):
        # The run's n-grams may each be in the group but not contiguously in one document: then cite one n-gram.
        for row in rows:
            located = _locate(docs.lexical(s, row), piece, n)
            if located is not None:
                result.shard[d], result.doc[d] = s, row
                result.start[d], result.end[d], result.match[d] = docs.excerpt(s, row, *located)
                return
    result.shard[d], result.doc[d] = s, rows[0]


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
