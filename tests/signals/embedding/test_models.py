"""The embedding models: MiniLM offline, unit vectors in input order, a stable identity, clear errors."""


from __future__ import annotations

import os

import numpy as np
import pytest

from overlap.signals.embedding import models, terms

from helpers import SENTENCES

pytestmark = pytest.mark.usefixtures("private_cache")


# --- the model -----------------------------------------------------------------------------


def test_minilm_loads_offline_and_gives_unit_vectors(model, sentence_vectors):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert str(models.minilm_model_path()) in str(models.resolve_model_path("minilm"))
    assert sentence_vectors.shape == (len(SENTENCES), 384)
    assert sentence_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(sentence_vectors, axis=1), 1.0, atol=1e-5)
    sims = sentence_vectors @ sentence_vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.3  # cat/kitten paraphrase beats an unrelated sentence
    assert sims[3, 4] > sims[3, 6] + 0.3


def test_encode_keeps_input_order(model, sentence_vectors):
    reversed_vectors = models.encode(model, SENTENCES[::-1])
    np.testing.assert_allclose(reversed_vectors[::-1], sentence_vectors, atol=1e-5)


def test_model_identity_is_stable_and_names_the_weights(params):
    identity = models.model_identity("minilm")
    assert identity.name == "all-MiniLM-L6-v2" and identity.dim == 384
    assert len(identity.sha256) == 64
    assert identity == models.model_identity(str(models.minilm_model_path()))
    assert identity == models.model_identity("all-MiniLM-L6-v2")
    assert params == {
        "embedding_model": "all-MiniLM-L6-v2",
        "embedding_dim": 384,
        "embedding_model_sha256": identity.sha256,
        "chunk_words": 128,
        "embedding_max_exact": 200_000,
        "term_weights": terms.weights_digest(),
    }


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(models.ModelError, match="no such folder"):
        models.model_identity(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(models.ModelError, match="not a sentence-transformers folder"):
        models.model_identity(tmp_path / "empty")


