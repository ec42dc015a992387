"""Stream mode of the semantic signal: the dataset's chunk vectors in memory, corpus chunks embedded as they pass.

Each corpus batch is cut into chunks exactly as index building cuts them
(:func:`overlap.signals.embedding.index.chunk_spans`), embedded by the same model
through the read-only part of the embedding cache (the bundled corpus ships
its vectors; nothing of a streamed corpus is written to disk), put in an exact
FAISS inner-product index, and searched by every query chunk. Each query chunk
keeps its best corpus chunk over the file, each text its best chunk, and files
merge by max as index mode merges shards. An index of up to
``embedding_max_exact`` chunks per shard is searched exactly too, so the two
modes agree up to float rounding (and to which of two equally close chunks is
cited); above that an index uses HNSW, which can miss a nearest chunk that
stream mode finds. Term similarity (``terms``) is exact in both modes: each
query chunk keeps its best term cosine over every corpus chunk that passes.

Throughput is the model's: the static model embeds thousands of chunks a second
on a CPU, MiniLM about a dozen per core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from overlap.index.documents import excerpt
from overlap.text.batch import LexicalBatch
from overlap.signals.embedding import index as embedding
from overlap.signals.embedding import terms
from overlap.signals.base import FileBest, SignalResult


@dataclass
class Side:
    """The query texts' chunk vectors and which text each chunk is of (``prepared``), and how many texts."""

    prepared: embedding.Prepared
    texts: int


@dataclass
class FilePart:
    """One corpus file's best chunk per text (``best``) and best term cosine per text (``term``)."""

    best: FileBest
    term: np.ndarray


def prepared(side: Side) -> embedding.Prepared:
    """The query chunk vectors, handed to the scores table (its 2-D map) as index mode's ``prepare`` gives."""
    return side.prepared


def side(batch: LexicalBatch, params: dict, options: dict | None = None) -> Side:
    """The query texts' chunk vectors (through the cache), as a scan prepares them."""
    return Side(embedding.prepare(batch, params, options), len(batch))


@dataclass
class CorpusChunks:
    """One corpus batch's chunks: which text and bytes each is, their term vectors, their vectors' index."""

    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    terms: "scipy.sparse.csr_matrix"
    index: object


def corpus_chunks(batch: LexicalBatch, params: dict, embedder: embedding.Embedder) -> CorpusChunks:
    """The batch's chunks, embedded once for every probe that passes over it (the dataset's and each
    calibration fold's probe the same part of a file)."""

    def make() -> CorpusChunks:
        doc, start, end = embedding.chunk_spans(batch, params["chunk_words"])
        texts = embedding.chunk_texts(batch, doc, start, end)
        cut = terms.pieces(texts)
        index, _ = embedding.build_faiss(embedder.embed(texts, "corpus chunks", cut), len(texts))
        return CorpusChunks(doc, start, end, terms.vectors(texts, cut), index)

    return batch.derived(("embedding", params["chunk_words"], embedder.sha, embedder.spec), make)


class Probe:
    """One corpus file's pass: embed each batch's chunks, search them with every query chunk."""

    def __init__(self, side: Side, params: dict, options: dict | None = None):
        self.side = side.prepared
        self.texts = side.texts
        self.params = params
        self.embedder = embedding.Embedder(params, options, writable_cache=False)
        nq = len(self.side.vectors)
        self.score = np.full(nq, -np.inf, dtype=np.float32)
        self.evidence = np.full((nq, 3), -1, dtype=np.int64)  # document, char start, char end
        self.match: list[str | None] = [None] * nq
        self.doc_id: list[str | None] = [None] * nq
        self.term = np.zeros(nq, dtype=np.float32)
        self.chunks = 0

    def add(self, batch: LexicalBatch, ids: list[str], doc_base: int) -> None:
        if len(self.side.vectors) == 0 or not batch.word_counts().any():
            return
        chunks = corpus_chunks(batch, self.params, self.embedder)
        doc, start, end = chunks.doc, chunks.start, chunks.end
        np.maximum(self.term, terms.best_cosine(self.side.terms, chunks.terms), out=self.term)
        scores, rows = chunks.index.search(np.ascontiguousarray(self.side.vectors, dtype=np.float32), 1)
        scores, rows = scores[:, 0], rows[:, 0]
        better = np.flatnonzero((rows >= 0) & (scores > self.score))
        self.score[better] = scores[better]
        for q in better.tolist():
            c = int(rows[q])
            d = int(doc[c])
            cs, ce, self.match[q] = excerpt(batch.text_bytes(d), int(start[c]), int(end[c]))
            self.evidence[q] = (doc_base + d, cs, ce)
            self.doc_id[q] = ids[d]
        self.chunks += len(doc)

    def finish(self) -> FilePart:
        n = self.texts
        found = np.flatnonzero(np.isfinite(self.score))
        best = embedding.best_per_owner(self.score[found], found, self.side.owner[found], n)
        part = FileBest(best.row, best.score, np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64),
                       np.full(n, -1, dtype=np.int64), [None] * n, [None] * n)
        for text in np.flatnonzero(best.row >= 0).tolist():
            q = int(best.row[text])
            part.doc[text], part.start[text], part.end[text] = self.evidence[q]
            part.match[text], part.doc_id[text] = self.match[q], self.doc_id[q]
        return FilePart(part, embedding.term_best(self.term, self.side.owner, n))


class Merger:
    """Max over files in file order, ties to the earlier file (as index mode merges shards)."""

    def __init__(self, side: Side, params: dict):
        self.best: FileBest | None = None
        self.shard: np.ndarray | None = None
        self.terms: list[np.ndarray] = []

    def add(self, number: int, file_part: FilePart) -> None:
        self.terms.append(file_part.term)
        part = file_part.best
        if self.best is None:
            self.best = part
            self.shard = np.where(part.row >= 0, number, -1)
            return
        better = np.flatnonzero((part.row >= 0) & (part.score > np.where(self.best.row >= 0, self.best.score, -np.inf)))
        for field in ("row", "score", "doc", "start", "end"):
            getattr(self.best, field)[better] = getattr(part, field)[better]
        for d in better.tolist():
            self.best.match[d], self.best.doc_id[d] = part.match[d], part.doc_id[d]
        self.shard[better] = number

    def result(self, batch: LexicalBatch) -> SignalResult:
        """The merged result; texts with words but no chunk found score 0, empty texts NaN."""
        n = len(batch)
        result = SignalResult.empty(n)
        result.doc_ids = [None] * n
        has_words = batch.word_counts() > 0
        result.score[has_words] = 0.0
        result.features[embedding.TERM_SIMILARITY] = embedding.merged_terms(self.terms, has_words)
        if self.best is None:
            return result
        b = self.best
        take = np.flatnonzero(has_words[: len(b.row)] & (b.row >= 0))
        result.score[take] = b.score[take]
        result.shard[take] = self.shard[take]
        result.doc[take], result.start[take], result.end[take] = b.doc[take], b.start[take], b.end[take]
        for d in take.tolist():
            result.match[d], result.doc_ids[d] = b.match[d], b.doc_id[d]
        return result
