"""The terminal summary of a scores table, checked on a hand-made table."""

from __future__ import annotations

import polars as pl

from overlap.scoring import summary


def _table() -> pl.DataFrame:
    return pl.DataFrame({
        "id": ["a", "b", "c", "d"],
        "category": ["x", "x", "y", None],
        "ngram_containment": [0.9, 0.0, 0.0, None],
        "minhash_jaccard": [0.8, 0.0, 0.0, None],
        "familiarity": [0.99, 0.01, 0.02, None],
        "label": ["familiar", "novel", "novel", "empty"],
        "familiar_content": [True, True, False, None],
    })


def test_counts_shares_and_means_per_label():
    text = summary.render(_table())
    assert text.startswith("4 examples scanned")
    lines = text.splitlines()
    familiar = next(line for line in lines if line.startswith("familiar "))
    assert familiar.split()[:3] == ["familiar", "1", "25.0%"] and "0.900" in familiar
    novel = next(line for line in lines if line.startswith("novel "))
    assert novel.split()[:3] == ["novel", "2", "50.0%"]
    assert any(line.startswith("empty ") for line in lines)


def test_drivers_and_paraphrase_level_verdicts_are_named():
    text = summary.render(_table())
    assert "familiar because of: ngram_containment 1" in text
    assert "familiar_content (restates what the corpus says, by meaning): 2 (50.0%), 1 of them not labelled familiar" in text


def test_categories_table_counts_each_category():
    text = summary.render(_table())
    rows = [line.split() for line in text.splitlines() if line.split()[:1] in (["x"], ["y"])]
    assert rows == [["x", "2", "50.0%", "50.0%", "0.500"], ["y", "1", "0.0%", "100.0%", "0.020"]]
