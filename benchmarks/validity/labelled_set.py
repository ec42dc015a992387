"""A labelled benchmark set built from the bundled real text, with planted overlap of each kind.

Familiar kinds (the index holds their source):

* ``whole``      whole short corpus documents (news articles, language-reference topics);
* ``window``     runs of 30 to 200 words cut from long corpus documents;
* ``edit10``     such windows with 10% of their words replaced by other corpus words;
* ``edit25``     the same with 25% replaced;
* ``wrapped``    a corpus window inside an instruction, followed by a new answer;
* ``paraphrase`` the Python FAQ's question/answer pairs (the docs say the same in other words).

Novel kinds (the index never saw them):

* ``heldout``    windows of held-out Wikipedia articles, Python doc pages and news articles:
                 the same style as the corpus, so hard negatives, not random words;
* ``novel_chat`` MT-bench questions and ShareGPT chats: fine-tuning style, new content.

Every kind is drawn with a fixed seed, so the set is the same on every machine.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

from overlap import data
from overlap.io import Example, read_dataset

FAMILIAR_KINDS = ("whole", "window", "edit10", "edit25", "wrapped", "paraphrase")
NOVEL_KINDS = ("heldout", "novel_chat")

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
class Item:
    kind: str
    familiar: bool
    example: Example


def _docs(folder: str) -> list[dict]:
    docs = []
    for path in sorted((data.corpora_dir() / folder).glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            docs += [json.loads(line) for line in handle]
    return docs


def _window(rng: random.Random, docs: list[list[str]], min_words: int = 250) -> list[str]:
    words = rng.choice([d for d in docs if len(d) >= min_words])
    length = min(rng.choice([30, 50, 80, 120, 200]), len(words))
    start = rng.randrange(0, len(words) - length + 1)
    return words[start : start + length]


def _edit(rng: random.Random, words: list[str], share: float, vocabulary: list[str]) -> list[str]:
    out = list(words)
    for i in rng.sample(range(len(out)), max(1, round(share * len(out)))):
        out[i] = rng.choice(vocabulary)
    return out


def build(per_kind: int = 60, seed: int = 0) -> list[Item]:
    """The labelled set: ``per_kind`` items of each kind (all FAQ pairs for ``paraphrase``)."""
    rng = random.Random(seed)
    reference = _docs("reference")
    heldout = [d["text"].split() for d in _docs("heldout")]
    reference_words = [d["text"].split() for d in reference]
    vocabulary = sorted({w for d in reference[:200] for w in d["text"].split() if w.isalpha()})
    items: list[tuple[str, bool, str, str, str]] = []
    short_docs = [d for d in reference if 40 <= len(d["text"].split()) <= 400]
    for doc in rng.sample(short_docs, per_kind):
        items.append(("whole", True, doc["text"], "", ""))
    for _ in range(per_kind):
        items.append(("window", True, " ".join(_window(rng, reference_words)), "", ""))
    for kind, share in (("edit10", 0.10), ("edit25", 0.25)):
        for _ in range(per_kind):
            items.append((kind, True, " ".join(_edit(rng, _window(rng, reference_words), share, vocabulary)), "", ""))
    for i in range(per_kind):
        prompt = WRAPPERS[i % len(WRAPPERS)].format(" ".join(_window(rng, reference_words)))
        response = ANSWERS[i % len(ANSWERS)]
        items.append(("wrapped", True, f"{prompt}\n{response}", prompt, response))
    examples, _ = read_dataset(data.sample_dataset())
    for e in examples:
        if e.category == "python-faq":
            items.append(("paraphrase", True, e.text, e.prompt, e.response))
    for _ in range(per_kind * 2):
        items.append(("heldout", False, " ".join(_window(rng, heldout, min_words=150)), "", ""))
    chats = [e for e in examples if e.category in ("mt-bench", "sharegpt")]
    for e in rng.sample(chats, min(per_kind * 2, len(chats))):
        items.append(("novel_chat", False, e.text, e.prompt, e.response))
    return [
        Item(kind, familiar, Example(row=i, id=f"{kind}/{i}", prompt=p, response=r, text=t, category=kind))
        for i, (kind, familiar, t, p, r) in enumerate(items)
    ]


def write_jsonl(items: list[Item], path: Path) -> None:
    """The set as a dataset file (prompt/completion layout) a user can scan themselves."""
    with open(path, "w", encoding="utf-8") as handle:
        for item in items:
            e = item.example
            record = {"id": e.id, "kind": item.kind, "familiar": item.familiar, "text": e.text}
            handle.write(json.dumps(record) + "\n")
