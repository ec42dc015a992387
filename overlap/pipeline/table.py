"""The scores table, one row per example, from each signal's result per distinct text: both modes feed it.

Index mode (``scan.py``) and stream mode (``stream.py``) each give every signal's
best match per distinct text (whole example, prompt, response); this module
turns them into the one table both modes write: scores, evidence, familiarity
and label, prompt/response familiarity, near-duplicate groups, the report's map,
and the columns of example signals (the base LM) asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl

from overlap import signals as registry
from overlap.engines import Engine
from overlap.io.layouts import Example
from overlap.pipeline.options import ScanOptions
from overlap.scoring import score
from overlap.signals.base import SignalResult
from overlap.text.batch import LexicalBatch


def signal_columns(results: dict[str, SignalResult]) -> dict[str, np.ndarray]:
    """Every scored value per text: each signal's score column and the features it measured."""
    columns = {}
    for name, result in results.items():
        columns[registry.get(name).column] = result.score
        columns.update(result.features)
    return columns


def attach_sources(results: dict[str, SignalResult], sources: list[str]) -> None:
    """Name each text's evidence source: the corpus file of the shard its evidence is in (``sources[shard]``)."""
    for result in results.values():
        result.sources = [sources[int(s)] if s >= 0 else None for s in result.shard]


def source_name(path: str | Path) -> str:
    """How a corpus file is named as a source: its file name."""
    return Path(path).name


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
    options: ScanOptions = ScanOptions(),
    engine: Engine = Engine(),
    calibration: dict | None = None,
    progress: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """The scores table from each signal's result per distinct text: the same for index and stream mode.

    ``results[name].doc_ids`` name each text's evidence document; ``params``
    are the lexical parameters the signals ran with; ``batch`` is the distinct
    texts tokenised (built here if not given); ``calibration`` is the index's own
    fit (``None``: the bundled ``calibration.json``). Example signals that
    ``options`` ask for (``lm``) run on ``engine`` and their columns join.
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
    strings = ["category", "flag"]
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
        if result.sources:
            data[f"{prefix}_source"] = [result.sources[i] for i in whole]
            strings.append(f"{prefix}_source")
        for column, values in result.details.items():
            data[column] = values[whole] if isinstance(values, np.ndarray) else [values[i] for i in whole]
            if not isinstance(values, np.ndarray):
                strings.append(column)
    fam_all = score.familiarity(per_text_signals, calibration)
    fam = fam_all[whole]
    example_frames = []
    for signal, run_options in registry.requested_example_signals(options):
        frame = signal.run(list(examples), run_options, engine=engine, progress=progress)
        fam = signal.combine(fam, frame[signal.column].fill_null(np.nan).to_numpy())
        example_frames.append(frame)
    data["familiarity"] = fam
    data["label"] = score.label(fam)
    if score.content_column() in per_text_signals:
        evidence = registry.with_role("content").evidence
        data["familiar_content"] = score.familiar_content(data[score.content_column()], calibration,
                                                          texts=[e.text for e in examples],
                                                          matches=data.get(f"{evidence}_match"))
    for side in ("prompt", "response"):
        idx = np.array([unique[getattr(e, side)] for e in examples], dtype=np.int64)
        has_side = np.array([bool(getattr(e, side)) and getattr(e, side) != e.text for e in examples])
        data[f"{side}_familiarity"] = np.where(has_side, fam_all[idx], np.nan)
    grouper = registry.with_role("duplicate_groups")
    if grouper is not None:
        defaults = grouper.default_params()
        group_params = params if defaults.keys() <= params.keys() else {**params, **defaults}
        groups = grouper.duplicate_groups(batch.take(whole), group_params)
        data["dup_group"] = np.array([examples[g].row for g in groups], dtype=np.int64)
    data["flag"] = [None if n else "no words to score" for n in data["words"]]
    for name, made in prepared.items():
        signal = registry.get(name)
        if signal.map_points is not None:
            data["map_x"], data["map_y"] = signal.map_points(made, texts_count, whole)
    # Text columns that may hold no value in a dataset still need their type in Parquet.
    frame = pl.DataFrame(data, strict=False, schema_overrides={c: pl.String for c in strings})
    for example_frame in example_frames:
        frame = frame.hstack(example_frame)
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None))
