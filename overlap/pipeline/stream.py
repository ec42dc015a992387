"""Stream mode: a dataset against corpus files read once, with no index.

The dataset's side of every signal (its n-gram table, MinHash signatures and
LSH bands, chunk vectors) is built in memory; each corpus file is a task that
reads the file once, in the batches index building reads it in, and probes
every batch against those tables (``signals/*_stream.py``). The files' per-text
bests are merged in file order, by the rules index mode merges shards by, and
the scores table is assembled by the same code as a scan of an index
(:func:`overlap.pipeline.table.scores_table`). So for the lexical signals a stream scan
gives the values and evidence a scan of the index of the same files gives,
without writing that index.

Files are the unit of parallelism: a local process pool or Ray tasks
(``overlap/engines``) run :func:`stream_file`, with the same results.

Calibration takes index mode's path (``overlap.calibrate``): a first read of
the files (one task per file on the engine where its workers are forked or
remote) gathers the held-out folds and the sample planted copies are cut from,
exactly as a build of the same files would; the pass that probes the dataset
also probes each fold's planted and held-out texts, against every part of each
file but that fold (each part probed as its own shard, as index mode queries a
shard), and the same fit gives the same card and labels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

from overlap import signals as registry
from overlap.engines import Engine
from overlap.engines.threads import set_threads
from overlap.io import Reject, expand_sources, iter_corpus_batches
from overlap.io.corpus_layouts import apply_corpus_layout
from overlap.io.layouts import MAX_TEXT_BYTES, Example
from overlap.io.progress import Progress
from overlap.pipeline.build import CORPUS_BATCH, _source_bytes, index_params, split_folds
from overlap.pipeline.options import ScanOptions, options_from
from overlap.pipeline.table import attach_sources, distinct_texts, scores_table, signal_columns, source_name
from overlap.scoring import calibrate
from overlap.signals.base import SignalResult, StreamMode
from overlap.text.batch import LexicalBatch


def stream_mode(name: str) -> StreamMode:
    """The stream mode of signal ``name`` (its declaration's ``stream``)."""
    signal = registry.get(name)
    if signal.stream is None:
        raise ValueError(f"signal {name!r} has no stream mode; build an index for it")
    return signal.stream


@dataclass(frozen=True)
class FileTask:
    """One unit of stream work: corpus file ``number`` probed past the dataset's ``sides``."""

    number: int
    source: str
    params: dict[str, Any]
    names: tuple[str, ...]
    sides: dict[str, Any]
    text_field: str | None = None
    id_field: str | None = None
    on_error: str = "fail"
    max_text_bytes: int | None = MAX_TEXT_BYTES
    options: dict[str, Any] | None = None
    holdout_rate: float = 0.0
    holdout_kfold: int = 0
    # Calibration: per group (``("docs", fold)``, ``("items", fold)``) its signals' sides,
    # probed by every part of the file but ``fold``.
    calibration_sides: dict[tuple[str, int], dict[str, Any]] | None = None


DATA = ("data", -1)  # the dataset's group of probes


def stream_file(task: FileTask) -> dict[str, Any]:
    """Read one corpus file once and return every signal's partial result (run by an engine).

    Each batch is split into its calibration folds' parts (as a build splits it into
    a shard's parts), each part probed by probes of its own, so per part the
    partials are those of a query of that part's shard. ``partials`` maps
    ``(group, part)`` to ``{signal: partial}``.
    """
    started = time.perf_counter()
    groups: dict[tuple[str, int], tuple[tuple[str, ...], dict[str, Any]]] = {DATA: (task.names, task.sides)}
    for group, sides in (task.calibration_sides or {}).items():
        groups[group] = (tuple(sides), sides)
    probes: dict[tuple[tuple[str, int], int], dict[str, Any]] = {}
    offsets: dict[int, int] = {}
    rejects: list[Reject] = []
    documents = size = 0
    for batch in iter_corpus_batches(
        [task.source], text_field=task.text_field, id_field=task.id_field, batch_size=CORPUS_BATCH,
        on_error=task.on_error, max_text_bytes=task.max_text_bytes,
    ):
        rejects += batch.rejects
        if not batch.texts:
            continue
        for part, rows in split_folds(batch.ids, list(range(len(batch.ids))), task.holdout_rate,
                                      task.holdout_kfold):
            ids = [batch.ids[i] for i in rows]
            lexical = LexicalBatch.from_texts([batch.texts[i] for i in rows])
            base = offsets.get(part, 0)
            for group, (names, sides) in groups.items():
                if group[1] == part:
                    continue
                key = (group, part)
                if key not in probes:
                    probes[key] = {name: stream_mode(name).Probe(sides[name], task.params, task.options)
                                   for name in names}
                for name in names:
                    probes[key][name].add(lexical, ids, base)
            offsets[part] = base + len(rows)
            documents += len(rows)
            size += int(lexical.offsets[-1])
    return {
        "number": task.number, "source": task.source, "documents": documents, "bytes": size, "rejects": rejects,
        "seconds": time.perf_counter() - started,
        "partials": {key: {name: p.finish() for name, p in group.items()} for key, group in sorted(probes.items())},
    }


# The tasks of the stream in progress, by key: a forked worker finds them here, never pickled.
_INHERITED: dict[int, list[FileTask]] = {}


@dataclass(frozen=True)
class Inherited:
    """Task ``number`` of the tasks a forked worker inherited under ``key``."""

    key: int
    number: int


def stream_inherited(task: Inherited) -> dict[str, Any]:
    """:func:`stream_file` of a task that a forked worker holds already (its tables are not sent)."""
    return stream_file(_INHERITED[task.key][task.number])


def _worker_setup(threads: int) -> None:
    """A stream worker's start: its threads, then every lexical kernel loaded once on a tiny input (numba's
    cache, the character tables), so that the first corpus file pays none of it."""
    set_threads(threads)
    from overlap.pipeline.build import index_params

    names = tuple(registry.lexical())
    params = index_params(list(names))
    tiny = LexicalBatch.from_texts(["a warm up text of more than eight words, so every n-gram kernel runs once"])
    for name in names:
        mode = stream_mode(name)
        probe = mode.Probe(mode.side(tiny, params), params)
        probe.add(tiny, ["warm"], 0)
        probe.finish()


@dataclass(frozen=True)
class GatherTask:
    """Corpus file ``number``'s first read for calibration (``gather_file``)."""

    number: int
    source: str
    text_field: str | None
    id_field: str | None
    on_error: str
    max_text_bytes: int | None
    holdout_rate: float
    holdout_kfold: int


def gather_file(task: GatherTask) -> calibrate.Gatherer:
    """What calibration needs of one corpus file (its held-out folds, its share of the planting sample)."""
    gatherer = calibrate.Gatherer(calibrate.heldout_folds(task.holdout_rate, task.holdout_kfold))
    for batch in iter_corpus_batches([task.source], text_field=task.text_field, id_field=task.id_field,
                                     batch_size=CORPUS_BATCH, on_error=task.on_error,
                                     max_text_bytes=task.max_text_bytes):
        for fold, rows in split_folds(batch.ids, list(range(len(batch.ids))), task.holdout_rate, task.holdout_kfold):
            for i in rows:
                line = batch.lines[i]
                gatherer.add(fold, batch.ids[i], batch.texts[i], (task.number, -1 if line is None else line))
    return gatherer


def gather_calibration(map_tasks: Callable, tasks: list[GatherTask]) -> calibrate.Gatherer:
    """A first read of the corpus files, one ``gather_file`` task per file through ``map_tasks`` (an engine's
    ``map``, or the built-in one): what calibration needs of them, as a build's index gives it."""
    gatherer = calibrate.Gatherer(calibrate.heldout_folds(tasks[0].holdout_rate, tasks[0].holdout_kfold))
    for part in map_tasks(gather_file, tasks):  # merged in file order
        gatherer.merge(part)
    return gatherer


def stream_corpus(
    texts: list[str] | LexicalBatch,
    sources: Sequence[str | Path],
    options: ScanOptions = ScanOptions(),
    *,
    engine: Engine = Engine(),
    progress: Callable[[str], None] | None = None,
    calibration_out: dict[str, Any] | None = None,
) -> tuple[dict[str, SignalResult], dict[str, Any], dict[str, Any], list[Reject]]:
    """Every signal's best match in the corpus for each text, with evidence, in one pass over the corpus.

    Returns ``(results, prepared, params, rejects)``: the per-signal results
    (with ``doc_ids``), what the signals prepared of the texts (the query chunk
    vectors), the parameters used (those an index of these files would record)
    and the corpus records skipped under ``on_error="skip"``. Given a dict
    ``calibration_out``, the corpus calibrates itself as a build of these files
    would (held-out folds, planted copies, after a first read of the files) and
    the fit goes there.
    """
    names = registry.parse(options.signals)
    sources, text_field, id_field = apply_corpus_layout(options.corpus_layout, sources, options.text_field,
                                                        options.id_field)
    on_error, max_text_bytes = options.on_error, options.max_text_bytes
    files = [str(p) for p in expand_sources(sources)]
    if not files:
        raise ValueError("--corpus: no corpus files found")
    params = index_params(names, None, options.model)
    signal_options = options.signal_options() or None
    runner = engine.start(_worker_setup)
    # Forked workers (stream_file uses no polars; no torch or tokenizers has run here yet) start with each map
    # and inherit the tasks, tables and all; spawned ones start now, loading their imports and kernels while the
    # dataset's tables are built, and receive the tables with each task.
    inherit = callable(getattr(runner, "allow_fork", None)) and runner.allow_fork()
    spawned = not inherit and callable(getattr(runner, "warm", None))
    if spawned:
        runner.warm(len(files))
    batch = texts if isinstance(texts, LexicalBatch) else LexicalBatch.from_texts(texts)
    sides = {}
    for name in names:
        if progress:
            progress(f"stream: building the {name} table of {len(batch)} distinct texts")
        sides[name] = stream_mode(name).side(batch, params, signal_options)
    rate, kfold = calibrate.holdout_plan(sum(_source_bytes(Path(f)) for f in files))
    calibration_sides: dict[tuple[str, int], dict[str, Any]] = {}
    fold_work: dict[int, tuple[calibrate.FoldItems, LexicalBatch]] = {}
    if calibration_out is not None:
        if progress:
            progress(f"stream: reading {len(files)} corpus file(s) for calibration (held-out folds, planted copies)")
        # Forked or remote workers read the files in parallel; a local pool being spawned is kept for the
        # pass (a map would use it up), and the first read stays in this process.
        gatherer = gather_calibration(map if spawned else runner.map,
                                      [GatherTask(n, f, text_field, id_field, on_error, max_text_bytes, rate, kfold)
                                       for n, f in enumerate(files)])
        folds = calibrate.heldout_folds(rate, kfold)
        held = sum(len(v) for v in gatherer.held.values())
        small = calibrate.too_small(gatherer.documents, held)
        if small:
            calibration_out.update(small)
            folds = []
        lexical_names = [n for n in names if n in registry.lexical()]
        for fold in folds:
            try:
                fi = calibrate.fold_items(fold, [i for i, _ in gatherer.held[fold]],
                                          [t for _, t in gatherer.held[fold]], gatherer.sample(fold), len(folds))
            except ValueError as exc:
                calibration_out.update(calibrate.fallback(f"{exc}; the bundled calibration applies"))
                fold_work = {}
                calibration_sides = {}
                break
            items = LexicalBatch.from_texts([i.text for i in fi.items])
            fold_work[fold] = (fi, items)
            if lexical_names:
                docs = LexicalBatch.from_texts(fi.heldout)
                calibration_sides[("docs", fold)] = {n: stream_mode(n).side(docs, params, signal_options)
                                                     for n in lexical_names}
            calibration_sides[("items", fold)] = {n: stream_mode(n).side(items, params, signal_options) for n in names}
        if progress and fold_work:
            progress(f"stream: calibrating on {sum(len(fi.items) for fi, _ in fold_work.values())} planted and "
                     f"held-out texts of {len(fold_work)} fold(s), probed in the same pass")
    groups = {DATA: (names, sides), **{g: (list(v), v) for g, v in calibration_sides.items()}}
    group_mergers = {g: {name: stream_mode(name).Merger(gs[name], params) for name in gnames}
                     for g, (gnames, gs) in groups.items()}
    mergers = group_mergers[DATA]
    per_file = max(kfold, 2)
    names_shared = tuple(names)
    tasks = [FileTask(number=number, source=source, params=params, names=names_shared, sides=sides,
                      text_field=text_field, id_field=id_field, on_error=on_error, max_text_bytes=max_text_bytes,
                      options=signal_options, holdout_rate=rate, holdout_kfold=kfold,
                      calibration_sides=calibration_sides or None)
             for number, source in enumerate(files)]
    meter = Progress("corpus read", sum(Path(f).stat().st_size for f in files), "MB", scale=1e6)
    rejects: list[Reject] = []
    work, items = (stream_inherited, [Inherited(id(tasks), t.number) for t in tasks]) if inherit else (stream_file, tasks)
    if inherit:
        _INHERITED[id(tasks)] = tasks
    try:
        for part in runner.map(work, items):
            for (group, fold), partials in part["partials"].items():
                for name, partial in partials.items():
                    group_mergers[group][name].add(part["number"] * per_file + fold, partial)
            rejects += part["rejects"]
            meter.done += Path(part["source"]).stat().st_size
            if progress:
                progress(f"stream: file {part['number'] + 1}/{len(files)} {Path(part['source']).name}: "
                         f"{part['documents']} documents; {meter.line(meter.clock())}")
    finally:
        _INHERITED.pop(id(tasks), None)
    results = {name: mergers[name].result(batch) for name in names}
    attach_sources(results, [source_name(f) for f in files for _ in range(per_file)])  # merged per file part
    prepared = {name: stream_mode(name).prepared(sides[name]) for name in names if stream_mode(name).prepared}
    if fold_work:
        parts = []
        for fold, (fi, items) in fold_work.items():
            doc_columns = {}
            if ("docs", fold) in group_mergers:
                docs = LexicalBatch.from_texts(fi.heldout)
                doc_columns = signal_columns({n: _scored(m, docs) for n, m in group_mergers[("docs", fold)].items()})
            parts.append((fi, doc_columns,
                          signal_columns({n: _scored(m, items) for n, m in group_mergers[("items", fold)].items()})))
        calibration_out.update(calibrate.fit_folds(parts, rate, kfold))
    return results, prepared, params, rejects


def _scored(merger: Any, batch: LexicalBatch) -> SignalResult:
    """What calibration reads of a merger's result: its ``scored`` where the signal has one."""
    return merger.scored(batch) if hasattr(merger, "scored") else merger.result(batch)


def scan_corpus(
    examples: Sequence[Example],
    sources: Sequence[str | Path],
    options: ScanOptions | None = None,
    *,
    engine: Engine | str = "local",
    progress: Callable[[str], None] | None = None,
    calibration_out: dict[str, Any] | None = None,
    **fields: Any,
) -> tuple[pl.DataFrame, list[Reject]]:
    """The scores table of ``examples`` against corpus ``sources`` (stream mode), and the corpus records skipped.

    The same columns as :func:`overlap.pipeline.scan.scan_examples` against an
    index of the same files, with the same lexical values and evidence, and labels
    from the corpus's own calibration, fitted as a build of the same files fits it
    (it goes into ``calibration_out`` when given). ``options`` (or its fields as
    keywords) are the scan's; ``engine`` reads the files.
    """
    options = options_from(ScanOptions, options, fields)
    engine = Engine.of(engine)
    calibration: dict[str, Any] = {} if calibration_out is None else calibration_out
    unique = distinct_texts(examples)
    batch = LexicalBatch.from_texts(list(unique))
    results, prepared, params, rejects = stream_corpus(batch, sources, options, engine=engine, progress=progress,
                                                       calibration_out=calibration)
    table = scores_table(examples, unique, results, prepared, params, batch=batch, options=options, engine=engine,
                         progress=progress, calibration=calibration if calibration.get("status") == "fitted" else None)
    return table, rejects
