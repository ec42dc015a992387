"""The plain reference of the lexical definition: words, FNV-1a + splitmix64 hashes, n-grams, by hand."""

import hashlib

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from overlap.text import reference as ref

MASK = (1 << 64) - 1


def _fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def test_words_are_normalised_lowercase_runs():
    assert ref.words("Hello, World!  It's 42°C.") == ["hello", "world", "it", "s", "42", "c"]
    assert ref.canonical("  Ｆｕｌｌ-width\tTEXT ") == "full width text"
    assert ref.words("") == [] and ref.words(" ,.;") == []


def test_word_hash_is_fnv1a_then_splitmix64():
    assert ref.mix64(0) == 0
    # splitmix64 finaliser of 1, computed with the published constants
    x = 1
    x ^= x >> 30; x = (x * 0xBF58476D1CE4E5B9) & MASK; x ^= x >> 27; x = (x * 0x94D049BB133111EB) & MASK; x ^= x >> 31
    assert ref.mix64(1) == x
    assert _fnv1a(b"a") == 0xAF63DC4C8601EC8C  # FNV-1a 64 test vector
    for word in (b"", b"a", "déjà".encode()):
        assert ref.word_hash(word) == ref.mix64(_fnv1a(word))


@given(st.sets(st.integers(0, MASK), max_size=200))
def test_mix64_is_injective_on_samples(values):
    assert len({ref.mix64(v) for v in values}) == len(values)


@given(st.lists(st.sampled_from(["alpha", "beta", "Gamma", "δέλτα", "x1"]), max_size=12), st.integers(1, 6))
def test_ngrams_by_definition(words, n):
    text = " ".join(words)
    hashes = ref.word_hashes(text)
    assert hashes.tolist() == [ref.word_hash(w.lower().encode()) for w in words]
    grams = ref.text_ngrams(text, n)
    k = len(words)
    if k == 0:
        assert len(grams) == 0
    elif k < n:
        assert grams.tolist() == [ref.combine(hashes.tolist())]
    else:
        assert grams.tolist() == [ref.combine(hashes[i:i + n].tolist()) for i in range(k - n + 1)]
    assert grams.dtype == np.uint64


def test_combine_depends_on_order_and_length():
    a, b = ref.word_hash(b"a"), ref.word_hash(b"b")
    assert len({ref.combine([a, b]), ref.combine([b, a]), ref.combine([a]), ref.combine([a, b, 0])}) == 4
    assert hashlib.sha256(ref.LEXICAL_VERSION.encode()).hexdigest()  # the version names the definition
    assert "fnv1a64" in ref.LEXICAL_VERSION and "splitmix64" in ref.LEXICAL_VERSION
