"""Evidence excerpts: shared five-grams marked on both sides, escaped, cut, never across a paragraph."""

from overlap.report import evidence

from helpers import HOSTILE


def test_shared_five_grams_are_marked_on_both_sides():
    example = "Tell me: The Moon is the only natural satellite of the Earth, right?"
    match = "the moon is the only natural satellite of the earth and it orbits"
    a, b = evidence.tokens(example), evidence.tokens(match)
    ma, mb = evidence.shared_marks(a, b)
    assert [t.word for t, m in zip(a, ma) if m] == "the moon is the only natural satellite of the earth".split()
    assert [t.word for t, m in zip(b, mb) if m] == "the moon is the only natural satellite of the earth".split()
    out = evidence.highlight(example, a, ma)
    assert out == "Tell me: <mark>The Moon is the only natural satellite of the Earth</mark>, right?"


def test_highlight_escapes_and_cuts_long_text():
    text = HOSTILE + " filler" * 2000 + " the end"
    out = evidence.highlight(text, limit=300)
    assert "<script" not in out and "&lt;script&gt;" in out
    assert out.endswith('<span class="cut"> …</span>') and len(out) < 700
    assert evidence.shared_marks([], evidence.tokens("a b")) == ([], [False, False])


def test_no_mark_spans_a_paragraph_break():
    text = "one two three four five\n\nsix seven eight nine ten"
    toks = evidence.tokens(text)
    out = evidence.highlight(text, toks, [True] * len(toks))
    assert out == "<mark>one two three four five</mark>\n\n<mark>six seven eight nine ten</mark>"
