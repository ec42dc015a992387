"""Weights -> a resampled dataset: which rows to keep (and repeat), and what that did.

For trainers that take no per-example weight, the weights become repetition:
:func:`resample_plan` turns them into row indices and :func:`resample_stats`
counts what they repeat and drop. Copying those records from the original file,
untouched, into a new one of the same format is :func:`overlap.io.copy.copy_records`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


def resample_plan(weighted: pl.DataFrame, n: int, seed: int = 0, stratify_by: str = "label") -> np.ndarray:
    """Row indices (the ``row`` column) of a resampled dataset of exactly ``n`` records.

    Rows are drawn in proportion to ``weight``, within strata of ``stratify_by``
    (null is a stratum of its own). Stratum sizes are the strata's weight shares
    times ``n``, rounded by largest remainder (ties to the stratum that sorts
    first), so each realised share is within one record of the requested one.
    Within a stratum, systematic sampling over cumulative weights from one random
    start: a row of weight ``w`` appears ``floor(m * w / W)`` or ``ceil(m * w / W)``
    times (``m`` records drawn from a stratum of total weight ``W``), so heavy rows
    repeat and rows of weight 0 never appear. The result is shuffled (trainers
    expect mixed data). Deterministic per ``seed``.

    Raises:
        ValueError: a needed column is missing, ``n`` is negative, or ``n > 0``
            while no row has positive weight.
    """
    missing = [c for c in ("row", "weight", stratify_by) if c not in weighted.columns]
    if missing:
        raise ValueError(f"weighted table lacks column(s) {missing}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    table = weighted.select(
        pl.col("row").cast(pl.Int64),
        pl.col("weight").cast(pl.Float64),
        pl.col(stratify_by).rank("dense").fill_null(0).alias("stratum"),
    ).filter(pl.col("weight") > 0)
    rng = np.random.default_rng(seed)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if table.height == 0:
        raise ValueError("no row has positive weight; nothing to resample")
    strata = table.partition_by("stratum", maintain_order=True, as_dict=False)
    strata.sort(key=lambda part: part["stratum"][0])
    totals = np.array([part["weight"].sum() for part in strata])
    sizes = _largest_remainder(totals / totals.sum() * n, n)
    picks = []
    for part, size in zip(strata, sizes):
        cumulative = np.cumsum(part["weight"].to_numpy())
        positions = (rng.random() + np.arange(size)) * (cumulative[-1] / size) if size else np.empty(0)
        chosen = np.minimum(np.searchsorted(cumulative, positions, side="right"), cumulative.size - 1)
        picks.append(part["row"].to_numpy()[chosen])
    return rng.permutation(np.concatenate(picks)).astype(np.int64)


@dataclass(frozen=True)
class ResampleStats:
    """What a resample did to the scored rows: written, repeated, dropped, in what order."""

    written: int
    scored: int
    distinct: int
    repeated: int
    most_repeats: int
    dropped: int
    seed: int

    def render(self) -> str:
        """One paragraph for the terminal."""
        repeats = (f"{self.repeated:,} of them more than once (at most {self.most_repeats:,} times), "
                   f"{self.distinct - self.repeated:,} once" if self.repeated else "each once")
        return (
            f"Resampled: {self.written:,} records written from {self.scored:,} scored rows. "
            f"{self.distinct:,} distinct rows appear, {repeats}; {self.dropped:,} rows are left out. Rows are drawn in proportion to their weight within "
            f"each label (systematic sampling), then shuffled (seed {self.seed}); records are copied unchanged."
        )


def resample_stats(weighted: pl.DataFrame, rows: np.ndarray, seed: int) -> ResampleStats:
    """Counts of a :func:`resample_plan` result ``rows`` against the ``weighted`` table it came from."""
    counts = np.unique(np.asarray(rows, dtype=np.int64), return_counts=True)[1]
    return ResampleStats(
        written=int(len(rows)),
        scored=weighted.height,
        distinct=int(counts.size),
        repeated=int((counts > 1).sum()),
        most_repeats=int(counts.max()) if counts.size else 0,
        dropped=weighted.height - int(counts.size),
        seed=seed,
    )


def _largest_remainder(quotas: np.ndarray, n: int) -> np.ndarray:
    """Integers summing to ``n``, each the floor or ceiling of its quota."""
    sizes = np.floor(quotas).astype(np.int64)
    order = np.argsort(-(quotas - sizes), kind="stable")
    sizes[order[: n - int(sizes.sum())]] += 1
    return sizes
