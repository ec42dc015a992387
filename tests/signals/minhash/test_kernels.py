"""The MinHash kernels (``overlap/signals/minhash_kernels.py``) and band runs (``signals/minhash.py``).

* MinHash: identical to datasketch's ``affine32`` MinHash fed the low 32 bits
  of our shingle hashes, for whole texts and for every window; estimates within
  the estimator's error of the exact Jaccard, also from b-bit signatures
  through the LSH lookup;
* band hashes: identical to their plain definition;
* band runs: each band sorted as ``np.argsort(kind="stable")``, spilled or not.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlap.text import reference as ref
from overlap.index.sorting import sorted_pairs
from overlap.text.batch import LexicalBatch
from overlap.signals.minhash import index as minhash
from overlap.signals.minhash import kernels as minhash_kernels
from overlap.signals.minhash.index import BandRuns, stored_band

from helpers import bundled_texts

PARAMS = minhash.default_params()
BUNDLED = bundled_texts()


def _datasketch(shingles: np.ndarray) -> np.ndarray:
    m = MinHash(num_perm=128, seed=1, scheme="affine32", hashfunc=lambda x: x)
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


def test_index_windows_leave_out_whole_text_windows_that_repeat_a_window():
    batch = LexicalBatch.from_texts(BUNDLED[::3])
    shingles, offsets = batch.grams(PARAMS["shingle_n"])
    a, b = minhash_kernels.permutations(PARAMS["num_perm"], PARAMS["minhash_seed"])
    minima, block_offsets = minhash_kernels.block_minima(shingles, offsets, a, b, PARAMS["block_shingles"])
    assert PARAMS["window_shingles"][-1] == 0
    *sized, (whole_sigs, whole_doc, _, whole_last) = minhash.index_windows(minima, block_offsets, PARAMS)
    blocks = np.diff(block_offsets)
    longer = np.flatnonzero(blocks > max(minhash.window_blocks(PARAMS)))
    assert 0 < len(longer) < np.count_nonzero(blocks)
    np.testing.assert_array_equal(whole_doc, longer)
    np.testing.assert_array_equal(whole_last, blocks[longer])
    # Every text with a shingle still has a window, and a short text's one window is all of it.
    sigs, doc, first, last = sized[-1]
    assert set(doc.tolist()) == set(np.flatnonzero(blocks).tolist())
    short = np.isin(doc, np.flatnonzero((blocks > 0) & (blocks <= max(minhash.window_blocks(PARAMS)))))
    assert (first[short] == 0).all() and (last[short] == blocks[doc[short]]).all()


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


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_stored_b_bit_signatures_estimate_exact_jaccard_through_lsh(bits):
    """The index keeps b bits of each minimum; the LSH lookup's corrected estimate tracks exact Jaccard."""
    rng = random.Random(12)
    vocab = [f"w{i}" for i in range(3000)]
    bases, edits = [], []
    for _ in range(60):
        base = [rng.choice(vocab) for _ in range(rng.randrange(60, 400))]
        rate = rng.choice([0.0, 0.02, 0.05, 0.1])
        bases.append(" ".join(base))
        edits.append(" ".join(rng.choice(vocab) if rng.random() < rate else w for w in base))
    params = {**PARAMS, "signature_bits": bits}
    index_sigs, _ = minhash.query_signatures(LexicalBatch.from_texts(bases), params)
    query_sigs, _ = minhash.query_signatures(LexicalBatch.from_texts(edits), params)
    bands = minhash_kernels.band_hashes(index_sigs, params["bands"], params["rows"])
    sorted_bands, order = zip(*(sorted_pairs(bands[j], np.arange(len(bases), dtype=np.uint32))
                                for j in range(params["bands"])))
    best, estimate = minhash_kernels.best_candidates(
        stored_band(minhash_kernels.band_hashes(query_sigs, params["bands"], params["rows"])),
        minhash.stored(query_sigs, bits), stored_band(np.stack(sorted_bands)), np.stack(order),
        minhash.stored(index_sigs, bits), 64, bits)
    chance = 0.0 if bits == 32 else 2.0 ** -bits
    for q, (base, edit) in enumerate(zip(bases, edits)):
        a = set(LexicalBatch.from_texts([base]).grams(5)[0].tolist())
        b = set(LexicalBatch.from_texts([edit]).grams(5)[0].tolist())
        exact = len(a & b) / len(a | b)
        if exact == 1.0:
            assert (best[q], estimate[q]) == (q, 1.0)
        elif exact > 0.5:
            hit = exact + (1 - exact) * chance
            sigma = np.sqrt(hit * (1 - hit) / 128) / (1 - chance)
            assert best[q] == q and abs(estimate[q] - exact) <= 4.5 * sigma + 1 / 128


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


@pytest.mark.parametrize("budget", [1 << 16, 1 << 30])
def test_band_runs_are_a_stable_argsort_per_band(tmp_path, budget):
    rng = np.random.default_rng(1)
    blocks = [rng.integers(0, 2**64, (8, w), dtype=np.uint64) for w in (3000, 0, 7000, 1, 2500)]
    blocks[2][:, ::7] = 12345  # repeated band values
    runs = BandRuns(tmp_path / "spill", 8, budget)
    for block in blocks:
        runs.add(block)
    assert runs.finish(tmp_path / "b.npy", tmp_path / "r.npy") == 12501
    allb = np.concatenate(blocks, axis=1)
    order = np.argsort(allb, axis=1, kind="stable")
    stored = np.load(tmp_path / "b.npy")
    assert stored.dtype == np.uint32
    np.testing.assert_array_equal(stored, stored_band(np.take_along_axis(allb, order, axis=1)))
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), order.astype(np.uint32))
    assert not (tmp_path / "spill").exists()
