"""The step after reweighting: weights in the form PyTorch and Hugging Face trainers take.

Two ways to train on ``overlap reweight`` weights (mean 1, one per example):

* draw batches in proportion to the weights: :func:`weighted_sampler` for a plain
  ``DataLoader``, :func:`weighted_trainer` for ``transformers.Trainer`` or TRL's
  ``SFTTrainer``;
* keep the data order and scale each example's loss: :func:`weighted_lm_loss`.

::

    weights = load_weights("weighted.parquet", ids=train["id"])   # aligned to your dataset
    loader = DataLoader(train, batch_size=8, sampler=weighted_sampler(weights, seed=0))

torch is imported here, and transformers only by :func:`weighted_trainer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import torch
from torch.utils.data import WeightedRandomSampler

from overlap.io import read_table
from overlap.io.formats import require_path


def load_weights(weights: str | Path | pl.DataFrame, ids: Sequence[object] | None = None) -> np.ndarray:
    """The ``weight`` column of a reweight output as float64, in the order of ``ids``.

    Without ``ids``, in the table's own order (the scanned dataset's input order,
    rejected records left out). With ``ids`` (the ids of the dataset you train on,
    compared as strings), one weight per id. Raises ValueError when a column is
    missing or an id has no weight.
    """
    table = weights if isinstance(weights, pl.DataFrame) else read_table(require_path(weights))
    missing = [c for c in ("id", "weight") if c not in table.columns]
    if missing:
        raise ValueError(f"{weights}: no {', '.join(missing)} column; is it the output of `overlap reweight`?")
    values = table["weight"].cast(pl.Float64).to_numpy()
    if ids is None:
        return values
    by_id = dict(zip(table["id"].cast(pl.String).to_list(), values.tolist()))
    wanted = [str(i) for i in ids]
    absent = [i for i in wanted if i not in by_id]
    if absent:
        raise ValueError(f"{len(absent):,} of {len(wanted):,} ids have no weight, the first {absent[0]!r}: "
                         "the weights belong to another dataset, or these records were rejected at scan")
    return np.array([by_id[i] for i in wanted], dtype=np.float64)


def weighted_sampler(
    weights: Sequence[float] | np.ndarray,
    num_samples: int | None = None,
    *,
    replacement: bool = True,
    seed: int = 0,
) -> WeightedRandomSampler:
    """A ``WeightedRandomSampler`` drawing index ``i`` with probability ``weights[i] / sum(weights)``.

    ``num_samples`` defaults to ``len(weights)`` (one epoch is as long as the
    dataset); draws are reproducible per ``seed``. Raises ValueError for a
    negative or non-finite weight, or weights that are all 0.
    """
    values = np.asarray(weights, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("weights must be a 1-D sequence of finite values >= 0")
    if not (values > 0).any():
        raise ValueError("every weight is 0; nothing to sample")
    generator = torch.Generator().manual_seed(seed)
    return WeightedRandomSampler(torch.tensor(values), num_samples or len(values), replacement=replacement,
                                 generator=generator)


def weighted_lm_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    """Causal-LM loss with each example's mean token loss scaled by its weight.

    ``logits`` (batch, length, vocab) predict the next token of ``labels``
    (batch, length; ``ignore_index`` marks prompt and padding). The result is
    ``mean_i(w_i * loss_i)``: with mean-1 weights it keeps the unweighted loss's
    scale, so the learning rate means what it did. An example without a labelled
    token contributes 0.
    """
    shifted = logits[:, :-1, :].float()
    targets = labels[:, 1:]
    tokens = torch.nn.functional.cross_entropy(
        shifted.reshape(-1, shifted.size(-1)), targets.reshape(-1), ignore_index=ignore_index, reduction="none"
    ).view(targets.shape)
    counted = (targets != ignore_index).float()
    per_example = (tokens * counted).sum(dim=1) / counted.sum(dim=1).clamp(min=1.0)
    return (weights.to(per_example) * per_example).mean()


def weighted_trainer(base: type | None = None) -> type:
    """A subclass of ``base`` (default ``transformers.Trainer``) that draws training batches by weight.

    Construct it like ``base`` plus ``sample_weights=`` (one per training example,
    in the training dataset's order) and optionally ``sampler_seed=``; TRL's
    ``SFTTrainer`` works as ``base`` the same way.
    """
    if base is None:
        from transformers import Trainer as base

    class WeightedTrainer(base):  # type: ignore[misc, valid-type]
        """``base`` with batches drawn in proportion to ``sample_weights``."""

        def __init__(self, *args, sample_weights: Sequence[float] | np.ndarray, sampler_seed: int = 0, **kwargs):
            super().__init__(*args, **kwargs)
            self.sample_weights = np.asarray(sample_weights, dtype=np.float64)
            self.sampler_seed = sampler_seed

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if len(dataset) != len(self.sample_weights):
                raise ValueError(f"{len(self.sample_weights):,} sample weights for a training set of "
                                 f"{len(dataset):,} examples")
            return weighted_sampler(self.sample_weights, seed=self.sampler_seed)

    return WeightedTrainer
