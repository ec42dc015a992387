"""overlap.weights.advice: the fine-tune evidence quoted for a set's novel share, and what it leaves out."""
import json

import pytest

from overlap.weights import advice


def _c(mean: float, half: float = 0.02) -> dict:
    return {"mean": mean, "ci95": [mean - half, mean + half]}


def _row(share: float, change: float, exact: float = 0.0, weight: float | None = None) -> dict:
    measured = {"heldout_novel_loss": _c(change), "heldout_novel_exact": _c(exact, 0.0),
                "familiar_loss": _c(0.05, 0.01), "familiar_retention": _c(-0.019, 0.0), "general_loss": _c(0.016, 0.007)}
    return {"novel_share": share, "step": 30, "seeds": 3, "uniform_heldout_novel_loss": 2.0,
            "overlap_novel_weight_share": weight if weight is not None else min(0.5, 5 * share),
            "heldout_novel_exact": {"base": 0.0, "uniform": 0.0, "overlap": exact},
            "overlap": measured, "permuted": {**measured, "heldout_novel_loss": _c(0.01)},
            "model": {**measured, "heldout_novel_loss": _c(-0.04)}, "model_score": "lm_loss"}


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    path = tmp_path / "ev.json"
    path.write_text(json.dumps({"link": "benchmarks/finetune/results-minority.md", "model": "SmolLM2-135M-Instruct",
                                "sets": {"rule": {"kind": "an invented rule", "shares": [
                                    _row(0.05, -0.30), _row(0.2, -0.15), _row(0.5, 0.0, weight=0.5)]}}}))
    monkeypatch.setattr(advice, "EVIDENCE_FILE", path)
    advice.evidence.cache_clear()
    yield
    advice.evidence.cache_clear()


def test_nearest_share_is_chosen_by_ratio(shipped):
    shares = advice.evidence()["sets"]["rule"]["shares"]
    assert advice.nearest(0.12, shares)["novel_share"] == 0.2
    assert advice.nearest(0.0, shares)["novel_share"] == 0.05
    assert advice.nearest(0.9, shares)["novel_share"] == 0.5


def test_a_measured_share_is_quoted_with_exact_match_costs_and_intervals(shipped):
    text = advice.measured(0.2)
    assert text.startswith("This set is 20% novel by the scan.") and "Warning" not in text
    assert "At 20% novel (3 seed(s), 30 steps)" in text and "At 5%" not in text
    assert "held-out novel exact match uniform 0%, overlap 0%" in text
    assert "not learned in 30 steps and any gain is in loss only" in text
    assert "-15% (95% CI -17% to -13%)" in text
    assert "familiar loss +5.0% (95% CI +4.0% to +6.0%)" in text and "general-text loss +1.6% (95% CI +0.9% to +2.3%)" in text
    assert "whole-text lm_loss, a weaker form" in text and "permuted +1.0%" in text
    assert "Gekhman" in text and "New facts were not measured" in text and "results-minority.md" in text


def test_a_learned_rule_is_not_called_unlearned(shipped, tmp_path, monkeypatch):
    path = tmp_path / "learned.json"
    path.write_text(json.dumps({"sets": {"rule": {"kind": "r", "shares": [_row(0.2, -0.15, exact=0.25)]}}}))
    monkeypatch.setattr(advice, "EVIDENCE_FILE", path)
    advice.evidence.cache_clear()
    text = advice.measured(0.2)
    assert "overlap 25%" in text and "+25.0 points" in text and "not learned" not in text


def test_between_two_shares_both_are_quoted_with_a_warning(shipped):
    text = advice.measured(0.1)  # 2x from both: the more favourable 5% alone would flatter
    assert "Warning: this share was not measured (measured: 5%, 20%, 50%)" in text
    assert "At 5% novel" in text and "At 20% novel" in text


def test_a_set_below_a_uniform_share_is_still_reweighted_and_warned(shipped):
    text = advice.measured(0.4)  # within 1.25x of 50%, but a 40% set is reweighted: no gain quoted unwarned
    assert "Warning" in text and "At 20% novel" in text and "At 50% novel" in text
    assert text.index("Warning") < text.index("-15%")


def test_at_or_above_a_uniform_share_the_weights_are_uniform(shipped):
    text = advice.measured(0.9)
    assert "exactly uniform and training was unchanged" in text and "At 50% novel" in text
    assert "+0.0%" not in text and "Warning" not in text


def test_outside_the_measured_range_warns(shipped):
    text = advice.measured(0.01)
    assert "Warning: this share is outside what was measured" in text and "At 5% novel" in text


def test_facts_evidence_quotes_known_fact_accuracy(tmp_path, monkeypatch):
    row = _row(0.2, -0.1)
    row["overlap"]["known_exact"] = _c(-0.05, 0.03)
    path = tmp_path / "ev.json"
    path.write_text(json.dumps({"sets": {"facts": {"kind": "invented facts", "shares": [row]}}}))
    monkeypatch.setattr(advice, "EVIDENCE_FILE", path)
    advice.evidence.cache_clear()
    try:
        text = advice.measured(0.2)
        assert "accuracy on facts the model knew -5.0 points (95% CI -8.0 points to -2.0 points)" in text
        assert "New facts were not measured" not in text and "set `facts` (invented facts" in text
    finally:
        advice.evidence.cache_clear()


def test_measured_without_evidence(tmp_path, monkeypatch):
    monkeypatch.setattr(advice, "EVIDENCE_FILE", tmp_path / "missing.json")
    advice.evidence.cache_clear()
    try:
        assert "No fine-tune measurement" in advice.measured(0.3)
    finally:
        advice.evidence.cache_clear()
