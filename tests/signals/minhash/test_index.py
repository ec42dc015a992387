"""The MinHash index side (``overlap/signals/minhash/index.py``): index windows, b-bit signatures through LSH, band runs.

* index windows: whole-text windows only where a text is longer than every window;
* b-bit signatures: estimates within the estimator's error of the exact Jaccard through the LSH lookup;
* band runs: each band sorted as ``np.argsort(kind="stable")``, spilled or not.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from overlap.index.sorting import sorted_pairs
from overlap.text.batch import LexicalBatch
from overlap.signals.minhash import index as minhash
from overlap.signals.minhash import kernels as minhash_kernels
from overlap.signals.minhash.index import BandRuns, stored_band

from helpers import bundled_texts

PARAMS = minhash.default_params()
BUNDLED = bundled_texts()


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
