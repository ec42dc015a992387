"""Semantic similarity: best cosine between a text's embedding and a corpus chunk's, through FAISS.

The corpus side is every document cut into consecutive, non-overlapping chunks
of at most ``chunk_words`` words (a document of ``w`` words becomes
``ceil(w / chunk_words)`` chunks of near-equal size, so there are no scraps of
two or three words at document ends). A chunk's text is the normalised
document between its first word's start and last word's end. The query side
is chunked the same way (most examples are a single chunk); a text's score is
its best chunk's cosine, and its evidence the corpus chunk that gave it.

Embeddings are unit vectors from a sentence-transformers model (default: the
shipped static model distilled from all-MiniLM-L6-v2, see ``overlap/models.py``),
cached by content hash (``overlap/embed_cache.py``) so nothing is embedded
twice; the bundled reference corpus ships with its chunks already embedded by
the full all-MiniLM-L6-v2 (``--model minilm``).

Shard files: ``embedding_chunks.npy`` (int64: document row, byte start, byte
end in the normalised document), ``embedding.json`` (which index type) and the
vectors, stored once: up to ``embedding_max_exact`` chunks as
``embedding_vectors.npy`` (float16, chunks x dim), from which a scan builds an
exact ``IndexFlatIP``; above it as ``embedding.faiss`` (``faiss.write_index``
of an ``IndexHNSWSQ`` with M=32, inner product, vectors kept as float16: the
cached vectors are float16 already, so nothing is lost).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from overlap.signals.embedding import models, terms
from overlap.signals.embedding.cache import EmbeddingCache, text_keys
from overlap.index.documents import DocStore
from overlap.index.manifest import IndexError_
from overlap.index.store import Shard, ShardWriter
from overlap.text.batch import LexicalBatch
from overlap.io.progress import Progress
from overlap.signals.base import SignalResult

NAME = "embedding"
VECTORS = "embedding_vectors.npy"
CHUNKS = "embedding_chunks.npy"
FAISS = "embedding.faiss"
META = "embedding.json"
TERMS = {part: f"embedding_terms_{part}.npy" for part in ("indptr", "indices", "data")}
TERM_SIMILARITY = "term_similarity"
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
ENCODE_GROUP = models.ENCODE_BATCH  # texts per progress step: seconds even for the full model


def model_params(model: str | None = None) -> dict:
    """The parameters of an index whose vectors come from ``model`` (a local folder; None: the default)."""
    identity = models.model_identity(model)
    return {
        "embedding_model": identity.name,
        "embedding_dim": identity.dim,
        "embedding_model_sha256": identity.sha256,
        "chunk_words": 128,
        "embedding_max_exact": 200_000,
        "term_weights": terms.weights_digest(),
    }


def default_params() -> dict:
    """The shipped static model, chunks of at most 128 words, exact search up to 200,000 chunks.

    128 words is about 170 word-piece tokens of prose, inside MiniLM's 256-token
    window (longer inputs are truncated), and close to the paragraph-sized
    passages it was trained on; the static model, distilled from it, keeps the
    same chunks so the two give comparable indices.
    """
    return model_params(None)


def _describe(params: dict) -> str:
    sha = str(params.get("embedding_model_sha256", "?"))
    return f"{params.get('embedding_model', '?')} (sha256 {sha[:8]}…, {params.get('embedding_dim', '?')}-d)"


def index_model(params: dict, options: dict | None = None) -> str | None:
    """The model a scan uses: ``--model`` when given, else the bundled model the index was built with.

    An index records its model's name and weights; when no model is asked for
    and the index was built with the bundled MiniLM (``--model minilm``), the scan
    takes it from there instead of asking for ``--model minilm`` again. A model
    asked for explicitly is used as given (and refused if it differs).
    """
    spec = (options or {}).get("model")
    if spec is not None and str(spec) != "":
        return spec
    if params.get("embedding_model") == models.MINILM_NAME:
        try:
            identity = models.model_identity("minilm")
        except models.ModelError:
            return None
        if identity.sha256 == params.get("embedding_model_sha256"):
            return "minilm"
    return None


def compatibility_problems(params: dict, options: dict) -> list[str]:
    """Why the model a scan would use cannot query this index (an empty list when it can)."""
    if "embedding_model_sha256" not in params or "embedding_dim" not in params:
        return ["embedding model: the index does not record which model built its vectors; rebuild it"]
    spec = index_model(params, options)
    try:
        identity = models.model_identity(spec)
    except models.ModelError as exc:
        return [f"embedding model: {exc}"]
    if identity.sha256 == params["embedding_model_sha256"] and identity.dim == params["embedding_dim"]:
        return []
    if params.get("embedding_model") == models.MINILM_NAME:
        hint = "; pass --model minilm"
    elif models.is_default(spec):
        hint = "; pass --model with the folder of the model the index was built with"
    else:
        hint = ""
    return [f"embedding model: index was built with {_describe(params)}, asked for {identity.describe()}{hint}"]


def chunk_spans(batch: LexicalBatch, chunk_words: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(text, byte start, byte end)`` of every chunk of every text (bytes relative to the text)."""
    counts = batch.word_counts().astype(np.int64)
    per_text = -(-counts // chunk_words)
    total = int(per_text.sum())
    doc = np.repeat(np.arange(len(batch), dtype=np.int64), per_text)
    first_chunk = np.concatenate([[0], np.cumsum(per_text)[:-1]]).astype(np.int64)
    k = np.arange(total, dtype=np.int64) - first_chunk[doc]
    words, pieces = counts[doc], per_text[doc]
    lo = k * words // pieces
    hi = (k + 1) * words // pieces
    base = batch.word_offsets[doc].astype(np.int64)
    text_start = batch.offsets[doc].astype(np.int64)
    start = batch.word_starts[base + lo].astype(np.int64) - text_start
    end = batch.word_ends[base + hi - 1].astype(np.int64) - text_start
    return doc, start, end


def chunk_texts(batch: LexicalBatch, doc: np.ndarray, start: np.ndarray, end: np.ndarray) -> list[str]:
    """The normalised text of each chunk (what is embedded, and hashed for the cache)."""
    buf, offsets = batch.buf, batch.offsets
    return [
        buf[offsets[d] + s : offsets[d] + e].tobytes().decode("utf-8", "replace")
        for d, s, e in zip(doc.tolist(), start.tolist(), end.tolist())
    ]


class Embedder:
    """Texts -> float16 unit vectors through the cache; the model is loaded only on a miss."""

    def __init__(self, params: dict, options: dict | None = None, writable_cache: bool = True):
        self.sha = params["embedding_model_sha256"]
        self.dim = int(params["embedding_dim"])
        self.params = params
        self.spec = index_model(params, options)
        self.cache = EmbeddingCache.for_model(self.sha, self.dim, writable=writable_cache)
        self.embedded = 0
        self._model = None

    def model(self):
        if self._model is None:
            identity = models.model_identity(self.spec)
            if identity.sha256 != self.sha or identity.dim != self.dim:
                raise IndexError_(
                    f"embedding model: index was built with {_describe(self.params)}, "
                    f"asked for {identity.describe()}"
                )
            model = models.load_model(self.spec)
            if models.model_dim(model) != self.dim:
                raise IndexError_(f"embedding model {identity.path}: gives {models.model_dim(model)}-d vectors, "
                                  f"its config files say {identity.dim}")
            self._model = model
        return self._model

    def embed(self, texts: list[str], what: str = "texts", cut: terms.Pieces | None = None) -> np.ndarray:
        """float16 unit vectors [len(texts), dim]; misses are embedded, cached and counted. ``cut``, the
        texts' word pieces where the caller has them (for their term vectors), spares a static model
        with the same tokenizer cutting them again."""
        keys = text_keys(self.sha, texts)
        vectors, found = self.cache.get(keys)
        missing = np.flatnonzero(~found)
        if len(missing):
            unique_keys, first, inverse = np.unique(keys[missing], return_index=True, return_inverse=True)
            todo = [texts[i] for i in missing[first]]
            fresh = self._encode(todo, what, None if cut is None else cut.take(missing[first])).astype(np.float16)
            self.cache.put(unique_keys, fresh)
            vectors[missing] = fresh[inverse.reshape(-1)]
            self.embedded += len(todo)
        return vectors

    def _encode(self, texts: list[str], what: str, cut: terms.Pieces | None) -> np.ndarray:
        model = self.model()
        progress = Progress(f"embedding {what}", len(texts), what)
        shared = cut is not None and getattr(model, "tokenizer_digest", None) == terms.tokenizer_digest()
        # Longest first across the whole set, so each batch pads little (a static model pads nothing).
        order = np.arange(len(texts)) if shared else np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for lo in range(0, len(texts), ENCODE_GROUP):
            rows = order[lo : lo + ENCODE_GROUP]
            if shared:
                part = cut.take(rows)
                out[rows] = model.encode_ids(part.ids, part.offsets)
            else:
                out[rows] = models.encode(model, [texts[i] for i in rows])
            progress.update(len(rows))
        progress.close()
        return out

    def flush(self) -> None:
        self.cache.flush()


def _faiss():
    import faiss

    return faiss


def build_faiss(vectors: np.ndarray, max_exact: int):
    """Exact inner-product index up to ``max_exact`` vectors, HNSW above; and its type name."""
    faiss = _faiss()
    dim = vectors.shape[1]
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(data) <= max_exact:
        index, kind = faiss.IndexFlatIP(dim), "flat-ip"
    else:
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        kind = "hnsw-ip"
    if len(data):
        index.add(data)
    return index, kind


class Builder:
    """Chunks one shard's documents, embeds the chunks the cache lacks, writes vectors and a FAISS index."""

    def __init__(self, params: dict, writer: ShardWriter, options: dict | None = None):
        self.params = params
        self.writer = writer
        self.embedder = Embedder(params, options)
        self.vectors: list[np.ndarray] = []
        self.chunks: list[np.ndarray] = []
        self.terms: list = []

    def add(self, batch: LexicalBatch, texts: list[str], doc_base: int) -> None:
        doc, start, end = chunk_spans(batch, self.params["chunk_words"])
        if len(doc) == 0:
            return
        texts = chunk_texts(batch, doc, start, end)
        cut = terms.pieces(texts)
        self.vectors.append(self.embedder.embed(texts, "chunks", cut))
        self.terms.append(terms.vectors(texts, cut))
        self.chunks.append(np.stack([doc + doc_base, start, end], axis=1).astype(np.int64))

    def finish(self) -> dict[str, int]:
        dim = int(self.params["embedding_dim"])
        self.embedder.flush()
        vectors = np.concatenate(self.vectors) if self.vectors else np.zeros((0, dim), np.float16)
        chunks = np.concatenate(self.chunks) if self.chunks else np.zeros((0, 3), np.int64)
        self.writer.save_array(CHUNKS, chunks)
        for part, array in terms.to_arrays(terms.stack(self.terms)).items():
            self.writer.save_array(TERMS[part], array)
        meta = {"faiss": "flat-ip", "dim": dim, "chunks": len(vectors),
                "model_sha256": self.params["embedding_model_sha256"]}
        if len(vectors) <= int(self.params["embedding_max_exact"]):
            # An exact index is a float32 copy of the vectors: a scan rebuilds it instead of reading one.
            self.writer.save_array(VECTORS, vectors.astype(np.float16))
        else:
            index, meta["faiss"] = build_faiss(vectors, int(self.params["embedding_max_exact"]))
            _faiss().write_index(index, str(self.writer.path(FAISS)))
            meta.update(hnsw_m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, storage="fp16")
        self.writer.path(META).write_text(json.dumps(meta, indent=2, sort_keys=True))
        return {"chunks": len(vectors), "embedded": self.embedder.embedded}


@dataclass
class Prepared:
    """Query chunks of every text, embedded once in the driver: unit float32 vectors, their term
    vectors and which text each chunk is of."""

    vectors: np.ndarray
    owner: np.ndarray
    terms: "scipy.sparse.csr_matrix"


def prepare(batch: LexicalBatch, params: dict, options: dict | None = None) -> Prepared:
    """Embed the query texts' chunks (through the cache) once, before the shards are asked."""
    doc, start, end = chunk_spans(batch, params["chunk_words"])
    embedder = Embedder(params, options)
    texts = chunk_texts(batch, doc, start, end)
    cut = terms.pieces(texts)
    vectors = embedder.embed(texts, "query chunks", cut)
    embedder.flush()
    return Prepared(vectors.astype(np.float32), doc, terms.vectors(texts, cut))


@dataclass
class Partial:
    """For each query text: best chunk row of this shard (-1: none), its cosine, and the best term
    cosine over the shard's chunks (NaN where the index holds no term vectors)."""

    row: np.ndarray
    score: np.ndarray
    term: np.ndarray | None = None


def best_per_owner(scores: np.ndarray, rows: np.ndarray, owner: np.ndarray, n: int) -> Partial:
    """Reduce per-chunk top-1 results to per-text best (ties to the earlier query chunk)."""
    row = np.full(n, -1, dtype=np.int64)
    score = np.zeros(n, dtype=np.float64)
    valid = rows >= 0
    if not valid.any():
        return Partial(row, score)
    o, s, r = owner[valid], scores[valid].astype(np.float64), rows[valid]
    order = np.lexsort((-s, o))  # by owner, best score first, stable
    o, s, r = o[order], s[order], r[order]
    first = np.ones(len(o), dtype=bool)
    first[1:] = o[1:] != o[:-1]
    row[o[first]] = r[first]
    score[o[first]] = np.clip(s[first], -1.0, 1.0)
    return Partial(row, score)


def term_best(chunk_terms: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Per text, the best term cosine over its query chunks (0 for a text with none)."""
    best = np.zeros(n, dtype=np.float64)
    np.maximum.at(best, owner, chunk_terms.astype(np.float64))
    return best


class Reader:
    def __init__(self, shard: Shard, params: dict):
        self.params = params
        self.shard = shard
        # An index built before term similarity, or with other weights, has no comparable term vectors.
        self.terms = None
        if params.get("term_weights") == terms.weights_digest() and shard.has(TERMS["indptr"]):
            self.terms = terms.from_arrays(*(shard.array(TERMS[part]) for part in ("indptr", "indices", "data")))
        meta_path = shard.folder / META
        self.meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        if shard.has(FAISS):
            path = shard.folder / FAISS
            try:
                self.index = _faiss().read_index(str(path))
            except RuntimeError as exc:
                raise IndexError_(f"{path}: unreadable FAISS index ({exc})") from exc
        else:
            path = shard.folder / VECTORS
            vectors = shard.array(VECTORS)
            if vectors.ndim != 2:
                raise IndexError_(f"{path}: expected chunks x dim vectors, got shape {vectors.shape}")
            self.index, _ = build_faiss(vectors, max_exact=len(vectors))
        if self.index.d != int(params["embedding_dim"]):
            raise IndexError_(f"{path}: {self.index.d}-d vectors, the manifest says {params['embedding_dim']}")
        if hasattr(self.index, "hnsw"):
            self.index.hnsw.efSearch = HNSW_EF_SEARCH

    def query(self, batch: LexicalBatch, prepared: Prepared | None = None) -> Partial:
        if prepared is None:
            prepared = prepare(batch, self.params)
        n = len(batch)
        term = None if self.terms is None else term_best(terms.best_cosine(prepared.terms, self.terms),
                                                         prepared.owner, n)
        if self.index.ntotal == 0 or len(prepared.vectors) == 0:
            return Partial(np.full(n, -1, dtype=np.int64), np.zeros(n), term)
        scores, rows = self.index.search(np.ascontiguousarray(prepared.vectors, dtype=np.float32), 1)
        best = best_per_owner(scores[:, 0], rows[:, 0].astype(np.int64), prepared.owner, n)
        best.term = term
        return best


def merge(partials: list[Partial], batch: LexicalBatch, docs: DocStore, params: dict) -> SignalResult:
    """Max over shards (ties to the first shard); evidence is the winning chunk's text."""
    result = SignalResult.empty(len(batch))
    has_words = batch.word_counts() > 0
    result.score[has_words] = 0.0
    result.features[TERM_SIMILARITY] = merged_terms([p.term for p in partials], has_words)
    best = np.full(len(batch), -np.inf)
    for number, part in enumerate(partials):
        better = has_words & (part.row >= 0) & (part.score > best)
        best[better] = part.score[better]
        result.score[better] = part.score[better]
        result.shard[better] = number
        result.doc[better] = part.row[better]
    chunks = {}
    for d in np.flatnonzero(result.shard >= 0):
        s, row = int(result.shard[d]), int(result.doc[d])
        if s not in chunks:
            chunks[s] = np.load(docs.folders[s] / CHUNKS, mmap_mode="r", allow_pickle=False)
        doc, start, end = (int(v) for v in chunks[s][row])
        result.doc[d] = doc
        result.start[d], result.end[d], result.match[d] = docs.excerpt(s, doc, start, end)
    return result


def merged_terms(parts: list[np.ndarray | None], has_words: np.ndarray) -> np.ndarray:
    """Max of the shards' (or files') term cosines; NaN for empty texts, or where a part has none."""
    out = np.full(len(has_words), np.nan)
    if parts and all(p is not None for p in parts):
        out[has_words] = np.max(np.stack(parts), axis=0)[has_words]
    elif not parts:
        out[has_words] = 0.0
    return out


def map_points(prepared: Prepared, n_texts: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D map of the texts ``rows``: first two principal components of their mean chunk vector."""
    sums = np.zeros((n_texts, prepared.vectors.shape[1]))
    np.add.at(sums, prepared.owner, prepared.vectors.astype(float))
    points = sums[rows]
    has = np.linalg.norm(points, axis=1) > 0
    x = np.full(len(rows), np.nan)
    y = np.full(len(rows), np.nan)
    if has.sum() >= 2:
        centred = points[has] - points[has].mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        # Fix each axis's sign so the map is the same on every run.
        signs = np.where(vt[:2].sum(axis=1) < 0, -1.0, 1.0)
        coords = centred @ (vt[:2].T * signs)
        x[has], y[has] = coords[:, 0], coords[:, 1]
    return x, y
