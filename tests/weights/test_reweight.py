"""Weights from scores: mean 1, caps, the novel target, the familiar floor, dedup."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap.weights.reweight import ReweightConfig, _fill, compute_weights
from overlap.scoring.score import LABELS

from helpers import plain_scores

LIVE_LABELS = tuple(label for label in LABELS if label != "empty")
TOL = 1e-9


@st.composite
def scores_tables(draw: st.DrawFn, max_rows: int = 40) -> pl.DataFrame:
    """A scores table as scan writes it; near-duplicates point straight at a representative."""
    n = draw(st.integers(1, max_rows))
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=n, max_size=n))
    familiarity = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    representatives: list[int] = []
    groups = []
    for i in range(n):
        if representatives and labels[i] != "empty" and draw(st.booleans()):
            groups.append(draw(st.sampled_from(representatives)))
        else:
            groups.append(i)
            representatives.append(i)
    return pl.DataFrame(
        {
            "id": [f"ex{i}" for i in range(n)],
            "row": pl.Series(range(n), dtype=pl.Int64),
            "familiarity": [None if lab == "empty" else f for lab, f in zip(labels, familiarity)],
            "label": labels,
            "dup_group": pl.Series(groups, dtype=pl.Int64),
            "category": draw(st.lists(st.sampled_from(["math", "code", None]), min_size=n, max_size=n)),
            "evidence": [f"doc{i}" for i in range(n)],
        },
        schema_overrides={"familiarity": pl.Float64},
    )


configs = st.builds(
    ReweightConfig,
    strategy=st.sampled_from(["familiarity", "target"]),
    strength=st.floats(0.0, 20.0),
    target_novel_share=st.floats(0.0, 1.0),
    max_weight=st.floats(1.0, 10.0),
    min_weight=st.floats(0.0, 1.0),
    familiar_floor=st.floats(0.0, 1.0),
    dedup=st.booleans(),
)


def live(weighted: pl.DataFrame) -> pl.DataFrame:
    return weighted.filter(pl.col("label") != "empty")


def share(weighted: pl.DataFrame, label: str) -> float:
    rows = live(weighted)
    return float(rows.filter(pl.col("label") == label)["weight"].sum()) / rows.height


def group_sizes(scores: pl.DataFrame) -> np.ndarray:
    """For each non-empty row, how many non-empty rows share its dup_group."""
    rows = live(scores)
    return rows.select(pl.len().over("dup_group"))["len"].to_numpy()


@settings(max_examples=150, deadline=None)
@given(scores_tables(), configs)
def test_mean_one_caps_and_passthrough(scores: pl.DataFrame, config: ReweightConfig) -> None:
    weighted = compute_weights(scores, config)
    assert weighted.drop("weight").equals(scores)
    assert weighted.schema["weight"] == pl.Float64
    assert (weighted.filter(pl.col("label") == "empty")["weight"] == 0).all()
    weights = live(weighted)["weight"].to_numpy()
    if weights.size == 0:
        return
    assert abs(weights.mean() - 1.0) < TOL
    assert weights.max() <= config.max_weight + TOL
    per_example = group_sizes(scores) if config.dedup else np.ones(weights.size)
    assert np.all(weights >= config.min_weight / per_example - TOL)


def expected_novel_share(scores: pl.DataFrame, config: ReweightConfig) -> float:
    """Without dedup, the novel share the caps and the floor allow nearest max(S, natural share)."""
    counts = live(scores)["label"].value_counts()
    count = {lab: 0 for lab in LIVE_LABELS} | dict(zip(counts["label"], counts["count"]))
    n = sum(count.values())
    lo, hi = config.min_weight, config.max_weight
    novel, familiar, borderline = count["novel"], count["familiar"], count["borderline"]
    rest = familiar + borderline
    target = max(config.target_novel_share, novel / n)
    floor = min(config.familiar_floor, familiar / n) * n
    # Novel carries t: t within its own caps, the rest (n - t) within theirs,
    # and the rest must leave familiar rows their floor above borderline's minimum.
    lowest = max(novel * lo, n - rest * hi)
    highest = min(novel * hi, n - rest * lo, n - max(floor, familiar * lo) - borderline * lo)
    assert lowest <= highest + TOL
    return min(max(target * n, lowest), highest) / n


@settings(max_examples=150, deadline=None)
@given(scores_tables(), configs)
def test_target_share_reached_when_caps_allow(scores: pl.DataFrame, config: ReweightConfig) -> None:
    config = replace(config, strategy="target", dedup=False)
    weighted = compute_weights(scores, config)
    if live(weighted).height == 0:
        return
    expected = expected_novel_share(scores, config)
    assert share(weighted, "novel") == pytest.approx(expected, abs=TOL)


def test_target_share_exact_on_a_feasible_set() -> None:
    labels = ["novel"] * 20 + ["familiar"] * 60 + ["borderline"] * 20
    scores = plain_scores(labels)
    weighted = compute_weights(scores, ReweightConfig(target_novel_share=0.5, dedup=False))
    assert share(weighted, "novel") == pytest.approx(0.5)
    # The rest splits in proportion to size: 60:20.
    assert share(weighted, "familiar") == pytest.approx(0.375)


def test_target_never_lowers_a_large_novel_share() -> None:
    scores = plain_scores(["novel"] * 80 + ["familiar"] * 20)
    weighted = compute_weights(scores, ReweightConfig(target_novel_share=0.5, dedup=False))
    assert weighted["weight"].to_list() == pytest.approx([1.0] * 100)


def test_cap_bounds_the_target() -> None:
    scores = plain_scores(["novel"] * 5 + ["familiar"] * 95)
    config = ReweightConfig(target_novel_share=0.5, max_weight=5.0, dedup=False)
    weighted = compute_weights(scores, config)
    assert share(weighted, "novel") == pytest.approx(0.25)
    assert live(weighted).filter(pl.col("label") == "novel")["weight"].to_list() == pytest.approx([5.0] * 5)


def test_familiar_floor_wins_over_the_target() -> None:
    scores = plain_scores(["novel"] * 40 + ["familiar"] * 60)
    config = ReweightConfig(target_novel_share=0.9, familiar_floor=0.25, dedup=False)
    weighted = compute_weights(scores, config)
    assert share(weighted, "familiar") == pytest.approx(0.25)
    assert share(weighted, "novel") == pytest.approx(0.75)


@settings(max_examples=150, deadline=None)
@given(scores_tables(), configs)
def test_familiar_floor_holds(scores: pl.DataFrame, config: ReweightConfig) -> None:
    config = replace(config, dedup=False)
    weighted = compute_weights(scores, config)
    rows = live(weighted)
    if rows.height == 0:
        return
    natural = (rows["label"] == "familiar").sum() / rows.height
    assert share(weighted, "familiar") >= min(config.familiar_floor, natural) - TOL


@settings(max_examples=150, deadline=None)
@given(scores_tables(), configs)
def test_familiarity_strategy_is_monotone(scores: pl.DataFrame, config: ReweightConfig) -> None:
    config = replace(config, strategy="familiarity", dedup=False)
    rows = live(compute_weights(scores, config)).sort("familiarity")
    assert np.all(np.diff(rows["weight"].to_numpy()) <= TOL)


def test_familiarity_strategy_falls_exponentially_without_caps() -> None:
    scores = plain_scores(["novel", "borderline", "familiar"], familiarity=[0.0, 0.5, 1.0])
    config = ReweightConfig(strategy="familiarity", strength=1.0, familiar_floor=0.0, dedup=False)
    weights = compute_weights(scores, config)["weight"].to_numpy()
    assert weights[1] / weights[0] == pytest.approx(np.exp(-0.5))
    assert weights[2] / weights[0] == pytest.approx(np.exp(-1.0))


@settings(max_examples=100, deadline=None)
@given(scores_tables(), configs, st.randoms(use_true_random=False))
def test_deterministic_and_independent_of_row_order(scores: pl.DataFrame, config: ReweightConfig, rnd) -> None:
    weighted = compute_weights(scores, config)
    assert weighted.equals(compute_weights(scores, config))
    order = list(range(scores.height))
    rnd.shuffle(order)
    shuffled = compute_weights(scores[order], config)
    assert shuffled["weight"].to_list() == pytest.approx(weighted["weight"].to_numpy()[order].tolist(), abs=1e-9)


@pytest.mark.parametrize("strategy", ["target", "familiarity"])
def test_fifty_copies_of_a_template_weigh_about_one_example(strategy: str) -> None:
    labels = ["novel"] * 100 + ["familiar"] * 100
    scores = plain_scores(labels, familiarity=[0.1] * 100 + [0.9] * 100).with_columns(
        dup_group=pl.when(pl.col("row") < 50).then(0).otherwise(pl.col("row"))
    )
    config = ReweightConfig(strategy=strategy)
    weights = compute_weights(scores, config)["weight"].to_numpy()
    template, singleton = weights[:50].sum(), weights[50:100].mean()
    assert template == pytest.approx(singleton, rel=1e-9)
    undeduplicated = compute_weights(scores, ReweightConfig(strategy=strategy, dedup=False))["weight"].to_numpy()
    assert undeduplicated[:50].sum() > 40 * undeduplicated[50:100].mean()


def test_an_unreachable_target_does_not_pile_weight_on_a_template() -> None:
    # 5 novel singletons and a 50-copy novel template can carry at most 6 * 5 of 255.
    labels = ["novel"] * 55 + ["familiar"] * 200
    scores = plain_scores(labels).with_columns(
        dup_group=pl.when(pl.col("row").is_between(5, 54)).then(5).otherwise(pl.col("row"))
    )
    weights = compute_weights(scores, ReweightConfig(target_novel_share=0.5, max_weight=5.0))["weight"].to_numpy()
    assert weights[:5].tolist() == pytest.approx([5.0] * 5)
    assert weights[5:55].sum() == pytest.approx(5.0)
    assert weights.mean() == pytest.approx(1.0)


def test_all_empty_gets_zero() -> None:
    weighted = compute_weights(plain_scores(["empty", "empty"], familiarity=[None, None]))
    assert weighted["weight"].to_list() == [0.0, 0.0]


@pytest.mark.parametrize(
    "settings_",
    [
        {"strategy": "uniform"},
        {"max_weight": 0.5},
        {"min_weight": 1.5},
        {"target_novel_share": 1.2},
        {"familiar_floor": -0.1},
        {"strength": float("nan")},
    ],
)
def test_config_rejects_nonsense(settings_: dict) -> None:
    with pytest.raises(ValueError):
        ReweightConfig(**settings_)


def test_bad_tables_are_refused() -> None:
    scores = plain_scores(["novel", "familiar"])
    with pytest.raises(ValueError, match="unknown label"):
        compute_weights(scores.with_columns(label=pl.lit("weird")))
    with pytest.raises(ValueError, match="dup_group"):
        compute_weights(scores.drop("dup_group"))
    with pytest.raises(ValueError, match="row 1: familiarity"):
        compute_weights(
            scores.with_columns(familiarity=pl.Series([0.2, None], dtype=pl.Float64)),
            ReweightConfig(strategy="familiarity"),
        )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.floats(1e-6, 1e3), st.floats(0.0, 1.0)), min_size=1, max_size=30),
    st.floats(1.0, 10.0),
    st.floats(0.0, 1.0),
)
def test_fill_is_the_capped_proportional_solution(rows: list, high: float, where: float) -> None:
    shape = np.array([r[0] for r in rows])
    low = np.array([r[1] for r in rows])
    total = low.sum() + where * (shape.size * high - low.sum())
    weights = _fill(shape, low, high, total)
    assert weights.sum() == pytest.approx(total, rel=1e-9, abs=1e-9)
    assert np.all(weights >= low - TOL) and np.all(weights <= high + TOL)
    free = (weights > low + 1e-9) & (weights < high - 1e-9)
    if free.any():
        scale = (weights[free] / shape[free]).mean()
        assert np.allclose(weights[free] / shape[free], scale)
        # Rows at a bound sit where the common scale would push them past it.
        movable = high - low > 1e-9
        at_low, at_high = movable & (weights <= low + 1e-9), movable & (weights >= high - 1e-9)
        assert np.all(scale * shape[at_low] <= low[at_low] * (1 + 1e-6) + 1e-9)
        assert np.all(scale * shape[at_high] >= high * (1 - 1e-6))
