"""Compiled batch versions of ``text.py`` (and of MinHash), giving identical results.

A batch is a list of texts packed like an Arrow string column: one ``uint8``
buffer of UTF-8 bytes and ``int64`` offsets (``n + 1`` of them). Every kernel
walks whole batches in numba-compiled code, in parallel over documents, so no
Python runs per word or per shingle. Outputs are flat arrays plus offsets, the
same packing again. Small inputs (one document, when evidence is located) run
a serial build of the same function, which is faster than waking threads.

Also here: the stable radix sort of ``(uint64 key, value)`` pairs that index
building sorts n-gram and band hashes with (:func:`sort_pairs`), and the
batched lookups a scan makes in its hash tables (:func:`bucket_lookup`,
:func:`best_candidates`).
"""

from __future__ import annotations

import functools
import types
from typing import Callable

import numba
import numpy as np
from numba import njit, prange

from overlap import text as ref

# numba's OpenMP threading layer (its default when no TBB is installed) starts the
# same libgomp that torch's CPU kernels use; once a parallel kernel has run,
# torch.set_num_threads (which models, lm and distill call) leaves the two
# fighting over the cores and MiniLM ran 5-12x slower. The workqueue layer uses
# plain threads and no OpenMP, so torch keeps its own runtime; TBB, if a user
# asks for it, is safe too. Chosen here, before any parallel kernel runs, so it
# holds for every entry point (CLI, API, benchmarks, pool and Ray workers).
if numba.config.THREADING_LAYER not in ("tbb", "safe", "workqueue"):
    numba.config.THREADING_LAYER = "workqueue"

_FNV_OFFSET = np.uint64(ref.FNV_OFFSET)
_FNV_PRIME = np.uint64(ref.FNV_PRIME)
_SEED = np.uint64(ref.NGRAM_SEED)
_MAX32 = np.uint32(0xFFFFFFFF)


def _batch_kernel(work: Callable[..., int], small: int):
    """Compile a batch kernel in parallel, and run a serial build of it when ``work(*args) < small``.

    Waking worker threads for a parallel loop costs more than a small input's
    whole work (a millisecond or more on a busy machine, also with one thread
    set, against tens of microseconds for a single document), and evidence
    lookups call the kernels one document at a time. The serial build is the
    same Python function compiled without ``parallel`` (under its own name, so
    numba's on-disk cache keeps the two apart), so results are identical.
    """

    def decorate(fn):
        compiled = njit(cache=True, parallel=True)(fn)
        twin = types.FunctionType(fn.__code__, fn.__globals__, f"{fn.__name__}_serial", fn.__defaults__,
                                  fn.__closure__)
        twin.__qualname__ = f"{fn.__qualname__}_serial"
        serial = njit(cache=True)(twin)

        @functools.wraps(fn)
        def call(*args):
            return serial(*args) if work(*args) < small else compiled(*args)

        call.compiled = compiled
        call.serial = serial
        return call

    return decorate


