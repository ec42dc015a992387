"""MinHash in stream mode (``overlap/signals/minhash/stream.py``): hashing only the windows that can share a band with the dataset.

Windows cut from a subset of block minima equal the same windows of the full
computation, the windows hashed are those with a band whose minima are all at
marked (dataset) shingles, and a window with no shingle of the dataset shares
no minimum with it.
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
    # Marked densely enough that some windows have a band of marked minima (about (share marked)**4 per band).
    hit = rng.random(len(shingles)) < 0.3
    full = list(minhash.window_rows(batch, PARAMS, perm))
    part = list(minhash.hit_window_rows(batch, PARAMS, perm, hit))
    assert len(full) == len(part)
    kept = 0
    for (sigs, meta), (some, some_meta, numbers, count) in zip(full, part):
        assert count == len(sigs)
        np.testing.assert_array_equal(some, sigs[numbers])
        np.testing.assert_array_equal(some_meta, meta[numbers])
        kept += len(numbers)
    # The selected windows are exactly those with a band whose minima are the minima of their marked shingles.
    _, offsets = batch.grams(PARAMS["shingle_n"])
    block, bands, rows = PARAMS["block_shingles"], PARAMS["bands"], PARAMS["rows"]
    expected = holding = 0
    minima, block_offsets = minhash_kernels.block_minima(shingles, offsets, *perm, block)
    for sigs, doc, first, last in minhash.index_windows(minima, block_offsets, PARAMS):
        for sig, d, lo, hi in zip(sigs, doc, first, last):
            span = np.arange(offsets[d] + lo * block, min(offsets[d] + hi * block, offsets[d + 1]))
            marked = shingles[span[hit[span]]]
            holding += len(marked) > 0
            if len(marked):
                only, _ = minhash_kernels.block_minima(marked, np.array([0, len(marked)]), *perm, len(marked))
                expected += bool((sig == only[0]).reshape(bands, rows).all(axis=1).any())
    assert 0 < kept == expected < holding


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
