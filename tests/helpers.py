"""Helpers shared by tests (import with ``from helpers import ...``; ``tests/`` is on the path): the repository
root, small scores tables, bundled documents, the bad-corpus writer, a plain sort, the tiny causal LM."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import polars as pl

from overlap.io import bundled as data

ROOT = Path(__file__).resolve().parent.parent
# text a report must show as text, never run
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'

SENTENCES = [
    "The cat sat quietly on the warm windowsill.",
    "A kitten rested on the sunny window ledge.",
    "Stock markets fell sharply after the interest rate announcement.",
    "Python lists are mutable sequences of arbitrary objects.",
    "In Python, a list can be changed after it is created.",
    "The bushfire forced hundreds of residents to leave their homes.",
    "Bake the bread at two hundred degrees for forty minutes.",
    "Photosynthesis turns light, water and carbon dioxide into sugar.",
]


def plain_scores(labels: list[str], familiarity: list[float | None] | None = None) -> pl.DataFrame:
    """A scores table of singletons with the given labels."""
    n = len(labels)
    if familiarity is None:
        familiarity = [None if lab == "empty" else 0.5 for lab in labels]
    return pl.DataFrame(
        {
            "id": [f"ex{i}" for i in range(n)],
            "row": pl.Series(range(n), dtype=pl.Int64),
            "familiarity": pl.Series(familiarity, dtype=pl.Float64),
            "label": labels,
            "dup_group": pl.Series(range(n), dtype=pl.Int64),
            "category": pl.Series([None] * n, dtype=pl.String),
        }
    )


def load_docs(path: Path) -> list[dict]:
    """Documents of one bundled corpus file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def write_bad_corpus(folder: Path, files: int, name: str = "c-{k}.jsonl.gz") -> list[str]:
    """``files`` JSONL.gz corpus files of three documents each; in the second, line 2's text is a number."""
    paths = []
    for k in range(files):
        records = [{"id": f"d{k}-{i}", "text": f"document {i} of file {k} with a few words"} for i in range(3)]
        if k == 1:
            records[1]["text"] = 42
        path = folder / name.format(k=k)
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in records)
        paths.append(str(path))
    return paths


def bundled_texts(per_file: int = 12, max_chars: int = 6000) -> list[str]:
    """A deterministic sample of bundled documents (cut, so the plain reference stays quick)."""
    rng = random.Random(5)
    texts = []
    for path in data.reference_sources():
        docs = [doc["text"] for doc in load_docs(path)]
        for text in rng.sample(docs, min(per_file, len(docs))):
            start = rng.randrange(max(1, len(text) - max_chars))
            texts.append(text[start : start + max_chars])
    return texts


def reference_sort(keys: np.ndarray, values: np.ndarray, unique: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, values)`` in ``np.argsort(keys, kind="stable")`` order (with ``unique``: the first of each key)."""
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    if unique:
        keep = np.ones(len(keys), dtype=bool)
        keep[1:] = keys[1:] != keys[:-1]
        keys, values = keys[keep], values[keep]
    return keys, values


def abc_docs(count: int) -> list[dict]:
    """The first ``count`` documents of the bundled ABC News reference file."""
    path = data.corpora_dir() / "reference" / "abc-news.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for _, line in zip(range(count), handle)]


def tiny_model(d: Path) -> None:
    """A two-layer Llama with a 19-word vocabulary, saved with its tokenizer in ``d`` (needs torch)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "[EOS]": 2}
    for w in "the a of and to in is python for on it that with as was by".split():
        vocab.setdefault(w, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]")
    tok.save_pretrained(d)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                      pad_token_id=0, eos_token_id=2, bos_token_id=2)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(d)
