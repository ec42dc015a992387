"""Term similarity: the IDF-weighted cosine of two texts' word pieces, beside the embedding's cosine.

A static embedding averages its token rows into 256 numbers, which blurs the
rare terms (option names, function names, jargon) that tell two technical
texts on the same subject apart; on the domain benchmark
(``benchmarks/domain.md``) the IDF-weighted cosine of the same tokens
separates restatements from neighbouring text better than the static
embedding does, and close to MiniLM. The semantic signal measures both, on the
same chunks, and the calibrated model weighs them.

Tokens are the word pieces of the shipped static model's tokenizer (MiniLM's
uncased WordPiece vocabulary), whatever model embeds the chunks, so the value
is the same for every index. Weights are fixed, shipped in ``term_idf.npy``
(one per vocabulary entry): ``1 + ln((1 + N) / (1 + df))`` over a reference
sample of N texts (``benchmarks/embedding_train.py idf``), and 0 for pieces in
10% or more of them (stopwords, which would cost most of the work and carry
little). A text's vector is ``(1 + ln tf) * idf`` per piece, made unit length;
fixed weights make each chunk's vector its own, so a shard, a streamed file and
a corpus split any way give the same values.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from overlap.signals.embedding import models

IDF_FILE = Path(__file__).with_name("term_idf.npy")
STOPWORD_SHARE = 0.1  # pieces in this share of the reference texts or more weigh 0
PRODUCT_CELLS = 20_000_000  # query chunks x corpus chunks compared at once (bounds memory)


def _sparse():
    # Imported when first needed: a tenth of a second off every command that never reads terms.
    import scipy.sparse

    return scipy.sparse


@functools.cache
def _tokenizer():
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(models.default_model_path() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


@functools.cache
def tokenizer_digest() -> str:
    """SHA-256 of the tokenizer file the pieces are cut with (a static model cutting the same shares them)."""
    return hashlib.sha256((models.default_model_path() / "tokenizer.json").read_bytes()).hexdigest()


@dataclass(frozen=True)
class Pieces:
    """Texts cut into word pieces once: text ``t``'s piece ids are ``ids[offsets[t]:offsets[t + 1]]``."""

    ids: np.ndarray
    offsets: np.ndarray

    def take(self, rows: np.ndarray) -> "Pieces":
        """The pieces of texts ``rows``, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        lo, hi = self.offsets[rows], self.offsets[rows + 1]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(hi - lo, out=offsets[1:])
        at = np.repeat(lo - offsets[:-1], hi - lo) + np.arange(int(offsets[-1]), dtype=np.int64)
        return Pieces(self.ids[at], offsets)


def pieces(texts: list[str]) -> Pieces:
    """The word pieces of ``texts`` (no special tokens), for the term vectors and a static model alike."""
    encodings = _tokenizer().encode_batch(list(texts), add_special_tokens=False)
    offsets = np.zeros(len(encodings) + 1, dtype=np.int64)
    np.cumsum(np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings)), out=offsets[1:])
    ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(offsets[-1]))
    return Pieces(ids, offsets)


@functools.cache
def idf() -> np.ndarray:
    """The shipped weight of every vocabulary piece (float32; 0 for stopwords)."""
    return np.load(IDF_FILE, allow_pickle=False).astype(np.float32)


@functools.cache
def weights_digest() -> str:
    """What an index records of the weights its term vectors were made with."""
    return hashlib.sha256(IDF_FILE.read_bytes()).hexdigest()[:16]


def vectors(texts: list[str], cut: Pieces | None = None) -> scipy.sparse.csr_matrix:
    """Unit ``(1 + ln tf) * idf`` vectors of ``texts`` over the vocabulary (float32 CSR; empty rows stay 0),
    from their word pieces ``cut`` where the caller has them already."""
    sparse = _sparse()
    weights = idf()
    cut = pieces(texts) if cut is None else cut
    ids = cut.ids
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(cut.offsets))
    tf = sparse.csr_matrix((np.ones(len(ids), dtype=np.float32), (rows, ids)), shape=(len(texts), len(weights)))
    tf.sum_duplicates()
    tf.data = (1.0 + np.log(tf.data)) * weights[tf.indices]
    tf.eliminate_zeros()
    norms = np.sqrt(np.asarray(tf.multiply(tf).sum(axis=1)).ravel())
    tf = (sparse.diags((1.0 / np.maximum(norms, 1e-12)).astype(np.float32)) @ tf).astype(np.float32).tocsr()
    # Rounded as a shard stores them, so streamed chunks score exactly as indexed ones.
    tf.data = tf.data.astype(np.float16).astype(np.float32)
    return tf


def best_cosine(queries: scipy.sparse.csr_matrix, chunks: scipy.sparse.csr_matrix) -> np.ndarray:
    """Per query row, its highest cosine with any row of ``chunks`` (0 where none shares a piece)."""
    best = np.zeros(queries.shape[0], dtype=np.float32)
    if queries.shape[0] == 0 or chunks.shape[0] == 0:
        return best
    step = max(1, PRODUCT_CELLS // max(1, queries.shape[0]))
    transposed = queries.T.tocsr()
    for lo in range(0, chunks.shape[0], step):
        product = (chunks[lo : lo + step] @ transposed).tocsc()
        if product.nnz:
            np.maximum(best, product.max(axis=0).toarray().ravel(), out=best)
    return np.clip(best, 0.0, 1.0)


def stack(matrices: list[scipy.sparse.csr_matrix]) -> scipy.sparse.csr_matrix:
    """Rows of ``matrices`` one after another (an empty matrix over the vocabulary for none)."""
    sparse = _sparse()
    if not matrices:
        return sparse.csr_matrix((0, len(idf())), dtype=np.float32)
    return sparse.vstack(matrices, format="csr", dtype=np.float32)


def to_arrays(matrix: scipy.sparse.csr_matrix) -> dict[str, np.ndarray]:
    """A CSR matrix as the three arrays a shard stores (no pickle): offsets, piece ids, weights."""
    return {"indptr": matrix.indptr.astype(np.int64), "indices": matrix.indices.astype(np.int32),
            "data": matrix.data.astype(np.float16)}


def from_arrays(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> scipy.sparse.csr_matrix:
    """The stored arrays back as a CSR matrix over the vocabulary."""
    return _sparse().csr_matrix((data.astype(np.float32), indices.astype(np.int32), indptr.astype(np.int64)),
                             shape=(len(indptr) - 1, len(idf())))
