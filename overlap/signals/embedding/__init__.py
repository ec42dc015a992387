"""Semantic similarity: best cosine between a text's embedding and a corpus chunk's, through FAISS.

``index`` builds and queries the FAISS shards, ``stream`` embeds corpus chunks as
they pass; ``models`` (with ``static_model``) loads and identifies the embedding
model, ``cache`` keeps vectors by content hash, ``distill`` makes static models.
"""

from __future__ import annotations

from overlap.signals.base import Signal, StreamMode
from overlap.signals.embedding import stream
from overlap.signals.embedding.index import (
    NAME, Builder, Reader, compatibility_problems, default_params, map_points, merge, model_params, prepare,
)

SIGNAL = Signal(
    name=NAME,
    column="semantic_similarity",
    evidence="semantic",
    title="semantic similarity",
    short="semantic",
    default_params=default_params,
    Builder=Builder,
    Reader=Reader,
    merge=merge,
    stream=StreamMode(stream.side, stream.Probe, stream.Merger, prepared=stream.prepared),
    content=True,
    map_points=map_points,
    prepare=prepare,
    compatibility_problems=compatibility_problems,
    model_params=model_params,
)
