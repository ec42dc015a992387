"""A static embedding folder run with ``tokenizers`` and numpy: no torch, no sentence-transformers.

A folder written by ``overlap model distill`` (a sentence-transformers
``StaticEmbedding`` followed by ``Normalize``) computes a text's vector as the
mean of its tokens' rows, made unit length. That needs a tokenizer and a table,
nothing more, and importing sentence-transformers costs 5-30 seconds of a
short command on a busy 2-core machine. ``StaticModel`` gives the same vectors
as sentence-transformers would (tested) from the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from numba import prange

from overlap.engines.threads import parallel_kernel

WEIGHTS = "model.safetensors"
WEIGHT_KEY = "embedding.weight"
NORM_EPS = 1e-12  # torch.nn.functional.normalize's floor on the norm


def is_static(path: Path) -> bool:
    """Whether ``path`` holds exactly a StaticEmbedding (at the folder's root) and a Normalize module."""
    try:
        modules = json.loads((Path(path) / "modules.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules] if isinstance(modules, list) else []
    return (kinds == ["StaticEmbedding", "Normalize"] and modules[0].get("path", "") == ""
            and (Path(path) / WEIGHTS).is_file() and (Path(path) / "tokenizer.json").is_file())


class StaticModel:
    """Token table and tokenizer of a static model folder; ``encode`` gives unit float32 vectors."""

    def __init__(self, path: str | Path):
        # One thread per tokenizer call: its own pool fights the kernels' threads for the cores.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        path = Path(path)
        weights = load_file(path / WEIGHTS)
        if WEIGHT_KEY not in weights:
            raise ValueError(f"{path / WEIGHTS}: no {WEIGHT_KEY!r} table")
        # Stored as float16 to halve the package; computed in float32 like the torch module.
        self.weights = np.ascontiguousarray(weights[WEIGHT_KEY], dtype=np.float32)
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer_digest = hashlib.sha256((path / "tokenizer.json").read_bytes()).hexdigest()
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.dim = int(self.weights.shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Mean of each text's token rows, unit length (zeros for a text with no tokens)."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        counts = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        offsets = np.zeros(len(encodings) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(offsets[-1]))
        return self.encode_ids(ids, offsets)

    def encode_ids(self, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """:meth:`encode` of texts already tokenised by this model's tokenizer: text ``t``'s token ids are
        ``ids[offsets[t]:offsets[t + 1]]``."""
        means = bag_means(self.weights, ids, offsets)
        norms = np.linalg.norm(means, axis=1, keepdims=True)
        return means / np.maximum(norms, NORM_EPS)


@parallel_kernel
def bag_means(table, ids, offsets):
    """Mean of ``table``'s rows ``ids[offsets[d]:offsets[d + 1]]`` for every bag ``d`` (zeros when empty)."""
    n = len(offsets) - 1
    out = np.zeros((n, table.shape[1]), dtype=np.float32)
    for d in prange(n):
        lo, hi = offsets[d], offsets[d + 1]
        for j in range(lo, hi):
            row = table[ids[j]]
            for k in range(table.shape[1]):
                out[d, k] += row[k]
        if hi > lo:
            for k in range(table.shape[1]):
                out[d, k] /= hi - lo
    return out
