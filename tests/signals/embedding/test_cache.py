"""The embedding cache: round trip, read-only dirs, compaction, keys, hits not embedded again."""


from __future__ import annotations


import numpy as np
import pytest

from overlap.io import bundled as data
from overlap.signals.embedding import models
from overlap.signals.embedding.cache import EmbeddingCache, cache_subdir, text_key, text_keys, write_pair
from overlap.signals.embedding import index as embedding

from helpers import SENTENCES

pytestmark = pytest.mark.usefixtures("private_cache")


# --- the cache -----------------------------------------------------------------------------


def test_cache_round_trip_and_read_only_dirs(tmp_path):
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**63, 500, dtype=np.uint64)
    vectors = rng.standard_normal((500, 8)).astype(np.float16)
    cache = EmbeddingCache(tmp_path / "user", 8, flush_every=128)
    cache.put(keys[:300], vectors[:300])  # flushes twice on the way
    cache.put(keys[300:], vectors[300:])
    got, found = cache.get(keys)  # partly pending, partly on disk
    assert found.all()
    np.testing.assert_array_equal(got, vectors)
    cache.flush()
    reopened = EmbeddingCache(tmp_path / "user", 8)
    got, found = reopened.get(np.concatenate([keys, np.array([7], np.uint64)]))
    assert found.tolist() == [True] * 500 + [False]
    np.testing.assert_array_equal(got[:500], vectors)
    assert not got[500].any()
    # A read-only directory is searched and never written.
    write_pair(tmp_path / "shipped", keys[:10], vectors[:10] + 1)
    before = sorted(p.name for p in (tmp_path / "shipped").iterdir())
    layered = EmbeddingCache(tmp_path / "user2", 8, readonly=[tmp_path / "shipped"])
    got, found = layered.get(keys[:20])
    assert found.tolist() == [True] * 10 + [False] * 10
    np.testing.assert_array_equal(got[:10], vectors[:10] + 1)
    layered.put(keys[10:20], vectors[10:20])
    layered.flush()
    assert sorted(p.name for p in (tmp_path / "shipped").iterdir()) == before
    assert not list((tmp_path / "user").glob(".tmp-*"))


def test_cache_compaction_keeps_every_entry(tmp_path):
    rng = np.random.default_rng(1)
    cache = EmbeddingCache(tmp_path, 4, flush_every=10**9)
    all_keys, all_vectors = [], []
    for _ in range(5):
        keys = rng.integers(0, 2**63, 20, dtype=np.uint64)
        vectors = rng.standard_normal((20, 4)).astype(np.float16)
        cache.put(keys, vectors)
        cache.flush()
        all_keys.append(keys), all_vectors.append(vectors)
    assert len(list(tmp_path.glob("keys-*.npy"))) == 5
    cache.compact()
    assert len(list(tmp_path.glob("keys-*.npy"))) == 1
    got, found = EmbeddingCache(tmp_path, 4).get(np.concatenate(all_keys))
    assert found.all()
    np.testing.assert_array_equal(got, np.concatenate(all_vectors))


def test_keys_depend_on_model_and_text():
    a, b = "a" * 64, "b" * 64
    assert text_key(a, "hello") != text_key(b, "hello")
    assert text_key(a, "hello") != text_key(a, "hello!")
    assert text_keys(a, ["hello", "x"]).tolist() == [text_key(a, "hello"), text_key(a, "x")]


def test_cache_hits_are_not_embedded_again(params, model, monkeypatch):
    calls = []
    real = models.encode

    def counting(m, texts, batch_size=64):
        calls.append(len(texts))
        return real(m, texts, batch_size)

    monkeypatch.setattr(models, "encode", counting)
    texts = [f"unique test sentence number {i} about {SENTENCES[i % len(SENTENCES)]}" for i in range(12)]
    first = embedding.Embedder(params, {"model": "minilm"})
    v1 = first.embed(texts + texts[:3])  # repeats inside one call are embedded once
    first.flush()
    assert sum(calls) == 12 and first.embedded == 12
    second = embedding.Embedder(params, {"model": "minilm"})  # a new process would start like this: from disk
    v2 = second.embed(texts[::-1])
    assert sum(calls) == 12 and second.embedded == 0
    np.testing.assert_array_equal(v2[::-1], v1[:12])
    np.testing.assert_array_equal(v1[12:], v1[:3])
    assert v1.dtype == np.float16
    np.testing.assert_allclose(np.linalg.norm(v1.astype(np.float32), axis=1), 1.0, atol=2e-3)
    user = data.cache_dir() / "embeddings" / cache_subdir(params["embedding_model_sha256"])
    assert list(user.glob("keys-*.npy")) and list(user.glob("vectors-*.npy"))


