"""Exposure in the n-gram signal: how many corpus documents hold each n-gram, and each text's longest matched span.

Presence says a text's n-grams occur in the corpus; exposure says how often. Each
n-gram of an index shard carries the number of distinct documents of the shard
holding it (``ngram_counts.npy``, ``uint8``, saturating at ``SATURATION``: one byte
per stored n-gram), and stream mode counts the same per corpus file. Shards and
files add up, saturating again, so both modes give the same counts.

Per text, from the counts of its n-grams found in the corpus:

* ``ngram_doc_freq``: the median number of documents holding its matched n-grams
  (0 where none matched; NaN for a text with no words), ``ngram_doc_freq_max`` the
  largest: a passage copied into k documents shows k, licence boilerplate hundreds;
* ``ngram_longest_span``: the words of its longest run of consecutive matched
  n-grams (``run + n - 1``, at most its words), the single best contamination
  signal in the literature (ConTAM); with its word offsets in the text
  (``ngram_span_start``/``_end``) and the corpus document first holding most of
  its n-grams, with the character offsets in that (normalised) document of the
  longest piece of the span found there in one piece (``ngram_span_doc_id``,
  ``_doc_start``/``_doc_end``): the whole span unless the document holds it only
  in pieces (an index keeps, per n-gram, only the first document holding it).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit

from overlap.signals.probe import KeyTable, _find  # inlined: numba's cache tracks only this file, touch it when _find changes (blocked Bloom filter)

COUNTS = "ngram_counts.npy"
COUNT_DTYPE = np.uint8
SATURATION = int(np.iinfo(COUNT_DTYPE).max)
# The manifest parameter that says an index's n-grams carry document counts (older indexes lack it).
PARAM = "ngram_counts"
FORMAT = "doc-freq-uint8/v1"

DOC_FREQ = "ngram_doc_freq"
DOC_FREQ_MAX = "ngram_doc_freq_max"
LONGEST_SPAN = "ngram_longest_span"
SPAN_START = "ngram_span_start"
SPAN_END = "ngram_span_end"
SPAN_DOC_ID = "ngram_span_doc_id"
SPAN_DOC_START = "ngram_span_doc_start"
SPAN_DOC_END = "ngram_span_doc_end"
# Reported beside the scores (``Signal.details``), not model inputs: no measurement yet shows they help.
MEASURES = (DOC_FREQ, DOC_FREQ_MAX, LONGEST_SPAN)
DETAILS = (SPAN_START, SPAN_END, SPAN_DOC_ID, SPAN_DOC_START, SPAN_DOC_END)


def compatibility_problems(params: dict, options: dict) -> list[str]:
    """An index built before n-grams carried document counts cannot give exposure: refuse it."""
    stored = params.get(PARAM)
    if stored == FORMAT:
        return []
    return [f"{PARAM}: index has {stored!r}, this overlap needs {FORMAT!r} (per-n-gram document counts, "
            "added after the index was built); rebuild the index"]


def saturate(counts: np.ndarray) -> np.ndarray:
    """Counts as stored: at most ``SATURATION``."""
    return np.minimum(counts, SATURATION).astype(COUNT_DTYPE)


class DocCounter:
    """Sorted ``(hash, document)`` pairs (documents ascending within a hash, a hash possibly continuing
    into the next block) -> each hash once with its first document and its number of distinct documents.

    Complete hashes go to ``emit(hashes, first_docs, counts)`` block by block; :meth:`finish` emits the last.
    """

    def __init__(self, emit: Callable[[np.ndarray, np.ndarray, np.ndarray], None]):
        self.emit = emit
        self.pending: tuple[int, int, int, int] | None = None  # hash, first document, last document, count

    def add(self, keys: np.ndarray, docs: np.ndarray) -> None:
        n = len(keys)
        if not n:
            return
        cont = self.pending is not None and int(keys[0]) == self.pending[0]
        new_key = np.empty(n, dtype=bool)
        new_key[0] = not cont
        np.not_equal(keys[1:], keys[:-1], out=new_key[1:])
        new_doc = new_key.copy()
        new_doc[1:] |= docs[1:] != docs[:-1]
        if cont:
            new_doc[0] = int(docs[0]) != self.pending[2]
        starts = np.flatnonzero(new_key)
        head = int(starts[0]) if len(starts) else n
        if cont:
            key, first, _, count = self.pending
            self.pending = (key, first, int(docs[head - 1]), count + int(new_doc[:head].sum()))
        if not len(starts):
            return
        counts = np.add.reduceat(new_doc.astype(np.int64), starts)
        firsts = docs[starts].astype(np.int64)
        hashes = keys[starts].astype(np.uint64)
        if self.pending is not None:
            key, first, _, count = self.pending
            hashes = np.concatenate([np.array([key], dtype=np.uint64), hashes])
            firsts = np.concatenate([[first], firsts])
            counts = np.concatenate([[count], counts])
        self.pending = (int(hashes[-1]), int(firsts[-1]), int(docs[-1]), int(counts[-1]))
        if len(hashes) > 1:
            self.emit(hashes[:-1], firsts[:-1], counts[:-1])

    def finish(self) -> None:
        if self.pending is not None:
            key, first, _, count = self.pending
            self.pending = None
            self.emit(np.array([key], dtype=np.uint64), np.array([first], dtype=np.int64),
                      np.array([count], dtype=np.int64))


@njit(cache=True, nogil=True)
def _first_docs_counts(keys, slots, bloom, grams, gram_offsets, first, last, count, doc_base, cited):
    for d in range(gram_offsets.shape[0] - 1):
        doc = doc_base + d
        for g in range(gram_offsets[d], gram_offsets[d + 1]):
            i = _find(keys, slots, bloom, grams[g])
            if i >= 0:
                if first[i] < 0:
                    first[i] = doc
                    cited[d] = True
                if last[i] != doc:
                    last[i] = doc
                    count[i] += 1


def first_docs_counts(table: KeyTable, grams: np.ndarray, gram_offsets: np.ndarray, first: np.ndarray,
                      last: np.ndarray, count: np.ndarray, doc_base: int) -> np.ndarray:
    """``probe.first_docs`` that also counts, per table key, the distinct documents holding it.

    ``last[i]`` (-1 at first) is the last document counted for key ``i`` and
    ``count[i]`` its count; documents come in increasing order. Returns which
    documents of the batch were first for some key.
    """
    cited = np.zeros(len(gram_offsets) - 1, dtype=np.bool_)
    _first_docs_counts(table.keys, table.slots, table.bloom, grams, gram_offsets, first, last, count,
                       np.int64(doc_base), cited)
    return cited


def doc_freq(freq: np.ndarray, found: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per text: median and max of ``freq`` over its ``found`` n-grams (0 where none; NaN without n-grams)."""
    texts = len(offsets) - 1
    median = np.where(np.diff(offsets) > 0, 0.0, np.nan)
    top = median.copy()
    for d in range(texts):
        lo, hi = offsets[d], offsets[d + 1]
        mine = freq[lo:hi][found[lo:hi]]
        if len(mine):
            median[d] = float(np.median(mine))
            top[d] = float(mine.max())
    return median, top


