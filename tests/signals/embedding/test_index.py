"""The embedding signal: offline model, exact FAISS search, the cache, model refusal, end to end."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from overlap.io import bundled as data
from overlap.signals.embedding import models
from overlap.pipeline.build import build_index
from overlap.signals.embedding.cache import EmbeddingCache, cache_subdir, text_key, text_keys, write_pair
from overlap.index.manifest import IndexError_, read_manifest
from overlap.text.batch import LexicalBatch
from overlap.pipeline.scan import check_compatible, query_index
from overlap.signals.embedding import index as embedding

from helpers import SENTENCES, abc_docs as _abc_docs


@pytest.fixture(scope="module", autouse=True)
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
    }


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(models.ModelError, match="no such folder"):
        models.model_identity(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(models.ModelError, match="not a sentence-transformers folder"):
        models.model_identity(tmp_path / "empty")


# --- chunking ------------------------------------------------------------------------------


@pytest.mark.parametrize("words", [0, 1, 5, 127, 128, 129, 255, 256, 257, 1000])
def test_chunks_are_balanced_consecutive_and_cover_every_word(words):
    text = " ".join(f"Wörd{i}," for i in range(words))
    batch = LexicalBatch.from_texts(["", text, "x"])
    doc, start, end = embedding.chunk_spans(batch, 128)
    mine = doc == 1
    pieces = embedding.chunk_texts(batch, doc[mine], start[mine], end[mine])
    assert len(pieces) == -(-words // 128)
    sizes = [len(p.split()) for p in pieces]
    assert all(s <= 128 for s in sizes)
    if words > 128:
        assert min(sizes) >= 64  # no scraps at the end of a document
    assert " ".join(pieces).replace(",", "").split() == [f"wörd{i}" for i in range(words)]
    assert sum(sizes) == words
    assert list(doc) == sorted(doc) and set(doc.tolist()) <= {1, 2}


# --- FAISS ---------------------------------------------------------------------------------


def _brute_force(queries: np.ndarray, corpus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sims = queries.astype(np.float64) @ corpus.astype(np.float64).T
    return sims.max(axis=1), sims.argmax(axis=1)


def test_exact_faiss_search_agrees_with_numpy_on_random_vectors():
    rng = np.random.default_rng(3)
    corpus = rng.standard_normal((2000, 384)).astype(np.float32)
    corpus = (corpus / np.linalg.norm(corpus, axis=1, keepdims=True)).astype(np.float16)
    queries = rng.standard_normal((100, 384)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    queries[:20] = corpus[rng.choice(2000, 20, replace=False)]  # some exact hits
    index, kind = embedding.build_faiss(corpus, max_exact=10_000)
    assert kind == "flat-ip"
    scores, rows = index.search(queries, 1)
    best, arg = _brute_force(queries, corpus.astype(np.float32))
    np.testing.assert_array_equal(rows[:, 0], arg)
    np.testing.assert_allclose(scores[:, 0], best, atol=1e-5)


def test_exact_faiss_search_agrees_with_numpy_on_real_vectors(sentence_vectors):
    corpus = sentence_vectors[::2].astype(np.float16)
    queries = sentence_vectors[1::2]
    index, _ = embedding.build_faiss(corpus, max_exact=10)
    scores, rows = index.search(queries, 1)
    best, arg = _brute_force(queries, corpus.astype(np.float32))
    np.testing.assert_array_equal(rows[:, 0], arg)
    np.testing.assert_allclose(scores[:, 0], best, atol=1e-5)


def test_hnsw_above_the_exact_limit_finds_the_same_neighbours():
    rng = np.random.default_rng(5)
    corpus = rng.standard_normal((3000, 64)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    queries = corpus[rng.choice(3000, 50, replace=False)] + 0.05 * rng.standard_normal((50, 64)).astype(np.float32)
    index, kind = embedding.build_faiss(corpus.astype(np.float16), max_exact=1000)
    assert kind == "hnsw-ip"
    index.hnsw.efSearch = embedding.HNSW_EF_SEARCH
    _, rows = index.search(queries, 1)
    _, arg = _brute_force(queries, corpus)
    assert (rows[:, 0] == arg).mean() >= 0.95


def test_best_per_owner_takes_each_texts_best_chunk():
    part = embedding.best_per_owner(
        np.array([0.2, 0.9, 0.9, 0.5, 0.1], np.float32), np.array([10, 11, 12, 13, -1]),
        np.array([0, 0, 0, 2, 3]), 5,
    )
    assert part.row.tolist() == [11, -1, 13, -1, -1]  # ties go to the earlier query chunk
    np.testing.assert_allclose(part.score, [0.9, 0, 0.5, 0, 0], atol=1e-6)


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


# --- refusing another model ----------------------------------------------------------------


def _fake_model(tmp_path: Path) -> Path:
    """A sentence-transformers folder with MiniLM's configs and other weights."""
    source = models.minilm_model_path()
    fake = tmp_path / "mymodel"
    shutil.copytree(source, fake, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    (fake / "model.safetensors").write_bytes(b"not the same weights")
    return fake


def test_another_model_is_refused_with_both_identities(tmp_path, params):
    fake = _fake_model(tmp_path)
    other = embedding.model_params(str(fake))
    assert other["embedding_model"] == "mymodel" and other["embedding_dim"] == 384
    assert other["embedding_model_sha256"] != params["embedding_model_sha256"]
    problems = embedding.compatibility_problems(params, {"model": str(fake)})
    assert len(problems) == 1
    message = problems[0]
    assert message.startswith("embedding model: index was built with all-MiniLM-L6-v2 (sha256 "
                              + params["embedding_model_sha256"][:8])
    assert "384-d), asked for mymodel (sha256 " + other["embedding_model_sha256"][:8] in message
    # The other way round: an index of "mymodel" scanned with the default model says what to do.
    (reverse,) = embedding.compatibility_problems(other, {})
    assert "built with mymodel" in reverse and "asked for static-minilm" in reverse and "--model" in reverse
    # A MiniLM index scanned with the default (static) model names the switch that fits.
    (default,) = embedding.compatibility_problems(params, {})
    assert "asked for static-minilm" in default and default.endswith("; pass --model minilm")
    assert embedding.compatibility_problems(params, {"model": "minilm"}) == []
    assert embedding.compatibility_problems(params, {"model": str(models.minilm_model_path())}) == []
    assert "no such folder" in embedding.compatibility_problems(params, {"model": str(tmp_path / "x")})[0]
    with pytest.raises(IndexError_, match="asked for mymodel"):
        embedding.Embedder(params, {"model": str(fake)}).embed(["a text nobody embedded before 8d1f"])


# --- end to end ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, model):
    folder = tmp_path_factory.mktemp("embedding-index")
    docs = _abc_docs(12)
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    out = folder / "index"
    # The model named by its folder: the same identity as "minilm", so the wiring is exercised.
    build_index([corpus], out, signals="embedding", model=str(models.minilm_model_path()))
    return out, docs


def test_build_writes_plain_files(small_index, params):
    out, docs = small_index
    manifest = read_manifest(out)
    assert manifest.signals == ["embedding"]
    assert manifest.params["embedding_model_sha256"] == params["embedding_model_sha256"]
    shard = out / manifest.shards[0]["name"]
    vectors = np.load(shard / embedding.VECTORS, allow_pickle=False)
    chunks = np.load(shard / embedding.CHUNKS, allow_pickle=False)
    assert vectors.dtype == np.float16 and vectors.shape[1] == 384
    assert chunks.dtype == np.int64 and chunks.shape == (len(vectors), 3)
    assert manifest.counts()["chunks"] == len(vectors)
    assert set(chunks[:, 0].tolist()) == set(range(len(docs)))
    assert json.loads((shard / embedding.META).read_text())["faiss"] == "flat-ip"
    # An exact index is rebuilt from the vectors at scan time, not stored twice.
    assert not (shard / embedding.FAISS).exists()


def test_paraphrase_scores_higher_than_novel_text_and_cites_its_document(small_index):
    out, docs = small_index
    assert "Hill Top" in docs[0]["text"]
    texts = [
        "Strong winds drove a big bushfire toward the town of Hill Top, and hundreds of people in the "
        "Southern Highlands of NSW had to leave their houses.",
        "Whisk two cups of flour with a pinch of salt, then fold in the beaten eggs.",
        "",
        "?!",
    ]
    manifest = read_manifest(out)
    check_compatible(manifest, out, {"model": "minilm"})
    result = query_index(texts, out, manifest, options={"model": "minilm"})[0]["embedding"]
    assert result.doc_ids[0] == docs[0]["id"]
    assert result.score[0] > 0.6
    assert result.score[0] > result.score[1] + 0.3
    assert np.isnan(result.score[2]) and np.isnan(result.score[3])
    assert result.doc[2] == -1 and result.match[2] is None
    # The evidence is the chunk's text, at its place in the normalised document.
    from overlap.text import reference as ref

    normalised = ref.normalize(docs[0]["text"])
    assert normalised[result.start[0] : result.end[0]] == result.match[0]
    assert "hill top" in result.match[0]


def test_second_build_of_the_same_corpus_embeds_nothing(small_index, tmp_path):
    out, docs = small_index
    corpus = tmp_path / "again.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    manifest = build_index([corpus], tmp_path / "index", signals="embedding", model="minilm")
    assert manifest.counts()["embedded"] == 0
    a = np.load(out / "shard-00000" / embedding.VECTORS)
    b = np.load(tmp_path / "index" / "shard-00000" / embedding.VECTORS)
    np.testing.assert_array_equal(a, b)


def test_a_shard_above_the_exact_limit_stores_only_its_hnsw_index_and_finds_the_same_chunks(small_index, tmp_path):
    out, docs = small_index
    corpus = tmp_path / "again.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    hnsw = tmp_path / "hnsw"
    build_index([corpus], hnsw, signals="embedding", params={"embedding_max_exact": 5}, model="minilm")
    shard = hnsw / "shard-00000"
    meta = json.loads((shard / embedding.META).read_text())
    assert meta["faiss"] == "hnsw-ip" and meta["chunks"] > 5
    assert (shard / embedding.FAISS).exists() and not (shard / embedding.VECTORS).exists()
    # float16 vectors plus the graph: about 2 * dim + 8 * M bytes a chunk, not 4 * dim + 8 * M.
    assert (shard / embedding.FAISS).stat().st_size / meta["chunks"] < 2 * 384 + 8 * embedding.HNSW_M + 64
    texts = [" ".join(d["text"].split()[10:60]) for d in docs]
    exact = query_index(texts, out, read_manifest(out), options={"model": "minilm"})[0]["embedding"]
    approx = query_index(texts, hnsw, read_manifest(hnsw), options={"model": "minilm"})[0]["embedding"]
    assert approx.doc_ids == exact.doc_ids
    np.testing.assert_allclose(approx.score, exact.score, atol=1e-6)


def test_scanning_with_another_model_is_refused(small_index, tmp_path):
    out, _ = small_index
    fake = _fake_model(tmp_path)
    with pytest.raises(IndexError_, match="embedding model: index was built with all-MiniLM-L6-v2"):
        check_compatible(read_manifest(out), out, {"model": str(fake)})


def test_shipped_cache_covers_the_bundled_corpus(params):
    shipped = data.corpora_dir() / "embeddings" / cache_subdir(params["embedding_model_sha256"])
    if not list(shipped.glob("keys-*.npy")):
        pytest.skip("no prebuilt embedding cache in this checkout (run corpora/embed_bundled.py)")
    cache = EmbeddingCache(None, params["embedding_dim"], readonly=[shipped])
    for source in data.reference_sources():
        with gzip.open(source, "rt", encoding="utf-8") as handle:
            texts = [json.loads(line)["text"] for _, line in zip(range(20), handle)]
        batch = LexicalBatch.from_texts(texts)
        chunks = embedding.chunk_texts(batch, *embedding.chunk_spans(batch, params["chunk_words"]))
        vectors, found = cache.get(text_keys(params["embedding_model_sha256"], chunks))
        assert found.all(), source.name
        norms = np.linalg.norm(vectors.astype(np.float32), axis=1)
        np.testing.assert_allclose(norms, 1.0, atol=2e-3)
