"""Near-duplicate groups inside a dataset: direct matches to a representative, no chains."""

from __future__ import annotations

from overlap.signals.minhash import dedup
from overlap.text.batch import LexicalBatch
from overlap.signals.minhash import index as minhash

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


def _plain_groups(texts: list[str]) -> list[int]:
    """The grouping rule one text and one band at a time in Python (the compiled kernel must agree)."""
    from overlap.signals.minhash import kernels as minhash_kernels

    batch = LexicalBatch.from_texts(texts)
    groups = list(range(len(texts)))
    sigs, owner = minhash.query_signatures(batch, PARAMS)
    bands = minhash_kernels.band_hashes(sigs, PARAMS["bands"], PARAMS["rows"])
    buckets: dict[tuple[int, int], list[int]] = {}
    for i in range(len(sigs)):
        best, best_score = -1, 0.5
        for j in range(bands.shape[0]):
            for rep in buckets.get((j, int(bands[j, i])), ()):
                score = float((sigs[rep] == sigs[i]).mean())
                if score >= best_score and (best < 0 or score > best_score or rep < best):
                    best, best_score = rep, score
        if best >= 0:
            groups[owner[i]] = int(owner[best])
        else:
            for j in range(bands.shape[0]):
                buckets.setdefault((j, int(bands[j, i])), []).append(i)
    return groups


def test_compiled_grouping_equals_the_plain_rule_on_edited_copies():
    import numpy as np

    rng = np.random.default_rng(3)
    words = BASE.split()
    texts = []
    for _ in range(300):
        start = int(rng.integers(0, 30))
        piece = words[start : start + int(rng.integers(3, 40))]
        piece = [w if rng.random() > 0.1 else f"x{int(rng.integers(5))}" for w in piece]
        texts.append(" ".join(piece))
    texts += ["", "one", "one"]
    groups = dedup.duplicate_groups(LexicalBatch.from_texts(texts), PARAMS).tolist()
    assert groups == _plain_groups(texts)
    assert len(set(groups)) < len(texts) - 50  # many texts joined a group: the test exercises the rule
