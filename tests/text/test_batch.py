"""A batch of texts tokenised once (``overlap/lexical.py``): ``take`` equals tokenising the chosen texts again."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap.text.batch import LexicalBatch

FIELDS = ("buf", "offsets", "word_hashes", "word_starts", "word_ends", "word_offsets")
words = st.lists(st.sampled_from(["a", "the", "Σίσυφος", "naïve", "x1", "", " ", "\n", "日本語", "don't", "--"]),
                 max_size=12).map(" ".join)


@settings(max_examples=80, deadline=None)
@given(st.lists(words, min_size=1, max_size=8), st.data())
def test_take_equals_tokenising_the_chosen_texts(texts, data):
    rows = data.draw(st.lists(st.integers(0, len(texts) - 1), max_size=12))
    batch = LexicalBatch.from_texts(texts)
    taken = batch.take(np.array(rows, dtype=np.int64))
    again = LexicalBatch.from_texts([texts[r] for r in rows])
    for name in FIELDS:
        got, want = getattr(taken, name), getattr(again, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    assert np.array_equal(taken.grams(2)[0], again.grams(2)[0])


def test_word_counts_and_spans_of_a_real_sentence():
    batch = LexicalBatch.from_texts(["Hello, wörld! Hello again.", ""])
    assert batch.word_counts().tolist() == [4, 0]
    start, end, text = batch.span_text(0, 1, 3)
    assert text == batch.text_bytes(0)[start:end].decode("utf-8") and text.startswith("w")


def test_what_is_derived_from_a_batch_is_computed_once_per_key():
    batch = LexicalBatch.from_texts(["the cat sat on the mat", "a dog"])
    calls = []

    def make(tag, of):
        calls.append(tag)
        return [tag, int(of.word_counts().sum())]

    first = batch.derived(("chunks", 128), lambda: make("a", batch))
    assert batch.derived(("chunks", 128), lambda: make("b", batch)) is first
    assert batch.derived(("chunks", 64), lambda: make("c", batch)) == ["c", 8]
    other = LexicalBatch.from_texts(["a dog"])
    assert other.derived(("chunks", 128), lambda: make("d", other)) == ["d", 2]  # kept per batch, not shared
    assert calls == ["a", "c", "d"]
