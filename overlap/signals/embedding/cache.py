"""Embeddings cached by content hash, so no text is embedded twice by the same model.

A cache directory belongs to one model (``<model sha256[:12]>``) and holds
immutable pairs of ``.npy`` files: ``keys-<tag>.npy`` (sorted unique uint64
content hashes) and ``vectors-<tag>.npy`` (float16 unit vectors, one row per
key). New entries are buffered and written as a fresh pair, vectors first and
keys last, each through a temp file and ``os.replace``: a pair is visible only
once whole, and writers never touch each other's files, so several processes
can share a cache. Lookups memory-map every pair and binary-search it.

Read-only directories are consulted first: the package ships one holding every
chunk of the bundled reference corpus (``corpora/embeddings/<sha12>/``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from pathlib import Path
from typing import Iterable

import numpy as np

KEYS_PREFIX = "keys-"
VECTORS_PREFIX = "vectors-"
FLUSH_EVERY = 4096
COMPACT_ABOVE = 32


def cache_subdir(model_sha256: str) -> str:
    return model_sha256[:12]


def text_key(model_sha256: str, text: str) -> int:
    """64-bit content hash of ``text`` as embedded by the model with this weights SHA-256."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8, key=model_sha256.encode()[:64])
    return int.from_bytes(digest.digest(), "little")


def text_keys(model_sha256: str, texts: Iterable[str]) -> np.ndarray:
    """:func:`text_key` of every text, as uint64."""
    key = model_sha256.encode()[:64]
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8, key=key).digest(), "little")
            for t in texts
        ),
        dtype=np.uint64,
    )


