"""Dataset x index: ask every signal of every shard, merge, and hand the signals to scoring.

Each example is scored three ways: its whole text (the main columns and their
evidence), its prompt alone and its response alone (``prompt_familiarity``,
``response_familiarity``), since the response is what the gradient is spent on.
Identical texts are looked up once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl

from overlap.engines import Engine
from overlap.pipeline.options import ScanOptions, options_from
from overlap.pipeline.table import attach_sources, distinct_texts, scores_table, signal_columns, source_name
from overlap import signals as registry
from overlap.text import reference as ref
from overlap.index.manifest import IndexError_, Manifest, read_manifest
from overlap.index.store import Shard
from overlap.io.layouts import Example
from overlap.text.batch import LexicalBatch
from overlap.io.progress import Progress
from overlap.index.documents import DocStore
from overlap.signals.base import SignalResult
from overlap.engines.threads import set_threads


def check_compatible(manifest: Manifest, index_dir: Path, options: dict[str, Any] | None = None) -> None:
    """Refuse an index whose parameters this version cannot honour, naming each difference."""
    problems = []
    stored = manifest.params.get("lexical_version")
    if stored != ref.LEXICAL_VERSION:
        problems.append(f"lexical_version: index has {stored!r}, this overlap uses {ref.LEXICAL_VERSION!r}")
    for name in manifest.signals:
        problems += registry.get(name).compatibility_problems(manifest.params, options or {})
    if problems:
        raise IndexError_(f"{index_dir}: cannot scan with this index: " + "; ".join(problems))


@dataclass(frozen=True)
class ShardQuery:
    """One unit of scan work: ask signals ``names`` of one shard about the texts of ``batch``.

    ``prepared`` holds what signals prepared of the texts in the driver (the
    query embeddings), ``params`` the index's parameters.
    """

    index_dir: str
    entry: dict[str, Any]
    params: dict[str, Any]
    names: tuple[str, ...]
    batch: LexicalBatch
    prepared: dict[str, Any]
    verify: bool = True


def query_shard(task: ShardQuery) -> dict[str, Any]:
    """Every signal's partial result for one shard (run by an engine)."""
    shard = Shard(Path(task.index_dir), task.entry, verify=task.verify)
    return {name: registry.get(name).Reader(shard, task.params).query(task.batch, task.prepared.get(name))
            for name in task.names}


def query_index(
    texts: list[str] | LexicalBatch,
    index_dir: str | Path,
    manifest: Manifest,
    *,
    engine: Engine = Engine(),
    verify: bool = True,
    options: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, SignalResult], dict[str, Any]]:
    """Every signal of the index for each text, merged over shards, with evidence.

    ``texts`` may come tokenised already (a ``LexicalBatch``); they are tokenised
    once either way, and the batch travels to every shard. Also returns what each
    signal prepared in the driver (the query embeddings).
    """
    batch = texts if isinstance(texts, LexicalBatch) else LexicalBatch.from_texts(texts)
    names = manifest.signals
    prepared = {}
    for name in names:
        signal = registry.get(name)
        if signal.prepare is not None:
            if progress:
                progress(f"preparing {name} queries for {len(batch)} texts")
            prepared[name] = signal.prepare(batch, manifest.params, options or {})
    names_shared = tuple(names)
    tasks = [ShardQuery(index_dir=str(index_dir), entry=e, params=manifest.params, names=names_shared, batch=batch,
                        prepared=prepared, verify=verify) for e in manifest.shards]
    meter = Progress(f"querying {len(batch)} texts", len(tasks), "shards")
    partials = []
    runner = engine.start(set_threads)
    with meter.ticking():  # one shard's query can take a while: a line every interval all the same
        for partial in runner.map(query_shard, tasks):
            partials.append(partial)
            meter.update(1)
    meter.close()
    docs = DocStore([Path(index_dir) / e["name"] for e in manifest.shards])
    results = {}
    merging = Progress(f"attaching evidence to {len(batch)} texts", len(names), "signals")
    with merging.ticking():
        for name in names:
            results[name] = registry.get(name).merge([p[name] for p in partials], batch, docs, manifest.params)
            results[name].doc_ids = [
                docs.doc_id(int(s), int(d)) if s >= 0 else None
                for s, d in zip(results[name].shard, results[name].doc)
            ]
            merging.update(1)
    merging.close()
    attach_sources(results, [source_name(e["source"]["path"]) for e in manifest.shards])
    return results, prepared


def index_query(
    index_dir: str | Path, *, engine: Engine = Engine(), options: dict[str, Any] | None = None, verify: bool = True,
) -> Callable[[list[str], Manifest], dict[str, np.ndarray]]:
    """Scoring texts against the index at ``index_dir``: what its calibration asks of it (every scored column).

    ``verify=False`` skips the files' checksums (the build that has just written them)."""
    def query(texts: list[str], manifest: Manifest) -> dict[str, np.ndarray]:
        results, _ = query_index(texts, index_dir, manifest, engine=engine, options=options, verify=verify)
        return signal_columns(results)
    return query


def scan_examples(
    examples: Sequence[Example],
    index_dir: str | Path,
    options: ScanOptions | None = None,
    *,
    engine: Engine | str = "local",
    manifest: Manifest | None = None,
    progress: Callable[[str], None] | None = None,
    **fields: Any,
) -> pl.DataFrame:
    """The scores table: one row per example, in input order.

    ``options`` (or its fields as keywords) are the scan's; ``manifest`` is the
    index's, when the caller has read it already. With ``options.lm`` the
    ``lm_*`` columns of ``overlap.signals.lm.model`` are added and count towards
    familiarity.
    """
    options = options_from(ScanOptions, options, fields)
    engine = Engine.of(engine)
    index_dir = Path(index_dir)
    manifest = manifest or read_manifest(index_dir)
    check_compatible(manifest, index_dir, options.signal_options())
    unique = distinct_texts(examples)
    batch = LexicalBatch.from_texts(list(unique))
    if progress:
        progress(f"querying {len(manifest.shards)} shard(s) for {len(batch)} distinct texts")
    results, prepared = query_index(
        batch, index_dir, manifest, engine=engine, verify=options.verify, options=options.signal_options() or None,
        progress=progress,
    )
    return scores_table(examples, unique, results, prepared, manifest.params, batch=batch, options=options,
                        engine=engine, calibration=manifest.calibration, progress=progress)
