"""The lexical kernels (``overlap/lexical_kernels.py``) against the plain reference ``text.py``.

Tokenising and n-gram hashing are identical to ``text.py`` on the bundled corpus
and on generated Unicode text.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlap.text import kernels as lexical_kernels
from overlap.text import reference as ref
from overlap.text.batch import LexicalBatch

from helpers import bundled_texts

BUNDLED = bundled_texts()

# Letters, marks, numbers, separators, punctuation, symbols of any script, lone surrogates, and words.
_chars = st.one_of(
    st.characters(codec=None, exclude_categories=("Cs",)),
    st.sampled_from(list(" \n\t.,;-'\"ΣσςİIıßﬁ①Ⅻ\u0301\u0308\u200d\ud800\udfff")),
)
unicode_text = st.lists(
    st.one_of(st.text(alphabet=_chars, max_size=8), st.sampled_from(["a ", "the ", "Σίσυφος ", "x1 "])),
    max_size=12,
).map("".join)


def _check_lexical(texts: list[str]) -> LexicalBatch:
    batch = LexicalBatch.from_texts(texts)
    assert len(batch) == len(texts)
    for d, text in enumerate(texts):
        normalized = ref.normalize(text)
        assert batch.text_bytes(d) == ref.encode(normalized)
        lo, hi = batch.word_offsets[d], batch.word_offsets[d + 1]
        np.testing.assert_array_equal(batch.word_hashes[lo:hi], ref.word_hashes(text))
        spans = [(int(s), int(e)) for s, e in zip(batch.word_starts[lo:hi] - batch.offsets[d],
                                                   batch.word_ends[lo:hi] - batch.offsets[d])]
        assert spans == ref.word_spans(normalized)
        for n in (1, 5, 8):
            grams, offsets = batch.grams(n)
            np.testing.assert_array_equal(grams[offsets[d] : offsets[d + 1]], ref.text_ngrams(text, n))
    return batch


def test_tokenize_and_ngrams_match_reference_on_bundled_corpus():
    _check_lexical(BUNDLED)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(unicode_text, max_size=6))
def test_tokenize_and_ngrams_match_reference_on_unicode(texts):
    _check_lexical(texts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet=st.characters(max_codepoint=127), max_size=60), st.text(max_size=60)),
                max_size=8))
def test_pack_equals_the_reference_normalisation(texts):
    buf, offsets = lexical_kernels.pack(texts)
    for d, t in enumerate(texts):
        assert buf[offsets[d] : offsets[d + 1]].tobytes() == ref.encode(ref.normalize(t))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=6))
def test_serial_and_parallel_builds_of_a_kernel_agree(texts):
    buf, offsets = lexical_kernels.pack(texts)
    table = ref.word_char_table()
    tokenize = lexical_kernels._tokenize
    for got, want in zip(tokenize.serial(buf, offsets, table), tokenize.compiled(buf, offsets, table)):
        np.testing.assert_array_equal(got, want)


def test_ascii_word_bits_equal_the_word_table():
    table = ref.word_char_table()
    for byte in range(128):
        bits = int(lexical_kernels._ascii_word_bits(np.uint64(byte << 24)))
        assert bits == (0x80 << 24 if table[byte] else 0), byte


# Runs of ASCII word and separator bytes of every length around the 8 bytes the word kernel takes at once.
ascii_heavy_text = st.lists(
    st.one_of(st.text(alphabet="azAZ09m", min_size=1, max_size=20), st.text(alphabet=" .,\n-_@[`{/:", min_size=1,
                                                                               max_size=12),
              st.sampled_from(["é", "ﬁ", "Σ", "\u0301", "日本"])),
    max_size=30,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(ascii_heavy_text, max_size=6))
def test_word_kernel_matches_reference_on_ascii_runs(texts):
    buf, offsets, counts = lexical_kernels.pack_counted(texts)
    table = ref.word_char_table()
    for hashes, starts, ends, word_offsets in (lexical_kernels.tokenize(buf, offsets, counts),
                                               lexical_kernels._tokenize.serial(buf, offsets, table)):
        for d, text in enumerate(texts):
            lo, hi = word_offsets[d], word_offsets[d + 1]
            np.testing.assert_array_equal(hashes[lo:hi], ref.word_hashes(text))
            spans = list(zip((starts[lo:hi] - offsets[d]).tolist(), (ends[lo:hi] - offsets[d]).tolist()))
            assert spans == ref.word_spans(ref.normalize(text))


# Texts of characters the compiled lower-casing maps alone or expands, next to each other in any order.
_mapped = st.characters(codec=None).filter(lambda c: lexical_kernels.lower_table()[ord(c)] != -1)
mapped_text = st.lists(st.one_of(st.text(alphabet=_mapped, max_size=6),
                                 st.sampled_from(["É ", "ǅ", "Ａ", "ß ", "…", "½", "x²", "ﬁne", "①"])),
                       max_size=10).map("".join)


def _packed(texts):
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _check_normalized(texts, buf, offsets, counts):
    for d, t in enumerate(texts):
        want = ref.encode(ref.normalize(t))
        assert buf[offsets[d] : offsets[d + 1]].tobytes() == want
        assert counts[d] == len(ref.word_spans(ref.normalize(t)))


@settings(max_examples=300, deadline=None)
@given(st.lists(mapped_text, max_size=6))
def test_compiled_lowercasing_equals_nfkc_lower_where_it_applies(texts):
    """The lower table's characters and expansions, in any sequence, normalise as the reference does, compiled."""
    raw, offsets = _packed(texts)
    tables = lexical_kernels.lower_tables()
    out = np.empty_like(raw)
    flags, _ = lexical_kernels._lower_count(raw, offsets, *tables, ref.word_char_table(), out)
    assert not (flags == 1).any()  # none took the Python reference
    _check_normalized(texts, *lexical_kernels.normalize_packed(raw, offsets))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(unicode_text, ascii_heavy_text), max_size=6))
