"""The embedding signal's index side: chunking, exact and HNSW FAISS search, model refusal, end to end."""


from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from overlap.io import bundled as data
from overlap.signals.embedding import models
from overlap.pipeline.build import build_index
from overlap.signals.embedding.cache import EmbeddingCache, cache_subdir, text_keys
from overlap.index.manifest import IndexError_, read_manifest
from overlap.text.batch import LexicalBatch
from overlap.pipeline.scan import check_compatible, query_index
from overlap.signals.embedding import index as embedding

from helpers import abc_docs as _abc_docs

pytestmark = pytest.mark.usefixtures("private_cache")


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
    # A MiniLM index scanned with the default (static) model asked for explicitly names the switch that fits;
    # with no model asked for, the scan takes MiniLM from the index.
    (default,) = embedding.compatibility_problems(params, {"model": "default"})
    assert "asked for static-minilm" in default and default.endswith("; pass --model minilm")
    assert embedding.compatibility_problems(params, {}) == []
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
    # No calibration folds: the shard's files hold every document (too few to calibrate on anyway).
    build_index([corpus], out, signals="embedding", model=str(models.minilm_model_path()), holdout_rate=0.0)
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
    manifest = build_index([corpus], tmp_path / "index", signals="embedding", model="minilm", holdout_rate=0.0)
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



def test_the_static_model_embeds_from_the_word_pieces_it_is_given(monkeypatch):
    from overlap.signals.embedding import terms
    from overlap.signals.embedding.static_model import StaticModel

    texts = [d["text"][:1200] for d in _abc_docs(40)] + [""]
    params = embedding.default_params()
    plain = embedding.Embedder(params, writable_cache=False).embed(texts)
    # The term vectors' pieces are the static model's tokens: given them, it does not tokenise again.
    monkeypatch.setattr(StaticModel, "encode", lambda self, texts: pytest.fail("tokenised the texts again"))
    shared = embedding.Embedder(params, writable_cache=False).embed(texts, cut=terms.pieces(texts))
    assert np.array_equal(plain, shared)
