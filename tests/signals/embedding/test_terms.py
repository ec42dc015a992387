"""Term similarity: unit IDF vectors of word pieces and their best cosine, against a plain reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap.signals.embedding import terms

from helpers import bundled_texts


def plain_vector(text: str) -> dict[int, float]:
    """The same vector by hand: counts per piece, (1 + ln tf) * idf, unit length, rounded to float16."""
    ids = terms._tokenizer().encode(text, add_special_tokens=False).ids
    weights = terms.idf()
    counts: dict[int, int] = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    raw = {i: (1 + np.log(c)) * float(weights[i]) for i, c in counts.items() if weights[i] > 0}
    norm = np.sqrt(sum(v * v for v in raw.values()))
    return {i: float(np.float16(v / norm)) for i, v in raw.items()} if norm > 0 else {}


def test_vectors_match_a_plain_reference_on_real_text():
    texts = [t.lower() for t in bundled_texts(per_file=4, max_chars=1500)]
    matrix = terms.vectors(texts)
    for row, text in enumerate(texts):
        got = {int(i): float(v) for i, v in zip(matrix[row].indices, matrix[row].data)}
        want = plain_vector(text)
        assert got.keys() == want.keys()
        assert max(abs(got[i] - want[i]) for i in want) < 1e-3
        assert np.linalg.norm(matrix[row].data) == pytest.approx(1.0, abs=2e-3)


def test_stopwords_weigh_nothing_and_rare_terms_weigh_most():
    weights = terms.idf()
    vocab = terms._tokenizer().get_vocab()
    assert weights[vocab["the"]] == 0 and weights[vocab["of"]] == 0
    assert weights[vocab["volcano"]] > weights[vocab["option"]] > 0


def test_text_with_only_stopwords_or_no_words_is_a_zero_row():
    matrix = terms.vectors(["the of and", ""])
    assert matrix.nnz == 0 and matrix.shape[0] == 2
    assert terms.best_cosine(matrix, terms.vectors(["the grep of sed"])).tolist() == [0.0, 0.0]


def test_best_cosine_equals_dense_reference_in_any_block_size(monkeypatch):
    texts = [t.lower() for t in bundled_texts(per_file=6, max_chars=1200)]
    queries, chunks = terms.vectors(texts[::3]), terms.vectors(texts)
    want = np.clip((queries.toarray() @ chunks.toarray().T).max(axis=1), 0, 1)
    whole = terms.best_cosine(queries, chunks)
    np.testing.assert_allclose(whole, want, atol=1e-5)
    assert whole.max() == pytest.approx(1.0, abs=1e-3)  # every query is one of the chunks
    monkeypatch.setattr(terms, "PRODUCT_CELLS", queries.shape[0] * 5)
    np.testing.assert_array_equal(terms.best_cosine(queries, chunks), whole)


def test_stored_arrays_give_back_the_same_matrix():
    matrix = terms.vectors([t.lower() for t in bundled_texts(per_file=2, max_chars=800)])
    again = terms.from_arrays(*terms.to_arrays(matrix).values())
    assert (again != matrix).nnz == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["grep", "pattern", "lines", "matching", "regex", "the", "file", "sed"]),
                min_size=1, max_size=30), st.randoms())
def test_word_order_does_not_change_the_value(words, rng):
    shuffled = list(words)
    rng.shuffle(shuffled)
    a, b = terms.vectors([" ".join(words)]), terms.vectors([" ".join(shuffled)])
    assert (a != b).nnz == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 11), min_size=0, max_size=20))
def test_pieces_taken_by_row_are_the_pieces_of_those_texts(rows):
    texts = bundled_texts(per_file=3, max_chars=400) + ["", "naïve Σίσυφος 日本語"]
    taken = terms.pieces(texts).take(np.asarray(rows, dtype=np.int64))
    again = terms.pieces([texts[r] for r in rows])
    assert np.array_equal(taken.ids, again.ids) and np.array_equal(taken.offsets, again.offsets)


def test_vectors_from_pieces_cut_beforehand_are_the_same():
    texts = bundled_texts(per_file=4, max_chars=1500) + [""]
    assert (terms.vectors(texts) != terms.vectors(texts, terms.pieces(texts))).nnz == 0
