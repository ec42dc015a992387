"""The HTML report of a scores table: one self-contained file, no network requests.

::

    from overlap.report import write_report
    write_report("scores.parquet", "report.html", dataset="train.jsonl")

Headline figures first (label shares, by signal, by category), then a written
reading drawn from the numbers, plots as inline SVG (familiarity and each
signal, labels by category, weight share before and after reweighting, a 2-D
map when the scores carry ``map_x``/``map_y``), and tables a person can sort and
filter: the most familiar examples beside the corpus text they matched, the most
novel ones, and the near-duplicate groups inside the dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import polars as pl

from overlap.report import model, page

__all__ = ["render_report", "write_report"]

DEFAULT_MAX_ROWS = 200


def _scores(scores: pl.DataFrame | str | Path) -> tuple[pl.DataFrame, str | None]:
    if isinstance(scores, pl.DataFrame):
        return scores, None
    from overlap.io import read_table

    return read_table(scores), Path(scores).name


def render_report(
    scores: pl.DataFrame | str | Path,
    weights: pl.DataFrame | str | Path | None = None,
    title: str | None = None,
    *,
    dataset: str | Path | Sequence[Any] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    preview_weights: bool = True,
    calibration: dict[str, Any] | None = None,
) -> str:
    """The report as one HTML string.

    Args:
        scores: the scores table (a DataFrame, or a .parquet/.jsonl/.csv path).
            Missing optional columns (a signal, ``category``, ``dup_group``,
            ``map_x``/``map_y``, ``weight``) leave their part out.
        weights: weights after reweighting: a table (or path) with ``row`` and
            ``weight``, or with ``weight`` alone in the scores' row order. When
            None, a ``weight`` column of ``scores`` is used if there is one.
        title: the page title (default "Familiarity report").
        dataset: the fine-tuning dataset (a path read with
            :func:`overlap.io.read_dataset`, or its Examples), to show each
            example's text beside its evidence; without it the evidence shows
            the corpus side only.
        max_rows: most rows of each table (the file stays small on big sets).
        preview_weights: with no weights at all, preview the default
            reweighting (clearly marked as a preview) rather than show none.
        calibration: the calibration of the index the scores came from (its
            manifest's), to show its validity card and its signal thresholds.
    """
    frame, source = _scores(scores)
    data = model.build(frame, weights=weights, dataset=dataset, title=title, preview_weights=preview_weights,
                       calibration=calibration)
    name = Path(dataset).name if isinstance(dataset, (str, Path)) else None
    return page.render(data, max_rows=max_rows, source=source, dataset_name=name)


def write_report(
    scores: pl.DataFrame | str | Path,
    out: str | Path,
    weights: pl.DataFrame | str | Path | None = None,
    title: str | None = None,
    *,
    dataset: str | Path | Sequence[Any] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    preview_weights: bool = True,
    calibration: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the report to ``out`` (atomically, parent folders created) and return its path.

    Same arguments as :func:`render_report`; an existing ``out`` is refused
    (FileExistsError) before any work unless ``overwrite`` is true.
    """
    from overlap.io import atomic_write_bytes, refuse_existing

    refuse_existing(out, overwrite)
    html = render_report(scores, weights, title, dataset=dataset, max_rows=max_rows,
                         preview_weights=preview_weights, calibration=calibration)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, html.encode("utf-8", "surrogatepass"))
    return target