class _Pair:
    def __init__(self, keys: np.ndarray, vectors: np.ndarray, source: str):
        self.keys = keys
        self.vectors = vectors
        self.source = source

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, row of each found key)."""
        if len(self.keys) == 0:
            return np.zeros(len(keys), bool), np.zeros(len(keys), np.int64)
        idx = np.searchsorted(self.keys, keys)
        idx[idx == len(self.keys)] = 0
        found = self.keys[idx] == keys
        return found, idx


def _load_pairs(directory: Path, dim: int) -> list[_Pair]:
    pairs = []
    if not directory.is_dir():
        return pairs
    for keys_path in sorted(directory.glob(f"{KEYS_PREFIX}*.npy")):
        tag = keys_path.name[len(KEYS_PREFIX) :]
        vectors_path = directory / f"{VECTORS_PREFIX}{tag}"
        try:
            keys = np.load(keys_path, mmap_mode="r", allow_pickle=False)
            vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            continue  # removed by a concurrent compaction, or damaged: a miss, not an error
        if (
            keys.dtype != np.uint64 or keys.ndim != 1 or vectors.dtype != np.float16
            or vectors.shape != (len(keys), dim)
        ):
            print(f"overlap: ignoring malformed embedding cache file {keys_path}", file=sys.stderr)
            continue
        pairs.append(_Pair(keys, vectors, str(keys_path)))
    return pairs


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    temp = path.with_name(f".tmp-{secrets.token_hex(6)}-{path.name}")
    try:
        with open(temp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_pair(directory: Path, keys: np.ndarray, vectors: np.ndarray, tag: str | None = None) -> Path:
    """Write a sorted, deduplicated key/vector pair into ``directory``; return the keys file."""
    keys = np.asarray(keys, dtype=np.uint64)
    vectors = np.asarray(vectors, dtype=np.float16)
    keys, first = np.unique(keys, return_index=True)
    vectors = vectors[first]
    directory.mkdir(parents=True, exist_ok=True)
    tag = tag or f"{os.getpid()}-{secrets.token_hex(6)}"
    _save_npy_atomic(directory / f"{VECTORS_PREFIX}{tag}.npy", vectors)
    keys_path = directory / f"{KEYS_PREFIX}{tag}.npy"
    _save_npy_atomic(keys_path, keys)
    return keys_path


class EmbeddingCache:
    """uint64 content hash -> float16 vector, over read-only dirs and one writable dir.

    ``directory`` (may be ``None``: nothing is written) takes new entries;
    ``readonly`` directories are searched first and never written.
    """

    def __init__(self, directory: str | Path | None, dim: int, readonly: Iterable[str | Path] = (),
                 flush_every: int = FLUSH_EVERY):
        self.directory = Path(directory) if directory is not None else None
        self.readonly = [Path(d) for d in readonly]
        self.dim = int(dim)
        self.flush_every = flush_every
        self._pairs: list[_Pair] | None = None
        self._pending_keys: list[np.ndarray] = []
        self._pending_vectors: list[np.ndarray] = []
        self._pending: dict[int, int] = {}
        self._pending_rows = 0
        self._write_failed = False

    @classmethod
    def for_model(cls, model_sha256: str, dim: int, writable: bool = True) -> "EmbeddingCache":
        """The shipped cache (read-only) and the user cache of a model."""
        from overlap.io import bundled as data

        sub = cache_subdir(model_sha256)
        readonly = []
        try:
            readonly.append(data.corpora_dir() / "embeddings" / sub)
        except FileNotFoundError:
            pass
        user = data.cache_dir() / "embeddings" / sub if writable else None
        return cls(user, dim, readonly)

    def _all_pairs(self) -> list[_Pair]:
        if self._pairs is None:
            pairs = []
            for d in self.readonly:
                pairs += _load_pairs(d, self.dim)
            if self.directory is not None:
                pairs += _load_pairs(self.directory, self.dim)
            self._pairs = pairs
        return self._pairs

    def __len__(self) -> int:
        """Number of stored entries (pairs may overlap, so an upper bound)."""
        return sum(len(p.keys) for p in self._all_pairs()) + len(self._pending)

    def get(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(vectors float16 [n, dim], found bool [n])``; rows of missing keys are zero."""
        keys = np.asarray(keys, dtype=np.uint64)
        out = np.zeros((len(keys), self.dim), dtype=np.float16)
        found = np.zeros(len(keys), dtype=bool)
        for pair in self._all_pairs():
            todo = np.flatnonzero(~found)
            if len(todo) == 0:
                break
            hit, idx = pair.find(keys[todo])
            rows = todo[hit]
            if len(rows):
                take = idx[hit]
                order = np.argsort(take)  # read the memory map in order
                out[rows[order]] = pair.vectors[take[order]]
                found[rows] = True
        if self._pending:
            pending_vectors = np.concatenate(self._pending_vectors)
            for i in np.flatnonzero(~found):
                j = self._pending.get(int(keys[i]))
                if j is not None:
                    out[i] = pending_vectors[j]
                    found[i] = True
        return out, found

    def put(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add entries (written to disk every ``flush_every`` entries and on :meth:`flush`)."""
        if self.directory is None or len(keys) == 0:
            return
        keys = np.asarray(keys, dtype=np.uint64)
        vectors = np.asarray(vectors, dtype=np.float16).reshape(len(keys), self.dim)
        base = self._pending_rows
        self._pending_rows += len(keys)
        for i, k in enumerate(keys.tolist()):
            self._pending.setdefault(k, base + i)
        self._pending_keys.append(keys)
        self._pending_vectors.append(vectors)
        if len(self._pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write buffered entries as a new pair (and compact when pairs pile up)."""
        if not self._pending or self.directory is None:
            return
        keys = np.concatenate(self._pending_keys)
        vectors = np.concatenate(self._pending_vectors)
        self._pending_keys, self._pending_vectors, self._pending, self._pending_rows = [], [], {}, 0
        if self._write_failed:
            return
        try:
            path = write_pair(self.directory, keys, vectors)
        except OSError as exc:
            self._write_failed = True
            print(f"overlap: cannot write the embedding cache in {self.directory} ({exc}); "
                  "continuing without caching", file=sys.stderr)
            return
        if self._pairs is not None:
            self._pairs += _load_pairs_from(path, self.dim)
        if len(list(self.directory.glob(f"{KEYS_PREFIX}*.npy"))) > COMPACT_ABOVE:
            self.compact()

    def compact(self) -> None:
        """Merge the writable directory's pairs into one (old pairs are removed afterwards)."""
        if self.directory is None:
            return
        pairs = _load_pairs(self.directory, self.dim)
        if len(pairs) < 2:
            return
        keys = np.concatenate([np.asarray(p.keys) for p in pairs])
        vectors = np.concatenate([np.asarray(p.vectors) for p in pairs])
        write_pair(self.directory, keys, vectors)
        for p in pairs:
            keys_path = Path(p.source)
            tag = keys_path.name[len(KEYS_PREFIX) :]
            keys_path.unlink(missing_ok=True)
            (keys_path.parent / f"{VECTORS_PREFIX}{tag}").unlink(missing_ok=True)
        self._pairs = None

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> "EmbeddingCache":
        return self

    def __exit__(self, *exc) -> None:
        self.flush()


def _load_pairs_from(keys_path: Path, dim: int) -> list[_Pair]:
    tag = keys_path.name[len(KEYS_PREFIX) :]
    try:
        keys = np.load(keys_path, mmap_mode="r", allow_pickle=False)
        vectors = np.load(keys_path.parent / f"{VECTORS_PREFIX}{tag}", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return []
    return [_Pair(keys, vectors, str(keys_path))]
