"""The MinHash kernels (``overlap/signals/minhash/kernels.py``); the index side is in test_index.py.

* MinHash: identical to datasketch's ``affine32`` MinHash fed the low 32 bits
  of our shingle hashes, for whole texts and for every window; estimates within
  the estimator's error of the exact Jaccard, also from b-bit signatures
  through the LSH lookup;
* band hashes: identical to their plain definition;
* marked bands (stream mode's window filter): some band of the window's
  datasketch signature equals that of its marked shingles alone;
* band runs: each band sorted as ``np.argsort(kind="stable")``, spilled or not.
"""

from __future__ import annotations

import random

import numpy as np
from datasketch import MinHash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlap.text import reference as ref
from overlap.text.batch import LexicalBatch
from overlap.signals.minhash import index as minhash
from overlap.signals.minhash import kernels as minhash_kernels

from helpers import bundled_texts

PARAMS = minhash.default_params()
BUNDLED = bundled_texts()


def _datasketch(shingles: np.ndarray, num_perm: int = 128) -> np.ndarray:
    m = MinHash(num_perm=num_perm, seed=1, scheme="affine32", hashfunc=lambda x: x)
    m.update_batch([int(h) & 0xFFFFFFFF for h in shingles])
    return m.hashvalues


def _check_minhash(texts: list[str], params: dict = PARAMS) -> None:
    batch = LexicalBatch.from_texts(texts)
    shingles, offsets = batch.grams(params["shingle_n"])
    block = params["block_shingles"]
    # Whole texts (the scan side).
    sigs, doc = minhash.query_signatures(batch, params)
    assert list(doc) == [d for d in range(len(texts)) if offsets[d + 1] > offsets[d]]
    for row, d in enumerate(doc):
        np.testing.assert_array_equal(sigs[row], _datasketch(shingles[offsets[d] : offsets[d + 1]]))
    # Every window of every size (the index side): the MinHash of exactly its shingles.
    for size in minhash.window_blocks(params):
        sigs, doc, first, last = minhash.signatures(batch, params, size)
        for row in range(len(sigs)):
            d = doc[row]
            lo = offsets[d] + first[row] * block
            hi = min(offsets[d] + last[row] * block, offsets[d + 1])
            np.testing.assert_array_equal(sigs[row], _datasketch(shingles[lo:hi]))
        # Each text's windows start a step apart and together cover all its blocks.
        step = max(int(size * params["window_step"]), 1)
        for d in np.unique(doc):
            starts, ends = first[doc == d], last[doc == d]
            blocks = -(-(offsets[d + 1] - offsets[d]) // block)
            assert starts[0] == 0 and ends[-1] == blocks
            if size:
                np.testing.assert_array_equal(starts, np.arange(len(starts)) * step)


def test_minhash_matches_datasketch_on_bundled_corpus():
    _check_minhash(BUNDLED[::3])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "Ωμέγα", "x1", "na\u0308ive"]),
                         max_size=120).map(" ".join), max_size=4),
       st.sampled_from([(1, 1, [1, 2, 0], 0.5), (2, 16, [32, 128, 0], 1.0), (5, 16, [32, 128, 0], 0.5),
                        (3, 7, [7, 21], 1.0), (2, 4, [16], 0.25)]))
def test_minhash_windows_match_datasketch(texts, shape):
    n, block, windows, step = shape
    _check_minhash(texts, {**PARAMS, "shingle_n": n, "block_shingles": block, "window_shingles": windows,
                           "window_step": step})


def test_minhash_estimates_are_within_estimator_error_of_exact_jaccard():
    rng = random.Random(11)
    vocab = [f"w{i}" for i in range(3000)]
    failures = []
    for trial in range(60):
        base = [rng.choice(vocab) for _ in range(rng.randrange(60, 400))]
        edited = list(base)
        rate = rng.choice([0.0, 0.02, 0.05, 0.1, 0.2, 0.4])
        for i in range(len(edited)):
            if rng.random() < rate:
                edited[i] = rng.choice(vocab)
        batch = LexicalBatch.from_texts([" ".join(base), " ".join(edited)])
        shingles, offsets = batch.grams(5)
        a, b = set(shingles[: offsets[1]].tolist()), set(shingles[offsets[1] :].tolist())
        exact = len(a & b) / len(a | b)
        sigs, _ = minhash.query_signatures(batch, PARAMS)
        estimate = float(np.mean(sigs[0] == sigs[1]))
        sigma = np.sqrt(exact * (1 - exact) / 128)
        if abs(estimate - exact) > 4.5 * sigma + 1 / 128:
            failures.append((trial, exact, estimate))
    assert not failures


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 300), st.sampled_from([(32, 4), (16, 8), (1, 128), (3, 5)]), st.integers(0, 2**31))
def test_band_hashes_match_definition(n, shape, seed):
    bands, rows = shape
    sigs = np.random.default_rng(seed).integers(0, 2**32, (n, bands * rows), dtype=np.uint64).astype(np.uint32)
    out = minhash_kernels.band_hashes(sigs, bands, rows)
    assert out.shape == (bands, n)
    for i in range(min(n, 20)):
        for j in range(bands):
            h = ref.NGRAM_SEED ^ j
            for r in range(rows):
                h = ref.mix64(h ^ int(sigs[i, j * rows + r]))
            assert int(out[j, i]) == h


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 11), st.booleans()), min_size=1, max_size=60),
       st.lists(st.tuples(st.integers(0, 59), st.integers(1, 40)), min_size=1, max_size=8),
       st.sampled_from([(32, 4), (4, 2), (1, 1), (3, 5)]))
def test_marked_bands_match_datasketch(cells, spans, shape):
    """A window passes exactly when, in some band, its signature equals the signature of its marked shingles."""
    bands, rows = shape
    # Few distinct values, so a marked value may also sit unmarked in the window (a tie, not a smaller value).
    pool = np.random.default_rng(len(cells)).integers(0, 2**63, 12, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    shingles = pool[[v for v, _ in cells]]
    marked = np.array([i for i, (_, m) in enumerate(cells) if m], dtype=np.int64)
    starts = np.array([min(lo, len(cells) - 1) for lo, _ in spans], dtype=np.int64)
    ends = np.array([min(lo + size, len(cells)) for lo, size in zip(starts, (s for _, s in spans))], dtype=np.int64)
    a, b = minhash_kernels.permutations(bands * rows, 1)
    out = minhash_kernels.marked_bands(minhash_kernels.mixed_shingles(shingles), marked, starts, ends, a, b,
                                       bands, rows)
    for w, (lo, hi) in enumerate(zip(starts, ends)):
        inside = marked[(marked >= lo) & (marked < hi)]
        expected = len(inside) > 0 and bool(
            (_datasketch(shingles[lo:hi], bands * rows) == _datasketch(shingles[inside], bands * rows))
            .reshape(bands, rows).all(axis=1).any())
        assert out[w] == expected
