"""Compiled batch versions of ``text.py`` (and of MinHash), giving identical results.

A batch is a list of texts packed like an Arrow string column: one ``uint8``
buffer of UTF-8 bytes and ``int64`` offsets (``n + 1`` of them). Every kernel
walks whole batches in numba-compiled code, in parallel over documents, so no
Python runs per word or per shingle. Outputs are flat arrays plus offsets, the
same packing again.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from overlap import text as ref

_FNV_OFFSET = np.uint64(ref.FNV_OFFSET)
_FNV_PRIME = np.uint64(ref.FNV_PRIME)
_SEED = np.uint64(ref.NGRAM_SEED)
_MAX32 = np.uint32(0xFFFFFFFF)


def pack(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Normalise and pack texts into (UTF-8 buffer, offsets)."""
    encoded = [ref.encode(ref.normalize(t)) for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return buf, offsets


@njit(inline="always")
def _mix64(x):
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@njit(inline="always")
def _decode(buf, i):
    """Code point starting at byte i and its width (input is valid UTF-8)."""
    c = np.int64(buf[i])
    if c < 0x80:
        return c, 1
    if c < 0xE0:
        return ((c & 0x1F) << 6) | (np.int64(buf[i + 1]) & 0x3F), 2
    if c < 0xF0:
        return (
            ((c & 0x0F) << 12) | ((np.int64(buf[i + 1]) & 0x3F) << 6) | (np.int64(buf[i + 2]) & 0x3F),
            3,
        )
    return (
        ((c & 0x07) << 18)
        | ((np.int64(buf[i + 1]) & 0x3F) << 12)
        | ((np.int64(buf[i + 2]) & 0x3F) << 6)
        | (np.int64(buf[i + 3]) & 0x3F),
        4,
    )


@njit(cache=True, nogil=True)
def _count_words(buf, start, end, table):
    count = 0
    inword = False
    i = start
    while i < end:
        cp, width = _decode(buf, i)
        if table[cp]:
            if not inword:
                count += 1
                inword = True
        else:
            inword = False
        i += width
    return count


@njit(cache=True, nogil=True)
def _fill_words(buf, start, end, table, hashes, starts, ends, out):
    inword = False
    h = _FNV_OFFSET
    i = start
    k = out
    while i < end:
        cp, width = _decode(buf, i)
        if table[cp]:
            if not inword:
                inword = True
                h = _FNV_OFFSET
                starts[k] = i
            for j in range(i, i + width):
                h ^= np.uint64(buf[j])
                h *= _FNV_PRIME
        elif inword:
            inword = False
            hashes[k] = _mix64(h)
            ends[k] = i
            k += 1
        i += width
    if inword:
        hashes[k] = _mix64(h)
        ends[k] = end


@njit(cache=True, parallel=True)
def _tokenize(buf, offsets, table):
    n = offsets.shape[0] - 1
    counts = np.zeros(n, dtype=np.int64)
    for d in prange(n):
        counts[d] = _count_words(buf, offsets[d], offsets[d + 1], table)
    word_offsets = np.zeros(n + 1, dtype=np.int64)
    for d in range(n):
        word_offsets[d + 1] = word_offsets[d] + counts[d]
    total = word_offsets[n]
    hashes = np.empty(total, dtype=np.uint64)
    starts = np.empty(total, dtype=np.int64)
    ends = np.empty(total, dtype=np.int64)
    for d in prange(n):
        _fill_words(buf, offsets[d], offsets[d + 1], table, hashes, starts, ends, word_offsets[d])
    return hashes, starts, ends, word_offsets


def tokenize(buf: np.ndarray, offsets: np.ndarray):
    """Word hashes and byte spans of every packed text.

    Returns ``(hashes, starts, ends, word_offsets)``: words of text ``d`` are
    ``word_offsets[d]:word_offsets[d+1]``; spans are absolute offsets into ``buf``.
    """
    return _tokenize(buf, offsets, ref.word_char_table())


@njit(cache=True, parallel=True)
def ngrams(word_hashes, word_offsets, n):
    """Word n-gram hashes per text (see ``text.ngram_hashes``), packed with offsets."""
    ndocs = word_offsets.shape[0] - 1
    gram_offsets = np.zeros(ndocs + 1, dtype=np.int64)
    for d in range(ndocs):
        k = word_offsets[d + 1] - word_offsets[d]
        g = 0
        if k >= n:
            g = k - n + 1
        elif k > 0:
            g = 1
        gram_offsets[d + 1] = gram_offsets[d] + g
    out = np.empty(gram_offsets[ndocs], dtype=np.uint64)
    for d in prange(ndocs):
        w0 = word_offsets[d]
        k = word_offsets[d + 1] - w0
        g0 = gram_offsets[d]
        width = min(k, n)
        for i in range(gram_offsets[d + 1] - g0):
            h = _SEED ^ np.uint64(width)
            for j in range(width):
                h = _mix64(h ^ word_hashes[w0 + i + j])
            out[g0 + i] = h
    return out, gram_offsets


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Affine permutation parameters ``(a, b)`` exactly as datasketch's ``affine32`` scheme."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


@njit(inline="always")
def _fmix32(h):
    # numba widens uint32 products to 64 bits: mask back after each multiply.
    m = np.uint64(0xFFFFFFFF)
    h = np.uint64(h)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & m
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & m
    h ^= h >> np.uint64(16)
    return h


@njit(cache=True, parallel=True)
def block_minima(shingles, shingle_offsets, a, b, block):
    """MinHash of every run of ``block`` consecutive shingles of each text.

    A shingle's value is the low 32 bits of its 64-bit n-gram hash, pre-mixed
    with the MurmurHash3 finaliser and permuted by ``a * h + b mod 2**32``
    (datasketch's ``affine32`` scheme). Returns ``(minima[nblocks, P],
    block_offsets)``; a text with no shingles has no blocks.
    """
    ndocs = shingle_offsets.shape[0] - 1
    nperm = a.shape[0]
    block_offsets = np.zeros(ndocs + 1, dtype=np.int64)
    for d in range(ndocs):
        m = shingle_offsets[d + 1] - shingle_offsets[d]
        block_offsets[d + 1] = block_offsets[d] + (m + block - 1) // block
    minima = np.full((block_offsets[ndocs], nperm), _MAX32, dtype=np.uint32)
    for d in prange(ndocs):
        s0 = shingle_offsets[d]
        m = shingle_offsets[d + 1] - s0
        for i in range(m):
            hv = _fmix32(shingles[s0 + i] & np.uint64(0xFFFFFFFF))
            row = minima[block_offsets[d] + i // block]
            for p in range(nperm):
                v = np.uint32((np.uint64(a[p]) * hv + np.uint64(b[p])) & np.uint64(0xFFFFFFFF))
                if v < row[p]:
                    row[p] = v
    return minima, block_offsets


@njit(cache=True, parallel=True)
def windows(minima, block_offsets, k):
    """Signatures of windows of ``k`` blocks, stepping ``max(k // 2, 1)`` blocks.

    Every text gets at least one window; the last window of a text is the one
    that first reaches its end. ``k == 0`` means one window over the whole text.
    Returns ``(signatures[nwin, P], doc, first_block, end_block)`` with blocks
    counted from the start of their text.
    """
    ndocs = block_offsets.shape[0] - 1
    nperm = minima.shape[1]
    counts = np.zeros(ndocs, dtype=np.int64)
    step = max(k // 2, 1)
    for d in range(ndocs):
        nb = block_offsets[d + 1] - block_offsets[d]
        if nb == 0:
            counts[d] = 0
        elif k == 0 or nb <= k:
            counts[d] = 1
        else:
            counts[d] = (nb - k + step - 1) // step + 1
    win_offsets = np.zeros(ndocs + 1, dtype=np.int64)
    for d in range(ndocs):
        win_offsets[d + 1] = win_offsets[d] + counts[d]
    total = win_offsets[ndocs]
    sigs = np.full((total, nperm), _MAX32, dtype=np.uint32)
    doc = np.empty(total, dtype=np.int64)
    first = np.empty(total, dtype=np.int64)
    last = np.empty(total, dtype=np.int64)
    for d in prange(ndocs):
        nb = block_offsets[d + 1] - block_offsets[d]
        for w in range(counts[d]):
            o = win_offsets[d] + w
            lo = w * step
            hi = nb if (k == 0 or lo + k > nb) else lo + k
            doc[o] = d
            first[o] = lo
            last[o] = hi
            for blk in range(block_offsets[d] + lo, block_offsets[d] + hi):
                for p in range(nperm):
                    if minima[blk, p] < sigs[o, p]:
                        sigs[o, p] = minima[blk, p]
    return sigs, doc, first, last


@njit(cache=True, parallel=True)
def band_hashes(sigs, bands, rows):
    """64-bit hash of each band of ``rows`` signature values: ``out[band, i]``."""
    n = sigs.shape[0]
    out = np.empty((bands, n), dtype=np.uint64)
    for i in prange(n):
        for j in range(bands):
            h = _SEED ^ np.uint64(j)
            for r in range(rows):
                h = _mix64(h ^ np.uint64(sigs[i, j * rows + r]))
            out[j, i] = h
    return out


@njit(cache=True, parallel=True)
def best_candidates(qbands, qsigs, sorted_bands, order, sigs, max_per_band):
    """For each query, the LSH candidate with the highest estimated Jaccard.

    ``sorted_bands[j]`` holds band ``j`` of every indexed signature in sorted
    order and ``order[j]`` their row numbers. Candidates are rows that share at
    least one band with the query (at most ``max_per_band`` per band, so a
    boilerplate band cannot blow up a query). Returns ``(best_row, best_jaccard)``,
    -1 and 0.0 where no candidate exists; ties go to the lowest row number.
    """
    bands, nq = qbands.shape
    nperm = qsigs.shape[1]
    best = np.full(nq, -1, dtype=np.int64)
    score = np.zeros(nq, dtype=np.float64)
    for q in prange(nq):
        for j in range(bands):
            lo = np.searchsorted(sorted_bands[j], qbands[j, q], side="left")
            hi = np.searchsorted(sorted_bands[j], qbands[j, q], side="right")
            hi = min(hi, lo + max_per_band)
            for c in range(lo, hi):
                row = np.int64(order[j, c])
                same = 0
                for p in range(nperm):
                    if sigs[row, p] == qsigs[q, p]:
                        same += 1
                est = same / nperm
                if est > score[q] or (est == score[q] and best[q] >= 0 and row < best[q]):
                    score[q] = est
                    best[q] = row
    return best, score


def set_threads(n: int) -> None:
    """Number of threads the kernels use in this process."""
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
