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
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from overlap import advice
from overlap.resample import ResampleStats

LABELS = ("familiar", "borderline", "novel", "empty")
STRATEGIES = ("familiarity", "target")
THIN_NOVEL = 20.0  # effective novel examples below which a category counts as thin
EFFECTIVE_NOTE = ("(effective: Kish's effective sample size, (sum of w)^2 / sum of w^2, with each near-duplicate "
                  "group's weights added up first, so a group counts as one example)")


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


@dataclass(frozen=True)
class SummaryTables:
    """What reweighting did, in numbers, from :func:`weight_summary`.

    Attributes:
        by_label: one row per label present: ``label``, ``examples``,
            ``share_before``, ``share_after`` (of total weight), ``effective_before``,
            ``effective_after`` (Kish effective sample size within the label).
        by_group: the same per value of the ``by`` column, plus ``novel`` (novel
            examples) and ``novel_effective_after``; None without such a column.
        group_column: the name of the ``by`` column, or None.
        effective_before: Kish effective sample size of the whole set, before.
        effective_after: the same, after.
        examples: non-empty examples.
        largest: the five largest weights after: ``id``, ``label``, ``weight``.
        recommendation: one paragraph drawn from the numbers above.
        resampling: what a resample made of the weights, when one was written.
    """

    by_label: pl.DataFrame
    by_group: pl.DataFrame | None
    group_column: str | None
    effective_before: float
    effective_after: float
    examples: int
    largest: pl.DataFrame
    recommendation: str
    resampling: ResampleStats | None = None

    def render(self) -> str:
        """Plain-text tables and the recommendation, for the terminal."""
        header = ["", "examples", "share before", "share after", "effective before", "effective after"]
        label_rows = [
            [r["label"], f"{r['examples']:,}", _pct(r["share_before"]), _pct(r["share_after"]),
             _num(r["effective_before"]), _num(r["effective_after"])]
            for r in self.by_label.iter_rows(named=True)
        ]
        label_rows.append(["all", f"{self.examples:,}", _pct(1.0), _pct(1.0),
                           _num(self.effective_before), _num(self.effective_after)])
        parts = ["Weight by label", _table(header, label_rows) + "\n" + EFFECTIVE_NOTE]
        if self.by_group is not None:
            group_header = [self.group_column or "", "examples", "novel", "share before", "share after",
                            "novel effective after"]
            group_rows = [
                [str(r[self.group_column]), f"{r['examples']:,}", f"{r['novel']:,}", _pct(r["share_before"]),
                 _pct(r["share_after"]), _num(r["novel_effective_after"])]
                for r in self.by_group.iter_rows(named=True)
            ]
            parts += [f"Weight by {self.group_column}", _table(group_header, group_rows)]
        largest = [[str(r["id"]), r["label"], f"{r['weight']:.3f}"] for r in self.largest.iter_rows(named=True)]
        parts += ["Largest weights", _table(["id", "label", "weight"], largest), self.recommendation]
        if self.resampling is not None:
            parts.append(self.resampling.render())
        parts.append(advice.measured(float(self.by_label.filter(pl.col("label") == "novel")["share_before"].sum())))
        return "\n\n".join(parts) + "\n"


