"""The exact n-gram signal on its own: containment equals the set arithmetic of text.py, evidence is real."""

from __future__ import annotations

import json

import numpy as np
import pytest

from overlap import api
from overlap.text import reference as ref

N = 8


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory):
    """An n-gram-only index of two hand-written documents."""
    folder = tmp_path_factory.mktemp("ngram")
    docs = [
        {"id": "a", "text": "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat"},
        {"id": "b", "text": "a completely different document about rivers mountains and the long history of maps"},
    ]
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    api.build_index([corpus], folder / "idx", signals="ngram")
    return folder, docs


def _scan(folder, examples):
    data = folder / f"ds-{abs(hash(tuple(examples)))}.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(examples)))
    return api.scan(data, index=folder / "idx")


def test_containment_is_the_share_of_known_ngrams(tiny_index):
    folder, docs = tiny_index
    inside = "the quick brown fox jumps over the lazy dog while the cat"  # 12 words: 5 known 8-grams
    half = "the quick brown fox jumps over the lazy zebra eats grass quietly"  # 12 words, 1 known 8-gram
    scores = _scan(folder, [inside, half, "nothing of this appears anywhere in either of the two documents"])
    assert scores["ngram_containment"].to_list()[:2] == pytest.approx([1.0, 1 / 5])
    assert scores["ngram_containment"][2] == 0.0
    assert scores["ngram_doc_id"].to_list() == ["a", "a", None]


def test_evidence_is_the_matched_span_of_the_document(tiny_index):
    folder, docs = tiny_index
    scores = _scan(folder, ["He said: the quick brown fox jumps over the lazy dog while the cat. Then left."])
    row = scores.row(0, named=True)
    assert row["ngram_doc_id"] == "a"
    assert row["ngram_match"] == "the quick brown fox jumps over the lazy dog while the cat"
    normalised = ref.normalize(docs[0]["text"])
    assert normalised[row["ngram_doc_start"] : row["ngram_doc_end"]] == row["ngram_match"]


def test_containment_matches_reference_sets_on_the_bundled_corpus(lexical_index, reference_docs):
    """Exact containment of real windows and unseen text, against a set built by the plain reference."""
    rng = np.random.default_rng(5)
    docs = [d for file in reference_docs.values() for d in file]
    known = set()
    for d in docs:
        known.update(int(h) for h in ref.text_ngrams(d["text"], N))
    picks = [docs[i]["text"] for i in rng.choice(len(docs), 8, replace=False)]
    texts = []
    for t in picks:
        words = t.split()
        start = int(rng.integers(0, max(1, len(words) - 60)))
        window = words[start : start + 60]
        window[30] = "zqxjkv"  # one unseen word breaks the 8 n-grams around it
        texts.append(" ".join(window))
    texts.append("Refactoring the telemetry pipeline, Mara decided every gauge needed a blue label.")
    folder = lexical_index.parent
    data = folder / "ngram-reference.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    scores = api.scan(data, index=lexical_index)
    for t, got in zip(texts, scores["ngram_containment"].to_list()):
        grams = ref.text_ngrams(t, N)
        expected = np.mean([int(h) in known for h in grams])
        assert got == pytest.approx(expected)
    assert 0.5 < scores["ngram_containment"][0] < 1.0
    assert scores["ngram_containment"][len(texts) - 1] == 0.0
