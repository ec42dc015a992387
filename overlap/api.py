"""The Python API: build an index, scan a dataset, reweight, report.

Every command of the CLI is a thin shell over one function here::

    from overlap import api
    scores = api.scan("train.jsonl")                 # against the bundled corpus
    api.build_index(["corpus/"], "my-index")
    scores = api.scan("train.jsonl", index="my-index", out="scores.parquet")
    api.distill_model("static-minilm")               # fast static embedding model for big corpora
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import polars as pl

from overlap import data
from overlap.build import build_index
from overlap.distill import distill as distill_model
from overlap.report import write_report
from overlap.index.manifest import Manifest, read_manifest
from overlap.io import read_dataset, read_table, write_rejects, write_table
from overlap.io.layouts import MAX_TEXT_BYTES
from overlap.progress import say
from overlap.resample import resample_plan, write_resampled
from overlap.reweight import ReweightConfig, SummaryTables, compute_weights, weight_summary
from overlap.scan import scan_examples

__all__ = ["build_index", "default_index", "scan", "index_info", "reweight", "report", "distill_model"]


def default_index(progress: Callable[[str], None] | None = say) -> Path:
    """The index of the bundled reference corpus, built into the cache on first use."""
    directory = data.default_index_dir()
    if not (directory / "manifest.json").exists():
        if progress:
            progress(f"building the index of the bundled corpus in {directory} (first use only)")
        build_index(data.reference_sources(), directory, resume=(directory / "build-plan.json").exists())
    return directory


def index_info(index: str | Path) -> Manifest:
    """The manifest of an index (raises if it is incomplete or foreign)."""
    return read_manifest(index)


def scan(
    dataset: str | Path,
    index: str | Path | None = None,
    *,
    out: str | Path | None = None,
    text_field: str | None = None,
    id_field: str | None = None,
    on_error: str = "fail",
    rejects: str | Path | None = None,
    overwrite: bool = False,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    model: str | None = None,
    report: str | Path | None = None,
    verify: bool = True,
    max_text_bytes: int | None = MAX_TEXT_BYTES,
    lm: str | None = None,
    lm_device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """Score every example of ``dataset`` against ``index`` (default: the bundled corpus).

    Returns the scores table (one row per accepted example, input order) and,
    when ``out`` is given, writes it there (.parquet, .jsonl or .csv). Under
    ``on_error="skip"`` rejected records go to ``rejects`` (default
    ``OUT.rejects.jsonl``) with the reason. ``report`` also writes the HTML report;
    ``lm`` adds the base model's own view (``lm_*`` columns, see ``overlap.lm``).
    """
    if out is not None and Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    examples, rejected = read_dataset(
        dataset, text_field=text_field, id_field=id_field, on_error=on_error, max_text_bytes=max_text_bytes
    )
    index_dir = Path(index) if index is not None else default_index(progress)
    scores = scan_examples(
        examples, index_dir, engine=engine, workers=workers, ray_address=ray_address,
        options={"model": model} if model else None, verify=verify, lm=lm, lm_device=lm_device,
        progress=progress,
    )
    if out is not None:
        write_table(scores, out, overwrite=overwrite)
    if report is not None:
        write_report(scores, report, dataset=examples)
    if rejected:
        target = Path(rejects) if rejects else Path(f"{out or dataset}.rejects.jsonl")
        write_rejects(rejected, target)
        if progress:
            progress(f"{len(rejected)} record(s) rejected, written to {target}")
    return scores


def _scores(scores: str | Path | pl.DataFrame) -> pl.DataFrame:
    return scores if isinstance(scores, pl.DataFrame) else read_table(scores)


def reweight(
    scores: str | Path | pl.DataFrame,
    out: str | Path | None = None,
    *,
    config: ReweightConfig = ReweightConfig(),
    dataset: str | Path | None = None,
    resample: int | None = None,
    resample_factor: float | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> tuple[pl.DataFrame, SummaryTables]:
    """Weights for every scored example, and optionally a resampled copy of the dataset.

    Without ``resample``/``resample_factor`` the scores with a ``weight`` column go
    to ``out``. With one of them, ``dataset`` (the file that was scanned) is
    resampled to that many records and written to ``out`` in its own format.
    Returns the weighted table and the before/after summary.
    """
    table = _scores(scores)
    weighted = compute_weights(table, config)
    summary = weight_summary(table, weighted, config=config)
    if resample is not None or resample_factor is not None:
        if dataset is None:
            raise ValueError("resampling needs --dataset, the file that was scanned")
        n = resample if resample is not None else round(resample_factor * table.height)
        if out is None:
            raise ValueError("resampling needs --out")
        write_resampled(dataset, resample_plan(weighted, n, seed=seed), out, overwrite=overwrite)
    elif out is not None:
        write_table(weighted, out, overwrite=overwrite)
    return weighted, summary


def report(
    scores: str | Path | pl.DataFrame,
    out: str | Path,
    *,
    weights: str | Path | pl.DataFrame | None = None,
    dataset: str | Path | None = None,
    title: str | None = None,
    max_rows: int = 200,
    overwrite: bool = True,
) -> Path:
    """Write the self-contained HTML report of a scores table (and weights) to ``out``."""
    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    return write_report(scores, out, weights=weights, title=title, dataset=dataset, max_rows=max_rows)
