"""MinHash in stream mode (``overlap/signals/minhash_stream.py``): hashing only the windows that hold a dataset shingle.

Windows cut from a subset of block minima equal the same windows of the full
computation, and a window with no shingle of the dataset shares no minimum with it.
"""

from __future__ import annotations

import numpy as np

from overlap.io import bundled as data
from overlap.text.batch import LexicalBatch
from overlap.signals.minhash import index as minhash
from overlap.signals.minhash import kernels as minhash_kernels
from overlap.signals.minhash import stream as minhash_stream

from helpers import load_docs

PARAMS = {**minhash.default_params(), "ngram_n": 8}


def _corpus_batch() -> LexicalBatch:
    docs = load_docs(data.reference_sources()[0])[:300]
    return LexicalBatch.from_texts([d["text"] for d in docs] + ["", "two words"])


def test_hit_windows_are_the_full_windows_they_select():
    batch = _corpus_batch()
    perm = minhash_kernels.permutations(PARAMS["num_perm"], PARAMS["minhash_seed"])
    shingles, _ = batch.grams(PARAMS["shingle_n"])
    rng = np.random.default_rng(0)
    hit = rng.random(len(shingles)) < 0.002
    full = list(minhash.window_rows(batch, PARAMS, perm))
    part = list(minhash.hit_window_rows(batch, PARAMS, perm, hit))
    assert len(full) == len(part)
    kept = 0
    for (sigs, meta), (some, some_meta, numbers, count) in zip(full, part):
        assert count == len(sigs)
        np.testing.assert_array_equal(some, sigs[numbers])
        np.testing.assert_array_equal(some_meta, meta[numbers])
        kept += len(numbers)
    # The selected windows are exactly those holding a marked shingle.
    _, offsets = batch.grams(PARAMS["shingle_n"])
    block = PARAMS["block_shingles"]
    expected = 0
    minima, block_offsets = minhash_kernels.block_minima(shingles, offsets, *perm, block)
    for _, doc, first, last in minhash.index_windows(minima, block_offsets, PARAMS):
        for d, lo, hi in zip(doc, first, last):
            expected += bool(hit[offsets[d] + lo * block : offsets[d] + min(hi * block, offsets[d + 1] - offsets[d])].any())
    assert 0 < kept == expected < sum(len(s) for s, _ in full)


def test_a_window_without_shared_shingles_shares_no_minimum():
    """The equality argument: distinct low 32 bits never give equal permuted minima."""
    rng = np.random.default_rng(1)
    perm = minhash_kernels.permutations(128, 1)
    values = rng.choice(1 << 32, size=400, replace=False).astype(np.uint64) | (rng.integers(0, 1 << 31, 400).astype(np.uint64) << np.uint64(32))
    a, b = values[:200], values[200:]
    for lo in range(0, 200, 20):
        qa, _ = minhash_kernels.block_minima(a[lo : lo + 20], np.array([0, 20]), *perm, 20)
        wb, _ = minhash_kernels.block_minima(b[lo : lo + 20], np.array([0, 20]), *perm, 20)
        assert not (qa == wb).any()
    # Equal low 32 bits (different high bits) are the same shingle to MinHash.
    twin = (a[:20] & np.uint64(0xFFFFFFFF)) | np.uint64(7 << 40)
    qa, _ = minhash_kernels.block_minima(a[:20], np.array([0, 20]), *perm, 20)
    tw, _ = minhash_kernels.block_minima(twin, np.array([0, 20]), *perm, 20)
    np.testing.assert_array_equal(qa, tw)
    assert (minhash_stream.shingle_keys(twin) == minhash_stream.shingle_keys(a[:20])).all()