def pack(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Normalise and pack texts into (UTF-8 buffer, offsets).

    An ASCII text is its own NFKC form, so it is only lower-cased (``str.isascii``
    is a flag CPython keeps, free to ask); the others take :func:`text.normalize`.
    """
    encoded = [t.lower().encode("ascii") if t.isascii() else ref.encode(ref.normalize(t)) for t in texts]
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
        c = buf[i]
        if c < 0x80:  # ASCII: one byte, one code point
            word = table[c]
            i += 1
        else:
            cp, width = _decode(buf, i)
            word = table[cp]
            i += width
        if word:
            if not inword:
                count += 1
                inword = True
        else:
            inword = False
    return count


@njit(cache=True, nogil=True)
def _fill_words(buf, start, end, table, hashes, starts, ends, out):
    inword = False
    h = _FNV_OFFSET
    i = start
    k = out
    while i < end:
        c = buf[i]
        if c < 0x80:  # ASCII fast path: the same steps for a one-byte code point
            if table[c]:
                if not inword:
                    inword = True
                    h = _FNV_OFFSET
                    starts[k] = i
                h = (h ^ np.uint64(c)) * _FNV_PRIME
            elif inword:
                inword = False
                hashes[k] = _mix64(h)
                ends[k] = i
                k += 1
            i += 1
            continue
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


@_batch_kernel(lambda buf, offsets, table: buf.shape[0], 1 << 18)
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


@_batch_kernel(lambda word_hashes, word_offsets, n: word_hashes.shape[0] * n, 1 << 18)
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


@_batch_kernel(lambda shingles, offsets, a, b, block: shingles.shape[0] * a.shape[0], 1 << 21)
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


@_batch_kernel(lambda minima, block_offsets, k, step: minima.size, 1 << 21)
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


@_batch_kernel(lambda shingles, shingle_offsets, block_offsets, a, b, block, blocks:
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


@_batch_kernel(lambda minima, position, block_offsets, doc, first, last: minima.size, 1 << 21)
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


@_batch_kernel(lambda sigs, bands, rows: sigs.size, 1 << 20)
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
                    h[j] = _mix64(h[j] ^ np.uint64(row[j * rows + r]))
        for j in range(bands):
            for i in range(lo, hi):
                out[j, i] = tmp[i - lo, j]
    return out


@njit(inline="always")
def _keep_first(keys, values):
    """Compact sorted pairs in place to the first of each run of equal keys; return the count."""
    count = 0
    for i in range(keys.shape[0]):
        if count == 0 or keys[i] != keys[count - 1]:
            keys[count] = keys[i]
            values[count] = values[i]
            count += 1
    return count


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
        lo += 1
        while lo < hi:
            mid = (lo + hi) >> 1
            if sorted_values[mid] < v:
                lo = mid + 1
            else:
                hi = mid
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


@_batch_kernel(lambda qsigs, *rest: qsigs.shape[0], 64)
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


@njit(inline="always")
def _insertion_sort(keys, values, lo, hi):
    """Stable insertion sort of ``keys[lo:hi]``, carrying ``values``."""
    for i in range(lo + 1, hi):
        key = keys[i]
        if keys[i - 1] <= key:
            continue
        value = values[i]
        j = i - 1
        while j >= lo and keys[j] > key:
            keys[j + 1] = keys[j]
            values[j + 1] = values[j]
            j -= 1
        keys[j + 1] = key
        values[j + 1] = value


@_batch_kernel(lambda keys, *rest: keys.shape[0], 1 << 16)
def sort_pairs(keys, values, scratch_keys, scratch_values, unique):
    """Sort ``keys`` (uint64) in place, stably, carrying ``values``; return how many are kept.

    The result is exactly ``order = np.argsort(keys, kind="stable")`` applied to
    both arrays. With ``unique``, only the first of each run of equal keys is
    kept (so the one with the earliest position), compacted to the front: the
    sorted unique keys are ``keys[:count]``.

    Two most-significant-digit radix passes (the top bits into the scratch
    arrays, then each bucket, in parallel, on its next bits back into place)
    leave buckets of a few keys, finished by insertion sort. Hashes spread
    evenly over the buckets; a bucket of one repeated key is already in order,
    and anything else larger than expected falls back to a merge sort.
    """
    n = keys.shape[0]
    bits1 = 0
    while bits1 < 11 and (np.int64(1) << bits1) * 64 < n:
        bits1 += 1
    if bits1 == 0:
        _insertion_sort(keys, values, 0, n)
    else:
        nb = np.int64(1) << bits1
        shift = np.uint64(64 - bits1)
        starts = np.zeros(nb + 1, dtype=np.int64)
        for i in range(n):
            starts[(keys[i] >> shift) + 1] += 1
        for b in range(nb):
            starts[b + 1] += starts[b]
        pos = starts[:-1].copy()
        for i in range(n):
            b = keys[i] >> shift
            p = pos[b]
            scratch_keys[p] = keys[i]
            scratch_values[p] = values[i]
            pos[b] = p + 1
        for b in prange(nb):
            lo = starts[b]
            hi = starts[b + 1]
            m = hi - lo
            if m <= 64:
                for i in range(lo, hi):
                    keys[i] = scratch_keys[i]
                    values[i] = scratch_values[i]
                _insertion_sort(keys, values, lo, hi)
                continue
            bits2 = 0
            while bits2 < 16 and (np.int64(1) << bits2) * 2 < m:
                bits2 += 1
            nb2 = np.int64(1) << bits2
            shift2 = np.uint64(64 - bits1 - bits2)
            mask2 = np.uint64(nb2 - 1)
            starts2 = np.zeros(nb2 + 1, dtype=np.int64)
            for i in range(lo, hi):
                starts2[((scratch_keys[i] >> shift2) & mask2) + 1] += 1
            for c in range(nb2):
                starts2[c + 1] += starts2[c]
            pos2 = starts2[:-1].copy()
            for i in range(lo, hi):
                c = (scratch_keys[i] >> shift2) & mask2
                p = lo + pos2[c]
                keys[p] = scratch_keys[i]
                values[p] = scratch_values[i]
                pos2[c] += 1
            for c in range(nb2):
                clo = lo + starts2[c]
                chi = lo + starts2[c + 1]
                if chi - clo <= 64:
                    _insertion_sort(keys, values, clo, chi)
                    continue
                same = True
                for i in range(clo + 1, chi):
                    if keys[i] != keys[clo]:
                        same = False
                        break
                if not same:
                    order = np.argsort(keys[clo:chi], kind="mergesort")
                    tk = keys[clo:chi].copy()
                    tv = values[clo:chi].copy()
                    for i in range(chi - clo):
                        keys[clo + i] = tk[order[i]]
                        values[clo + i] = tv[order[i]]
    return _keep_first(keys, values) if unique else n


@njit(cache=True)
def _merge_two(src_k, src_v, lo, mid, hi, dst_k, dst_v):
    """Stable merge of sorted ``src[lo:mid]`` and ``src[mid:hi]`` into ``dst[lo:hi]`` (left first on ties)."""
    i, j, o = lo, mid, lo
    while i < mid and j < hi:
        if src_k[j] < src_k[i]:
            dst_k[o] = src_k[j]
            dst_v[o] = src_v[j]
            j += 1
        else:
            dst_k[o] = src_k[i]
            dst_v[o] = src_v[i]
            i += 1
        o += 1
    while i < mid:
        dst_k[o] = src_k[i]
        dst_v[o] = src_v[i]
        i += 1
        o += 1
    while j < hi:
        dst_k[o] = src_k[j]
        dst_v[o] = src_v[j]
        j += 1
        o += 1


@njit(cache=True)
def merge_sorted(keys, values, bounds, scratch_keys, scratch_values, unique):
    """Merge consecutive sorted segments ``keys[bounds[i]:bounds[i+1]]`` in place; return the count kept.

    The same result as :func:`sort_pairs` on the whole array (a stable sort, so
    equal keys keep segment order), in linear passes: adjacent segments are
    merged pairwise until one is left.
    """
    n = keys.shape[0]
    edges = bounds.copy()
    src_k, src_v, dst_k, dst_v = keys, values, scratch_keys, scratch_values
    in_place = True
    while edges.shape[0] > 2:
        segments = edges.shape[0] - 1
        merged = np.empty(segments // 2 + segments % 2 + 1, dtype=np.int64)
        m = 0
        for s in range(0, segments - 1, 2):
            _merge_two(src_k, src_v, edges[s], edges[s + 1], edges[s + 2], dst_k, dst_v)
            merged[m] = edges[s]
            m += 1
        if segments % 2:
            lo, hi = edges[segments - 1], edges[segments]
            dst_k[lo:hi] = src_k[lo:hi]
            dst_v[lo:hi] = src_v[lo:hi]
            merged[m] = lo
            m += 1
        merged[m] = edges[segments]
        edges = merged[: m + 1]
        src_k, dst_k = dst_k, src_k
        src_v, dst_v = dst_v, src_v
        in_place = not in_place
    if not in_place:
        keys[:] = src_k
        values[:] = src_v
    return _keep_first(keys, values) if unique else n


def sorted_pairs(keys: np.ndarray, values: np.ndarray, unique: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Sorted copies of ``keys`` and ``values`` (see :func:`sort_pairs`)."""
    keys = np.array(keys, dtype=np.uint64)
    values = np.array(values)
    count = sort_pairs(keys, values, np.empty_like(keys), np.empty_like(values), unique)
    return keys[:count], values[:count]


@njit(cache=True)
def _bucket_lookup(offsets, rems, values, prefixes, positions, out):
    """For sorted query ``prefixes``: binary search of each one's low 32 bits in its bucket."""
    for i in range(prefixes.shape[0]):
        p = prefixes[i]
        bucket = np.int64(p >> np.uint64(32))
        r = np.uint32(p & np.uint64(0xFFFFFFFF))
        lo = np.int64(offsets[bucket])
        hi = np.int64(offsets[bucket + 1])
        while lo < hi:
            mid = (lo + hi) >> 1
            if rems[mid] < r:
                lo = mid + 1
            else:
                hi = mid
        if lo < offsets[bucket + 1] and rems[lo] == r:
            out[positions[i]] = values[lo]


def bucket_lookup(offsets: np.ndarray, rems: np.ndarray, values: np.ndarray, prefixes: np.ndarray) -> np.ndarray:
    """``values`` of each query prefix in a bucketed hash set (see ``signals/hashtable.py``), -1 where absent.

    Queries are looked up in sorted order, so a large memory-mapped table is
    read in increasing address order.
    """
    out = np.full(len(prefixes), -1, dtype=np.int64)
    if len(prefixes) == 0 or len(rems) == 0:
        return out
    q = np.array(prefixes, dtype=np.uint64)
    positions = np.arange(len(q), dtype=np.int64)
    sort_pairs(q, positions, np.empty_like(q), np.empty_like(positions), False)
    _bucket_lookup(offsets, rems, values, q, positions, out)
    return out


@njit(cache=True)
def _aligned_words(words, doc_words, anchor_at, anchor_doc_at, matched_at, n):
    covered = np.zeros(words.shape[0], dtype=np.bool_)
    for i in matched_at:
        covered[i : i + n] = True
    count = 0
    k = 0  # the last anchor at or before j (the first one while there is none)
    m = anchor_at.shape[0]
    for j in range(words.shape[0]):
        while k + 1 < m and anchor_at[k + 1] <= j:
            k += 1
        for a in (k, min(k + 1, m - 1)):  # the anchors on either side of j
            if m and not covered[j]:
                q = j + anchor_doc_at[a] - anchor_at[a]
                if 0 <= q < doc_words.shape[0] and doc_words[q] == words[j]:
                    covered[j] = True
        if covered[j]:
            count += 1
    return count


def aligned_words(words: np.ndarray, doc_words: np.ndarray, anchor_at: np.ndarray, anchor_doc_at: np.ndarray,
                  matched_at: np.ndarray, n: int) -> int:
    """How many of a text's ``words`` are matched: inside a matched n-gram or equal to their aligned word.

    ``matched_at`` are the start positions of the text's n-grams found in the corpus
    (in any document). ``anchor_at`` (sorted) and ``anchor_doc_at`` are the word
    positions of the n-grams it shares with its best document, in the text and in
    that document; each text word aligns through the anchor before or after it (a
    replaced word keeps the alignment; past an insertion or deletion the next anchor
    carries the shifted one).
    """
    return int(_aligned_words(np.asarray(words, dtype=np.uint64), np.asarray(doc_words, dtype=np.uint64),
                              np.asarray(anchor_at, dtype=np.int64), np.asarray(anchor_doc_at, dtype=np.int64),
                              np.asarray(matched_at, dtype=np.int64), n))


def unique_keys(keys: np.ndarray) -> np.ndarray:
    """The distinct values of ``keys``, sorted: ``np.unique(keys)`` by one sort.

    numpy 2.4's ``np.unique`` hashes integer arrays first: 2.9 s against 0.04 s
    for this on 1.5 million 64-bit hashes.
    """
    values = np.sort(np.asarray(keys).reshape(-1))
    if len(values) == 0:
        return values
    keep = np.empty(len(values), dtype=np.bool_)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def set_threads(n: int) -> None:
    """Number of threads the kernels use in this process."""
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


@njit(cache=True, parallel=True)
def bag_means(table, ids, offsets):
    """Mean of ``table``'s rows ``ids[offsets[d]:offsets[d + 1]]`` for every bag ``d`` (zeros when empty)."""
    n = len(offsets) - 1
    out = np.zeros((n, table.shape[1]), dtype=np.float32)
    for d in prange(n):
        lo, hi = offsets[d], offsets[d + 1]
        for j in range(lo, hi):
            row = table[ids[j]]
            for k in range(table.shape[1]):
                out[d, k] += row[k]
        if hi > lo:
            for k in range(table.shape[1]):
                out[d, k] /= hi - lo
    return out
