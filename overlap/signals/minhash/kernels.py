"""Compiled MinHash: block and window signatures, LSH band hashes, and the best candidate of a band lookup.

Signatures follow datasketch's ``affine32`` scheme exactly (tested against it):
a shingle's value is the low 32 bits of its 64-bit n-gram hash, pre-mixed with
the MurmurHash3 finaliser and permuted by ``a * h + b mod 2**32``. A text's
shingles are cut into blocks (:func:`block_minima`); a window's signature is the
minimum over its blocks (:func:`windows`), so windows of any size and step cost
one pass over the shingles. Stream mode hashes only the blocks of windows with
a band whose minima are all at dataset shingles (:func:`block_hits`,
:func:`marked_bands`, :func:`some_block_minima`, :func:`gather_windows`). Kernels take and return packed batches as
``lexical_kernels`` does.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from overlap.text import reference as ref
from overlap.index.sorting import lower_bound
from overlap.text.kernels import mix64
from overlap.engines.threads import batch_kernel  # sets numba's threading layer before any kernel runs

_SEED = np.uint64(ref.NGRAM_SEED)
_MAX32 = np.uint32(0xFFFFFFFF)


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


@njit(inline="always")
def _permuted_min(row, a, b, shingles, lo, hi):
    """``row[p] = min over shingles[lo:hi] of a[p] * fmix32(low32) + b[p] mod 2**32``."""
    for p in range(row.shape[0]):
        row[p] = _MAX32
    for i in range(lo, hi):
        hv = np.uint32(_fmix32(shingles[i] & np.uint64(0xFFFFFFFF)))
        # uint32 operands: LLVM keeps the product in 32-bit lanes (wraps mod 2**32) and vectorises.
        for p in range(row.shape[0]):
            row[p] = min(row[p], np.uint32(a[p] * hv + b[p]))


@batch_kernel(lambda shingles, offsets, a, b, block: shingles.shape[0] * a.shape[0], 1 << 21)
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
    minima = np.empty((block_offsets[ndocs], nperm), dtype=np.uint32)
    a32 = a.astype(np.uint32)
    b32 = b.astype(np.uint32)
    for d in prange(ndocs):
        s0 = shingle_offsets[d]
        m = shingle_offsets[d + 1] - s0
        for k in range(block_offsets[d + 1] - block_offsets[d]):
            lo = s0 + k * block
            _permuted_min(minima[block_offsets[d] + k], a32, b32, shingles, lo, min(lo + block, s0 + m))
    return minima, block_offsets


@batch_kernel(lambda minima, block_offsets, k, step: minima.size, 1 << 21)
def windows(minima, block_offsets, k, step):
    """Signatures of windows of ``k`` blocks, stepping ``step`` blocks (at least 1).

    Every text gets at least one window; the last window of a text is the one
    that first reaches its end. ``k == 0`` means one window over the whole text.
    Returns ``(signatures[nwin, P], doc, first_block, end_block)`` with blocks
    counted from the start of their text.
    """
    ndocs = block_offsets.shape[0] - 1
    nperm = minima.shape[1]
    counts = np.zeros(ndocs, dtype=np.int64)
    step = max(step, 1)
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
            row = sigs[o]
            for blk in range(block_offsets[d] + lo, block_offsets[d] + hi):
                src = minima[blk]
                for p in range(nperm):
                    row[p] = min(row[p], src[p])
    return sigs, doc, first, last


@njit(cache=True, nogil=True)
def block_hits(hit, shingle_offsets, block):
    """Which blocks (as :func:`block_minima` cuts them) hold a shingle marked in ``hit``.

    Returns ``(flags[nblocks, 1], block_offsets)``: ``flags`` is 0 for a block
    holding a marked shingle and 1 for one without, so :func:`windows` run on
    it gives each window 0 exactly when one of its blocks holds a marked
    shingle, with the windows in the order and number it cuts them.
    """
    ndocs = shingle_offsets.shape[0] - 1
    block_offsets = np.zeros(ndocs + 1, dtype=np.int64)
    for d in range(ndocs):
        m = shingle_offsets[d + 1] - shingle_offsets[d]
        block_offsets[d + 1] = block_offsets[d] + (m + block - 1) // block
    flags = np.ones((block_offsets[ndocs], 1), dtype=np.uint32)
    for d in range(ndocs):
        s0 = shingle_offsets[d]
        for i in range(s0, shingle_offsets[d + 1]):
            if hit[i]:
                flags[block_offsets[d] + (i - s0) // block, 0] = 0
    return flags, block_offsets


@njit(cache=True, nogil=True)
def mixed_shingles(shingles):
    """Each shingle's value before the permutations: the MurmurHash3 finaliser of its low 32 bits."""
    out = np.empty(shingles.shape[0], dtype=np.uint32)
    for i in range(shingles.shape[0]):
        out[i] = np.uint32(_fmix32(shingles[i] & np.uint64(0xFFFFFFFF)))
    return out


