"""Stream mode: a dataset against corpus files read once, with no index.

The dataset's side of every signal (its n-gram table, MinHash signatures and
LSH bands, chunk vectors) is built in memory; each corpus file is a task that
reads the file once, in the batches index building reads it in, and probes
every batch against those tables (``signals/*_stream.py``). The files' per-text
bests are merged in file order, by the rules index mode merges shards by, and
the scores table is assembled by the same code as a scan of an index
(:func:`overlap.scan.scores_table`). So for the lexical signals a stream scan
gives the values and evidence a scan of the index of the same files gives,
without writing that index.

Files are the unit of parallelism: a local process pool or Ray tasks
(``overlap/engines``) run :func:`stream_file`, with the same results.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

import polars as pl

from overlap import engines
from overlap import signals as registry
from overlap.build import CORPUS_BATCH, index_params
from overlap.io import Reject, expand_sources, iter_corpus_batches
from overlap.io.corpus_layouts import apply_corpus_layout
from overlap.io.layouts import MAX_TEXT_BYTES, Example
from overlap.lexical import LexicalBatch
from overlap.progress import Progress
from overlap.scan import attach_sources, distinct_texts, scores_table, source_name
from overlap.signals.base import SignalResult
from overlap.threads import set_threads


def stream_module(name: str) -> ModuleType:
    """The stream-mode module of signal ``name`` (its declaration's ``stream``)."""
    signal = registry.get(name)
    if signal.stream is None:
        raise ValueError(f"signal {name!r} has no stream mode; build an index for it")
    return importlib.import_module(signal.stream)


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
    probes = {name: stream_module(name).Probe(task.sides[name], task.params, task.options) for name in task.names}
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
    *,
    signals: str | list[str] | None = None,
    corpus_layout: str | None = None,
    text_field: str | None = None,
    id_field: str | None = None,
    model: str | None = None,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    on_error: str = "fail",
    max_text_bytes: int | None = MAX_TEXT_BYTES,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, SignalResult], dict[str, Any], dict[str, Any], list[Reject]]:
    """Every signal's best match in the corpus for each text, with evidence, in one pass over the corpus.

    Returns ``(results, prepared, params, rejects)``: the per-signal results
    (with ``doc_ids``), what the signals prepared of the texts (the query chunk
    vectors), the parameters used (those an index of these files would record)
    and the corpus records skipped under ``on_error="skip"``.
    """
    names = registry.parse(signals)
    sources, text_field, id_field = apply_corpus_layout(corpus_layout, sources, text_field, id_field)
    files = [str(p) for p in expand_sources(sources)]
    if not files:
        raise ValueError("--corpus: no corpus files found")
    params = index_params(names, None, model)
    options = {"model": model} if model else None
    batch = texts if isinstance(texts, LexicalBatch) else LexicalBatch.from_texts(texts)
    sides = {}
    for name in names:
        if progress:
            progress(f"stream: building the {name} table of {len(batch)} distinct texts")
        sides[name] = stream_module(name).side(batch, params, options)
    mergers = {name: stream_module(name).Merger(sides[name], params) for name in names}
    tasks = [FileTask(number, source, params, tuple(names), sides, text_field, id_field, on_error, max_text_bytes,
                      options) for number, source in enumerate(files)]
    meter = Progress("corpus read", sum(Path(f).stat().st_size for f in files), "MB", scale=1e6)
    rejects: list[Reject] = []
    runner = engines.get(engine, workers, ray_address, setup=set_threads)
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
    prepared = {"embedding": sides["embedding"].prepared} if "embedding" in sides else {}
    return results, prepared, params, rejects


def scan_corpus(
    examples: Sequence[Example],
    sources: Sequence[str | Path],
    *,
    signals: str | list[str] | None = None,
    corpus_layout: str | None = None,
    model: str | None = None,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    on_error: str = "fail",
    max_text_bytes: int | None = MAX_TEXT_BYTES,
    lm: str | None = None,
    lm_device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> tuple[pl.DataFrame, list[Reject]]:
    """The scores table of ``examples`` against corpus ``sources`` (stream mode), and the corpus records skipped.

    The same columns as :func:`overlap.scan.scan_examples` against an index of
    the same files, with the same lexical values and evidence.
    """
    unique = distinct_texts(examples)
    batch = LexicalBatch.from_texts(list(unique))
    results, prepared, params, rejects = stream_corpus(
        batch, sources, signals=signals, corpus_layout=corpus_layout, model=model, engine=engine,
        workers=workers, ray_address=ray_address, on_error=on_error, max_text_bytes=max_text_bytes,
        progress=progress,
    )
    table = scores_table(examples, unique, results, prepared, params, batch=batch, lm=lm, lm_device=lm_device,
                         progress=progress)
    return table, rejects