def weight_summary(
    before: pl.DataFrame,
    after: pl.DataFrame,
    by: str | None = None,
    *,
    config: ReweightConfig | None = None,
) -> SummaryTables:
    """Compare weights before and after reweighting, and say what to do next.

    ``before`` is the scores table (uniform weights, 0 for empty texts, unless it
    has a ``weight`` column); ``after`` is the same rows with ``weight`` (from
    :func:`compute_weights` under ``config``, the default config when None; the
    recommendation judges the target against it). ``by`` names a column to break
    the weight down by, defaulting to ``category`` when that has any value.
    Effective sample sizes are Kish's ``(sum w)^2 / sum w^2`` over near-duplicate
    groups (the weights of a group summed), so 50 copies of one text count once.

    Raises:
        ValueError: the tables differ in length, ``after`` has no weight, or
            ``by`` names no column.
    """
    if before.height != after.height:
        raise ValueError(f"before has {before.height} rows, after {after.height}")
    if "weight" not in after.columns:
        raise ValueError("after has no weight column; run compute_weights first")
    config = config or ReweightConfig()
    if by is not None and by not in after.columns:
        raise ValueError(f"no column {by!r} to break the weights down by")
    if by is None and "category" in after.columns and after["category"].null_count() < after.height:
        by = "category"
    frame = pl.DataFrame(
        {
            "label": after["label"],
            "group": after["dup_group"] if "dup_group" in after.columns else pl.Series(np.arange(after.height)),
            "before": _weights(before),
            "after": after["weight"].cast(pl.Float64),
        }
    )
    if by is not None:
        frame = frame.with_columns(after[by].cast(pl.String).fill_null("(none)").alias("by"))
    by_label = _breakdown(frame, "label").sort(
        pl.col("label").replace_strict({name: i for i, name in enumerate(LABELS)}, default=len(LABELS))
    )
    by_group = None
    if by is not None:
        by_group = (
            _breakdown(frame, "by")
            .join(_breakdown(frame.filter(pl.col("label") == "novel"), "by")
                  .select("by", novel="examples", novel_effective_after="effective_after"), on="by", how="left")
            .with_columns(pl.col("novel").fill_null(0), pl.col("novel_effective_after").fill_null(0.0))
            .drop("effective_before", "effective_after")
            .rename({"by": by})
            .sort(by)
        )
    largest = (
        after.select("id", "label", "weight").with_row_index("_order")
        .sort(["weight", "_order"], descending=[True, False]).head(5).drop("_order")
    )
    summary = SummaryTables(
        by_label=by_label,
        by_group=by_group,
        group_column=by,
        effective_before=_kish(frame, "before"),
        effective_after=_kish(frame, "after"),
        examples=int((frame["label"] != "empty").sum()),
        largest=largest,
        recommendation="",
    )
    return replace(summary, recommendation=_recommend(summary, frame, config))


def _weights(table: pl.DataFrame) -> pl.Series:
    if "weight" in table.columns:
        return table["weight"].cast(pl.Float64)
    return (table["label"] != "empty").cast(pl.Float64)


def _kish(frame: pl.DataFrame, column: str) -> float:
    grouped = frame.group_by("group").agg(pl.col(column).sum())[column]
    squares = float((grouped**2).sum())
    return float(grouped.sum()) ** 2 / squares if squares > 0 else 0.0


