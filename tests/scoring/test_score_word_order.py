"""Word order counts for ``familiar_content``: a passage whose words are shuffled is not a restatement."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from overlap.scoring import score
from overlap.pipeline.build import build_index
from overlap.io import Example
from overlap.pipeline.scan import scan_examples


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OVERLAP_CACHE", str(tmp_path_factory.mktemp("overlap-cache")))
        yield


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, reference_docs):
    """Windows of 40-120 words cut from bundled documents, indexed (embedding only, default model),
    and the same windows with their words shuffled, scanned against that index."""
    rng = random.Random(3)
    docs = [d for file in sorted(reference_docs) for d in reference_docs[file] if len(d["text"].split()) > 250]
    docs = rng.sample(docs, 60)
    folder = tmp_path_factory.mktemp("word-order")
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in docs), encoding="utf-8")
    build_index([corpus], folder / "index", signals="embedding", holdout_rate=0)
    windows = []
    for doc in docs:
        words = doc["text"].split()
        length = rng.choice([40, 80, 120])
        start = rng.randrange(0, len(words) - length)
        windows.append(words[start : start + length])
    texts = [" ".join(w) for w in windows]
    for w in windows:
        w = w[:]
        rng.shuffle(w)
        texts.append(" ".join(w))
    examples = [Example(row=i, id=str(i), prompt="", response="", text=t, category=None) for i, t in enumerate(texts)]
    return scan_examples(examples, folder / "index"), len(windows)


def test_shuffled_passages_are_not_familiar_content(scanned):
    scores, n = scanned
    cut = score.content_threshold(None)
    semantic = scores["semantic_similarity"].to_numpy()
    content = scores["familiar_content"].to_numpy()
    # The bag of words alone puts many shuffled passages over the threshold: the check has work to do.
    assert (semantic[n:] >= cut).mean() > 0.3
    assert not content[n:].any()
    # The passages themselves, in order, keep their label wherever their meaning is over it.
    assert content[:n][semantic[:n] >= cut].all()
    assert content[:n].mean() > 0.3


def test_a_restatement_with_other_words_is_not_held_to_the_chunks_order():
    chunk = "the cat sat on the mat by the door while the dog slept in the garden"
    share, z = score.word_order(chunk, chunk)
    assert share == 1.0 and z > max(least_z for _, least_z in score.ORDER_RULES)
    # Few of its words in the chunk: the similarity is not a shared bag of words, no order is asked.
    assert score.word_order_ok("a kitten rested on a rug near the entrance", chunk)
    assert score.word_order_ok("a text", "") and score.word_order_ok("a text", None)


# Part of a chunk's words in its order, beside words it lacks: about half (the second rule's upper
# band) and about a third (a paraphrase's share, where the second rule starts).
CHUNK_IN_PART = [
    ("grep searches the named input files for lines containing a match to the given patterns and by default "
     "prints the matching lines while sed reads its input line by line and applies the editing commands", 16,
     "volcanic ash clouds drift over northern lakes each spring bringing cooler summers and vivid red sunsets",
     (0.4, 0.6), 5),
    ("the merge strategy decides how git combines two lines of history and by default it finds the common "
     "ancestor of both branches and replays their changes on top of it", 12,
     "when histories diverge for weeks conflicts pile up so teams usually prefer integrating small branches "
     "often rather than waiting until release day arrives again", (0.3, 0.4), 7),
]


@pytest.mark.parametrize("chunk,kept,other,share_range,seed", CHUNK_IN_PART)
def test_part_of_the_chunks_words_in_random_order_is_stopped_in_order_it_passes(chunk, kept, other, share_range,
                                                                                 seed):
    rng = random.Random(seed)
    ordered = " ".join(chunk.split()[:kept] + other.split())
    assert share_range[0] <= score.word_order(ordered, chunk)[0] < share_range[1]
    assert score.word_order_ok(ordered, chunk)
    stopped = 0
    for _ in range(20):
        tokens = ordered.split()
        rng.shuffle(tokens)
        stopped += not score.word_order_ok(" ".join(tokens), chunk)
    assert stopped >= 15
