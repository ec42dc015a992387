"""The Python API: build an index, scan a dataset, reweight, report.

Every command of the CLI is a thin shell over one function here::

    from overlap import api
    scores = api.scan("train.jsonl")                 # against the bundled corpus
    api.build_index(["corpus/"], "my-index")
    scores = api.scan("train.jsonl", index="my-index", out="scores.parquet")
    scores = api.scan("train.jsonl", corpus=["fineweb/"], corpus_layout="fineweb")   # stream mode, no index
    api.distill_model("static-minilm")               # fast static embedding model for big corpora

Defaults are the command line's, defined here once: per-shard work runs on
:data:`ENGINE`, with every core unless ``workers`` says otherwise
(:func:`default_workers`), and no function replaces an existing output unless
``overwrite=True``.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable

import polars as pl

from overlap import build, checks, data
from overlap.distill import distill as distill_model
from overlap.report import DEFAULT_MAX_ROWS, write_report
from overlap.index.manifest import PLAN_FILE, IndexError_, Manifest, read_manifest
from overlap.io import read_dataset, read_table, refuse_existing, write_rejects, write_table
from overlap.io.copy import copy_records
from overlap.io.formats import require_path
from overlap.io.layouts import MAX_TEXT_BYTES
from overlap.progress import say
from overlap.provenance import check_dataset, provenance_of, read_provenance
from overlap.resample import resample_plan, resample_stats
from overlap.reweight import ReweightConfig, compute_weights
from overlap.scan import scan_examples
from overlap.stream import scan_corpus
from overlap.weight_summary import SummaryTables, weight_summary

__all__ = ["ENGINE", "LM_DEVICE", "build_index", "default_index", "default_workers", "scan", "index_info",
           "reweight", "report", "distill_model"]

ENGINE = "local"
"""The engine per-shard work runs on unless told otherwise (``--engine``): a local process pool."""
LM_DEVICE = "cpu"
"""Where the base model of ``lm`` runs unless told otherwise (``--lm-device``)."""


def default_workers(engine: str, workers: int | None = None) -> int | None:
    """The worker count a build or a stream scan runs with: ``workers`` if given, else every core.

    On the local engine every core is one process per core (``os.cpu_count()``);
    on Ray, None lets Ray use every CPU of the cluster. (A scan of an index with
    ``workers=None`` queries each shard in this process, whose compiled kernels
    already use every core.) ``overlap index build`` and ``overlap scan`` leave
    ``--workers`` unset by default and get the same.
    """
    if workers is None and engine == "local":
        return os.cpu_count()
    return workers


def build_index(
    sources: Iterable[str | Path],
    out: str | Path,
    *,
    engine: str = ENGINE,
    workers: int | None = None,
    **options: Any,
) -> Manifest:
    """Build (or add to, or resume) the index at ``out``: :func:`overlap.build.build_index` on every core.

    ``options`` are those of :func:`overlap.build.build_index` (signals, fields,
    corpus layout, resume, sample and hold-out rates, model, progress, ...).
    """
    return build.build_index(sources, out, engine=engine, workers=default_workers(engine, workers), **options)


def default_index(progress: Callable[[str], None] | None = say) -> Path:
    """The index of the bundled reference corpus, built into the cache on first use."""
    from overlap.index.store import build_holder

    directory = data.default_index_dir()
    while not (directory / "manifest.json").exists():
        holder = build_holder(directory)
        if holder is not None:  # another first use is building it: wait for that build, then use it
            if progress:
                progress(f"waiting for another overlap process (pid {holder}) building the index in {directory}")
            while build_holder(directory) is not None:
                time.sleep(0.5)
            continue
        if progress:
            progress(f"building the index of the bundled corpus in {directory} (first use only)")
        try:
            build.build_index(data.reference_sources(), directory, resume=(directory / PLAN_FILE).exists(),
                              progress=progress)
        except IndexError_:
            if build_holder(directory) is None:
                raise
    return directory


def index_info(index: str | Path) -> Manifest:
    """The manifest of an index (raises if it is incomplete or foreign)."""
    return read_manifest(index)


def cache_usage() -> dict[str, int]:
    """Bytes on disk per entry of the user cache (``data.cache_dir()``): the embedding cache, bundled indexes."""
    root = data.cache_dir()
    if not root.is_dir():
        return {}
    return {entry.name: (sum(f.stat().st_size for f in entry.rglob("*") if f.is_file()) if entry.is_dir()
                         else entry.stat().st_size)
            for entry in sorted(root.iterdir())}


def clear_embedding_cache() -> int:
    """Delete the embedding cache (texts are embedded again when next needed); returns the bytes freed."""
    import shutil

    folder = data.cache_dir() / "embeddings"
    freed = cache_usage().get("embeddings", 0)
    shutil.rmtree(folder, ignore_errors=True)
    return freed


def verify_index(index: str | Path) -> tuple[list[str], int]:
    """Every file of an index checked against its recorded size and SHA-256: ``(problems, files checked)``."""
    from overlap.index.store import verify_shard

    manifest = read_manifest(index)
    problems = []
    checked = 0
    for entry in manifest.shards:
        try:
            verify_shard(Path(index) / entry["name"], entry)
        except IndexError_ as exc:
            problems.append(str(exc))
        checked += len(entry["files"])
    return problems, checked


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
    engine: str = ENGINE,
    workers: int | None = None,
    ray_address: str | None = None,
    model: str | None = None,
    report: str | Path | None = None,
    verify: bool = True,
    max_text_bytes: int | None = MAX_TEXT_BYTES,
    lm: str | None = None,
    lm_device: str = LM_DEVICE,
    corpus: list[str | Path] | None = None,
    corpus_layout: str | None = None,
    signals: str | list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    calibration_out: dict | None = None,
) -> pl.DataFrame:
    """Score every example of ``dataset`` against ``index`` (default: the bundled corpus).

    Stream mode: with ``corpus`` (files, folders or globs; ``corpus_layout``
    names a public corpus layout) instead of ``index``, the corpus is read once
    past the dataset held in memory and no index is written (``signals``: which
    ones, default all). Lexical values and evidence equal those of a scan of an
    index of the same files, and the corpus calibrates itself as a build of those
    files would, so the labels agree too. ``calibration_out`` (a dict) receives
    the calibration the labels used (the index's, or the streamed corpus's fit).

    Returns the scores table (one row per accepted example, input order) and,
    when ``out`` is given, writes it there (.parquet, .jsonl or .csv). Under
    ``on_error="skip"`` rejected records go to ``rejects`` (default
    ``OUT.rejects.jsonl``) with the reason. ``report`` also writes the HTML report;
    ``lm`` adds the base model's own view (``lm_*`` columns, see ``overlap.lm``).
    ``workers``: see :func:`default_workers`.
    """
    if corpus is not None and index is not None:
        raise ValueError("give either an index (--index) or a corpus to stream (--corpus), not both")
    if corpus is None and (signals is not None or corpus_layout is not None):
        raise ValueError("--signals and --corpus-layout apply to stream mode (--corpus); an index has its own")
    checks.scan_outputs(dataset, out=out, report=report, rejects=rejects, on_error=on_error,
                        overwrite=overwrite, index=index)
    examples, rejected = read_dataset(
        dataset, text_field=text_field, id_field=id_field, on_error=on_error, max_text_bytes=max_text_bytes
    )
    rejects_path = Path(rejects) if rejects else Path(f"{out or dataset}.rejects.jsonl")
    checks.require_examples(dataset, examples, rejected, rejects_path, overwrite=overwrite)
    dataset_records = len(examples) + len(rejected)
    calibration: dict | None = None
    if corpus is not None:
        fitted: dict = {}
        scores, corpus_rejected = scan_corpus(
            examples, corpus, signals=signals, corpus_layout=corpus_layout, model=model, engine=engine,
            workers=default_workers(engine, workers), ray_address=ray_address, on_error=on_error,
            max_text_bytes=max_text_bytes, lm=lm, lm_device=lm_device, progress=progress, calibration_out=fitted,
        )
        calibration = fitted
        rejected = [*rejected, *corpus_rejected]
    else:
        index_dir = Path(index) if index is not None else default_index(progress)
        calibration = read_manifest(index_dir).calibration
        scores = scan_examples(
            examples, index_dir, engine=engine, workers=workers, ray_address=ray_address,
            options={"model": model} if model else None, verify=verify, lm=lm, lm_device=lm_device,
            progress=progress,
        )
    if calibration_out is not None:
        calibration_out.update(calibration or {})
    if out is not None:
        source = provenance_of(dataset, dataset_records, text_field=text_field,
                               id_field=id_field, max_text_bytes=max_text_bytes)
        write_table(scores, out, overwrite=overwrite, metadata=source.to_metadata())
    if report is not None:
        write_report(scores, report, dataset=examples, calibration=calibration, overwrite=overwrite)
    if rejected:
        write_rejects(rejected, rejects_path, overwrite=overwrite)
        if progress:
            progress(f"{len(rejected)} record(s) rejected, written to {rejects_path}")
    return scores


def _scores(scores: str | Path | pl.DataFrame) -> pl.DataFrame:
    return scores if isinstance(scores, pl.DataFrame) else read_table(require_path(scores))


def _check_dataset(scores: str | Path | pl.DataFrame, table: pl.DataFrame, dataset: str | Path) -> None:
    """Refuse a dataset that is not the one ``scores`` were made from (ids, and digest when recorded)."""
    require_path(dataset)
    if isinstance(scores, pl.DataFrame):
        check_dataset(table, dataset, None)
    else:
        check_dataset(table, dataset, read_provenance(scores), scores_name=str(scores))


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
    unique_ids: str | None = None,
) -> tuple[pl.DataFrame, SummaryTables]:
    """Weights for every scored example, and optionally a resampled copy of the dataset.

    Without ``resample``/``resample_factor`` the scores with a ``weight`` column go
    to ``out`` (Parquet keeps the scanned dataset's record). With one of them,
    ``dataset`` (the file that was scanned) is resampled to that many records and
    written to ``out`` in its own format. A ``dataset`` is first checked to be the
    scanned one (``overlap.provenance.check_dataset``). Every output path and
    option is checked before any work. Returns the weighted table and the
    before/after summary (with what resampling did, when it did). ``unique_ids``
    (an id field) renames the repeats of a resampled JSON lines record ``<id>#2``, ...
    """
    checks.reweight_outputs(scores, out, dataset=dataset, resample=resample, resample_factor=resample_factor,
                            overwrite=overwrite)
    table = _scores(scores)
    if dataset is not None:
        _check_dataset(scores, table, dataset)
    weighted = compute_weights(table, config)
    summary = weight_summary(table, weighted, config=config)
    if resample is not None or resample_factor is not None:
        n = resample if resample is not None else round(resample_factor * table.height)
        rows = resample_plan(weighted, n, seed=seed)
        copy_records(dataset, rows, out, overwrite=overwrite, unique_ids=unique_ids)
        summary = replace(summary, resampling=resample_stats(weighted, rows, seed))
    elif out is not None:
        source = None if isinstance(scores, pl.DataFrame) else read_provenance(scores)
        write_table(weighted, out, overwrite=overwrite, metadata=source.to_metadata() if source else None)
    return weighted, summary


def report(
    scores: str | Path | pl.DataFrame,
    out: str | Path,
    *,
    weights: str | Path | pl.DataFrame | None = None,
    dataset: str | Path | None = None,
    title: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    overwrite: bool = False,
    index: str | Path | None = None,
) -> Path:
    """Write the self-contained HTML report of a scores table (and weights) to ``out``.

    A ``dataset`` path is first checked to be the one the scores were made from. With ``index``
    (the index the scores came from) the report shows its validity card.
    """
    refuse_existing(out, overwrite)
    table = _scores(scores)
    if weights is not None and not isinstance(weights, pl.DataFrame):
        require_path(weights)
    if isinstance(dataset, (str, Path)):
        _check_dataset(scores, table, dataset)
    calibration = read_manifest(require_path(index)).calibration if index is not None else None
    return write_report(scores, out, weights=weights, title=title, dataset=dataset, max_rows=max_rows,
                        calibration=calibration, overwrite=overwrite)
