"""What a reweighting did, in numbers and words: the before/after tables the terminal prints.

:func:`weight_summary` compares the weights of the scores table before and after
:func:`overlap.weights.reweight.compute_weights` (shares and Kish effective sample sizes by
label and by category, the largest weights) and draws one paragraph of advice from
the numbers; :meth:`SummaryTables.render` lays it out for the terminal. Computing
the weights is :mod:`overlap.weights.reweight`'s job; this module only describes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from overlap.weights import advice
from overlap.weights.resample import ResampleStats
from overlap.weights.reweight import ReweightConfig
from overlap.scoring.score import LABELS

THIN_NOVEL = 20.0  # effective novel examples below which a category counts as thin
EFFECTIVE_NOTE = ("(effective: Kish's effective sample size, (sum of w)^2 / sum of w^2, with each near-duplicate "
                  "group's weights added up first, so a group counts as one example)")


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
    :func:`overlap.weights.reweight.compute_weights` under ``config``, the default config when None; the
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
