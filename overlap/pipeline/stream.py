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
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import polars as pl

from overlap.engines import Engine
from overlap.pipeline.options import ScanOptions, options_from
from overlap import signals as registry
from overlap.pipeline.build import CORPUS_BATCH, index_params
from overlap.io import Reject, expand_sources, iter_corpus_batches
from overlap.io.corpus_layouts import apply_corpus_layout
from overlap.io.layouts import MAX_TEXT_BYTES, Example
from overlap.text.batch import LexicalBatch
from overlap.io.progress import Progress
from overlap.pipeline.table import attach_sources, distinct_texts, scores_table, source_name
from overlap.signals.base import SignalResult, StreamMode
from overlap.engines.threads import set_threads


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


def stream_file(task: FileTask) -> dict[str, Any]:
    """Read one corpus file once and return every signal's partial result (run by an engine)."""
    started = time.perf_counter()
    probes = {name: stream_mode(name).Probe(task.sides[name], task.params, task.options) for name in task.names}
    rejects: list[Reject] = []
    documents = size = 0
    for batch in iter_corpus_batches(
        [task.source], text_field=task.text_field, id_field=task.id_field, batch_size=CORPUS_BATCH,
        on_error=task.on_error, max_text_bytes=task.max_text_bytes,
    ):
        rejects += batch.rejects
        if not batch.texts:
            continue
        lexical = LexicalBatch.from_texts(batch.texts)
        for name in task.names:
            probes[name].add(lexical, batch.ids, documents)
        documents += len(batch.texts)
        size += int(lexical.offsets[-1])
    return {
        "number": task.number, "source": task.source, "documents": documents, "bytes": size, "rejects": rejects,
        "seconds": time.perf_counter() - started, "partials": {name: p.finish() for name, p in probes.items()},
    }


def stream_corpus(
    texts: list[str] | LexicalBatch,
    sources: Sequence[str | Path],
    options: ScanOptions = ScanOptions(),
    *,
    engine: Engine = Engine(),
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, SignalResult], dict[str, Any], dict[str, Any], list[Reject]]:
    """Every signal's best match in the corpus for each text, with evidence, in one pass over the corpus.

    Returns ``(results, prepared, params, rejects)``: the per-signal results
    (with ``doc_ids``), what the signals prepared of the texts (the query chunk
    vectors), the parameters used (those an index of these files would record)
    and the corpus records skipped under ``on_error="skip"``.
    """
    names = registry.parse(options.signals)
    sources, text_field, id_field = apply_corpus_layout(options.corpus_layout, sources, options.text_field,
                                                        options.id_field)
    files = [str(p) for p in expand_sources(sources)]
    if not files:
        raise ValueError("--corpus: no corpus files found")
    params = index_params(names, None, options.model)
    signal_options = options.signal_options() or None
    batch = texts if isinstance(texts, LexicalBatch) else LexicalBatch.from_texts(texts)
    sides = {}
    for name in names:
        if progress:
            progress(f"stream: building the {name} table of {len(batch)} distinct texts")
        sides[name] = stream_mode(name).side(batch, params, signal_options)
    mergers = {name: stream_mode(name).Merger(sides[name], params) for name in names}
    names_shared = tuple(names)
    tasks = [FileTask(number=number, source=source, params=params, names=names_shared, sides=sides,
                      text_field=text_field, id_field=id_field, on_error=options.on_error,
                      max_text_bytes=options.max_text_bytes, options=signal_options)
             for number, source in enumerate(files)]
    meter = Progress("corpus read", sum(Path(f).stat().st_size for f in files), "MB", scale=1e6)
    rejects: list[Reject] = []
    runner = engine.start(set_threads)
    for part in runner.map(stream_file, tasks):
        for name in names:
            mergers[name].add(part["number"], part["partials"][name])
        rejects += part["rejects"]
        meter.done += Path(part["source"]).stat().st_size
        if progress:
            progress(f"stream: file {part['number'] + 1}/{len(files)} {Path(part['source']).name}: "
                     f"{part['documents']} documents; {meter.line(meter.clock())}")
    results = {name: mergers[name].result(batch) for name in names}
    attach_sources(results, [source_name(f) for f in files])
    prepared = {name: stream_mode(name).prepared(sides[name]) for name in names if stream_mode(name).prepared}
    return results, prepared, params, rejects


def scan_corpus(
    examples: Sequence[Example],
    sources: Sequence[str | Path],
    options: ScanOptions | None = None,
    *,
    engine: Engine | str = "local",
    progress: Callable[[str], None] | None = None,
    **fields: Any,
) -> tuple[pl.DataFrame, list[Reject]]:
    """The scores table of ``examples`` against corpus ``sources`` (stream mode), and the corpus records skipped.

    The same columns as :func:`overlap.pipeline.scan.scan_examples` against an index of
    the same files, with the same lexical values and evidence. ``options`` (or its
    fields as keywords) are the scan's; ``engine`` reads the files (one process per
    core by default).
    """
    options = options_from(ScanOptions, options, fields)
    engine = Engine.of(engine)
    unique = distinct_texts(examples)
    batch = LexicalBatch.from_texts(list(unique))
    results, prepared, params, rejects = stream_corpus(batch, sources, options, engine=engine, progress=progress)
    table = scores_table(examples, unique, results, prepared, params, batch=batch, options=options, engine=engine,
                         progress=progress)
    return table, rejects
