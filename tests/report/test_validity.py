"""The report's validity card: why it is missing, or the fitted card's numbers."""

from overlap.report import validity
from overlap.scoring import planting


def test_without_an_index_or_a_fit_the_card_says_why():
    assert "pass <code>--index</code>" in validity.section(None)
    text = validity.section({"status": "skipped", "reason": "corpus <too> small"})
    assert "bundled calibration" in text and "corpus &lt;too&gt; small" in text


def test_a_fitted_card_shows_each_kind_once():
    kinds = list(planting.PLANTED_KINDS)
    card = {"auroc": {k: 0.5 + i / 100 for i, k in enumerate(kinds)}, "recall": {k: 0.25 for k in kinds},
            "false_familiar": 0.042}
    page = validity.section({"status": "fitted", "card": card, "heldout": {"documents": 77, "rate": 0.02}})
    for i, k in enumerate(kinds):
        assert page.count(f"<td>{0.5 + i / 100:.3f}</td>") >= 1
    assert page.count("<tr><td>") == len(kinds)
    assert "77 documents held out" in page and "<b>4.2%</b>" in page
    assert "familiar_content" not in page
