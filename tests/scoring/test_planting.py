"""``ngram_alignment``: the share of a text's words matched in its best corpus document."""

from __future__ import annotations

import random

import numpy as np

from overlap.scoring import planting
from overlap.index.manifest import read_manifest
from overlap.text.kernels import aligned_words
from overlap.pipeline.scan import query_index


def test_kernel_aligns_through_the_anchors_on_either_side():
    doc = np.arange(100, dtype=np.uint64)
    words = doc[20:60].copy()
    words[[3, 11, 25]] = 999  # replaced words
    # Anchors: the text's 8-gram at 12 is the document's at 32 (text position + 20).
    assert aligned_words(words, doc, np.array([12]), np.array([32]), np.array([], dtype=np.int64), 8) == 37
    shifted = np.concatenate([words[:20], [7777, 7778], words[20:]])  # two inserted words
    anchors_at, anchors_doc = np.array([2, 30]), np.array([22, 48])
    assert aligned_words(shifted, doc, anchors_at, anchors_doc, np.array([], dtype=np.int64), 8) == 37
    # Words inside matched n-grams count even where no anchor aligns them.
    assert aligned_words(words, doc, np.array([], dtype=np.int64), np.array([], dtype=np.int64),
                         np.array([0]), 8) == 8


def test_edited_copies_align_far_above_their_containment(lexical_index, reference_docs):
    manifest = read_manifest(lexical_index)
    texts = [d["text"] for d in reference_docs["abc-news.jsonl.gz"]]
    words = next(t.split() for t in texts if len(t.split()) > 400)
    other = next(t.split() for t in reversed(texts) if len(t.split()) > 200 and t.split()[:5] != words[:5])
    window = words[100:220]
    edited = planting.edit(random.Random(0), window, 0.25, ["zebra", "quartz", "nimbus"])
    unseen = " ".join(["plover", "quokka", "marzipan", "vellum"] * 25)
    phrase = unseen.split()[:45] + window[:10] + unseen.split()[:45]  # one shared 10-word phrase
    queries = [" ".join(window), " ".join(edited), " ".join(phrase), unseen, " ".join(other[:50]), ""]
    results, _ = query_index(queries, lexical_index, manifest)
    ngram = results["ngram"]
    alignment = ngram.features["ngram_alignment"]
    assert alignment[0] == 1.0
    assert alignment[1] >= 0.7 and ngram.score[1] <= 0.3
    assert 0.05 <= alignment[2] <= 0.15
    assert alignment[3] == 0.0 and np.isnan(alignment[5])