def longest_run(found: np.ndarray) -> tuple[int, int]:
    """``(start, length)`` of the first longest run of True in ``found``."""
    edges = np.diff(np.concatenate([[0], found.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    if not len(starts):
        return 0, 0
    lengths = np.flatnonzero(edges == -1) - starts
    best = int(np.argmax(lengths))
    return int(starts[best]), int(lengths[best])


def span_words(start: int, length: int, words: int, n: int) -> tuple[int, int]:
    """Word offsets ``(first, end)`` in a text of ``words`` words of its n-grams ``start:start+length``."""
    if length == 0:
        return 0, 0
    return start, min(start + length - 1 + n, words)


def longest_piece(doc_grams: np.ndarray, run: np.ndarray) -> tuple[int, int]:
    """``(length, position in doc_grams)`` of the longest stretch of consecutive n-grams of ``run``
    found consecutive in ``doc_grams`` (the first such; ``(0, -1)`` if none is there)."""
    where: dict[int, list[int]] = {}
    hits = np.flatnonzero(np.isin(doc_grams, run))
    for p, g in zip(hits.tolist(), doc_grams[hits].tolist()):
        where.setdefault(g, []).append(p)
    best, at = 0, -1
    previous: dict[int, int] = {}
    for g in run.tolist():
        current = {}
        for p in where.get(g, ()):
            current[p] = previous.get(p - 1, 0) + 1
            if current[p] > best:
                best, at = current[p], p - current[p] + 1
        previous = current
    return best, at


BOILERPLATE_DOCS = 100  # matched text held by at least this many documents reads as boilerplate


def summarize(scores) -> list[str]:
    """The exposure line of the terminal summary: how widely the familiar examples' matched text occurs."""
    import polars as pl

    if DOC_FREQ not in scores.columns or "label" not in scores.columns:
        return []
    matched = scores.filter(pl.col(DOC_FREQ).fill_null(0) > 0)
    if not matched.height:
        return []
    familiar = matched.filter(pl.col("label") == "familiar")
    common = matched.filter(pl.col(DOC_FREQ_MAX) >= BOILERPLATE_DOCS).height
    line = (f"n-gram exposure: {matched.height} examples share n-grams with the corpus, held by a median of "
            f"{matched[DOC_FREQ].median():.0f} documents")
    if familiar.height:
        line += (f" ({familiar[DOC_FREQ].median():.0f} for familiar ones; their longest matched span "
                 f"a median {familiar[LONGEST_SPAN].median():.0f} words)")
    return [line + f"; {common} hold text found in {BOILERPLATE_DOCS}+ documents (boilerplate, stock phrases)"]
