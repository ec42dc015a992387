"""Evidence shown beside an example: the words it shares with a corpus match, highlighted.

A word of the example is marked when it is part of a word 5-gram that also
occurs in the matched corpus text (fewer than 5 words when either side is that
short), and the same for the words of the match. Words are split as in
:mod:`overlap.text.reference` (runs of letters, numbers and marks) and compared after
normalisation, but the marks are placed on the original text so a person reads
what the dataset really says. Everything is HTML-escaped: the data is untrusted.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from overlap.text import reference as ref

SHARED_N = 5
MAX_CHARS = 2400  # longest stretch of one text shown; longer ones are cut around the first mark


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    word: str


def tokens(text: str) -> list[Token]:
    """Words of ``text`` with their character spans in ``text`` itself, normalised for comparison."""
    out: list[Token] = []
    start = -1
    for i, char in enumerate(text):
        if ref.is_word_char(char):
            if start < 0:
                start = i
        elif start >= 0:
            out.append(Token(start, i, ref.normalize(text[start:i])))
            start = -1
    if start >= 0:
        out.append(Token(start, len(text), ref.normalize(text[start:])))
    return out


def _grams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def shared_marks(a: list[Token], b: list[Token], n: int = SHARED_N) -> tuple[list[bool], list[bool]]:
    """For each word of ``a`` and of ``b``: is it inside an n-gram the two share?"""
    marks_a, marks_b = [False] * len(a), [False] * len(b)
    if not a or not b:
        return marks_a, marks_b
    n = max(1, min(n, len(a), len(b)))
    wa, wb = [t.word for t in a], [t.word for t in b]
    common = _grams(wa, n) & _grams(wb, n)
    if not common:
        return marks_a, marks_b
    for words, marks in ((wa, marks_a), (wb, marks_b)):
        for i in range(len(words) - n + 1):
            if tuple(words[i : i + n]) in common:
                for j in range(i, i + n):
                    marks[j] = True
    return marks_a, marks_b


def union_marks(text_tokens: list[Token], others: list[list[Token]]) -> list[bool]:
    """Marks of ``text_tokens`` against several matches at once (a word shared with any)."""
    marks = [False] * len(text_tokens)
    for other in others:
        mine, _ = shared_marks(text_tokens, other)
        marks = [x or y for x, y in zip(marks, mine)]
    return marks


def _window(text: str, toks: list[Token], marks: list[bool], limit: int) -> tuple[int, int]:
    if len(text) <= limit:
        return 0, len(text)
    first = next((t.start for t, m in zip(toks, marks) if m), 0)
    start = max(0, first - limit // 6)
    end = min(len(text), start + limit)
    start = max(0, end - limit)
    # snap to whitespace so no word is cut in half
    if start > 0:
        space = text.find(" ", start, start + 40)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", end - 40, end)
        end = space if space > start else end
    return start, end


def highlight(text: str, toks: list[Token] | None = None, marks: list[bool] | None = None,
              limit: int = MAX_CHARS) -> str:
    """``text`` as escaped HTML with marked words (and the gaps between consecutive marked words) in <mark>.

    A text longer than ``limit`` characters is cut to a window starting a little
    before its first mark, with an ellipsis on each cut side.
    """
    if toks is None:
        toks = tokens(text)
    if marks is None:
        marks = [False] * len(toks)
    lo, hi = _window(text, toks, marks, limit)
    parts: list[str] = []
    if lo > 0:
        parts.append('<span class="cut">… </span>')
    pos = lo
    open_run = False
    for i, (tok, marked) in enumerate(zip(toks, marks)):
        if tok.end <= lo or tok.start >= hi:
            continue
        start, end = max(tok.start, lo), min(tok.end, hi)
        gap = html.escape(text[pos:start])
        if marked and open_run and "\n" in gap:
            parts.append("</mark>" + gap + "<mark>")  # no highlighted blank lines between paragraphs
        elif marked and open_run:
            parts.append(gap)
        elif marked:
            parts.append(gap + "<mark>")
            open_run = True
        else:
            if open_run:
                parts.append("</mark>")
                open_run = False
            parts.append(gap)
        parts.append(html.escape(text[start:end]))
        pos = end
        # close a run before a gap that leads to an unmarked word (or the end)
        nxt = i + 1
        if open_run and (nxt >= len(marks) or not marks[nxt] or toks[nxt].start >= hi):
            parts.append("</mark>")
            open_run = False
    if open_run:
        parts.append("</mark>")
    parts.append(html.escape(text[pos:hi]))
    if hi < len(text):
        parts.append('<span class="cut"> …</span>')
    return "".join(parts)


def marked_share(marks: list[bool]) -> float:
    """Share of words that are marked (0 for no words)."""
    return sum(marks) / len(marks) if marks else 0.0
