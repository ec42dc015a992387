"""The numbers behind the report, computed once from the scores table.

Everything the page shows (headline figures, plots, the written reading, the
tables) is drawn from a :class:`ReportData`, so the words and the plots can
never disagree. Columns may be missing: a scan without the embedding signal has
no ``semantic_*`` columns, a table from elsewhere may lack ``category`` or
``dup_group``; each part of the report is left out, with a note, when its
columns are absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import polars as pl

from overlap.scoring import score
from overlap.scoring import summary
from overlap import signals as registry
from overlap.scoring.score import LABELS


@dataclass
class Signal:
    column: str
    name: str
    short: str
    prefix: str
    threshold: float | None
    values: np.ndarray  # float, NaN where missing
    over: int  # examples at or above the threshold
    scored: int  # examples with a value
    mean: float
    drives: int  # familiar examples this signal made familiar


@dataclass
class Weights:
    source: str  # "given" (a weight column or file) or "preview" (default reweighting, none given)
    before: np.ndarray
    after: np.ndarray
    by_label: dict[str, tuple[float, float]]  # label -> (share before, share after)
    effective_before: float
    effective_after: float
    largest: list[tuple[str, str, float]]  # (id, label, weight)
    note: str = ""


@dataclass
class ReportData:
    frame: pl.DataFrame  # the scores, plus driver, dup_size, and weight when known
    n: int
    counts: dict[str, int]
    signals: list[Signal]
    categories: pl.DataFrame | None
    weights: Weights | None
    dup_groups: pl.DataFrame  # groups of 2+: representative row, size, members
    examples: dict[int, Any] | None  # row -> Example when the dataset was given
    title: str
    notes: list[str] = field(default_factory=list)
    calibration: dict[str, Any] | None = None  # the scanned index's (None: index not given)

    def share(self, label: str) -> float:
        return self.counts.get(label, 0) / self.n if self.n else 0.0

    @property
    def live(self) -> int:
        return self.n - self.counts.get("empty", 0)

    def signal(self, column: str) -> Signal | None:
        return next((s for s in self.signals if s.column == column), None)


def _floats(frame: pl.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(frame.height, np.nan)
    return frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy().astype(float)


def _complete(scores: pl.DataFrame, calibration: dict[str, Any] | None = None) -> pl.DataFrame:
    """The scores with the columns the report relies on, derived where the table lacks them
    (familiarity and what drove it by the scanned index's ``calibration`` where given)."""
    frame = scores.drop("dup_size", "driver", strict=False)  # derived here, never taken from the input
    n = frame.height
    if "row" not in frame.columns:
        frame = frame.with_columns(pl.Series("row", np.arange(n), dtype=pl.Int64))
    if "id" not in frame.columns:
        frame = frame.with_columns(pl.col("row").cast(pl.String).alias("id"))
    frame = frame.with_columns(pl.col("id").cast(pl.String))
    if "familiarity" not in frame.columns:
        present = {c: _floats(frame, c) for c in registry.scored_columns() if c in frame.columns}
        fam = score.familiarity(present, calibration) if score.signal_columns(present) else np.full(n, np.nan)
        frame = frame.with_columns(pl.Series("familiarity", fam, dtype=pl.Float64).fill_nan(None))
    if "label" not in frame.columns:
        frame = frame.with_columns(pl.Series("label", score.label(_floats(frame, "familiarity")).tolist(),
                                             dtype=pl.String))
    frame = frame.with_columns(pl.col("label").cast(pl.String).fill_null("empty"))
    if "dup_group" not in frame.columns:
        frame = frame.with_columns(pl.col("row").alias("dup_group"))
    if "category" in frame.columns and frame["category"].drop_nulls().len() == 0:
        frame = frame.drop("category")
    sizes = frame.group_by("dup_group").agg(pl.len().alias("dup_size"))
    frame = frame.join(sizes, on="dup_group", how="left", maintain_order="left")
    return frame.with_columns(summary.driver(frame, calibration))


def _signals(frame: pl.DataFrame, calibration: dict[str, Any] | None = None) -> list[Signal]:
    out = []
    familiar = (frame["label"] == "familiar").to_numpy()
    driver = frame["driver"].to_numpy()
    for signal in registry.all_signals():
        column = signal.column
        if column not in frame.columns:
            continue
        values = _floats(frame, column)
        has = ~np.isnan(values)
        threshold = score.single_threshold(column, calibration)
        out.append(Signal(
            column=column, name=signal.title, short=signal.short, prefix=signal.evidence, threshold=threshold,
            values=values,
            over=int((values[has] >= threshold).sum()) if threshold is not None else 0,
            scored=int(has.sum()), mean=float(values[has].mean()) if has.any() else float("nan"),
            drives=int((familiar & (driver == column)).sum()),
        ))
    return out


def _categories(frame: pl.DataFrame) -> pl.DataFrame | None:
    if "category" not in frame.columns:
        return None
    cats = frame.with_columns(pl.col("category").cast(pl.String).fill_null("(none)"))
    novel_total = max(1, int((cats["label"] == "novel").sum()))
    aggs = [pl.len().alias("n")]
    aggs += [(pl.col("label") == name).sum().alias(name) for name in LABELS]
    aggs.append(pl.col("familiarity").mean().alias("mean_familiarity"))
    if "weight" in cats.columns:
        aggs.append(pl.col("weight").sum().alias("weight_after"))
    table = cats.group_by("category").agg(aggs)
    live_total = max(1, int((cats["label"] != "empty").sum()))
    table = table.with_columns(
        (pl.col("novel") / novel_total).alias("novel_of_all"),
        ((pl.col("n") - pl.col("empty")) / live_total).alias("weight_before"),
    )
    if "weight_after" in table.columns:
        total = float(cats["weight"].sum()) or 1.0
        table = table.with_columns(pl.col("weight_after") / total)
    return table.sort(["n", "category"], descending=[True, False])


def _dup_groups(frame: pl.DataFrame) -> pl.DataFrame:
    cols = ["row", "id", "label", "familiarity"] + (["category"] if "category" in frame.columns else [])
    groups = (
        frame.filter(pl.col("dup_size") > 1)
        .select("dup_group", *cols)
        .group_by("dup_group", maintain_order=True)
        .agg(
            pl.len().alias("size"),
            pl.col("id").alias("members"),
            pl.col("label").alias("labels"),
            pl.col("familiarity").mean().alias("mean_familiarity"),
            *([pl.col("category").cast(pl.String).alias("categories")] if "category" in frame.columns else []),
        )
    )
    reps = frame.select(pl.col("row").alias("dup_group"), pl.col("id").alias("rep_id"))
    return (groups.join(reps, on="dup_group", how="left")
            .sort(["size", "dup_group"], descending=[True, False]))


def _kish(weights: np.ndarray, groups: np.ndarray) -> float:
    """Kish effective sample size with the weights of a near-duplicate group summed."""
    if not len(weights):
        return 0.0
    _, inverse = np.unique(groups, return_inverse=True)
    summed = np.bincount(inverse, weights=weights)
    squares = float((summed**2).sum())
    return float(summed.sum()) ** 2 / squares if squares > 0 else 0.0


def _weights(frame: pl.DataFrame, source: str, note: str = "") -> Weights:
    labels = frame["label"].to_numpy()
    after = _floats(frame, "weight")
    after = np.where(np.isnan(after), 0.0, after)
    before = (labels != "empty").astype(float)
    groups = frame["dup_group"].to_numpy()
    tb, ta = before.sum() or 1.0, after.sum() or 1.0
    by_label = {
        name: (float(before[labels == name].sum() / tb), float(after[labels == name].sum() / ta))
        for name in LABELS if (labels == name).any()
    }
    top = np.argsort(-after, kind="stable")[:5]
    ids = frame["id"].to_list()
    return Weights(
        source=source, before=before, after=after, by_label=by_label,
        effective_before=_kish(before, groups), effective_after=_kish(after, groups),
        largest=[(ids[i], str(labels[i]), float(after[i])) for i in top], note=note,
    )


def _attach_weights(frame: pl.DataFrame, weights: pl.DataFrame | str | Path | None,
                    preview: bool) -> tuple[pl.DataFrame, Weights | None, list[str]]:
    notes: list[str] = []
    if weights is not None:
        if not isinstance(weights, pl.DataFrame):
            from overlap.io import read_table

            weights = read_table(weights)
        if "weight" not in weights.columns:
            raise ValueError("the weights table has no 'weight' column")
        if "row" in weights.columns:
            w = weights.select(pl.col("row").cast(pl.Int64), pl.col("weight").cast(pl.Float64))
            frame = frame.drop("weight", strict=False).join(w, on="row", how="left", maintain_order="left")
        elif weights.height == frame.height:
            frame = frame.with_columns(weights["weight"].cast(pl.Float64))
        else:
            raise ValueError(f"the weights table has no 'row' column and {weights.height} rows, "
                             f"the scores {frame.height}")
        missing = int(frame["weight"].null_count())
        if missing:
            notes.append(f"{missing:,} example(s) had no weight in the weights table and count as 0.")
        return frame, _weights(frame, "given"), notes
    if "weight" in frame.columns:
        return frame, _weights(frame, "given"), notes
    if not preview or frame.height == 0:
        return frame, None, notes
    try:
        from overlap.weights.reweight import compute_weights

        weighted = compute_weights(frame.select("id", "row", "label", "familiarity", "dup_group"))
    except Exception as exc:  # a preview must never stop the report
        notes.append(f"No weights given, and the default reweighting could not run: {exc}")
        return frame, None, notes
    frame = frame.with_columns(weighted["weight"])
    return frame, _weights(frame, "preview"), notes


def _examples(dataset: Any) -> dict[int, Any] | None:
    if dataset is None:
        return None
    if isinstance(dataset, (str, Path)):
        from overlap.io import read_dataset

        dataset, _ = read_dataset(dataset, on_error="skip")
    return {int(e.row): e for e in dataset}


def build(scores: pl.DataFrame, *, weights: pl.DataFrame | str | Path | None = None,
          dataset: str | Path | Sequence[Any] | None = None, title: str | None = None,
          preview_weights: bool = True, calibration: dict[str, Any] | None = None) -> ReportData:
    """Gather every number the report shows (``calibration``: the scanned index's, for its card)."""
    frame = _complete(scores, calibration)
    frame, weight_info, notes = _attach_weights(frame, weights, preview_weights)
    counts = {name: int((frame["label"] == name).sum()) for name in LABELS}
    return ReportData(
        frame=frame, n=frame.height, counts=counts, signals=_signals(frame, calibration), calibration=calibration,
        categories=_categories(frame), weights=weight_info, dup_groups=_dup_groups(frame),
        examples=_examples(dataset), title=title or "Familiarity report", notes=notes,
    )
