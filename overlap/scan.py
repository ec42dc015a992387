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

from overlap import dedup, engines, score
from overlap import signals as registry
from overlap import text as ref
from overlap.index.manifest import IndexError_, Manifest, read_manifest
from overlap.index.store import Shard
from overlap.io.layouts import Example
from overlap.lexical import LexicalBatch
from overlap.progress import Progress
from overlap.index.documents import DocStore
from overlap.signals.base import SignalResult
from overlap.threads import set_threads


def signal_columns(results: dict[str, SignalResult]) -> dict[str, np.ndarray]:
    """Every scored value per text: each signal's score column and the features it measured."""
    columns = {}
    for name, result in results.items():
        columns[registry.get(name).column] = result.score
        columns.update(result.features)
    return columns


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
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
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
    tasks = [ShardQuery(str(index_dir), e, manifest.params, tuple(names), batch, prepared, verify)
             for e in manifest.shards]
    meter = Progress(f"querying {len(batch)} texts", len(tasks), "shards")
    partials = []
    runner = engines.get(engine, workers, ray_address, setup=set_threads)
    for partial in runner.map(query_shard, tasks):
        partials.append(partial)
        meter.update(1)
    meter.close()
    docs = DocStore([Path(index_dir) / e["name"] for e in manifest.shards])
    results = {}
    for name in names:
        results[name] = registry.get(name).merge([p[name] for p in partials], batch, docs, manifest.params)
        results[name].doc_ids = [
            docs.doc_id(int(s), int(d)) if s >= 0 else None for s, d in zip(results[name].shard, results[name].doc)
        ]
    return results, prepared


def embedding_map(prepared: Any, n_texts: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D map of the texts ``rows``: first two principal components of their mean chunk vector."""
    sums = np.zeros((n_texts, prepared.vectors.shape[1]))
    np.add.at(sums, prepared.owner, prepared.vectors.astype(float))
    points = sums[rows]
    has = np.linalg.norm(points, axis=1) > 0
    x = np.full(len(rows), np.nan)
    y = np.full(len(rows), np.nan)
    if has.sum() >= 2:
        centred = points[has] - points[has].mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        # Fix each axis's sign so the map is the same on every run.
        signs = np.where(vt[:2].sum(axis=1) < 0, -1.0, 1.0)
        coords = centred @ (vt[:2].T * signs)
        x[has], y[has] = coords[:, 0], coords[:, 1]
    return x, y


def scan_examples(
    examples: Sequence[Example],
    index_dir: str | Path,
    *,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    verify: bool = True,
    options: dict[str, Any] | None = None,
    lm: str | None = None,
    lm_device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """The scores table: one row per example, in input order.

    With ``lm`` (a local causal LM folder, a GGUF file, or ``"default"``) the
    ``lm_*`` columns of ``overlap.lm`` are added and count towards familiarity.
    """
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    check_compatible(manifest, index_dir, options)
    unique = distinct_texts(examples)
    batch = LexicalBatch.from_texts(list(unique))
    if progress:
        progress(f"querying {len(manifest.shards)} shard(s) for {len(batch)} distinct texts")
    results, prepared = query_index(
        batch, index_dir, manifest, engine=engine, workers=workers, ray_address=ray_address,
        verify=verify, options=options, progress=progress,
    )
    return scores_table(examples, unique, results, prepared, manifest.params, batch=batch, lm=lm,
                        lm_device=lm_device, progress=progress, calibration=manifest.calibration,
                        engine=engine, workers=workers, ray_address=ray_address)


def distinct_texts(examples: Sequence[Example]) -> dict[str, int]:
    """Every distinct text to look up (whole example, prompt, response), numbered in first-seen order."""
    unique: dict[str, int] = {}
    for e in examples:
        for t in (e.text, e.prompt, e.response):
            unique.setdefault(t, len(unique))
    return unique


def scores_table(
    examples: Sequence[Example],
    unique: dict[str, int],
    results: dict[str, SignalResult],
    prepared: dict[str, Any],
    params: dict[str, Any],
    *,
    batch: LexicalBatch | None = None,
    lm: str | None = None,
    lm_device: str = "cpu",
    progress: Callable[[str], None] | None = None,
    calibration: dict | None = None,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
) -> pl.DataFrame:
    """The scores table from each signal's result per distinct text: the same for index and stream mode.

    ``results[name].doc_ids`` name each text's evidence document; ``params``
    are the lexical parameters the signals ran with; ``batch`` is the distinct
    texts tokenised (built here if not given); ``calibration`` is the index's own
    fit (``None``: the bundled ``calibration.json``). With ``lm`` the LM signal
    runs on the engine (``engine``, ``workers``, ``ray_address``) and its columns join.
    """
    texts_count = len(unique)
    if batch is None:
        batch = LexicalBatch.from_texts(list(unique))
    whole = np.array([unique[e.text] for e in examples], dtype=np.int64)
    data: dict[str, Any] = {
        "id": [e.id for e in examples],
        "row": [e.row for e in examples],
        "category": [e.category for e in examples],
        "words": batch.word_counts()[whole],
    }
    per_text_signals = signal_columns(results)
    for name, result in results.items():
        signal = registry.get(name)
        prefix = signal.evidence
        data[signal.column] = result.score[whole]
        for feature, values in result.features.items():
            data[feature] = values[whole]
        data[f"{prefix}_doc_id"] = [result.doc_ids[i] for i in whole]
        data[f"{prefix}_doc_start"] = np.where(result.start[whole] >= 0, result.start[whole], -1)
        data[f"{prefix}_doc_end"] = result.end[whole]
        data[f"{prefix}_match"] = [result.match[i] for i in whole]
    fam_all = score.familiarity(per_text_signals, calibration)
    fam = fam_all[whole]
    lm_frame = None
    if lm is not None:
        signal = registry.example_signal("lm")
        lm_frame = signal.run(list(examples), {"model": lm, "device": lm_device}, engine=engine, workers=workers,
                              ray_address=ray_address, progress=progress)
        fam = signal.combine(fam, lm_frame[signal.column].fill_null(np.nan).to_numpy())
    data["familiarity"] = fam
    data["label"] = score.label(fam)
    if score.content_column() in per_text_signals:
        evidence = registry.get(score.CONTENT_SIGNAL).evidence
        data["familiar_content"] = score.familiar_content(data[score.content_column()], calibration,
                                                          texts=[e.text for e in examples],
                                                          matches=data.get(f"{evidence}_match"))
    for side in ("prompt", "response"):
        idx = np.array([unique[getattr(e, side)] for e in examples], dtype=np.int64)
        has_side = np.array([bool(getattr(e, side)) and getattr(e, side) != e.text for e in examples])
        data[f"{side}_familiarity"] = np.where(has_side, fam_all[idx], np.nan)
    lexical_params = params if "shingle_n" in params else {**params, **registry.get("minhash").default_params()}
    groups = dedup.duplicate_groups(batch.take(whole), lexical_params)
    data["dup_group"] = np.array([examples[g].row for g in groups], dtype=np.int64)
    data["flag"] = [None if n else "no words to score" for n in data["words"]]
    if "embedding" in prepared:
        data["map_x"], data["map_y"] = embedding_map(prepared["embedding"], texts_count, whole)
    # Text columns that may hold no value in a dataset still need their type in Parquet.
    frame = pl.DataFrame(data, strict=False, schema_overrides={"category": pl.String, "flag": pl.String})
    if lm_frame is not None:
        frame = frame.hstack(lm_frame)
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None))
