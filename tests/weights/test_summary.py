"""The before/after description of weights: tables, Kish sizes, the advice, the terminal rendering."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from overlap.weights.resample import resample_stats
from overlap.weights.reweight import ReweightConfig, compute_weights
from overlap.weights.summary import weight_summary

from helpers import plain_scores


def test_a_small_set_by_hand() -> None:
    # Target 50%: the one novel row gets 2 of the 4 units, each familiar row 2/3.
    # Kish after: (2 + 3 * 2/3)^2 / (2^2 + 3 * (2/3)^2) = 16 / (16/3) = 3.
    scores = plain_scores(["novel", "familiar", "familiar", "familiar"]).drop("category")
    config = ReweightConfig(dedup=False)
    weighted = compute_weights(scores, config)
    summary = weight_summary(scores, weighted, config=config)
    assert summary.by_label["label"].to_list() == ["familiar", "novel"]
    assert summary.by_label["share_before"].to_list() == pytest.approx([0.75, 0.25])
    assert summary.by_label["share_after"].to_list() == pytest.approx([0.5, 0.5])
    assert summary.effective_before == pytest.approx(4.0)
    assert summary.effective_after == pytest.approx(3.0)
    assert summary.by_group is None and summary.group_column is None
    assert summary.largest["id"].to_list() == ["ex0", "ex1", "ex2", "ex3"]  # ties keep input order

    text = summary.render()
    assert text.startswith(
        "Weight by label\n\n"
        "          examples  share before  share after  effective before  effective after\n"
        "familiar         3         75.0%        50.0%               3.0              3.0\n"
        "novel            1         25.0%        50.0%               1.0              1.0\n"
        "all              4        100.0%       100.0%               4.0              3.0\n"
    )
    assert "id      label  weight\nex0     novel   2.000\nex1  familiar   0.667\n" in text
    assert ("Novel examples (1 of 4) carry 25.0% of the weight before and 50.0% after (target 50.0%). "
            "Effective sample size goes from 4.0 to 3.0 of 4 examples. Only 1.0 effective novel examples") in text
    assert "This set is 25% novel by the scan." in text
    assert "Resampled:" not in text


def test_render_says_what_resampling_did() -> None:
    scores = plain_scores(["novel", "familiar", "familiar", "familiar"])
    weighted = compute_weights(scores, ReweightConfig(dedup=False))
    rows = np.array([0, 0, 3, 1, 2, 2, 0, 0])
    summary = replace(weight_summary(scores, weighted), resampling=resample_stats(weighted, rows, seed=1))
    assert ("Resampled: 8 records written from 4 scored rows. 4 distinct rows appear, 2 of them more than once "
            "(at most 4 times), 2 once; 0 rows are left out.") in summary.render()


def test_the_advice_says_when_the_cap_binds() -> None:
    scores = plain_scores(["novel"] * 5 + ["familiar"] * 95)
    config = ReweightConfig(target_novel_share=0.5, max_weight=5.0, dedup=False)
    advice = weight_summary(scores, compute_weights(scores, config), config=config).recommendation
    assert "max weight 5 binds" in advice
    # m more novel examples at weight 5 reach 50% when (5 + m) * 5 >= 0.5 * (100 + m): m >= 5.6.
    assert "about 6 more novel examples" in advice


def test_the_advice_says_when_the_familiar_floor_wins() -> None:
    scores = plain_scores(["novel"] * 40 + ["familiar"] * 60)
    config = ReweightConfig(target_novel_share=0.9, familiar_floor=0.25, dedup=False)
    advice = weight_summary(scores, compute_weights(scores, config), config=config).recommendation
    assert "familiar floor (25.0%) takes precedence" in advice


def test_summary_tables_and_render() -> None:
    labels = ["novel"] * 10 + ["familiar"] * 85 + ["borderline"] * 4 + ["empty"]
    familiarity = [0.1] * 10 + [0.9] * 85 + [0.5] * 4 + [None]
    scores = plain_scores(labels, familiarity=familiarity).with_columns(
        category=pl.Series(["math"] * 5 + ["code"] * 90 + [None] * 5),
        dup_group=pl.when(pl.col("row").is_between(10, 29)).then(10).otherwise(pl.col("row")),
    )
    config = ReweightConfig()
    weighted = compute_weights(scores, config)
    summary = weight_summary(scores, weighted, config=config)

    by_label = {r["label"]: r for r in summary.by_label.iter_rows(named=True)}
    assert by_label["novel"]["share_before"] == pytest.approx(10 / 99)
    assert by_label["novel"]["share_after"] == pytest.approx(0.5)
    assert by_label["empty"]["share_after"] == 0.0
    # 20 familiar copies count as one example: 65 familiar groups + 1.
    assert by_label["familiar"]["effective_after"] == pytest.approx(66, rel=1e-6)
    assert summary.examples == 99
    # Uniform weights over 80 groups, one of them 20 rows: (99)^2 / (79 + 400).
    assert summary.effective_before == pytest.approx(99**2 / 479)

    assert summary.group_column == "category"
    categories = {r["category"]: r for r in summary.by_group.iter_rows(named=True)}
    assert set(categories) == {"math", "code", "(none)"}
    assert categories["math"]["novel"] == 5
    assert categories["math"]["novel_effective_after"] == pytest.approx(5.0)

    assert summary.largest.columns == ["id", "label", "weight"]
    assert summary.largest.height == 5
    assert summary.largest["weight"].to_list() == sorted(weighted["weight"].to_list(), reverse=True)[:5]
    assert set(summary.largest["label"]) == {"novel"}

    assert "10.1%" in summary.recommendation and "50.0%" in summary.recommendation
    assert "Thin novel category values" in summary.recommendation and "math (5.0)" in summary.recommendation
    assert "20 rows fall in 1 near-duplicate group" in summary.recommendation
    assert "1 empty text gets weight 0" in summary.recommendation

    text = summary.render()
    for needle in ("Weight by label", "Weight by category", "Largest weights", "novel", "math", "ex0"):
        assert needle in text
    assert summary.recommendation in text


def test_summary_without_category_and_by_another_column() -> None:
    scores = plain_scores(["novel"] * 3 + ["familiar"] * 7).drop("category")
    weighted = compute_weights(scores)
    assert weight_summary(scores, weighted).by_group is None
    with_source = weighted.with_columns(source=pl.Series(["a", "b"] * 5))
    summary = weight_summary(scores, with_source, by="source")
    assert summary.group_column == "source"
    assert summary.by_group["source"].to_list() == ["a", "b"]
    with pytest.raises(ValueError, match="no weight column"):
        weight_summary(scores, scores)
    with pytest.raises(ValueError, match="no column 'source'"):
        weight_summary(scores, weighted, by="source")
