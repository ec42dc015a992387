"""Signals -> familiarity and label: properties every fitted calibration must keep."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from overlap.scoring import score
from overlap import signals as registry

ORDER = registry.score_columns()

SUBSETS = [
    list(c)
    for r in range(1, len(ORDER) + 1)
    for c in itertools.combinations(ORDER, r)
]
GRID = np.linspace(0.0, 1.0, 41)


@pytest.mark.parametrize("names", SUBSETS, ids=lambda n: "+".join(n))
def test_familiarity_rises_with_every_signal(names):
    """More overlap on any one signal never makes an example less familiar."""
    rng = np.random.default_rng(len(names))
    for moving in names:
        for _ in range(5):
            fixed = {n: np.full(len(GRID), rng.uniform()) for n in names}
            fixed[moving] = GRID
            fam = score.familiarity(fixed)
            assert np.all((fam >= 0) & (fam <= 1))
            assert np.all(np.diff(fam) >= -1e-12), f"{moving} lowers familiarity in {names}"


@pytest.mark.parametrize("names", SUBSETS, ids=lambda n: "+".join(n))
def test_no_overlap_is_novel_and_full_overlap_is_familiar(names):
    none = score.familiarity({n: np.zeros(1) for n in names})
    full = score.familiarity({n: np.ones(1) for n in names})
    assert score.label(none)[0] == "novel"
    assert score.label(full)[0] == "familiar"


def test_labels_follow_the_thresholds():
    fam = np.array([0.0, score.BORDERLINE_AT - 1e-9, score.BORDERLINE_AT, 0.4999, score.FAMILIAR_AT, 1.0, np.nan])
    assert score.label(fam).tolist() == ["novel", "novel", "borderline", "borderline", "familiar", "familiar", "empty"]


def test_a_text_with_no_signal_value_is_empty_not_novel():
    fam = score.familiarity({"ngram_containment": np.array([np.nan, 0.0]), "minhash_jaccard": np.array([np.nan, 0.0])})
    assert np.isnan(fam[0]) and not np.isnan(fam[1])
    assert score.label(fam).tolist()[0] == "empty"


@pytest.mark.parametrize("column", ORDER)
def test_single_threshold_is_where_the_label_flips(column):
    t = score.single_threshold(column)
    if t is None:
        assert score.label(score.familiarity({column: np.array([1.0])}))[0] != "familiar"
        return
    below, at = score.familiarity({column: np.array([t - 1e-3, t])})
    assert below < score.FAMILIAR_AT <= at


def test_contributions_add_up_to_the_linear_score():
    rng = np.random.default_rng(0)
    signals = {n: rng.uniform(size=50) for n in ORDER}
    z, model = score.linear_score(signals)
    parts = score.contributions(signals)
    assert np.allclose(sum(parts.values()) + model["intercept"], z)
    assert set(score.driver(signals)) <= set(ORDER)


def test_semantic_input_is_the_mean_of_the_cosines_that_have_a_value():
    name = registry.get("embedding").model_inputs[0]
    columns = {"semantic_similarity": np.array([0.8, 0.6, np.nan, 0.4]),
               "term_similarity": np.array([0.4, np.nan, np.nan, 0.4])}
    # An index built before term similarity has no term values: the embedding's cosine alone.
    np.testing.assert_allclose(score.features(columns, [name])[:, 0], [0.6, 0.6, 0.0, 0.4])
    alone = {"semantic_similarity": columns["semantic_similarity"]}
    np.testing.assert_allclose(score.features(alone, [name])[:, 0], [0.8, 0.6, 0.0, 0.4])
    assert score.feature_names(list(columns), columns) == [name]
