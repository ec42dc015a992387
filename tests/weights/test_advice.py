"""overlap.weights.advice: the fine-tune evidence quoted for a set's novel share."""
import json

import pytest

from overlap.weights import advice


def _row(share: float, change: float) -> dict:
    measured = {"heldout_novel_loss_change": change, "ci95": [change - 0.02, change + 0.02],
                "familiar_retention_change": -0.004, "general_loss_change": 0.003}
    return {"novel_share": share, "seeds": 3, "uniform_heldout_novel_loss": 2.0,
            "overlap": measured, "permuted": {**measured, "heldout_novel_loss_change": 0.01},
            "model": {**measured, "heldout_novel_loss_change": -0.04}}


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    path = tmp_path / "ev.json"
    path.write_text(json.dumps({"set": "rule", "link": "benchmarks/finetune/results-minority.md",
                                "shares": [_row(0.05, -0.30), _row(0.2, -0.15),
                                           {**_row(0.5, 0.0), "overlap_novel_weight_share": 0.5}]}))
    monkeypatch.setattr(advice, "EVIDENCE_FILE", path)
    advice.evidence.cache_clear()
    yield
    advice.evidence.cache_clear()


def test_nearest_share_is_chosen_by_ratio(shipped):
    shares = advice.evidence()["shares"]
    assert advice.nearest(0.1, shares)["novel_share"] == 0.05  # 2x from 0.05, 2x from 0.2: the first wins
    assert advice.nearest(0.12, shares)["novel_share"] == 0.2
    assert advice.nearest(0.0, shares)["novel_share"] == 0.05
    assert advice.nearest(0.9, shares)["novel_share"] == 0.5


def test_measured_quotes_the_nearest_share(shipped):
    text = advice.measured(0.18)
    assert text.startswith("This set is 18% novel by the scan.")
    assert "as 20% of the set" in text and "3 seed(s)" in text and "-15%" in text and "95% CI -17% to -13%" in text
    assert "permuted +1.0%" in text and "base-model loss labels -4.0%" in text and "results-minority.md" in text


def test_measured_says_when_no_share_is_near(shipped):
    assert "Nothing was measured near that share (measured: 5%, 20%, 50%)" in advice.measured(0.005)
    assert "Nothing was measured near that share" not in advice.measured(0.9)  # under 2x from 50%


def test_a_share_where_the_weights_were_uniform_says_so_and_only_above_it(shipped):
    text = advice.measured(0.9)
    assert "exactly uniform and training was unchanged" in text and "as 50% of the set" in text
    assert "+0.0%" not in text
    below = advice.measured(0.4)  # nearer 50% than 20%, but a 40% set is still reweighted
    assert "as 20% of the set" in below and "-15%" in below


def test_measured_without_evidence(tmp_path, monkeypatch):
    monkeypatch.setattr(advice, "EVIDENCE_FILE", tmp_path / "missing.json")
    advice.evidence.cache_clear()
    try:
        assert "No fine-tune measurement" in advice.measured(0.3)
    finally:
        advice.evidence.cache_clear()
