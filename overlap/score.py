"""Signals -> one familiarity in [0, 1] and a label.

Each signal is mapped onto (0, 1) by a logistic curve centred on its threshold
(0.5 at the threshold; ``scale`` sets how fast it saturates); being strictly
increasing, it keeps the signal's ranking intact. ``familiarity`` is the
largest of the available mapped signals, so any one strong piece of evidence
(verbatim n-grams, a near-duplicate window, a close paraphrase) makes an
example familiar. Thresholds and widths were chosen on the labelled benchmark
in ``benchmarks/validity`` (see its README table); rerun it after changing them.
"""

from __future__ import annotations

import numpy as np

# signal column -> (threshold, scale)
CALIBRATION: dict[str, tuple[float, float]] = {
    "ngram_containment": (0.2, 0.05),
    "minhash_jaccard": (0.3, 0.05),
    "semantic_similarity": (0.75, 0.03),
}
FAMILIAR_AT = 0.5
BORDERLINE_AT = 0.35

LABELS = ("familiar", "borderline", "novel", "empty")


def calibrated(column: str, values: np.ndarray) -> np.ndarray:
    """One signal mapped onto (0, 1) (NaN stays NaN)."""
    threshold, scale = CALIBRATION[column]
    return 1.0 / (1.0 + np.exp(-(np.asarray(values, dtype=float) - threshold) / scale))


def familiarity(signals: dict[str, np.ndarray]) -> np.ndarray:
    """Largest calibrated signal per example; NaN where no signal has a value."""
    mapped = [calibrated(name, values) for name, values in signals.items() if name in CALIBRATION]
    if not mapped:
        raise ValueError("no scored signal to combine")
    stacked = np.vstack(mapped)
    out = np.full(stacked.shape[1], np.nan)
    has = ~np.isnan(stacked).all(axis=0)
    out[has] = np.nanmax(stacked[:, has], axis=0)
    return out


def label(fam: np.ndarray) -> np.ndarray:
    """``familiar`` / ``borderline`` / ``novel``, and ``empty`` where there was nothing to score."""
    fam = np.asarray(fam, dtype=float)
    out = np.full(fam.shape, "novel", dtype=object)
    out[fam >= BORDERLINE_AT] = "borderline"
    out[fam >= FAMILIAR_AT] = "familiar"
    out[np.isnan(fam)] = "empty"
    return out
