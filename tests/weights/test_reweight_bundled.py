"""Reweighting the bundled fine-tuning sample: templated chats collapse, the novel share reaches the target."""

from __future__ import annotations

import polars as pl
import pytest

from overlap.io import bundled as data
from overlap.io import read_dataset
from overlap.weights.reweight import ReweightConfig, compute_weights
from overlap.pipeline.scan import scan_examples


@pytest.fixture(scope="module")
def sample_scores(lexical_index) -> pl.DataFrame:
    examples, _ = read_dataset(data.sample_dataset())
    return scan_examples(examples, lexical_index)


def _share(weighted: pl.DataFrame, mask: pl.Expr) -> float:
    return float(weighted.filter(mask)["weight"].sum() / weighted["weight"].sum())


def test_templated_sharegpt_chats_collapse_to_a_few_effective_examples(sample_scores):
    weighted = compute_weights(sample_scores)
    chats = weighted.filter(pl.col("category") == "sharegpt")
    assert chats.height == 200
    # 200 chats from a handful of templates carry about the weight of their distinct groups.
    assert chats["weight"].sum() < 60
    assert _share(weighted, pl.col("category") == "sharegpt") < 0.06 < 200 / weighted.height


def test_novel_share_rises_to_the_target(sample_scores):
    novel = pl.col("label") == "novel"
    before = float((sample_scores["label"] == "novel").mean())
    target = (1 + before) / 2  # above what it is, so the weights have to move it
    weighted = compute_weights(sample_scores, ReweightConfig(target_novel_share=target, familiar_floor=0.0))
    assert _share(weighted, novel) == pytest.approx(target, abs=1e-6)
    assert weighted["weight"].mean() == pytest.approx(1.0)
