"""The terminal summary of a scores table: counts and shares by label, and what drove them."""

from __future__ import annotations

import numpy as np
import polars as pl

from overlap.scoring import score
from overlap import signals as registry


def driver(scores: pl.DataFrame, calibration: dict | None = None) -> pl.Series:
    """Per row, the signal contributing most to its familiarity (None for empty rows).

    ``calibration``: the scanned index's own fit (None: the bundled one).
    """
    present = {c: scores[c].fill_null(np.nan).to_numpy().astype(float)
               for c in registry.scored_columns() if c in scores.columns}
    if not score.signal_columns(present):
        return pl.Series("driver", [None] * scores.height, dtype=pl.String)
    return pl.Series("driver", score.driver(present, calibration).tolist(), dtype=pl.String)


def source(scores: pl.DataFrame, calibration: dict | None = None) -> pl.Series:
    """Per row, the corpus source (file) of the evidence of the signal contributing most to its familiarity."""
    drivers = driver(scores, calibration).to_list()
    out: list[str | None] = [None] * scores.height
    for column in set(d for d in drivers if d is not None):
        field = f"{registry.owner(column).evidence}_source"
        if field in scores.columns:
            values = scores[field].to_list()
            for i, d in enumerate(drivers):
                if d == column:
                    out[i] = values[i]
    return pl.Series("source", out, dtype=pl.String)


def by_source(scores: pl.DataFrame, calibration: dict | None = None) -> pl.DataFrame | None:
    """Familiar and borderline examples per corpus source their evidence is in (None: no sources recorded)."""
    if not any(c.endswith("_source") for c in scores.columns):
        return None
    frame = scores.with_columns(source(scores, calibration)).filter(
        pl.col("label").is_in(["familiar", "borderline"]) & pl.col("source").is_not_null())
    familiar = max(int((scores["label"] == "familiar").sum()), 1)
    return (
        frame.group_by("source")
        .agg((pl.col("label") == "familiar").sum().alias("familiar"),
             (pl.col("label") == "borderline").sum().alias("borderline"),
             pl.col("familiarity").mean().alias("mean"))
        .with_columns((pl.col("familiar") / familiar).alias("share"))
        .sort(["familiar", "borderline", "source"], descending=[True, True, False])
    )


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def render(scores: pl.DataFrame, by: str = "category", calibration: dict | None = None) -> str:
    """A plain-text summary: label counts and shares, signal means per label, drivers, categories.

    ``calibration``: the scanned index's own fit, which says what drove each label.
    """
    total = scores.height
    frame = scores.with_columns(driver(scores, calibration))
    present = score.signal_columns(frame.columns)
    rows = []
    for name in score.LABELS:
        part = frame.filter(pl.col("label") == name)
        if part.height == 0:
            continue
        means = [f"{part[c].mean():.3f}" if part[c].drop_nulls().len() else "-" for c in present]
        rows.append([name, str(part.height), f"{part.height / total:.1%}", *means])
    out = [f"{total} examples scanned", _table(["label", "examples", "share", *[f"mean {c}" for c in present]], rows)]
    familiar = frame.filter(pl.col("label") == "familiar")
    if familiar.height:
        drivers = familiar.group_by("driver").len().sort(["len", "driver"], descending=[True, False])
        out.append(
            "familiar because of: "
            + ", ".join(f"{r['driver']} {r['len']}" for r in drivers.iter_rows(named=True))
        )
    sources = by_source(scores, calibration)
    if sources is not None and sources.height:
        out.append("familiar by corpus source (where the evidence of the signal that drove each label is):\n" + _table(
            ["source", "familiar", "share of familiar", "borderline", "mean familiarity"],
            [[str(r["source"]), str(r["familiar"]), f"{r['share']:.1%}", str(r["borderline"]), f"{r['mean']:.3f}"]
             for r in sources.iter_rows(named=True)]))
    for signal in registry.all_signals():
        if signal.summarize is not None:
            out += signal.summarize(frame)
    if "familiar_content" in frame.columns:
        content = frame.filter(pl.col("familiar_content").fill_null(False))
        strict = content.filter(pl.col("label") != "familiar").height
        out.append(
            f"familiar_content (restates what the corpus says, by meaning): {content.height} "
            f"({content.height / total:.1%}), {strict} of them not labelled familiar"
        )
    if by in frame.columns and frame[by].drop_nulls().len():
        groups = (
            frame.group_by(by)
            .agg(
                pl.len().alias("n"),
                (pl.col("label") == "familiar").mean().alias("familiar"),
                (pl.col("label") == "novel").mean().alias("novel"),
                pl.col("familiarity").mean().alias("mean"),
            )
            .sort(by)
        )
        out.append(
            _table(
                [by, "examples", "familiar", "novel", "mean familiarity"],
                [
                    [str(r[by]), str(r["n"]), f"{r['familiar']:.1%}", f"{r['novel']:.1%}",
                     f"{r['mean']:.3f}" if r["mean"] is not None else "-"]
                    for r in groups.iter_rows(named=True)
                ],
            )
        )
    return "\n\n".join(out)
