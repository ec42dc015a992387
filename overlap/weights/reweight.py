"""Scores -> training weights that give novel examples their share of the signal.

Weights have mean exactly 1 over the non-empty rows, so they drop into any
trainer's per-example loss weighting without changing the learning rate's
meaning. Empty texts get weight 0.

Every weighting here has the same shape: rows fall into classes, each class is
given a total, and within a class row ``i`` gets ``clip(c * shape_i, low_i,
max_weight)`` with the one scale ``c`` that makes the class hit its total
(:func:`_fill`). That is the fixed point that "clip, renormalise, repeat" converges
to, computed exactly: the class sum is a continuous non-decreasing piecewise
linear function of ``c`` with at most ``2n`` kinks, so ``c`` is found by sorting
the kinks and solving one linear equation. There is no iteration to bound, and
caps hold after normalisation by construction. Class totals are chosen first,
inside the range the caps allow, so a target the caps cannot reach is met as
closely as they allow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from overlap.scoring.score import LABELS

STRATEGIES = ("familiarity", "target")


@dataclass(frozen=True)
class ReweightConfig:
    """How :func:`compute_weights` turns scores into weights.

    Attributes:
        strategy: ``"target"`` gives ``label == "novel"`` rows the share
            ``target_novel_share`` of the total weight, uniformly within each
            label; ``"familiarity"`` lets weight fall smoothly with the
            ``familiarity`` score, ``w ∝ exp(-strength * familiarity)``. Target
            is the default: its effect is stated in one number a person can check.
        strength: steepness of the ``"familiarity"`` curve. The exponential never
            reaches 0 (a verbatim-seen example still counts a little, unlike
            ``(1 - f) ** k``, which drops f = 1 outright) and the ratio of two
            weights depends only on the familiarity difference,
            ``exp(-strength * (f_a - f_b))``. 2.0 makes a fully familiar example
            weigh e^-2 ~ 1/7 of a fully novel one, about the span the caps allow.
        target_novel_share: share S of the total weight carried by novel rows
            under ``"target"``. It only ever raises the novel share: a set whose
            novel rows already carry more keeps its natural share, since moving
            weight to familiar data is not what this tool is for. 0.5: novel rows
            get as much signal as everything else together, without letting them
            dominate (Gekhman et al. 2024, "Does Fine-Tuning LLMs on New Knowledge
            Encourage Hallucinations?", find that fitting many unknown examples
            raises hallucination).
        max_weight: no row weighs more than this. A weight w acts roughly like w
            repeats of the example; Muennighoff et al. 2023 ("Scaling
            Data-Constrained Language Models") see about 4 repeats as nearly as
            good as fresh data with fast-fading returns after, and Gekhman et al.
            2024 find over-fitting unknown examples raises hallucination. 5.0.
        min_weight: no example weighs less than this (a near-duplicate group of k
            rows counts as one example: each member's floor is ``min_weight / k``).
            0.1: every example keeps a tenth of an average one's signal; dropping
            examples outright is a filter's job, not a weighting's.
        familiar_floor: familiar rows keep at least this share of the total weight,
            a guard against forgetting what the model already knows. It never asks
            familiar rows for more than their own share before reweighting (the
            smaller of their share of rows and of near-duplicate groups), and it
            wins over the target when the two collide. 0.25: with S = 0.5, at
            least half of the non-novel signal stays on familiar data.
        dedup: near-duplicate groups (``dup_group``) share weight: each of k
            members gets 1/k of what a single example would, so the group weighs
            about one example. 1/k rather than 1/sqrt(k): near-duplicates carry
            nearly the same gradient, and a 50-copy template at sqrt(50) ~ 7x
            weight is exactly the repetition that drives memorisation (Lee et al.
            2022, "Deduplicating Training Data Makes Language Models Better").
    """

    strategy: str = "target"
    strength: float = 2.0
    target_novel_share: float = 0.5
    max_weight: float = 5.0
    min_weight: float = 0.1
    familiar_floor: float = 0.25
    dedup: bool = True

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        checks = (
            ("strength", self.strength, 0.0, 50.0),
            ("target_novel_share", self.target_novel_share, 0.0, 1.0),
            ("max_weight", self.max_weight, 1.0, math.inf),
            ("min_weight", self.min_weight, 0.0, 1.0),
            ("familiar_floor", self.familiar_floor, 0.0, 1.0),
        )
        for name, value, low, high in checks:
            if not (isinstance(value, (int, float)) and low <= value <= high and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number in [{low}, {high}], got {value!r}")


def compute_weights(scores: pl.DataFrame, config: ReweightConfig = ReweightConfig()) -> pl.DataFrame:
    """Return ``scores`` with a ``weight`` column (float64), every other column untouched.

    Weights have mean exactly 1 over non-empty rows (up to float rounding);
    ``label == "empty"`` rows get 0 and are left out of the mean. Every weight of
    a non-empty row lies in ``[min_weight / k, max_weight]`` (k: the size of its
    near-duplicate group when ``dedup``, else 1). Under ``"target"`` the novel
    share is ``max(S, natural novel share)`` whenever the caps and the familiar
    floor allow it, and as close as they allow otherwise; an unreachable target
    stops when every novel example (a near-duplicate group counting as one) is
    at ``max_weight``, rather than piling the rest onto duplicates. Familiar rows
    keep their floor under both strategies. Deterministic, and independent of
    row order.

    Raises:
        ValueError: a needed column is missing, a label is unknown, or a
            non-empty row lacks a familiarity in [0, 1] under ``"familiarity"``.
    """
    _check_columns(scores, config)
    labels = scores["label"].to_numpy()
    live = labels != "empty"
    weights = np.zeros(scores.height)
    n = int(live.sum())
    if n:
        share = _dedup_share(scores["dup_group"].to_numpy()[live]) if config.dedup else np.ones(n)
        rows = _Rows(labels[live], share, config)
        if config.strategy == "target":
            weights[live] = _target_weights(rows)
        else:
            weights[live] = _familiarity_weights(rows, _familiarity(scores, live))
    return scores.with_columns(pl.Series("weight", weights, dtype=pl.Float64))


def _check_columns(scores: pl.DataFrame, config: ReweightConfig) -> None:
    needed = ["label"]
    if config.dedup:
        needed.append("dup_group")
    if config.strategy == "familiarity":
        needed.append("familiarity")
    missing = [c for c in needed if c not in scores.columns]
    if missing:
        raise ValueError(f"scores table lacks column(s) {missing}")
    unknown = set(scores["label"].unique().to_list()) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown label(s) {sorted(map(str, unknown))}; expected {LABELS}")


def _familiarity(scores: pl.DataFrame, live: np.ndarray) -> np.ndarray:
    values = scores["familiarity"].cast(pl.Float64).to_numpy()[live]
    bad = ~((values >= 0.0) & (values <= 1.0))  # NaN fails both comparisons
    if bad.any():
        row = int(np.flatnonzero(live)[np.argmax(bad)])
        raise ValueError(f"row {row}: familiarity must be in [0, 1] for a non-empty text, got {values[bad][0]}")
    return values


def _dedup_share(groups: np.ndarray) -> np.ndarray:
    """1/k for each row of a near-duplicate group of k non-empty rows."""
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


class _Rows:
    """The non-empty rows with what every strategy needs: label masks, caps, the floor."""

    def __init__(self, labels: np.ndarray, share: np.ndarray, config: ReweightConfig) -> None:
        self.n = labels.size
        self.share = share
        self.low = config.min_weight * share
        self.high = config.max_weight
        self.config = config
        self.novel = labels == "novel"
        self.familiar = labels == "familiar"
        self.borderline = labels == "borderline"
        natural = min(self.familiar.sum() / self.n, share[self.familiar].sum() / share.sum())
        self.floor_total = self.n * min(config.familiar_floor, natural)

    def low_total(self, mask: np.ndarray) -> float:
        return float(self.low[mask].sum())

    def high_total(self, mask: np.ndarray) -> float:
        return float(mask.sum()) * self.high

    def fill(self, mask: np.ndarray, shape: np.ndarray, total: float, out: np.ndarray) -> None:
        out[mask] = _fill(shape[mask], self.low[mask], self.high, total)


def _target_weights(rows: _Rows) -> np.ndarray:
    """Novel rows share max(S, natural share); familiar and borderline share the rest.

    Totals are settled top down: first novel against the rest, inside what the
    caps and the familiar floor leave possible; then familiar against borderline,
    in proportion to their (deduplicated) sizes, lifted to the floor if needed.
    Feasible ranges are never empty because min_weight <= 1 <= max_weight and the
    floor never exceeds the familiar rows' own count.
    """
    n, share = rows.n, rows.share
    novel, familiar, borderline = rows.novel, rows.familiar, rows.borderline
    rest = ~novel
    target = max(rows.config.target_novel_share, share[novel].sum() / share.sum())
    familiar_min = max(rows.floor_total, rows.low_total(familiar))
    # Beyond max_weight per novel example (a near-duplicate group counting as
    # one), the target yields: past that point only duplicates could take more.
    # The mean and the row caps are hard, so the lower bound wins a collision.
    upper = min(
        rows.high * share[novel].sum(),
        n - rows.low_total(rest),
        n - familiar_min - rows.low_total(borderline),
    )
    novel_total = max(rows.low_total(novel), n - rows.high_total(rest), min(target * n, upper))
    rest_total = n - novel_total
    rest_share = share[rest].sum()
    proportional = rest_total * share[familiar].sum() / rest_share if rest_share else 0.0
    familiar_total = float(
        np.clip(
            proportional,
            max(familiar_min, rest_total - rows.high_total(borderline)),
            min(rows.high_total(familiar), rest_total - rows.low_total(borderline)),
        )
    )
    weights = np.empty(n)
    rows.fill(novel, share, novel_total, weights)
    rows.fill(familiar, share, familiar_total, weights)
    rows.fill(borderline, share, rest_total - familiar_total, weights)
    return weights


def _familiarity_weights(rows: _Rows, familiarity: np.ndarray) -> np.ndarray:
    """Weights ∝ exp(-strength * familiarity) / k, capped, mean 1.

    When familiar rows end up below their floor, just enough of the uniform
    weighting (one example, one unit) is mixed in to lift them to it. A mix of
    two weightings that both have mean 1, respect the caps and never rise with
    familiarity does all three too, and the familiar share is linear in the mix,
    so the amount is solved exactly. Uniform weights meet the floor unless the
    caps bind.
    """
    everyone = np.ones(rows.n, dtype=bool)
    curved, uniform = np.empty(rows.n), np.empty(rows.n)
    rows.fill(everyone, np.exp(-rows.config.strength * familiarity) * rows.share, float(rows.n), curved)
    short = rows.floor_total - curved[rows.familiar].sum()
    if short <= 0:
        return curved
    rows.fill(everyone, rows.share, float(rows.n), uniform)
    gain = uniform[rows.familiar].sum() - curved[rows.familiar].sum()
    mix = min(1.0, short / gain) if gain > 0 else 0.0
    return (1 - mix) * curved + mix * uniform


def _fill(shape: np.ndarray, low: np.ndarray, high: float, total: float) -> np.ndarray:
    """``clip(c * shape, low, high)`` with the scale ``c`` that makes it sum to ``total``.

    ``shape > 0`` and ``low <= high`` elementwise. ``total`` outside
    ``[sum(low), n * high]`` is met as closely as possible (all at a bound).
    """
    if total <= low.sum():
        return low.copy()
    if total >= shape.size * high:
        return np.full(shape.size, high)
    enter = low / shape  # the scale at which a row leaves its floor
    leave = high / shape  # the scale at which a row reaches the cap
    by_enter, by_leave = np.argsort(enter), np.argsort(leave)
    enter_sorted, leave_sorted = enter[by_enter], leave[by_leave]
    low_sum = np.concatenate(([0.0], np.cumsum(low[by_enter])))
    enter_shape = np.concatenate(([0.0], np.cumsum(shape[by_enter])))
    leave_shape = np.concatenate(([0.0], np.cumsum(shape[by_leave])))
    kinks = np.sort(np.concatenate((enter, leave)))
    entered = np.searchsorted(enter_sorted, kinks, side="right")
    capped = np.searchsorted(leave_sorted, kinks, side="right")
    sums = (low_sum[-1] - low_sum[entered]) + kinks * (enter_shape[entered] - leave_shape[capped]) + capped * high
    # sums[0] == sum(low) < total <= sums[-1] == n * high, so 1 <= k < len(kinks)
    # and no row changes state between kinks[k - 1] and kinks[k]; the clamp is for
    # rounding in sums.
    k = int(np.searchsorted(sums, total, side="left"))
    k = min(max(k, 1), kinks.size - 1)
    start = kinks[k - 1]
    at_floor = enter > start
    at_cap = leave <= start
    free = ~at_floor & ~at_cap
    if not free.any():  # rounding put total on a stretch where the sum is flat
        return np.where(at_floor, low, high)
    scale = (total - low[at_floor].sum() - high * at_cap.sum()) / shape[free].sum()
    return np.clip(np.where(at_floor, low, np.where(at_cap, high, scale * shape)), low, high)

