"""Shared fixtures (the lexical index of the bundled reference corpus, built once per session) and helpers."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from overlap.scoring import calibrate
from overlap.io import bundled as data
from overlap.pipeline.build import build_index

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lexical_index(tmp_path_factory) -> Path:
    """Index (n-gram + MinHash) of the bundled reference corpus."""
    out = tmp_path_factory.mktemp("lexical-index")
    build_index(data.reference_sources(), out, signals="ngram,minhash")
    return out


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


@pytest.fixture(scope="session")
def reference_docs() -> dict[str, list[dict]]:
    """Every bundled reference document, by file: its index holds them all (those held out to
    calibrate it too)."""
    return {p.name: load_docs(p) for p in data.reference_sources()}


@pytest.fixture(scope="module")
def ray_cluster(request):
    """A real local Ray cluster (the machine's two CPUs) for a test module, shut down at its end.

    Tasks may run functions of the test module, which Ray workers cannot import by name, so the
    module is pickled by value.
    """
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(request.module)
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    if started:
        ray.shutdown()
