"""A labelled benchmark set with planted overlap of each kind, cut from the documents of an index.

Familiar kinds (the index holds their source), made by ``overlap.scoring.planting``, the
generators the build's self-calibration uses too (with another seed):
``whole``, ``window``, ``edit10``, ``edit25``, ``wrapped``; and, for the bundled
corpus, ``paraphrase``: the Python FAQ's question/answer pairs (the docs say the
same in other words).

Novel kinds (the index never saw them):

* ``heldout``    windows of documents outside the index: for the bundled corpus the
                 held-out Wikipedia articles, Python doc pages and news articles of
                 ``corpora/heldout``; for any other index a file of its style the
                 build never read (``--heldout``). Same style: hard negatives.
* ``novel_chat`` (bundled corpus) MT-bench questions and ShareGPT chats: fine-tuning
                 style, new content.

Every kind is drawn with a fixed seed, so the set is the same on every machine.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

from overlap.scoring import calibrate
from overlap.io import bundled as data
from overlap.scoring import planting
from overlap.index.manifest import read_manifest
from overlap.pipeline.scan import index_query
from overlap.io import Example, iter_corpus_batches, read_dataset

FAMILIAR_KINDS = (*planting.PLANTED_KINDS, "paraphrase")
NOVEL_KINDS = (planting.HELDOUT, "novel_chat")
INDEXED_SAMPLE = 2000


@dataclass(frozen=True)
class Item:
    kind: str
    familiar: bool
    example: Example


def bundled_heldout() -> list[str]:
    """The texts of the bundled corpus's held-out documents."""
    texts = []
    for path in sorted((data.corpora_dir() / "heldout").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle]
    return texts


def read_texts(sources: list[str], text_field: str | None = None) -> list[str]:
    """Every document text of corpus ``sources`` (any format the index build reads)."""
    return [t for batch in iter_corpus_batches(sources, text_field=text_field) for t in batch.texts]


def build(index: Path, per_kind: int = 60, seed: int = 1, heldout: list[str] | None = None,
          heldout_windows: int | None = None) -> list[Item]:
    """The labelled set for ``index``: ``per_kind`` items of each planted kind, twice that of novel ones
    (``heldout_windows`` held-out windows where given: a false-familiar rate needs many).

    Without ``heldout`` texts the bundled held-out documents, FAQ pairs and chats are used.
    """
    manifest = read_manifest(index)
    folders = [Path(index) / s["name"] for s in manifest.shards]
    indexed = calibrate.sample_indexed(folders, [s["counts"]["documents"] for s in manifest.shards],
                                       INDEXED_SAMPLE, seed)
    planted = planting.plant(indexed, per_kind, seed)
    bundled = heldout is None
    if not bundled:
        # As the build's own hold-out: a document the index already holds a copy of is not unseen text.
        _, heldout, _ = calibrate.unduplicated(index_query(Path(index)), manifest, [""] * len(heldout), heldout)
    planted += planting.heldout_windows(bundled_heldout() if bundled else heldout,
                                        heldout_windows or per_kind * 2, seed + 1)
    items = [(p.kind, p.familiar, p.text, p.prompt, p.response) for p in planted]
    if bundled:
        examples, _ = read_dataset(data.sample_dataset())
        items += [("paraphrase", True, e.text, e.prompt, e.response) for e in examples if e.category == "python-faq"]
        chats = [e for e in examples if e.category in ("mt-bench", "sharegpt")]
        rng = random.Random(seed)
        items += [("novel_chat", False, e.text, e.prompt, e.response)
                  for e in rng.sample(chats, min(per_kind * 2, len(chats)))]
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
