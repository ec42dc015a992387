"""Semantic similarity: best cosine between a text's embedding and a corpus chunk's, through FAISS.

``index`` builds and queries the FAISS shards, ``stream`` embeds corpus chunks as
they pass; ``terms`` measures beside the cosine the IDF-weighted cosine of the
chunks' word pieces (``term_similarity``); ``models`` (with ``static_model``)
loads and identifies the embedding model, ``cache`` keeps vectors by content hash, ``distill`` makes static models.
"""

from __future__ import annotations

from overlap.signals.base import Signal, StreamMode
from overlap.signals.embedding import stream
from overlap.signals.embedding.index import (
    NAME, TERM_SIMILARITY, Builder, Reader, compatibility_problems, default_params, map_points, merge, model_params,
    prepare,
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
    # The model reads the mean of the embedding's cosine and the word pieces' IDF-weighted cosine
    # (``terms``), in equal shares: fitted apart on planted copies, the term cosine (all but exact on
    # a copy) took the weight and restatements in other words lost theirs (benchmarks/domain.md).
    measures=(TERM_SIMILARITY,),
    inputs=(f"mean(semantic_similarity,{TERM_SIMILARITY})",),
    map_points=map_points,
    prepare=prepare,
    compatibility_problems=compatibility_problems,
    model_params=model_params,
)
