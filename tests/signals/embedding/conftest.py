"""Fixtures of the embedding tests: a private user cache, the MiniLM model, its index params, sentence vectors."""

from __future__ import annotations

import pytest

from overlap.signals.embedding import index as embedding
from overlap.signals.embedding import models

from helpers import SENTENCES

@pytest.fixture(scope="module")
def private_cache(tmp_path_factory):
    """Every test here uses a fresh user cache (the shipped read-only cache is still consulted)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OVERLAP_CACHE", str(tmp_path_factory.mktemp("overlap-cache")))
        yield


@pytest.fixture(scope="module")
def model():
    return models.load_model("minilm")


@pytest.fixture(scope="module")
def params():
    return embedding.model_params("minilm")


@pytest.fixture(scope="module")
def sentence_vectors(model):
    return models.encode(model, SENTENCES)