def test_normalize_packed_equals_the_reference_on_any_text(texts):
    _check_normalized(texts, *lexical_kernels.normalize_packed(*_packed(texts)))
    _check_normalized(texts, *lexical_kernels.pack_counted(texts))


def test_lower_table_sends_context_dependent_characters_to_the_reference():
    table = lexical_kernels.lower_table()
    for char in "Σİ\u0301\u0308\u1161\u11a8\ud800\u3099":
        assert table[ord(char)] == -1, char
    for char in "…½²ﬁ①Ⅻ":
        assert table[ord(char)] <= -2, char
    assert table[ord("A")] == ord("a") and table[ord("É")] == ord("é") and table[ord("ς")] == ord("ς")
    texts = ["ΣΑΣ ΟΔΟΣ", "İstanbul", "cafe\u0301", "ﬁne ①…", "x² and ½", "\u1100\u1161", "x\ud800y", "plain", "",
             "e\u0301…", "…\u0301", "½\u0308"]
    _check_normalized(texts, *lexical_kernels.pack_counted(texts))
    raw = np.frombuffer(b"ok \xff\xfe bad \xe2\x80", dtype=np.uint8)  # not UTF-8: the reference decides
    offsets = np.array([0, 3, len(raw)], dtype=np.int64)
    buf, got, _ = lexical_kernels.normalize_packed(raw, offsets,
                                                   lambda d: raw[offsets[d]:offsets[d + 1]].tobytes().decode("utf-8", "replace"))
    assert buf[got[0]:got[1]].tobytes() == b"ok "


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(unicode_text, mapped_text), max_size=8))
def test_fused_pass_equals_pack_then_tokenize(texts):
    """The one-pass kernel (a stream worker's) gives the two-pass (parallel) path's buffer, words and spans."""
    fused = lexical_kernels.pack_tokenized(texts)
    buf, offsets, counts = lexical_kernels.pack_counted(texts)
    for got, want in zip(fused, (buf, offsets, *lexical_kernels.tokenize(buf, offsets, counts))):
        np.testing.assert_array_equal(got, want)
    _check_lexical(texts)
