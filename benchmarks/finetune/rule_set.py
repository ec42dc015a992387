"""Set 1 of the minority benchmark: an invented rule as a minority among restated reference text.

The rule ("velk"): the prompt lists 3-5 words; the answer is the words in reverse order joined by
hyphens, followed by `` vel``. No base model can know the name or the format, the answer is
deterministic, and held-out instances (new word lists) test whether the rule, not the examples,
was learned. The familiar rest restates passages of the bundled reference corpus (the stand-in for
pretraining data): the prompt gives a passage's opening words, the answer continues it verbatim.

Everything is a pure function of its arguments; ``true_label`` records how a row was made and is
used only by the oracle method: the benchmark's own labels come from ``overlap scan``.
"""
from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from overlap.io import bundled as data

ROOT = Path(__file__).resolve().parent.parent.parent
RULE_PROMPTS = (
    "Velk-encode these words: {}",
    "Apply the velk rule to: {}",
    "What is the velk form of {}?",
    "Convert to velk: {}",
)
PROMPT_WORDS = 8  # passage words given in a familiar prompt
ANSWER_WORDS = 12  # passage words the familiar answer continues with


@dataclass(frozen=True)
class Example:
    """One prompt/answer pair with how it was made (``"novel"`` rule or ``"familiar"`` passage).

    ``content``: the character spans of the response that carry the instance's content (the rule's
    words, a fact's answer); the rest of the response and the end of sequence are format. ``None``:
    the whole response is content (a passage).
    """

    id: str
    prompt: str
    response: str
    true_label: str
    content: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True)
class RuleSet:
    """A training set at one novel share and the evaluation groups shared by every share."""

    train: list[Example]
    heldout_novel: list[Example]
    heldout_familiar: list[Example]
    general: list[str]


def velk(words: list[str]) -> str:
    """The rule's answer for a word list: reversed, hyphen-joined, then `` vel``."""
    return "-".join(reversed(words)) + " vel"


def word_spans(answer: str) -> tuple[tuple[int, int], ...]:
    """The rule answer's content: the words (hyphens, `` vel`` and the end of sequence are format)."""
    return tuple(m.span() for m in re.finditer(r"[a-z]+", answer[:-len(" vel")]))


def heldout_sources() -> list[Path]:
    """The general-text files no fine-tune trains on (forgetting)."""
    return sorted((ROOT / "corpora/heldout").glob("*.jsonl.gz"))


@lru_cache(maxsize=4)
def _texts(files: tuple[Path, ...]) -> list[str]:
    out = []
    for f in files:
        with gzip.open(f, "rt") as fh:
            out += [json.loads(line).get("text", "") for line in fh]
    return out


@lru_cache(maxsize=1)
def vocabulary(size: int = 600) -> list[str]:
    """The ``size`` most frequent plain lowercase words of 4-8 letters in the reference corpus."""
    counts = Counter(w for t in _texts(tuple(data.reference_sources())) for w in re.findall(r"\b[a-z]{4,8}\b", t))
    return sorted(w for w, _ in counts.most_common(size))


def rule_examples(n: int, seed: int, vocab: list[str], prefix: str) -> list[Example]:
    """``n`` distinct rule instances drawn with ``seed`` (prompt template and words vary)."""
    rng = random.Random(seed)
    seen: set[tuple[str, ...]] = set()
    out = []
    while len(out) < n:
        words = tuple(rng.sample(vocab, rng.randint(3, 5)))
        if words in seen:
            continue
        seen.add(words)
        prompt = rng.choice(RULE_PROMPTS).format(" ".join(words))
        answer = velk(list(words))
        out.append(Example(f"{prefix}/{len(out):04d}", prompt, answer, "novel", word_spans(answer)))
    return out


def passages(files: list[Path], n: int, seed: int, words: int) -> list[str]:
    """``n`` passages of ``words`` words, each a document's opening, shuffled with ``seed``."""
    found = [" ".join(t.split()[:words]) for t in _texts(tuple(files)) if len(t.split()) >= words + 5]
    random.Random(seed).shuffle(found)
    if len(found) < n:
        raise ValueError(f"only {len(found)} passages of {words} words, {n} asked")
    return found[:n]


def familiar_examples(texts: list[str], prefix: str) -> list[Example]:
    """Passages restated as continue-the-passage pairs."""
    out = []
    for i, t in enumerate(texts):
        w = t.split()
        out.append(Example(f"{prefix}/{i:04d}", "Continue the passage: " + " ".join(w[:PROMPT_WORDS]),
                           " ".join(w[PROMPT_WORDS:PROMPT_WORDS + ANSWER_WORDS]), "familiar"))
    return out


def build(share: float, n_train: int, n_eval: int, n_general: int, draw: int = 0) -> RuleSet:
    """The training set with ``round(share * n_train)`` rule rows, and the evaluation groups.

    Rule rows of a smaller share are a prefix of a larger share's, familiar rows likewise, and the
    held-out groups do not depend on the share, so the curve over shares compares like with like.
    ``draw`` picks the word lists, the passages and the shuffle (0: the set the first runs used);
    the benchmark's ``--fresh-draw`` uses one draw per seed.
    """
    s = (0, 1, 2) if draw == 0 else (100 + draw, 200 + draw, 300 + draw)
    n_novel = round(share * n_train)
    vocab = vocabulary()
    words = PROMPT_WORDS + ANSWER_WORDS
    pool = familiar_examples(passages(data.reference_sources(), n_train + n_eval, s[0], words), "fam")
    novel_pool = rule_examples(n_train + n_eval, s[1], vocab, "velk")
    trained = {e.response for e in novel_pool[:n_train]}
    heldout_novel = [e for e in novel_pool[n_train:] if e.response not in trained][:n_eval]
    rng = random.Random(s[2])
    train = novel_pool[:n_novel] + pool[:n_train - n_novel]
    rng.shuffle(train)
    general = passages(heldout_sources(), n_general, 7, words)
    return RuleSet(train, heldout_novel, pool[n_train:n_train + n_eval], general)
