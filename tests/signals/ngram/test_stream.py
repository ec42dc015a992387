"""The n-gram signal's stream mode: one file's probe merged; calibration's cheaper result scores alike."""

from __future__ import annotations

import numpy as np

from overlap.pipeline.build import index_params
from overlap.signals.ngram import counts
from overlap.signals.ngram import stream
from overlap.text.batch import LexicalBatch

CORPUS = [
    "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat by the door",
    "a completely different document about rivers mountains and the long history of maps and roads",
    "the quick brown fox jumps over the lazy dog while the cat sleeps, said the second copy of it",
]
QUERIES = [
    "he said the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat",
    "nothing of this appears anywhere in either of the corpus documents at all, not one bit",
    "",
]


def _merger() -> tuple[stream.Merger, LexicalBatch]:
    params = index_params(["ngram"])
    queries = LexicalBatch.from_texts(QUERIES)
    side = stream.side(queries, params)
    probe = stream.Probe(side, params)
    probe.add(LexicalBatch.from_texts(CORPUS), ["a", "b", "c"], 0)
    merger = stream.Merger(side, params)
    merger.add(0, probe.finish())
    return merger, queries


def test_scored_gives_the_scores_and_features_of_result_without_exposure():
    merger, queries = _merger()
    full, scored = merger.result(queries), merger.scored(queries)
    np.testing.assert_array_equal(full.score, scored.score)
    assert full.features.keys() == scored.features.keys()
    for name in full.features:
        np.testing.assert_array_equal(full.features[name], scored.features[name])
    assert full.details[counts.DOC_FREQ_MAX][0] == 2 and not scored.details
    assert full.doc_ids[:2] == ["a", None]