@njit(inline="always")
def _none_below(mixed, lo, hi, a, b, t):
    """Whether no ``a * v + b mod 2**32`` of ``mixed[lo:hi]`` is below ``t``."""
    for i in range(lo, hi):
        if np.uint32(a * mixed[i] + b) < t:
            return False
    return True


@njit(cache=True, nogil=True)
def marked_bands(mixed, marked, starts, ends, a, b, bands, rows):
    """Whether some band of each window's signature has all its minima at marked shingles.

    Window ``i`` is shingles ``starts[i]:ends[i]`` (``mixed``: their
    :func:`mixed_shingles` values); ``marked`` lists the marked shingles'
    positions, ascending. Band ``j`` is permutations ``j * rows`` to ``j * rows
    + rows - 1`` (as :func:`band_hashes` cuts them). A window's minimum for a
    permutation is at a marked shingle when no value in the window is below the
    minimum over its marked shingles; scanning for one stops, in most bands at
    the first permutation, after about as many values as the window has marked
    shingles, so this costs far less than the window's signature.
    """
    n = starts.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    a32 = a.astype(np.uint32)
    b32 = b.astype(np.uint32)
    least = np.empty(a32.shape[0], dtype=np.uint32)
    for w in range(n):
        h0 = np.searchsorted(marked, starts[w])
        h1 = np.searchsorted(marked, ends[w])
        # The minimum over the marked shingles, every permutation at once (vectorised, as _permuted_min).
        least[:] = _MAX32
        for h in range(h0, h1):
            v = mixed[marked[h]]
            for p in range(least.shape[0]):
                least[p] = min(least[p], np.uint32(a32[p] * v + b32[p]))
        for j in range(bands if h1 > h0 else 0):
            ok = True
            for p in range(j * rows, j * rows + rows):
                if not _none_below(mixed, starts[w], ends[w], a32[p], b32[p], least[p]):
                    ok = False
                    break
            if ok:
                out[w] = True
                break
    return out


@batch_kernel(lambda shingles, shingle_offsets, block_offsets, a, b, block, blocks:
               blocks.shape[0] * block * a.shape[0], 1 << 21)
def some_block_minima(shingles, shingle_offsets, block_offsets, a, b, block, blocks):
    """:func:`block_minima` of the listed blocks only (block numbers of the whole batch, ascending).

    Row ``i`` of the result is row ``blocks[i]`` of ``block_minima(shingles,
    shingle_offsets, a, b, block)``: the same shingles, the same permutations.
    """
    nperm = a.shape[0]
    minima = np.empty((blocks.shape[0], nperm), dtype=np.uint32)
    a32 = a.astype(np.uint32)
    b32 = b.astype(np.uint32)
    for i in prange(blocks.shape[0]):
        blk = blocks[i]
        d = np.searchsorted(block_offsets, blk, side="right") - 1
        lo = shingle_offsets[d] + (blk - block_offsets[d]) * block
        _permuted_min(minima[i], a32, b32, shingles, lo, min(lo + block, shingle_offsets[d + 1]))
    return minima


@batch_kernel(lambda minima, position, block_offsets, doc, first, last: minima.size, 1 << 21)
def gather_windows(minima, position, block_offsets, doc, first, last):
    """Signatures of the windows ``(doc, first, last)`` (as :func:`windows` returns them) from their blocks' minima.

    ``minima[position[g]]`` holds the minima of block ``g`` of the batch, for
    every block of the windows asked for. Row ``i`` is the minimum over blocks
    ``first[i]:last[i]`` of text ``doc[i]``: the signature :func:`windows`
    gives that window.
    """
    nperm = minima.shape[1]
    sigs = np.full((doc.shape[0], nperm), _MAX32, dtype=np.uint32)
    for i in prange(doc.shape[0]):
        row = sigs[i]
        base = block_offsets[doc[i]]
        for blk in range(base + first[i], base + last[i]):
            src = minima[position[blk]]
            for p in range(nperm):
                row[p] = min(row[p], src[p])
    return sigs


_BAND_CHUNK = 256


