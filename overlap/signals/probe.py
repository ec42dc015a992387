"""Compiled hash tables of a dataset's keys, probed by a stream of corpus keys (stream mode).

Stream mode holds the small side (a fine-tuning dataset's n-gram hashes, its
MinHash band hashes) in memory and streams the corpus past it. Each corpus key
is looked up once: a blocked Bloom filter (three bits in one 64-bit word, so one
cache line per key) that fits in cache answers "absent" for
almost every key of a corpus that mostly does not overlap, and only the rest
reach the open-addressing table. Keys are the same 64-bit hashes index mode
stores (``lexical_kernels.py`` and ``signals/minhash_kernels.py`` compute
both), so a probe answers exactly what a binary search of the index would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from overlap.text.kernels import mix64

_EMPTY = np.int64(-1)


@dataclass
class KeyTable:
    """Unique ``uint64`` keys with an open-addressing table of their positions and a Bloom filter."""

    keys: np.ndarray
    slots: np.ndarray
    bloom: np.ndarray

    @classmethod
    def build(cls, keys: np.ndarray) -> "KeyTable":
        """The table of ``keys`` (unique); a key's value is its position in ``keys``."""
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        size = 1 << max(4, int(2 * max(len(keys), 1) - 1).bit_length())
        bloom_bits = 1 << max(16, int(16 * max(len(keys), 1) - 1).bit_length())
        slots = np.full(size, _EMPTY, dtype=np.int64)
        bloom = np.zeros(bloom_bits // 64, dtype=np.uint64)
        _fill(keys, slots, bloom)
        return cls(keys, slots, bloom)

    def __reduce__(self):
        """Pickled as its keys alone: the table and the filter are rebuilt on arrival (a third of the bytes to ship)."""
        return (KeyTable.build, (self.keys,))

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Position of each query in ``keys``, -1 where absent."""
        out = np.empty(len(queries), dtype=np.int64)
        _find_all(self.keys, self.slots, self.bloom, np.ascontiguousarray(queries, dtype=np.uint64), out)
        return out

    def contains(self, queries: np.ndarray, mask: int = (1 << 64) - 1) -> np.ndarray:
        """Whether each query (its bits in ``mask``: ``query & mask``) is one of ``keys``."""
        out = np.empty(len(queries), dtype=np.bool_)
        _contains_all(self.keys, self.slots, self.bloom, np.ascontiguousarray(queries, dtype=np.uint64),
                      np.uint64(mask), out)
        return out


@njit(inline="always")
def _bloom_word(m, words):
    """The Bloom filter word of mixed key ``m`` and the three bits it sets there (one cache line per probe)."""
    w = (m >> np.uint64(40)) & np.uint64(words - 1)
    one = np.uint64(1)
    bits = (one << (m & np.uint64(63))) | (one << ((m >> np.uint64(6)) & np.uint64(63))) \
        | (one << ((m >> np.uint64(12)) & np.uint64(63)))
    return w, bits


@njit(cache=True)
def _fill(keys, slots, bloom):
    mask = np.uint64(slots.shape[0] - 1)
    for i in range(keys.shape[0]):
        m = mix64(keys[i])
        w, bits = _bloom_word(m, bloom.shape[0])
        bloom[w] |= bits
        s = m & mask
        while slots[s] >= 0:
            s = (s + np.uint64(1)) & mask
        slots[s] = i


@njit(inline="always")
def _find(keys, slots, bloom, key):
    m = mix64(key)
    w, bits = _bloom_word(m, bloom.shape[0])
    if bloom[w] & bits != bits:
        return -1
    mask = np.uint64(slots.shape[0] - 1)
    s = m & mask
    while slots[s] >= 0:
        i = slots[s]
        if keys[i] == key:
            return i
        s = (s + np.uint64(1)) & mask
    return -1


@njit(cache=True)
def _find_all(keys, slots, bloom, queries, out):
    for i in range(queries.shape[0]):
        out[i] = _find(keys, slots, bloom, queries[i])


@njit(cache=True, nogil=True)
def _contains_all(keys, slots, bloom, queries, mask, out):
    for i in range(queries.shape[0]):
        out[i] = _find(keys, slots, bloom, queries[i] & mask) >= 0


@njit(cache=True, nogil=True)
def _first_docs(keys, slots, bloom, grams, gram_offsets, first, doc_base, cited):
    for d in range(gram_offsets.shape[0] - 1):
        for g in range(gram_offsets[d], gram_offsets[d + 1]):
            i = _find(keys, slots, bloom, grams[g])
            if i >= 0 and first[i] < 0:
                first[i] = doc_base + d
                cited[d] = True


def first_docs(table: KeyTable, grams: np.ndarray, gram_offsets: np.ndarray, first: np.ndarray,
               doc_base: int) -> np.ndarray:
    """Record the first document holding each table key; return which documents of the batch were first for any.

    ``grams`` (with ``gram_offsets``) are a batch's n-gram hashes, its documents
    numbered from ``doc_base``; ``first[i]`` (-1 until found) is the earliest
    document holding ``table.keys[i]``, the document an index's
    ``ngram_docs.npy`` keeps for it.
    """
    cited = np.zeros(len(gram_offsets) - 1, dtype=np.bool_)
    _first_docs(table.keys, table.slots, table.bloom, grams, gram_offsets, first, np.int64(doc_base), cited)
    return cited


@dataclass
class BandTable:
    """LSH band hashes of query signatures: key ``band << 32 | top 32 bits`` -> the queries holding it."""

    table: KeyTable
    group_offsets: np.ndarray
    members: np.ndarray

    @classmethod
    def build(cls, qbands: np.ndarray) -> "BandTable":
        """From ``[bands, queries]`` stored (top 32-bit) band hashes."""
        bands, nq = qbands.shape
        keys = (np.arange(bands, dtype=np.uint64)[:, None] << np.uint64(32)) | qbands.astype(np.uint64)
        keys = keys.reshape(-1)
        queries = np.tile(np.arange(nq, dtype=np.int64), bands)
        order = np.argsort(keys, kind="stable")
        unique, starts = np.unique(keys[order], return_index=True)
        offsets = np.append(starts, len(order)).astype(np.int64)
        return cls(KeyTable.build(unique), offsets, queries[order])


@njit(cache=True)
def _probe_windows(keys, slots, bloom, group_offsets, members, wbands, wsigs, qsigs, counts, cap, chance,
                   best_score, best_window, rows, best_row):
    bands, nw = wbands.shape
    nperm = qsigs.shape[1]
    for w in range(nw):
        for j in range(bands):
            i = _find(keys, slots, bloom, (np.uint64(j) << np.uint64(32)) | np.uint64(wbands[j, w]))
            if i < 0:
                continue
            for k in range(group_offsets[i], group_offsets[i + 1]):
                q = members[k]
                if counts[j, q] >= cap:
                    continue
                counts[j, q] += 1
                same = 0
                for p in range(nperm):
                    if wsigs[w, p] == qsigs[q, p]:
                        same += 1
                est = max((same / nperm - chance) / (1.0 - chance), 0.0)
                if est > best_score[q]:
                    best_score[q] = est
                    best_window[q] = w
                    best_row[q] = rows[w]


def probe_windows(bands: BandTable, wbands: np.ndarray, wsigs: np.ndarray, qsigs: np.ndarray, counts: np.ndarray,
                  cap: int, bits: int, best_score: np.ndarray, best_row: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Score corpus windows (index rows ``rows``, ascending) against every query they are an LSH candidate for.

    The same rule as ``minhash_kernels.best_candidates`` over an index shard, applied
    row by row in index order: a window is a candidate for a query when they
    share a band, counting only the first ``cap`` windows per (band, query);
    the best estimate wins and ties go to the earlier row. ``counts``,
    ``best_score`` and ``best_row`` carry over from window block to block.
    Returns, per query, the position in this block of its new best window (-1: unchanged).
    """
    best_window = np.full(qsigs.shape[0], -1, dtype=np.int64)
    chance = 0.0 if bits >= 32 else 2.0 ** -bits
    t = bands.table
    _probe_windows(t.keys, t.slots, t.bloom, bands.group_offsets, bands.members, np.ascontiguousarray(wbands),
                   np.ascontiguousarray(wsigs), qsigs, counts, cap, chance, best_score, best_window,
                   np.ascontiguousarray(rows, dtype=np.int64), best_row)
    return best_window
