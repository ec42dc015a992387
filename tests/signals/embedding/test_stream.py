"""Stream mode of the semantic signal: each corpus batch's chunks are embedded once, whoever probes them."""

from __future__ import annotations

import numpy as np
import pytest

from overlap.io import bundled as data
from overlap.io import read_dataset
from overlap.signals.embedding import index as embedding
from overlap.signals.embedding import stream
from overlap.text.batch import LexicalBatch


@pytest.fixture(scope="module", autouse=True)
def private(private_cache):
    yield


def test_probes_of_one_batch_embed_its_chunks_once_and_each_finds_its_own_best(monkeypatch, reference_docs):
    docs = [d for file in sorted(reference_docs) for d in reference_docs[file]][:40]
    corpus = LexicalBatch.from_texts([d["text"] for d in docs])
    params = embedding.default_params()
    examples = [e.text for e in read_dataset(data.sample_dataset())[0][:8]]
    copy = " ".join(docs[3]["text"].split()[:100])
    # Two dataset sides, as the dataset's probe and a calibration fold's probe pass over one part of a file.
    sides = [stream.side(LexicalBatch.from_texts(texts), params) for texts in (examples, [copy])]
    embedded = []
    real = embedding.Embedder.embed

    def counting(self, texts, what="texts", cut=None):
        if what == "corpus chunks":
            embedded.append(len(texts))
        return real(self, texts, what, cut)

    monkeypatch.setattr(embedding.Embedder, "embed", counting)
    parts = []
    for side in sides:
        probe = stream.Probe(side, params)
        probe.add(corpus, [d["id"] for d in docs], 0)
        parts.append(probe.finish())
    chunks = len(embedding.chunk_spans(corpus, params["chunk_words"])[0])
    assert embedded == [chunks]  # one embedding of the batch's chunks for both probes
    # Each probe still searched with its own side: the verbatim copy cites the document it was cut from.
    assert parts[1].best.doc_id[0] == docs[3]["id"]
    assert parts[1].best.score[0] > 0.8 and parts[1].term[0] > 0.8  # a slice of one of its chunks
    assert np.all(parts[0].best.score[parts[0].best.row >= 0] < parts[1].best.score[0])
