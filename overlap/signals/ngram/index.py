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

Each stored n-gram also carries how many documents of its shard hold it
(``ngram_counts.npy``, see ``signals/ngram_counts.py``), from which each text
gets its exposure (``ngram_doc_freq``, ``ngram_doc_freq_max``) and its longest
matched span with the document holding it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from overlap.index.documents import DocStore
from overlap.index.runs import SortedRuns, spill_bytes
from overlap.index.store import Shard, ShardWriter
from overlap.text.batch import LexicalBatch
from overlap.text.kernels import aligned_words
from overlap.signals.ngram import counts as ngram_counts
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
    return {"ngram_n": 8, ngram_counts.PARAM: ngram_counts.FORMAT}


class Builder:
    """Collects one shard's n-gram hashes in bounded memory.

    Hashes are buffered with their document numbers up to the memory budget
    (``options["spill_bytes"]``, ``$OVERLAP_SPILL_BYTES``, default 128 MiB),
    sorted into runs spilled to the shard's temp folder, and merged at the end
    into the bucketed hash set with each hash's first document group and its
    number of distinct documents (see ``index/runs.py``, ``ngram_counts.DocCounter``);
    the spill files are gone before the shard commits.
    """

    def __init__(self, params: dict, writer: ShardWriter, options: dict | None = None):
        self.n = params["ngram_n"]
        self.writer = writer
        self.runs = SortedRuns(writer.path(".spill-ngram"), np.uint32, unique=False, budget=spill_bytes(options))
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
        table = hashtable.BucketedWriter(w.path(HASHES), w.path(BUCKETS), w.path(DOCS), self.total, DOC_DTYPE,
                                         w.path(ngram_counts.COUNTS), ngram_counts.COUNT_DTYPE)
        group = doc_group(self.documents)
        counter = ngram_counts.DocCounter(lambda hashes, docs, counts: table.append(
            hashes, (docs // group).astype(DOC_DTYPE), ngram_counts.saturate(counts)))
        self.runs.drain(counter.add)
        counter.finish()
        return {"ngrams": self.total, "unique_ngrams": table.close()}


@dataclass
class Partial:
    """For each query n-gram: the document group of this shard holding it, or -1; and the group size;
    and how many documents of this shard hold it."""

    doc: np.ndarray
    group: int
    count: np.ndarray | None = None


class Reader:
    def __init__(self, shard: Shard, params: dict):
        self.n = params["ngram_n"]
        self.hashes = shard.array(HASHES)
        self.buckets = shard.array(BUCKETS)
        self.docs = shard.array(DOCS)
        self.counts = shard.array(ngram_counts.COUNTS)
        self.group = doc_group(shard.entry["counts"]["documents"])

    def query(self, batch: LexicalBatch, prepared: object = None) -> Partial:
        grams, _ = batch.grams(self.n)
        at = hashtable.find(self.buckets, self.hashes, grams)
        found = at >= 0
        doc = np.full(len(grams), -1, dtype=np.int64)
        count = np.zeros(len(grams), dtype=np.int64)
        doc[found] = self.docs[at[found]]
        count[found] = self.counts[at[found]]
        return Partial(doc, self.group, count)


def merge(partials: list[Partial], batch: LexicalBatch, docs: DocStore, params: dict) -> SignalResult:
    """Union over shards; evidence is the longest run of matched n-grams in one document (group)."""
    grams, _ = batch.grams(params["ngram_n"])
    shard = np.full(len(grams), -1, dtype=np.int64)
    doc = np.full(len(grams), -1, dtype=np.int64)
    freq = np.zeros(len(grams), dtype=np.int64)
    for number, part in enumerate(partials):
        union_into(shard, doc, number, part.doc)
        freq += part.count
    return assemble(shard, doc, batch, docs, params, [part.group for part in partials], freq)


def union_into(shard: np.ndarray, doc: np.ndarray, number: int, part_doc: np.ndarray) -> None:
    """Give every n-gram not yet held by an earlier shard the document of shard ``number`` holding it."""
    fresh = (shard < 0) & (part_doc >= 0)
    shard[fresh] = number
    doc[fresh] = part_doc[fresh]


def assemble(
    shard: np.ndarray, doc: np.ndarray, batch: LexicalBatch, docs: DocStore, params: dict,
    groups: list[int] | None = None, freq: np.ndarray | None = None,
) -> SignalResult:
    """Scores and evidence from the (shard, document group) holding each query n-gram (-1: none).

    ``groups[s]`` is shard ``s``'s documents per group (see :func:`doc_group`); ``None``: one each.
    ``freq`` is the number of corpus documents holding each query n-gram (summed over
    shards; saturated here): with it come the exposure and longest-span columns.
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
        start, length = ngram_counts.longest_run(mine)
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
    if freq is not None:
        _exposure(result, shard, doc, freq, batch, docs, n, groups, {plan[1]: plan for plan in plans})
    return result


def _exposure(result: SignalResult, shard: np.ndarray, doc: np.ndarray, freq: np.ndarray, batch: LexicalBatch,
              docs: DocStore, n: int, groups: list[int] | None, plans: dict) -> None:
    """Document frequency of each text's matched n-grams and its longest matched span, with its document."""
    grams, offsets = batch.grams(n)
    found = shard >= 0
    freq = np.minimum(freq, ngram_counts.SATURATION)
    median, top = ngram_counts.doc_freq(freq, found, offsets)
    texts = len(batch)
    words = batch.word_counts()
    longest = np.where(np.diff(offsets) > 0, 0.0, np.nan)
    span_start = np.full(texts, -1, dtype=np.int64)
    span_end = np.full(texts, -1, dtype=np.int64)
    cited = SignalResult.empty(texts)
    spans = []
    for d in np.flatnonzero(result.score > 0):
        lo, hi = offsets[d], offsets[d + 1]
        start, length = ngram_counts.longest_run(found[lo:hi])
        span_start[d], span_end[d] = ngram_counts.span_words(start, length, int(words[d]), n)
        longest[d] = span_end[d] - span_start[d]
        keys = shard[lo + start : lo + start + length] * (1 << 32) + doc[lo + start : lo + start + length]
        values, counts = np.unique(keys, return_counts=True)
        key = int(values[np.argmax(counts)])
        plan = plans.get(int(d))
        if plan is not None and plan[0] == key and plan[2] == start and plan[3] == length:
            # The evidence is this very run (the usual case): cite what it cites.
            for name in ("shard", "doc", "start", "end"):
                getattr(cited, name)[d] = getattr(result, name)[d]
            continue
        spans.append((key, int(d), start, length))
    spans.sort()  # document by document, so each cited document is tokenised once (the store caches a few)
    for key, d, start, length in spans:
        lo = offsets[d]
        group = groups[key >> 32] if groups else 1
        _cite_span(cited, d, docs, n, grams[lo + start : lo + start + length], key, group)
    result.details = {
        ngram_counts.DOC_FREQ: median,
        ngram_counts.DOC_FREQ_MAX: top,
        ngram_counts.LONGEST_SPAN: longest,
        ngram_counts.SPAN_START: span_start,
        ngram_counts.SPAN_END: span_end,
        ngram_counts.SPAN_DOC_ID: [docs.doc_id(int(s), int(r)) if s >= 0 else None
                                   for s, r in zip(cited.shard, cited.doc)],
        ngram_counts.SPAN_DOC_START: cited.start,
        ngram_counts.SPAN_DOC_END: cited.end,
    }


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


def _cite_span(result, d, docs, n, run, key, group) -> None:
    """Cite the longest piece of ``run`` found in one piece in a document of the key's group (the first such)."""
    s, g = key >> 32, key & 0xFFFFFFFF
    rows = range(g, g + 1) if group == 1 else range(g * group, min((g + 1) * group, docs.documents(s)))
    best = None
    for row in rows:
        doc = docs.lexical(s, row)
        length, at = ngram_counts.longest_piece(doc.grams(n)[0], run)
        if length and (best is None or length > best[0]):
            best = (length, at, row, doc)
        if length == len(run):
            break
    result.shard[d] = s
    if best is None:
        result.doc[d] = rows[0]
        return
    length, at, row, doc = best
    last_word = min(at + length - 1 + n, int(doc.word_counts()[0]))
    start, end, _ = doc.span_text(0, at, last_word)
    result.doc[d] = row
    result.start[d], result.end[d], result.match[d] = docs.excerpt(s, row, start, end)


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
