"""The base model's own view as a signal: the ``lm_*`` columns of ``overlap.signals.lm.model``, measured on the examples.

Unlike the corpus signals it needs no index: a causal LM scores each example
(loss, Min-K%, ...), in chunks of examples run on the engines like any other
per-shard work (each worker loads the model once). It enters familiarity only
at memorisation level (:func:`with_lm`), which its declaration names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import polars as pl

from overlap.engines import Engine
from overlap.signals.lm import model as lm
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


def requested(scan_options: Any) -> dict[str, Any] | None:
    """The run options when the scan asked for a model (``--lm``), else None."""
    if scan_options.lm is None:
        return None
    return {"model": scan_options.lm, "device": scan_options.lm_device}


def run(
    examples: Sequence[Example], options: dict[str, Any], *, engine: Engine = Engine(),
    progress: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """The ``lm_*`` columns of every example, in input order: one chunk per worker.

    ``options``: ``model`` (a transformers folder, a .gguf file, or ``"default"``) and ``device``.
    """
    chunks = [c for c in np.array_split(np.arange(len(examples)), max(1, engine.workers or 1)) if len(c)] or [[]]
    tasks = [LMTask(examples=tuple(examples[i] for i in chunk), model=str(options["model"]),
                    device=options.get("device", "cpu"), progress=progress) for chunk in chunks]
    return pl.concat(list(engine.start().map(score_chunk, tasks)))


# The base model's own view enters only at memorisation level: on the validity benchmark
# (benchmarks/validity/lm.md) its loss barely separates corpus text from unseen text of the same
# style, but text the model has memorised scores far below anything novel. 0.9 is about the 1st
# percentile of the novel kinds' lm_familiarity with SmolLM2.
LM_MEMORISED_AT = 0.9
LM_SCALE = 0.02


def with_lm(fam: np.ndarray, lm_familiarity: np.ndarray) -> np.ndarray:
    """Familiarity raised to the LM's memorisation evidence where the LM scored the example."""
    lm_part = 1.0 / (1.0 + np.exp(-(np.asarray(lm_familiarity, dtype=float) - LM_MEMORISED_AT) / LM_SCALE))
    return np.where(np.isnan(lm_part), fam, np.fmax(fam, lm_part))


SIGNAL = ExampleSignal(
    name="lm",
    column="lm_familiarity",
    columns=lm.COLUMNS,
    requested=requested,
    run=run,
    combine=with_lm,
)