def _breakdown(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Examples, weight shares and Kish sizes per value of ``key``."""
    totals = {c: float(frame[c].sum()) or 1.0 for c in ("before", "after")}
    per_group = frame.group_by(key, "group").agg(
        pl.len().alias("n"), pl.col("before").sum(), pl.col("after").sum()
    )
    kish = {c: pl.col(c).sum() ** 2 / (pl.col(c) ** 2).sum() for c in ("before", "after")}
    return per_group.group_by(key).agg(
        pl.col("n").sum().alias("examples"),
        (pl.col("before").sum() / totals["before"]).alias("share_before"),
        (pl.col("after").sum() / totals["after"]).alias("share_after"),
        kish["before"].fill_nan(0.0).alias("effective_before"),
        kish["after"].fill_nan(0.0).alias("effective_after"),
    )


def _recommend(summary: SummaryTables, frame: pl.DataFrame, config: ReweightConfig) -> str:
    """One paragraph of advice, every claim read off the numbers."""
    shares = {r["label"]: r for r in summary.by_label.iter_rows(named=True)}
    novel = shares.get("novel", {"examples": 0, "share_before": 0.0, "share_after": 0.0, "effective_after": 0.0})
    n = summary.examples
    sentences = [
        f"Novel examples ({novel['examples']:,} of {n:,}) carry {_pct(novel['share_before'])} of the weight "
        f"before and {_pct(novel['share_after'])} after"
        + (f" (target {_pct(config.target_novel_share)})." if config.strategy == "target"
           else f" (weight falls with familiarity, strength {config.strength:g}).")
    ]
    if config.strategy == "target":
        familiar_share = shares["familiar"]["share_after"] if "familiar" in shares else 0.0
        sentences.append(_target_advice(novel, familiar_share, n, frame, config))
    if summary.effective_before > 0:
        grouped = " (near-duplicate groups counted once)" if summary.effective_before < n - 1e-6 else ""
        sentences.append(
            f"Effective sample size{grouped} goes from {_num(summary.effective_before)} to "
            f"{_num(summary.effective_after)} of {n:,} examples"
            + ("; the weights lean on few examples, so more novel data would help more than larger weights."
               if summary.effective_after < 0.5 * summary.effective_before else ".")
        )
    if summary.by_group is not None:
        thin = summary.by_group.filter((pl.col("novel") > 0) & (pl.col("novel_effective_after") < THIN_NOVEL))
        thin = thin.sort("novel_effective_after").head(3)
        if thin.height:
            listed = ", ".join(f"{r[summary.group_column]} ({_num(r['novel_effective_after'])})"
                               for r in thin.iter_rows(named=True))
            sentences.append(f"Thin novel {summary.group_column} values, worth more examples "
                             f"(effective novel examples): {listed}.")
    elif 0 < novel["effective_after"] < THIN_NOVEL:
        sentences.append(f"Only {_num(novel['effective_after'])} effective novel examples: "
                         "more would serve better than heavier weights.")
    duplicated = frame.filter(pl.col("label") != "empty").group_by("group").len().filter(pl.col("len") > 1)
    if duplicated.height:
        groups = _count(duplicated.height, "near-duplicate group")
        sentences.append(f"{int(duplicated['len'].sum()):,} rows fall in {groups}"
                         + (", each weighted as about one example." if config.dedup else "."))
    empty = frame.height - n
    if empty:
        sentences.append(f"{_count(empty, 'empty text')} {'gets' if empty == 1 else 'get'} weight 0.")
    return " ".join(s for s in sentences if s)


def _target_advice(novel: dict, familiar_share: float, n: int, frame: pl.DataFrame, config: ReweightConfig) -> str:
    """Why the target was or was not reached, and what would reach it."""
    target = config.target_novel_share
    if novel["share_after"] > target + 1e-6:
        return "Novel examples carry more than the target by themselves, so they keep that share."
    if novel["share_after"] >= target - 1e-6:
        return ""
    if novel["examples"] == 0:
        return "There are no novel examples to give the target share to."
    groups = frame.filter(pl.col("label") == "novel").group_by("group").agg(pl.col("after").sum())["after"]
    if float(groups.max()) >= config.max_weight * (1 - 1e-9):
        advice = f"The max weight {config.max_weight:g} binds"
        if config.max_weight <= target:
            return advice + "."
        # m more novel examples reach it when (k + m) * max_weight >= target * (n + m).
        more = (target * n - novel["effective_after"] * config.max_weight) / (config.max_weight - target)
        return advice + (f": about {max(math.ceil(more), 1):,} more novel examples (or a higher max weight) "
                         "would reach the target.")
    if familiar_share <= config.familiar_floor + 1e-6:
        return f"The familiar floor ({_pct(config.familiar_floor)}) takes precedence over the target."
    return f"The min weight {config.min_weight:g} on the other examples keeps the novel share down."


def _count(k: int, noun: str) -> str:
    return f"{k:,} {noun}" + ("" if k == 1 else "s")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _num(x: float) -> str:
    return f"{x:,.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Columns aligned, the first to the left and the rest to the right."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), *(line(r) for r in rows)])