@batch_kernel(lambda sigs, bands, rows: sigs.size, 1 << 20)
def band_hashes(sigs, bands, rows):
    """64-bit hash of each band of ``rows`` signature values: ``out[band, i]``.

    Hashes a chunk of signatures at a time, all bands of a signature side by
    side (so the compiler vectorises across bands), into a small buffer that is
    then written out band by band, each band's output contiguous.
    """
    n = sigs.shape[0]
    out = np.empty((bands, n), dtype=np.uint64)
    seeds = np.empty(bands, dtype=np.uint64)
    for j in range(bands):
        seeds[j] = _SEED ^ np.uint64(j)
    chunks = (n + _BAND_CHUNK - 1) // _BAND_CHUNK
    for c in prange(chunks):
        lo = c * _BAND_CHUNK
        hi = min(lo + _BAND_CHUNK, n)
        tmp = np.empty((_BAND_CHUNK, bands), dtype=np.uint64)
        for i in range(lo, hi):
            h = tmp[i - lo]
            h[:] = seeds
            row = sigs[i]
            for r in range(rows):
                for j in range(bands):
                    h[j] = mix64(h[j] ^ np.uint64(row[j * rows + r]))
        for j in range(bands):
            for i in range(lo, hi):
                out[j, i] = tmp[i - lo, j]
    return out


@njit(inline="always")
def _gallop(sorted_values, lo, v):
    """First position at or after ``lo`` whose value is not below ``v`` (exponential then binary search)."""
    n = sorted_values.shape[0]
    if lo < n and sorted_values[lo] < v:
        step = 1
        hi = lo + 1
        while hi < n and sorted_values[hi] < v:
            lo = hi
            step *= 2
            hi = lo + step
        if hi > n:
            hi = n
        # sorted_values[lo] < v <= sorted_values[hi] (or hi == n): binary search in (lo, hi]
        lo = lower_bound(sorted_values, lo + 1, hi, v)
    return lo


@njit(cache=True)
def _band_ranges(sorted_band, values, positions, max_per_band, starts, counts):
    """For sorted query ``values`` of one band: where each one's equal entries start, and how many (capped)."""
    n = sorted_band.shape[0]
    lo = 0
    for i in range(values.shape[0]):
        v = values[i]
        lo = _gallop(sorted_band, lo, v)
        c = 0
        while c < max_per_band and lo + c < n and sorted_band[lo + c] == v:
            c += 1
        starts[positions[i]] = lo
        counts[positions[i]] = c


@batch_kernel(lambda qsigs, *rest: qsigs.shape[0], 64)
def _score_candidates(qsigs, starts, counts, order, sigs, chance):
    bands, nq = starts.shape
    nperm = qsigs.shape[1]
    best = np.full(nq, -1, dtype=np.int64)
    score = np.zeros(nq, dtype=np.float64)
    for q in prange(nq):
        for j in range(bands):
            for c in range(starts[j, q], starts[j, q] + counts[j, q]):
                row = np.int64(order[j, c])
                same = 0
                for p in range(nperm):
                    if sigs[row, p] == qsigs[q, p]:
                        same += 1
                est = max((same / nperm - chance) / (1.0 - chance), 0.0)
                if est > score[q] or (est == score[q] and best[q] >= 0 and row < best[q]):
                    score[q] = est
                    best[q] = row
    return best, score


def best_candidates(qbands, qsigs, sorted_bands, order, sigs, max_per_band, bits=32):
    """For each query, the LSH candidate with the highest estimated Jaccard.

    ``sigs`` and ``qsigs`` may keep only the low ``bits`` of each minimum
    (b-bit MinHash): two different minima then agree by chance with
    probability ``2**-bits``, so the share of equal values ``m`` estimates
    ``J + (1 - J) 2**-bits`` and is corrected to ``(m - c) / (1 - c)``.

    ``sorted_bands[j]`` holds band ``j`` of every indexed signature in sorted
    order (in the same form as ``qbands``: the index keeps 32 bits of each)
    and ``order[j]`` their row numbers. Candidates are rows that share at
    least one band with the query (at most ``max_per_band`` per band, so a
    boilerplate band cannot blow up a query). Returns ``(best_row, best_jaccard)``,
    -1 and 0.0 where no candidate exists; ties go to the lowest row number.

    Each band's lookups are made for all queries at once in sorted order
    (galloping through the memory-mapped band, so a large index is read in
    address order instead of by scattered binary searches).
    """
    bands, nq = qbands.shape
    starts = np.zeros((bands, nq), dtype=np.int64)
    counts = np.zeros((bands, nq), dtype=np.int64)
    for j in range(bands):
        positions = np.argsort(qbands[j], kind="stable")
        _band_ranges(sorted_bands[j], qbands[j][positions], positions, max_per_band, starts[j], counts[j])
    chance = 0.0 if bits >= 32 else 2.0 ** -bits
    return _score_candidates(qsigs, starts, counts, order, sigs, chance)
