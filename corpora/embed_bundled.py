#!/usr/bin/env python3
"""Regenerate the prebuilt embedding cache shipped with `overlap`: corpora/embeddings/<sha12>/.

What it holds
-------------
The all-MiniLM-L6-v2 embedding (float16, unit length) of every chunk the
embedding signal cuts from the bundled reference corpus (corpora/reference/),
plus every query chunk of the bundled fine-tuning samples (corpora/finetune/),
as one immutable pair ``keys-bundled.npy`` (sorted uint64 content hashes) /
``vectors-bundled.npy`` (float16, one row per key). ``<sha12>`` is the first
12 hex digits of the SHA-256 of the model's weights, so another model (or
another release of the weights) never reads these vectors.

``overlap`` consults this directory (read-only) before the user's cache, so the
first ``overlap index build`` of the bundled corpus, and the first scan of the
bundled sample, embed nothing: on two CPU cores the chunks alone take about 20
minutes to embed.

Run (from the repository root, in the project's environment; no network)
-------------------------------------------------------------------------
    python corpora/embed_bundled.py [--threads N]

It reads the corpus exactly as ``overlap index build`` does (same reader,
normalisation and chunking, taken from the package), reuses the vectors already
in the shipped pair, embeds only what is missing (progress is kept in
``<cache>/embed-bundled-work/`` so an interrupted run resumes), writes the new
pair atomically and removes any older pair from the directory. Rerun it after
changing the bundled corpora, the chunking, or the model.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np  # noqa: E402

from overlap.io import bundled as data  # noqa: E402
from overlap.signals.embedding.cache import KEYS_PREFIX, VECTORS_PREFIX, EmbeddingCache, cache_subdir, text_keys, write_pair  # noqa: E402
from overlap.io import iter_corpus_batches, read_dataset  # noqa: E402
from overlap.text.batch import LexicalBatch  # noqa: E402
from overlap.signals.embedding import index as embedding  # noqa: E402

TAG = "bundled"
GROUP = 512  # chunks embedded between two saves of the work cache


def corpus_chunks(params: dict) -> list[str]:
    texts = []
    for source in data.reference_sources():
        for batch in iter_corpus_batches([str(source)], batch_size=2048):
            lexical = LexicalBatch.from_texts(batch.texts)
            texts += embedding.chunk_texts(lexical, *embedding.chunk_spans(lexical, params["chunk_words"]))
    return texts


def sample_chunks(params: dict) -> list[str]:
    """Query chunks of the bundled fine-tuning samples, as ``overlap scan`` forms them."""
    unique: dict[str, None] = {}
    for path in sorted((data.corpora_dir() / "finetune").glob("*.jsonl")):
        examples, _ = read_dataset(path)
        for e in examples:
            for t in (e.text, e.prompt, e.response):
                unique.setdefault(t, None)
    lexical = LexicalBatch.from_texts(list(unique))
    return embedding.chunk_texts(lexical, *embedding.chunk_spans(lexical, params["chunk_words"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    params = embedding.model_params("minilm")
    sha, dim = params["embedding_model_sha256"], params["embedding_dim"]
    out_dir = data.corpora_dir() / "embeddings" / cache_subdir(sha)
    work_dir = data.cache_dir() / "embed-bundled-work" / cache_subdir(sha)

    texts = corpus_chunks(params)
    n_corpus = len(texts)
    texts += sample_chunks(params)
    keys = text_keys(sha, texts)
    keys, first = np.unique(keys, return_index=True)
    texts = [texts[i] for i in first]
    print(f"{n_corpus} corpus chunks + {len(first) - min(len(first), n_corpus)} sample chunks; "
          f"{len(keys)} distinct", flush=True)

    cache = EmbeddingCache(work_dir, dim, readonly=[out_dir], flush_every=GROUP)
    embedder = embedding.Embedder(params)
    embedder.cache = cache
    _, found = cache.get(keys)
    todo = np.flatnonzero(~found)
    print(f"{len(keys) - len(todo)} already embedded, {len(todo)} to embed", flush=True)
    todo = todo[np.argsort([-len(texts[i]) for i in todo], kind="stable")]
    started = time.monotonic()
    for lo in range(0, len(todo), GROUP):
        rows = todo[lo : lo + GROUP]
        embedder.embed([texts[i] for i in rows])
        cache.flush()
        done = lo + len(rows)
        rate = done / (time.monotonic() - started)
        print(f"{done}/{len(todo)} embedded, {rate:.1f} chunks/s, "
              f"about {(len(todo) - done) / rate / 60:.1f} min left", flush=True)

    vectors, found = EmbeddingCache(work_dir, dim, readonly=[out_dir]).get(keys)
    assert found.all(), "some chunks are missing from the work cache"
    old = sorted(out_dir.glob(f"{KEYS_PREFIX}*.npy")) + sorted(out_dir.glob(f"{VECTORS_PREFIX}*.npy"))
    write_pair(out_dir, keys, vectors, tag=TAG)
    for path in old:
        if path.name not in (f"{KEYS_PREFIX}{TAG}.npy", f"{VECTORS_PREFIX}{TAG}.npy"):
            path.unlink()
    size = sum(p.stat().st_size for p in out_dir.iterdir())
    print(f"wrote {len(keys)} vectors to {out_dir} ({size / 1e6:.1f} MB)", flush=True)


if __name__ == "__main__":
    main()
