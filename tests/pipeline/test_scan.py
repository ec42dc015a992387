"""The lexical scan on the bundled real data: verbatim passages, novel questions, evidence."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest

from overlap.io import bundled as data
from overlap.text import reference as ref
from overlap.io import Example, read_dataset
from overlap.pipeline.scan import scan_examples


def _example(row: int, text: str, prompt: str = "", response: str = "", ident: str | None = None) -> Example:
    return Example(row=row, id=ident or str(row), prompt=prompt, response=response, text=text, category=None)


def _windows(reference_docs, count: int, seed: int) -> list[tuple[str, str]]:
    """``(doc id, passage)`` pairs: runs of 30 to 200 words cut from real corpus documents."""
    rng = random.Random(seed)
    docs = [d for file in sorted(reference_docs) for d in reference_docs[file] if len(d["text"].split()) > 250]
    out = []
    for _ in range(count):
        doc = rng.choice(docs)
        words = doc["text"].split()
        length = rng.choice([30, 60, 120, 200])
        start = rng.randrange(0, len(words) - length)
        out.append((doc["id"], " ".join(words[start : start + length])))
    return out


@pytest.fixture(scope="module")
def verbatim(lexical_index, reference_docs):
    pairs = _windows(reference_docs, 40, seed=7)
    examples = [_example(i, text, ident=doc) for i, (doc, text) in enumerate(pairs)]
    return scan_examples(examples, lexical_index), pairs


def test_verbatim_passages_are_contained_and_familiar(verbatim):
    scores, _ = verbatim
    assert scores["ngram_containment"].to_list() == [1.0] * scores.height
    assert set(scores["label"]) == {"familiar"}
    assert scores["familiarity"].min() > 0.99


def test_verbatim_passages_find_a_near_duplicate_window(verbatim):
    scores, pairs = verbatim
    # A passage of a page copied from a document overlaps a 128-shingle window by most of it;
    # shorter ones are found by their n-grams (containment 1.0 above), not by a window's Jaccard.
    long = np.array([len(text.split()) == 200 for _, text in pairs])
    assert long.sum() >= 8
    jaccard = scores["minhash_jaccard"].to_numpy()[long]
    assert np.median(jaccard) > 0.5
    assert (jaccard > 0.4).mean() >= 0.9


def test_evidence_document_contains_the_matched_text(verbatim, reference_docs):
    scores, pairs = verbatim
    by_id = {d["id"]: d["text"] for docs in reference_docs.values() for d in docs}
    cited = 0
    for row in scores.iter_rows(named=True):
        for prefix in ("ngram", "minhash"):
            doc_id, match = row[f"{prefix}_doc_id"], row[f"{prefix}_match"]
            if prefix == "minhash" and row["minhash_jaccard"] == 0.0:
                assert doc_id is None  # no window was a candidate: nothing to cite
                continue
            cited += prefix == "minhash"
            assert doc_id is not None and match
            normalized = ref.normalize(by_id[doc_id])
            # Offsets are character offsets in the normalised document.
            assert normalized[row[f"{prefix}_doc_start"] : row[f"{prefix}_doc_end"]] == match
    assert cited >= scores.height // 2
    # The n-gram evidence is the source document itself (these passages occur once).
    hits = [row["ngram_doc_id"] == doc for row, (doc, _) in zip(scores.iter_rows(named=True), pairs)]
    assert np.mean(hits) > 0.9


def test_mt_bench_questions_are_novel(lexical_index):
    examples, _ = read_dataset(data.sample_dataset())
    mt = [e for e in examples if e.category == "mt-bench"]
    assert len(mt) == 80
    scores = scan_examples(mt, lexical_index)
    assert scores["ngram_containment"].mean() < 0.02
    assert not (scores["label"] == "familiar").any()
    # One question quotes a book title that is in Wikipedia ("the lord of the rings: the fellowship
    # of the ring"): borderline at most.
    assert (scores["label"] == "novel").mean() >= 0.95


def test_rows_follow_input_order_with_ids(lexical_index):
    examples, _ = read_dataset(data.sample_dataset())
    scores = scan_examples(examples[:50], lexical_index)
    assert scores["row"].to_list() == list(range(50))
    assert scores["id"].to_list() == [e.id for e in examples[:50]]


def test_short_texts_get_their_own_signature(lexical_index, reference_docs):
    shortest = min((d for docs in reference_docs.values() for d in docs), key=lambda d: len(d["text"].split()))
    texts = ["hello there", "good morning", "hello", shortest["text"] if len(ref.words(shortest["text"])) < 8 else "x"]
    scores = scan_examples([_example(i, t) for i, t in enumerate(texts)], lexical_index)
    # Different short texts never share a signature, so they are not duplicates of each other.
    assert scores["dup_group"].to_list()[:3] == [0, 1, 2]
    assert scores["words"].to_list()[:3] == [2, 2, 1]
    assert scores["ngram_containment"].to_list()[:3] == [0.0, 0.0, 0.0]


def test_empty_text_is_flagged_not_crashed(lexical_index):
    scores = scan_examples([_example(0, ""), _example(1, " ... !!"), _example(2, "a real sentence here")], lexical_index)
    assert scores["label"].to_list()[:2] == ["empty", "empty"]
    assert scores["flag"].to_list()[:2] == ["no words to score"] * 2
    assert scores["familiarity"].to_list()[:2] == [None, None]
    assert scores["label"][2] == "novel"


def test_prompt_and_response_are_scored_separately(lexical_index, reference_docs):
    (_, passage), = _windows(reference_docs, 1, seed=3)
    example = _example(0, f"Summarise this.\n{passage}", prompt="Summarise this.", response=passage)
    novel = _example(1, "Write a limerick about my cat Oskar who hates Mondays.\nOskar the cat...",
                     prompt="Write a limerick about my cat Oskar who hates Mondays.", response="Oskar the cat...")
    scores = scan_examples([example, novel], lexical_index)
    assert scores["response_familiarity"][0] > 0.99
    assert scores["prompt_familiarity"][0] < 0.5
    assert scores["label"].to_list() == ["familiar", "novel"]


def test_templated_chats_form_near_duplicate_groups(lexical_index):
    examples, _ = read_dataset(data.sample_dataset())
    chats = [e for e in examples if e.category == "sharegpt"]
    scores = scan_examples(chats, lexical_index)
    groups = scores["dup_group"]
    assert groups.n_unique() < len(chats) / 2
    # Membership is a direct match to a representative that is its own representative.
    reps = set(groups)
    assert all(scores.filter(pl.col("row") == r)["dup_group"][0] == r for r in reps)
