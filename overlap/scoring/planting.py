"""Planted overlap of each kind, made from corpus documents: the generators of every validity check.

Familiar kinds (cut from documents an index holds):

* ``whole``    whole short documents;
* ``window``   runs of 30 to 200 words cut from long documents;
* ``edit10``   such windows with 10% of their words replaced by other corpus words;
* ``edit25``   the same with 25% replaced;
* ``wrapped``  a window inside an instruction, followed by a new answer.

The novel reference is ``heldout``: windows of documents the index never saw, of
the corpus's own style (hard negatives, not random words). Both the build's
self-calibration (``overlap.scoring.calibrate``) and ``benchmarks/validity`` draw from
here, with different seeds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PLANTED_KINDS = ("whole", "window", "edit10", "edit25", "wrapped")
HELDOUT = "heldout"
EDITS = {"edit10": 0.10, "edit25": 0.25}
WINDOW_LENGTHS = (30, 50, 80, 120, 200)
LONG_DOC_WORDS = 250  # windows come from documents at least this long, where a corpus has enough
SHORT_DOC_WORDS = (40, 400)  # the word range of documents planted whole
MIN_CANDIDATES = 10

WRAPPERS = [
    "Read the passage below and list its three main points.\n\n{}",
    "Here is some text I found:\n{}\nCan you explain it to a ten-year-old?",
    "Translate the gist of this into plain English:\n{}",
]
ANSWERS = [
    "Sure. First, it sets the scene; second, it names who is involved; third, it says what changed.",
    "In short: somebody did something important, and the passage explains why people cared about it.",
    "The passage makes one claim and backs it with two examples, ending with a caveat about scope.",
]


@dataclass(frozen=True)
class Planted:
    """One labelled text: its kind, whether the index holds its source, and prompt/response parts."""

    kind: str
    familiar: bool
    text: str
    prompt: str = ""
    response: str = ""
    source: int = -1  # position of the document it was cut from, in the list it was drawn from


def _pool(docs: list[list[str]], least: int, fallback: int) -> list[int]:
    """Documents with at least ``least`` words, or ``fallback`` words where too few are that long."""
    long_docs = [i for i, d in enumerate(docs) if len(d) >= least]
    return long_docs if len(long_docs) >= MIN_CANDIDATES else [i for i, d in enumerate(docs) if len(d) >= fallback]


def window(rng: random.Random, docs: list[list[str]], pool: list[int], i: int) -> tuple[int, list[str]]:
    """A random document of ``pool`` and a run of its words (at most all of them), the ``i``-th
    item of a kind: lengths cycle through ``WINDOW_LENGTHS`` so every sample has each in equal
    share (a 30-word edited window keeps few 8-grams; its share must not vary by draw)."""
    source = rng.choice(pool)
    words = docs[source]
    length = min(WINDOW_LENGTHS[i % len(WINDOW_LENGTHS)], len(words))
    start = rng.randrange(0, len(words) - length + 1)
    return source, words[start : start + length]


def edit(rng: random.Random, words: list[str], share: float, vocabulary: list[str]) -> list[str]:
    """``words`` with ``share`` of them (at least one) replaced by random vocabulary words."""
    out = list(words)
    for i in rng.sample(range(len(out)), max(1, round(share * len(out)))):
        out[i] = rng.choice(vocabulary)
    return out


def vocabulary(docs: list[list[str]], limit: int = 200) -> list[str]:
    """Alphabetic words of the first ``limit`` documents, sorted: the replacement words of edits."""
    return sorted({w for d in docs[:limit] for w in d if w.isalpha()})


def plant(indexed: list[str], per_kind: int, seed: int) -> list[Planted]:
    """``per_kind`` planted texts of every familiar kind, cut from ``indexed`` documents."""
    rng = random.Random(seed)
    words = [t.split() for t in indexed]
    pool = _pool(words, LONG_DOC_WORDS, WINDOW_LENGTHS[0])
    if not pool:
        raise ValueError("no indexed document has enough words to plant copies of")
    lo, hi = SHORT_DOC_WORDS
    short = [i for i, w in enumerate(words) if lo <= len(w) <= hi]
    if len(short) < MIN_CANDIDATES:
        short = [i for i, w in enumerate(words) if len(w) >= 8]
    vocab = vocabulary(words)
    items = [Planted("whole", True, indexed[i], source=i) for i in rng.sample(short, min(per_kind, len(short)))]
    for i in range(per_kind):
        source, cut = window(rng, words, pool, i)
        items.append(Planted("window", True, " ".join(cut), source=source))
    for kind, share in EDITS.items():
        for i in range(per_kind):
            source, cut = window(rng, words, pool, i)
            items.append(Planted(kind, True, " ".join(edit(rng, cut, share, vocab)), source=source))
    for i in range(per_kind):
        source, cut = window(rng, words, pool, i)
        prompt = WRAPPERS[i % len(WRAPPERS)].format(" ".join(cut))
        response = ANSWERS[i % len(ANSWERS)]
        items.append(Planted("wrapped", True, f"{prompt}\n{response}", prompt, response, source))
    return items


def heldout_windows(heldout: list[str], n: int, seed: int) -> list[Planted]:
    """``n`` windows of held-out documents, cut like the planted windows (the novel reference)."""
    rng = random.Random(seed)
    words = [t.split() for t in heldout]
    pool = _pool(words, 150, 8)
    if not pool:
        return []
    items = []
    for i in range(n):
        source, cut = window(rng, words, pool, i)
        items.append(Planted(HELDOUT, False, " ".join(cut), source=source))
    return items
