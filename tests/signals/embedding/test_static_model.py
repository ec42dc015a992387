"""The default embedding model: the static model shipped inside the package, ready offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from overlap.signals.embedding import models
from overlap.pipeline.build import build_index
from overlap.index.manifest import IndexError_, read_manifest
from overlap.pipeline.scan import check_compatible, query_index
from overlap.signals.embedding import index as embedding

from helpers import ROOT, SENTENCES, abc_docs as _abc_docs


def test_default_is_the_shipped_static_model_in_float16():
    folder = models.resolve_model_path(None)
    assert folder == models.default_model_path().resolve() == models.resolve_model_path("default")
    assert folder.parent.name == "embedding_models" and folder.is_relative_to(ROOT / "overlap")  # shipped in the package
    identity = models.model_identity(None)
    assert (identity.name, identity.dim) == ("static-minilm", 256)
    from safetensors.numpy import load_file

    (weights,) = load_file(folder / "model.safetensors").values()
    assert weights.dtype == np.float16 and weights.shape == (30522, 256)
    total = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert total < 17_000_000
    distilled = json.loads((folder / "overlap-distill.json").read_text())
    assert distilled["teacher_sha256"] == models.model_identity("minilm").sha256


def test_static_model_runs_without_torch_and_matches_sentence_transformers():
    """The numpy path gives sentence-transformers' vectors for the same folder, in a process without torch."""
    code = ("import sys; from overlap.signals.embedding import models; m = models.load_model(None); "
            "v = models.encode(m, ['a cat', '', 'def f(): pass']); "
            "print(type(m).__name__, 'torch' in sys.modules, 'sentence_transformers' in sys.modules, v.dtype)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.split() == ["StaticModel", "False", "False", "float32"]
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(models.default_model_path()), device="cpu").float()
    texts = SENTENCES + ["", "?!", "x " * 300]
    expected = reference.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(models.encode(models.load_model(None), texts), expected, atol=1e-5)


def test_static_model_ranks_paraphrases_first():
    model = models.load_model(None)
    vectors = models.encode(model, SENTENCES)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.15  # cat/kitten paraphrase beats an unrelated sentence
    assert sims[3, 4] > sims[3, 6] + 0.15
    # It follows its teacher: the same pairs rank the same way under MiniLM.
    teacher = models.encode(models.load_model("minilm"), SENTENCES)
    upper = np.triu_indices(len(SENTENCES), 1)
    assert np.corrcoef(sims[upper], (teacher @ teacher.T)[upper])[0, 1] > 0.45  # 0.57 on these 28 pairs


def test_index_built_by_default_is_static_and_refuses_minilm(tmp_path):
    docs = _abc_docs(8)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    manifest = build_index([corpus], tmp_path / "index", signals="embedding")
    assert manifest.params["embedding_model"] == "static-minilm" and manifest.params["embedding_dim"] == 256
    check_compatible(manifest, tmp_path / "index", {})
    check_compatible(manifest, tmp_path / "index", {"model": "static-minilm"})
    with pytest.raises(IndexError_, match="built with static-minilm .* asked for all-MiniLM-L6-v2"):
        check_compatible(read_manifest(tmp_path / "index"), tmp_path / "index", {"model": "minilm"})
    text = " ".join(docs[3]["text"].split()[:60])
    result = query_index([text], tmp_path / "index", manifest)[0]["embedding"]
    assert result.doc_ids[0] == docs[3]["id"] and result.score[0] > 0.9
    assert embedding.model_params(None)["embedding_model_sha256"] == manifest.params["embedding_model_sha256"]
