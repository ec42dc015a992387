"""Near-duplicate groups inside a dataset: direct matches to a representative, no chains."""

from __future__ import annotations

from overlap import dedup
from overlap.lexical import LexicalBatch
from overlap.signals import minhash

PARAMS = {**minhash.default_params(), "ngram_n": 8}

BASE = (
    "the committee met on tuesday to review the annual budget for the regional library system and "
    "agreed to extend opening hours at the three largest branches starting next spring while a new "
    "reading room for children will open in the old town hall once the roof repairs are finished and "
    "the heating has been replaced before the first frost of the coming winter according to the "
    "treasurer who presented the figures"
)


def _edit(text: str, positions: list[int]) -> str:
    words = text.split()
    for p in positions:
        words[p] = f"changed{p}"
    return " ".join(words)


def test_copies_join_the_first_occurrence_and_unrelated_texts_stay_alone():
    texts = [
        BASE,
        "an unrelated sentence about volcanic islands forming over hot spots in the pacific ocean floor",
        BASE,
        _edit(BASE, [30]),
        "yet another text entirely, concerning the rules of chess openings and their long names",
    ]
    groups = dedup.duplicate_groups(LexicalBatch.from_texts(texts), PARAMS)
    assert groups.tolist() == [0, 1, 0, 0, 4]


def test_no_transitive_chains():
    """Overlapping windows a~b and b~c with a!~c: c is not glued to a through b."""
    words = BASE.split()
    a, b, c = (" ".join(words[i : i + 40]) for i in (0, 10, 20))
    batch = LexicalBatch.from_texts([a, b, c])
    sigs, _ = minhash.query_signatures(batch, PARAMS)
    assert (sigs[0] == sigs[1]).mean() >= 0.5 and (sigs[1] == sigs[2]).mean() >= 0.5
    assert (sigs[0] == sigs[2]).mean() < 0.5
    assert dedup.duplicate_groups(batch, PARAMS).tolist() == [0, 0, 2]


def test_empty_texts_do_not_share_a_group():
    groups = dedup.duplicate_groups(LexicalBatch.from_texts(["", "   ", BASE, ""]), PARAMS)
    assert groups.tolist() == [0, 1, 2, 3]
