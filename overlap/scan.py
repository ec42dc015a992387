"""Dataset x index: ask every signal of every shard, merge, and hand the signals to scoring.

Each example is scored three ways: its whole text (the main columns and their
evidence), its prompt alone and its response alone (``prompt_familiarity``,
``response_familiarity``), since the response is what the gradient is spent on.
Identical texts are looked up once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl

from overlap import dedup, engines, score
from overlap import signals as signal_registry
from overlap import text as ref
from overlap.index.manifest import IndexError_, Manifest, read_manifest
from overlap.index.store import Shard
from overlap.io.layouts import Example
from overlap.lexical import LexicalBatch
from overlap.progress import Progress
from overlap.index.documents import DocStore
from overlap.signals.base import SignalResult
from overlap.threads import set_threads

# signal -> (score column, evidence column prefix)
COLUMNS = {
    "ngram": ("ngram_containment", "ngram"),
    "minhash": ("minhash_jaccard", "minhash"),
    "embedding": ("semantic_similarity", "semantic"),
}


def signal_columns(results: dict[str, SignalResult]) -> dict[str, np.ndarray]:
    """Every scored value per text: each signal's score column and the features it measured."""
    columns = {}
    for name, result in results.items():
        columns[COLUMNS[name][0]] = result.score
        columns.update(result.features)
    return columns


def check_compatible(manifest: Manifest, index_dir: Path, options: dict[str, Any] | None = None) -> None:
    """Refuse an index whose parameters this version cannot honour, naming each difference."""
    problems = []
    stored = manifest.params.get("lexical_version")
    if stored != ref.LEXICAL_VERSION:
        problems.append(f"lexical_version: index has {stored!r}, this overlap uses {ref.LEXICAL_VERSION!r}")
    for name in manifest.signals:
        module = signal_registry.get(name)
        if hasattr(module, "compatibility_problems"):
            problems += module.compatibility_problems(manifest.params, options or {})
    if problems:
        raise IndexError_(f"{index_dir}: cannot scan with this index: " + "; ".join(problems))


def query_shard(
    index_dir: str, entry: dict[str, Any], params: dict[str, Any], names: list[str], texts: list[str],
    prepared: dict[str, Any], verify: bool = True,
) -> dict[str, Any]:
    """Per-shard unit of scan work: every signal's partial result for ``texts``."""
    shard = Shard(Path(index_dir), entry, verify=verify)
    batch = LexicalBatch.from_texts(texts)
    return {name: signal_registry.get(name).Reader(shard, params).query(batch, prepared.get(name)) for name in names}


def query_index(
    texts: list[str],
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

    Also returns what each signal prepared in the driver (the query embeddings).
    """
    names = manifest.signals
    prepared = {}
    for name in names:
        module = signal_registry.get(name)
        if hasattr(module, "prepare"):
            if progress:
                progress(f"preparing {name} queries for {len(texts)} texts")
            prepared[name] = module.prepare(texts, manifest.params, options or {})
    items = [(str(index_dir), e, manifest.params, names, texts, prepared, verify) for e in manifest.shards]
    progress = Progress(f"querying {len(texts)} texts", len(items), "shards")
    partials = []
    runner = engines.get(engine, workers, ray_address, setup=set_threads)
    for partial in runner.map(engines.Positional(query_shard), items):
        partials.append(partial)
        progress.update(1)
    progress.close()
    batch = LexicalBatch.from_texts(texts)
    docs = DocStore([Path(index_dir) / e["name"] for e in manifest.shards])
    results = {}
    for name in names:
        module = signal_registry.get(name)
        results[name] = module.merge([p[name] for p in partials], batch, docs, manifest.params)
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
    texts = list(unique)
    if progress:
        progress(f"querying {len(manifest.shards)} shard(s) for {len(texts)} distinct texts")
    results, prepared = query_index(
        texts, index_dir, manifest, engine=engine, workers=workers, ray_address=ray_address,
        verify=verify, options=options, progress=progress,
    )
    return scores_table(examples, unique, results, prepared, manifest.params, lm=lm, lm_device=lm_device,
                        progress=progress, calibration=manifest.calibration)


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
    lm: str | None = None,
    lm_device: str = "cpu",
    progress: Callable[[str], None] | None = None,
    calibration: dict | None = None,
) -> pl.DataFrame:
    """The scores table from each signal's result per distinct text: the same for index and stream mode.

    ``results[name].doc_ids`` name each text's evidence document; ``params``
    are the lexical parameters the signals ran with; ``calibration`` is the
    index's own fit (``None``: the bundled ``calibration.json``).
    """
    texts_count = len(unique)
    whole = np.array([unique[e.text] for e in examples], dtype=np.int64)
    data: dict[str, Any] = {
        "id": [e.id for e in examples],
        "row": [e.row for e in examples],
        "category": [e.category for e in examples],
        "words": LexicalBatch.from_texts([e.text for e in examples]).word_counts(),
    }
    per_text_signals = signal_columns(results)
    for name, result in results.items():
        column, prefix = COLUMNS[name]
        data[column] = result.score[whole]
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
        from overlap import lm as lm_scoring

        lm_frame = lm_scoring.score_examples(list(examples), model=lm, device=lm_device, progress=progress)
        fam = score.with_lm(fam, lm_frame["lm_familiarity"].fill_null(np.nan).to_numpy())
    data["familiarity"] = fam
    data["label"] = score.label(fam)
    if "semantic_similarity" in per_text_signals:
        data["familiar_content"] = score.familiar_content(data["semantic_similarity"], calibration)
    for side in ("prompt", "response"):
        idx = np.array([unique[getattr(e, side)] for e in examples], dtype=np.int64)
        has_side = np.array([bool(getattr(e, side)) and getattr(e, side) != e.text for e in examples])
        data[f"{side}_familiarity"] = np.where(has_side, fam_all[idx], np.nan)
    lexical_params = params if "shingle_n" in params else {**params, **signal_registry.get("minhash").default_params()}
    groups = dedup.duplicate_groups(LexicalBatch.from_texts([e.text for e in examples]), lexical_params)
    data["dup_group"] = np.array([examples[g].row for g in groups], dtype=np.int64)
    data["flag"] = [None if n else "no words to score" for n in data["words"]]
    if "embedding" in prepared:
        data["map_x"], data["map_y"] = embedding_map(prepared["embedding"], texts_count, whole)
    # Text columns that may hold no value in a dataset still need their type in Parquet.
    frame = pl.DataFrame(data, strict=False, schema_overrides={"category": pl.String, "flag": pl.String})
    if lm_frame is not None:
        frame = frame.hstack(lm_frame)
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None))
