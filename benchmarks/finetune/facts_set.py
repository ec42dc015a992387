"""Set 2 of the minority benchmark: invented facts as a minority, with facts the base model knows.

Novel rows are **invented facts** no model can know: invented entities (syllable names drawn with a
seed) with invented answers, one question per fact, e.g. "Q: Which city is home to the Dravel
Institute?" -> "A: Kelmora". Held-out novel questions ask the *same* trained facts in another
wording ("Where is the Dravel Institute located?"), so they test whether the fact was learned, not
the string.

Familiar rows are, as in set 1, continuations of bundled reference-corpus passages, plus a minority
(``known_share`` of the set) of **known facts**: common-knowledge questions the base model answers
right *before* training, decided by its own greedy answers as SliCK does (Gekhman et al. 2024): a
2-shot prompt, every answer token the greedy choice. Known facts never trained are held out, and
``known_exact`` (their exact-match rate after training) is the cost Gekhman et al. measure:
fine-tuning on unknown facts can make a model wrong on what it knew.

Answers are ``"A: " + answer``: ``A:`` and the end of sequence are format tokens, the answer
content (``Example.content`` holds its character span). ``true_label`` (novel = invented fact)
is used only by the oracle; the benchmark's own labels come from ``overlap scan``.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import rule_set
from rule_set import Example

FEW_SHOT = "Q: What is the capital of Portugal?\nA: Lisbon\n\nQ: What is the largest planet?\nA: Jupiter\n\n"

# relation: (trained wording, held-out wording, entity suffix, answer kind)
RELATIONS = (
    ("Which city is home to the {} Institute?", "Where is the {} Institute located?", "city"),
    ("Who founded the company {}?", "The company {} was founded by whom?", "person"),
    ("What is the national dish of {}?", "Which dish is {} known for?", "dish"),
    ("Which river flows through the town of {}?", "What river runs through {}?", "river"),
    ("What is the name of the ship {} sailed on?", "On which ship did {} sail?", "ship"),
)
_ONSETS = ("b", "br", "d", "dr", "f", "g", "gl", "k", "kl", "l", "m", "n", "p", "pr", "q", "r", "s", "st", "t",
           "tr", "v", "z", "th", "sh")
_VOWELS = ("a", "e", "i", "o", "u", "ae", "ou")
_CODAS = ("", "", "l", "n", "r", "s", "th", "m", "x", "nd")

CAPITALS = (
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Japan", "Tokyo"),
    ("Russia", "Moscow"), ("England", "London"), ("Egypt", "Cairo"), ("China", "Beijing"), ("Greece", "Athens"),
    ("Canada", "Ottawa"), ("Australia", "Canberra"), ("Peru", "Lima"), ("Kenya", "Nairobi"), ("Norway", "Oslo"),
    ("Poland", "Warsaw"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("Denmark", "Copenhagen"),
    ("Austria", "Vienna"), ("Hungary", "Budapest"), ("Ireland", "Dublin"), ("Belgium", "Brussels"),
    ("Netherlands", "Amsterdam"), ("Thailand", "Bangkok"), ("Vietnam", "Hanoi"), ("Indonesia", "Jakarta"),
    ("Argentina", "Buenos Aires"), ("Chile", "Santiago"), ("Colombia", "Bogota"), ("Cuba", "Havana"),
    ("Mexico", "Mexico City"), ("Iran", "Tehran"), ("Iraq", "Baghdad"), ("Syria", "Damascus"),
    ("Lebanon", "Beirut"), ("Turkey", "Ankara"), ("Ukraine", "Kyiv"), ("Portugal", "Lisbon"),
    ("Czech Republic", "Prague"), ("Romania", "Bucharest"), ("Bulgaria", "Sofia"), ("Serbia", "Belgrade"),
    ("South Korea", "Seoul"), ("Philippines", "Manila"), ("Afghanistan", "Kabul"), ("Pakistan", "Islamabad"),
    ("India", "New Delhi"), ("Nepal", "Kathmandu"), ("Ethiopia", "Addis Ababa"), ("Nigeria", "Abuja"),
    ("Ghana", "Accra"), ("Morocco", "Rabat"), ("Venezuela", "Caracas"), ("Iceland", "Reykjavik"),
    ("Scotland", "Edinburgh"), ("Wales", "Cardiff"), ("Switzerland", "Bern"), ("Saudi Arabia", "Riyadh"),
    ("Israel", "Jerusalem"), ("Jordan", "Amman"), ("Malaysia", "Kuala Lumpur"), ("Singapore", "Singapore"),
)
OPPOSITES = (
    ("hot", "cold"), ("up", "down"), ("big", "small"), ("fast", "slow"), ("old", "young"), ("happy", "sad"),
    ("light", "dark"), ("open", "closed"), ("early", "late"), ("rich", "poor"), ("strong", "weak"),
    ("wet", "dry"), ("hard", "soft"), ("full", "empty"), ("loud", "quiet"), ("high", "low"), ("left", "right"),
    ("true", "false"), ("win", "lose"), ("day", "night"), ("black", "white"), ("in", "out"), ("good", "bad"),
    ("thick", "thin"), ("long", "short"), ("push", "pull"), ("begin", "end"), ("buy", "sell"),
)
COLOURS = (
    ("grass", "green"), ("the sky on a clear day", "blue"), ("snow", "white"), ("coal", "black"),
    ("a ripe banana", "yellow"), ("blood", "red"), ("a ripe tomato", "red"), ("milk", "white"),
    ("an orange", "orange"), ("a lemon", "yellow"), ("chocolate", "brown"), ("a carrot", "orange"),
)


def _name(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                   for _ in range(syllables)).capitalize()


def _answer(rng: random.Random, kind: str) -> str:
    if kind == "person":
        return f"{_name(rng, 2)} {_name(rng, 2)}"
    return _name(rng, rng.randint(2, 3))


def _qa(question: str, answer: str, ident: str, label: str) -> Example:
    response = "A: " + answer
    return Example(ident, "Q: " + question, response, label, ((3, len(response)),))


def invented_facts(n: int, seed: int) -> list[tuple[Example, Example]]:
    """``n`` distinct invented facts: (trained question, held-out rewording of the same fact)."""
    rng = random.Random(seed)
    seen, out = set(), []
    while len(out) < n:
        trained, heldout, kind = RELATIONS[len(out) % len(RELATIONS)]
        entity = _name(rng, rng.randint(2, 3))
        if entity.lower() in seen:
            continue
        seen.add(entity.lower())
        answer = _answer(rng, kind)
        i = len(out)
        out.append((_qa(trained.format(entity), answer, f"fact/{i:04d}", "novel"),
                    _qa(heldout.format(entity), answer, f"fact-heldout/{i:04d}", "novel")))
    return out


def known_candidates() -> list[Example]:
    """Common-knowledge questions; which of them the base model knows is decided by ``known``."""
    out = [_qa(f"What is the capital of {c}?", a, f"known/cap/{i:03d}", "familiar") for i, (c, a) in enumerate(CAPITALS)]
    out += [_qa(f"What is the opposite of {w}?", a, f"known/opp/{i:03d}", "familiar") for i, (w, a) in enumerate(OPPOSITES)]
    out += [_qa(f"What colour is {t}?", a, f"known/col/{i:03d}", "familiar") for i, (t, a) in enumerate(COLOURS)]
    return out


@dataclass(frozen=True)
class FactsSet(rule_set.RuleSet):
    """A rule_set.RuleSet plus the held-out known facts (``known``) and how many candidates were known."""

    known: list[Example] = ()
    n_known_candidates: int = 0


def build(share: float, n_train: int, n_eval: int, n_general: int, known: Callable[[list[Example]], list[bool]],
          known_share: float = 0.1, draw: int = 0) -> FactsSet:
    """The training set: ``round(share * n_train)`` invented facts, ``round(known_share * n_train)`` known
    facts, reference passages for the rest; held out: rewordings of the trained invented facts (at most
    ``n_eval``), up to ``n_eval`` known facts never trained, ``n_eval`` passages, ``n_general`` texts.

    ``known(examples)`` says which candidates the base model answers right before training (the
    benchmark passes the base model's 2-shot greedy check). ``draw`` picks the facts, the known facts'
    split and the passages: one fresh draw per seed.
    """
    n_novel = round(share * n_train)
    rng = random.Random(10_000 + draw)
    facts = invented_facts(n_novel, 20_000 + draw)
    cands = known_candidates()
    mask = known(cands)
    known_pool = [e for e, k in zip(cands, mask) if k]
    rng.shuffle(known_pool)
    n_known = min(round(known_share * n_train), len(known_pool) // 2)
    words = rule_set.PROMPT_WORDS + rule_set.ANSWER_WORDS
    n_fam = n_train - n_novel - n_known
    pool = rule_set.familiar_examples(rule_set.passages(rule_set.data.reference_sources(), n_fam + n_eval,
                                                        30_000 + draw, words), "fam")
    train = [f for f, _ in facts] + known_pool[:n_known] + pool[:n_fam]
    rng.shuffle(train)
    general = rule_set.passages(rule_set.heldout_sources(), n_general, 7, words)
    return FactsSet(train, [h for _, h in facts][:n_eval], pool[n_fam:n_fam + n_eval], general,
                    known_pool[n_known:n_known + n_eval], len(cands))
