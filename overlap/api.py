"""The Python API: build an index, scan a dataset, reweight, report.

Every command of the CLI is a thin shell over one function here::

    from overlap import api
    scores = api.scan("train.jsonl")                 # against the bundled corpus
    api.build_index(["corpus/"], "my-index")
    scores = api.scan("train.jsonl", index="my-index", out="scores.parquet")
    scores = api.scan("train.jsonl", corpus=["fineweb/"], corpus_layout="fineweb")   # stream mode, no index
    api.distill_model("static-minilm")               # fast static embedding model for big corpora

Defaults are the command line's: each command's options object
(:class:`BuildOptions`, :class:`ScanOptions`, :class:`ReweightConfig`) holds
them once, and its fields may be given as keywords instead; per-shard work runs
on :data:`ENGINE`, with every core unless its ``workers`` say otherwise; no
function replaces an existing output unless ``overwrite=True``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable

import polars as pl

from overlap import checks
from overlap.pipeline import build
from overlap.io import bundled as data
from overlap.signals.embedding.distill import distill as distill_model
from overlap.report import DEFAULT_MAX_ROWS, write_report
from overlap.index.manifest import PLAN_FILE, IndexError_, Manifest, read_manifest
from overlap.io import read_dataset, read_table, refuse_existing, write_rejects, write_table
from overlap.io.copy import copy_records
from overlap.io.formats import require_path
from overlap.io.progress import Progress, say
from overlap.io.provenance import check_dataset, provenance_of, read_provenance
from overlap.weights.resample import resample_plan, resample_stats
from overlap.weights.reweight import ReweightConfig, compute_weights
from overlap.engines import Engine
from overlap.pipeline.options import BuildOptions, ScanOptions, options_from
from overlap.pipeline.scan import scan_examples
from overlap.pipeline.stream import scan_corpus
from overlap.weights.summary import SummaryTables, weight_summary

__all__ = ["ENGINE", "LM_DEVICE", "BuildOptions", "Engine", "ScanOptions", "build_index", "default_index", "scan",
           "index_info", "reweight", "report", "distill_model"]

ENGINE = Engine()
"""Where per-shard work runs unless told otherwise (``--engine``, ``--workers``): a local process pool."""
LM_DEVICE = ScanOptions().lm_device
"""Where the base model of ``lm`` runs unless told otherwise (``--lm-device``)."""


def build_index(
    sources: Iterable[str | Path],
    out: str | Path,
    options: BuildOptions | None = None,
    *,
    engine: Engine | str = ENGINE,
    progress: Callable[[str], None] | None = None,
    **fields: Any,
) -> Manifest:
    """Build (or add to, or resume) the index at ``out``: :func:`overlap.pipeline.build.build_index` on every core.

    ``options`` (or its fields as keywords: signals, fields, corpus layout,
    resume, sample and hold-out rates, model, ...) are ``overlap index build``'s;
    ``engine`` runs one worker per core unless its ``workers`` say otherwise.
    """
    options = options_from(BuildOptions, options, fields)
    return build.build_index(sources, out, options, engine=Engine.of(engine).pooled(), progress=progress)


def default_index(progress: Callable[[str], None] | None = say) -> Path:
    """The index of the bundled reference corpus, built into the cache on first use."""
    from overlap.index.store import build_holder

    directory = build.default_index_dir()
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
    options: ScanOptions | None = None,
    *,
    corpus: list[str | Path] | None = None,
    out: str | Path | None = None,
    rejects: str | Path | None = None,
    report: str | Path | None = None,
    overwrite: bool = False,
    engine: Engine | str = ENGINE,
    progress: Callable[[str], None] | None = None,
    calibration_out: dict | None = None,
    **fields: Any,
) -> pl.DataFrame:
    """Score every example of ``dataset`` against ``index`` (default: the bundled corpus).

    ``options`` (or its fields as keywords: text and id fields, on_error,
    model, lm, ...) are ``overlap scan``'s. Stream mode: with ``corpus`` (files,
    folders or globs; ``options.corpus_layout`` names a public corpus layout)
    instead of ``index``, the corpus is read once past the dataset held in memory
    and no index is written (``options.signals``: which ones, default all).
    Lexical values and evidence equal those of a scan of an index of the same
    files, and the corpus calibrates itself as a build of those files would, so
    the labels agree too. ``calibration_out`` (a dict) receives the calibration
    the labels used (the index's, or the streamed corpus's fit).

    Returns the scores table (one row per accepted example, input order) and,
    when ``out`` is given, writes it there (.parquet, .jsonl or .csv). Under
    ``on_error="skip"`` rejected records go to ``rejects`` (default
    ``OUT.rejects.jsonl``) with the reason. ``report`` also writes the HTML report;
    ``lm`` adds the base model's own view (``lm_*`` columns, see ``overlap.signals.lm.model``).
    """
    options = options_from(ScanOptions, options, fields)
    engine = Engine.of(engine)
    if corpus is not None and index is not None:
        raise ValueError("give either an index (--index) or a corpus to stream (--corpus), not both")
    if corpus is None and (options.signals is not None or options.corpus_layout is not None):
        raise ValueError("--signals and --corpus-layout apply to stream mode (--corpus); an index has its own")
    checks.scan_outputs(dataset, out=out, report=report, rejects=rejects, on_error=options.on_error,
                        overwrite=overwrite, index=index)
    examples, rejected = read_dataset(
        dataset, text_field=options.text_field, id_field=options.id_field, on_error=options.on_error,
        max_text_bytes=options.max_text_bytes,
    )
    rejects_path = Path(rejects) if rejects else Path(f"{out or dataset}.rejects.jsonl")
    checks.require_examples(dataset, examples, rejected, rejects_path, overwrite=overwrite)
    dataset_records = len(examples) + len(rejected)
    calibration: dict | None = None
    if corpus is not None:
        fitted: dict = {}
        scores, corpus_rejected = scan_corpus(examples, corpus, options, engine=engine.pooled(), progress=progress,
                                              calibration_out=fitted)
        calibration = fitted
        rejected = [*rejected, *corpus_rejected]
    else:
        index_dir = Path(index) if index is not None else default_index(progress)
        manifest = read_manifest(index_dir)
        calibration = manifest.calibration
        scores = scan_examples(examples, index_dir, options, engine=engine, manifest=manifest, progress=progress)
    if calibration_out is not None:
        calibration_out.update(calibration or {})
    if out is not None:
        source = provenance_of(dataset, dataset_records, text_field=options.text_field,
                               id_field=options.id_field, max_text_bytes=options.max_text_bytes)
        with Progress(f"writing {Path(out).name}", scores.height, "rows") as meter, meter.ticking():
            write_table(scores, out, overwrite=overwrite, metadata=source.to_metadata())
            meter.update(scores.height)
    if report is not None:
        with Progress(f"writing the report {Path(report).name}", scores.height, "rows") as meter, meter.ticking():
            write_report(scores, report, dataset=examples, calibration=calibration, overwrite=overwrite)
            meter.update(scores.height)
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
    scanned one (``overlap.io.provenance.check_dataset``). Every output path and
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
