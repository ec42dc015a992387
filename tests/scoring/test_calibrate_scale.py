"""What always holds of an index's own calibration, whatever the corpus: its threshold lets at most
the allowed share of the held-out texts it was fitted on through, and its card is measured out of fold.

The measured drift of the fixed calibration on a large corpus of another style (a rate that depends
on what text the machine has installed) is a benchmark: ``benchmarks/validity/drift.py``.
"""

from __future__ import annotations

import numpy as np

from overlap.scoring import calibrate
from overlap.scoring import planting
from overlap.scoring import score


def _items(seed: int, n: int = 400):
    """Signal columns of planted (overlapping) and held-out (chance overlap) items, as a corpus gives them."""
    rng = np.random.default_rng(seed)
    kinds = np.array([planting.HELDOUT] * n + [k for k in planting.PLANTED_KINDS for _ in range(n // 4)])
    planted = kinds != planting.HELDOUT
    containment = np.where(planted, rng.uniform(0.2, 1.0, len(kinds)), rng.beta(1, 12, len(kinds)))
    jaccard = np.where(planted, rng.uniform(0.1, 1.0, len(kinds)), rng.beta(1, 30, len(kinds)))
    alignment = np.minimum(1.0, containment + rng.uniform(0, 0.05, len(kinds)))
    return {"ngram_containment": containment, "ngram_alignment": alignment, "minhash_jaccard": jaccard}, kinds


def test_self_calibration_lets_at_most_the_allowed_share_of_its_held_out_text_through():
    for seed in range(5):
        columns, kinds = _items(seed)
        fitted = calibrate.fit(columns, kinds, np.arange(len(kinds)) % 2)
        z, _ = score.linear_score(columns, {"models": fitted["models"][-1:]})
        heldout = kinds == planting.HELDOUT
        assert (z[heldout] >= fitted["models"][-1]["threshold"]).mean() <= calibrate.MAX_FALSE_FAMILIAR
        assert all(0.0 <= a <= 1.0 for a in fitted["card"]["auroc"].values())
        assert all(c >= 0 for m in fitted["models"] for c in m["coefficients"])
