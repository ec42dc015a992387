"""The base model's own view as a signal: the ``lm_*`` columns of ``overlap.lm``, measured on the examples.

Unlike the corpus signals it needs no index: a causal LM scores each example
(loss, Min-K%, ...), in chunks of examples run on the engines like any other
per-shard work (each worker loads the model once). It enters familiarity only
at memorisation level (``score.with_lm``), which its declaration names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl

from overlap import engines, lm, score
from overlap.io.layouts import Example
from overlap.signals.base import ExampleSignal


@dataclass(frozen=True)
class LMTask:
    """One unit of LM work: score ``examples`` with ``model`` on ``device``."""

    examples: tuple[Example, ...]
    model: str
    device: str
    progress: Callable[[str], None] | None = None


def score_chunk(task: LMTask) -> pl.DataFrame:
    """The ``lm_*`` columns of one chunk of examples (run by an engine)."""
    return lm.score_examples(list(task.examples), model=task.model, device=task.device, progress=task.progress)


def run(
    examples: Sequence[Example], options: dict[str, Any], *, engine: str = "local", workers: int | None = None,
    ray_address: str | None = None, progress: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """The ``lm_*`` columns of every example, in input order: one chunk per worker.

    ``options``: ``model`` (a transformers folder, a .gguf file, or ``"default"``) and ``device``.
    """
    chunks = [c for c in np.array_split(np.arange(len(examples)), max(1, workers or 1)) if len(c)] or [[]]
    tasks = [LMTask(tuple(examples[i] for i in chunk), str(options["model"]), options.get("device", "cpu"), progress)
             for chunk in chunks]
    return pl.concat(list(engines.get(engine, workers, ray_address).map(score_chunk, tasks)))


SIGNAL = ExampleSignal(
    name="lm",
    column="lm_familiarity",
    columns=lm.COLUMNS,
    run=run,
    combine=score.with_lm,
)
