"""Resampling: the plan matches the weights within each stratum, is seeded and shuffled; the stats count it."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap.weights.resample import resample_plan, resample_stats

TOL = 1e-9


@st.composite
def weighted_tables(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(1, 40))
    weights = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 5.0)), min_size=n, max_size=n))
    if not any(weights):
        weights[draw(st.integers(0, n - 1))] = 1.0
    return pl.DataFrame(
        {
            "id": [f"ex{i}" for i in range(n)],
            # rows need not be 0..n-1 in order: the plan returns the row column's values
            "row": pl.Series(draw(st.permutations(range(n))), dtype=pl.Int64),
            "label": draw(st.lists(st.sampled_from(["familiar", "borderline", "novel"]), min_size=n, max_size=n)),
            "category": draw(st.lists(st.sampled_from(["a", "b", None]), min_size=n, max_size=n)),
            "weight": weights,
        }
    )


@settings(max_examples=150, deadline=None)
@given(weighted_tables(), st.integers(0, 300), st.integers(0, 2**32 - 1), st.sampled_from(["label", "category"]))
def test_plan_matches_weight_shares(table: pl.DataFrame, n: int, seed: int, stratify_by: str) -> None:
    plan = resample_plan(table, n, seed=seed, stratify_by=stratify_by)
    assert plan.dtype == np.int64 and plan.shape == (n,)
    assert np.array_equal(plan, resample_plan(table, n, seed=seed, stratify_by=stratify_by))

    drawn = pl.DataFrame({"row": plan}).group_by("row").len()
    joined = table.join(drawn, on="row", how="left").with_columns(pl.col("len").fill_null(0))
    assert joined["len"].sum() == n  # every drawn row is one of the table's
    assert (joined.filter(pl.col("weight") == 0)["len"] == 0).all()

    total = table["weight"].sum()
    for _, stratum in joined.group_by(stratify_by):
        requested = stratum["weight"].sum() / total * n
        realised = stratum["len"].sum()
        assert abs(realised - requested) < 1 + TOL
        # Systematic sampling: each row appears floor or ceil of its expected count.
        if realised:
            expected = stratum["weight"] / stratum["weight"].sum() * realised
            assert ((stratum["len"] - expected).abs() < 1 + TOL).all()


def test_plan_is_shuffled_and_seeded() -> None:
    table = pl.DataFrame({"row": range(10), "label": ["novel"] * 10, "weight": [1.0] * 10})
    plan = resample_plan(table, 100, seed=1)
    assert np.bincount(plan).tolist() == [10] * 10
    assert not np.array_equal(plan, np.sort(plan))
    assert not np.array_equal(plan, resample_plan(table, 100, seed=2))


def test_plan_refuses_what_it_cannot_do() -> None:
    table = pl.DataFrame({"row": [0, 1], "label": ["novel", "empty"], "weight": [0.0, 0.0]})
    assert resample_plan(table, 0).size == 0
    with pytest.raises(ValueError, match="no row has positive weight"):
        resample_plan(table, 5)
    with pytest.raises(ValueError, match="n must be"):
        resample_plan(table, -1)
    with pytest.raises(ValueError, match="weight"):
        resample_plan(table.drop("weight"), 5)


def test_stats_count_repeats_and_drops() -> None:
    weighted = pl.DataFrame({"row": [0, 1, 2, 3], "label": ["novel"] * 4, "weight": [2.0, 1.0, 1.0, 0.0]})
    stats = resample_stats(weighted, np.array([0, 0, 2, 1, 2, 0]), seed=7)
    assert (stats.written, stats.scored, stats.distinct, stats.repeated, stats.most_repeats, stats.dropped) == (
        6, 4, 3, 2, 3, 1)
    assert stats.render().startswith(
        "Resampled: 6 records written from 4 scored rows. 3 distinct rows appear, 2 of them more than once "
        "(at most 3 times), 1 once; 1 rows are left out.")
    assert "(seed 7)" in stats.render()
    nothing = resample_stats(weighted, np.empty(0, dtype=np.int64), seed=0)
    assert (nothing.written, nothing.distinct, nothing.most_repeats, nothing.dropped) == (0, 0, 0, 4)
