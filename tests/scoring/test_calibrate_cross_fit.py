"""Cross-fitted calibration on real text: every corpus document is indexed (held-out ones too), index
and stream mode fit the same calibration and give the same labels, and sources are tracked by content."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from overlap.scoring import calibrate
from overlap.io import bundled as data
from overlap.pipeline.build import build_index, build_shard, ShardTask, index_params
from overlap.index.manifest import PLAN_FILE, read_manifest
from overlap.engines import Engine
from overlap.io import Example
from overlap.pipeline.scan import scan_examples
from overlap.pipeline.stream import scan_corpus

LEXICAL = ("ngram_containment", "ngram_alignment", "minhash_jaccard")


def _bundled(name: str) -> list[dict]:
    with gzip.open(data.corpora_dir() / "reference" / name, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _write(path: Path, docs: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for d in docs:
            handle.write(json.dumps(d) + "\n")
    return path


def _slices(texts: list[str], words: int = 80, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for text in texts:
        w = text.split()
        start = rng.randrange(max(1, len(w) - words + 1))
        out.append(" ".join(w[start:start + words]))
    return [Example(row=i, id=str(i), prompt="", response="", text=t, category=None) for i, t in enumerate(out)]


def test_a_verbatim_copy_of_a_held_out_document_is_found(lexical_index):
    manifest = read_manifest(lexical_index)
    held = []
    for shard in manifest.shards:
        if shard.get("fold"):
            held += pq.read_table(lexical_index / shard["name"] / "docs.parquet")["text"].to_pylist()
    held = [t for t in held if len(t.split()) >= 80][:40]
    assert len(held) >= 20
    scores = scan_examples(_slices(held), lexical_index)
    assert (scores["ngram_containment"].to_numpy() == 1.0).all()
    assert (scores["label"] == "familiar").all()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A corpus under 1 MiB (k folds), its index, and a dataset of verbatim slices, edits and novel text."""
    root = tmp_path_factory.mktemp("small")
    docs = _bundled("abc-news.jsonl.gz")[:240]
    corpus = _write(root / "news.jsonl", docs)
    build_index([corpus], root / "idx", signals="ngram,minhash")
    examples = _slices([d["text"] for d in random.Random(1).sample(docs, 40)])
    novel = [d["text"] for d in _bundled("pydoc-topics.jsonl.gz")[:20]]
    examples += [Example(row=40 + i, id=str(40 + i), prompt="", response="", text=t, category=None)
                 for i, t in enumerate(novel)]
    return corpus, root / "idx", examples


def test_index_and_stream_mode_fit_the_same_calibration_and_agree(small):
    corpus, index, examples = small
    manifest = read_manifest(index)
    fitted: dict = {}
    streamed, _ = scan_corpus(examples, [corpus], signals="ngram,minhash", calibration_out=fitted)
    indexed = scan_examples(examples, index)
    assert manifest.calibration["status"] == fitted["status"] == "fitted"
    assert fitted["models"] == manifest.calibration["models"]
    assert fitted["card"] == manifest.calibration["card"]
    for column in LEXICAL:
        assert np.array_equal(indexed[column].to_numpy(), streamed[column].to_numpy(), equal_nan=True), column
    assert indexed["label"].to_list() == streamed["label"].to_list()
    assert (indexed["label"][:40] == "familiar").all()


def test_files_that_reuse_ids_calibrate_the_same_in_both_modes(tmp_path):
    # Two shards of one corpus numbered from 0 each: every id is in both files, so only the tie-break
    # by file and line makes the planting sample one sample; stream mode gathers each file in its own task.
    docs = _bundled("abc-news.jsonl.gz")[:240]
    files = [_write(tmp_path / f"part-{k}.jsonl", [{"id": str(i), "text": d["text"]} for i, d in
                                                    enumerate(docs[k * 120:(k + 1) * 120])]) for k in range(2)]
    manifest = build_index(files, tmp_path / "idx", signals="ngram,minhash")
    examples = _slices([d["text"] for d in docs[::12]])
    fitted: dict = {}
    streamed, _ = scan_corpus(examples, files, signals="ngram,minhash", calibration_out=fitted,
                              engine=Engine("local", 2))
    assert manifest.calibration["status"] == fitted["status"] == "fitted"
    assert fitted["card"] == manifest.calibration["card"]
    assert scan_examples(examples, tmp_path / "idx")["label"].to_list() == streamed["label"].to_list()


def test_appending_a_document_to_a_source_adds_exactly_one(tmp_path):
    docs = _bundled("abc-news.jsonl.gz")[:150]
    corpus = _write(tmp_path / "news.jsonl", docs[:149])
    messages: list[str] = []
    before = build_index([corpus], tmp_path / "idx", signals="ngram").counts()["documents"]
    _write(corpus, docs)
    manifest = build_index([corpus], tmp_path / "idx", progress=messages.append)
    assert before == 149 and manifest.counts()["documents"] == 150
    assert len(manifest.sources) == 1 and len({s["number"] for s in manifest.shards}) == 1
    assert any("changed since it was indexed" in m for m in messages)
    kept = {p.name for p in (tmp_path / "idx").iterdir() if p.name.startswith("shard-")}
    assert kept == {s["name"] for s in manifest.shards}  # the old shard's folders are gone


def test_resume_rebuilds_a_shard_whose_source_changed_in_between(tmp_path):
    docs = _bundled("abc-news.jsonl.gz")[:80]
    corpus = _write(tmp_path / "news.jsonl", docs[:79])
    out = tmp_path / "idx"
    out.mkdir()
    names = ["ngram"]
    params = index_params(names)
    plan = {"params": params, "signals": names, "sources": [str(corpus)], "first": 0, "sample_rate": 1.0,
            "holdout_rate": 0.0, "holdout_kfold": calibrate.KFOLDS}
    (out / PLAN_FILE).write_text(json.dumps(plan))
    build_shard(ShardTask(str(out), 0, str(corpus), params, names, holdout_kfold=calibrate.KFOLDS))
    _write(corpus, docs)  # edited after the interrupted run
    manifest = build_index([corpus], out, signals="ngram", resume=True)
    assert manifest.counts()["documents"] == 80


def test_a_source_that_no_longer_exists_is_reported(tmp_path):
    news = _bundled("abc-news.jsonl.gz")
    first = _write(tmp_path / "a.jsonl", news[:60])
    second = _write(tmp_path / "b.jsonl", news[60:120])
    build_index([first], tmp_path / "idx", signals="ngram")
    first.unlink()
    messages: list[str] = []
    manifest = build_index([second], tmp_path / "idx", progress=messages.append)
    assert manifest.counts()["documents"] == 120
    assert any(str(first) in m and "no longer exists" in m for m in messages)


def test_the_build_says_what_it_held_out_and_that_it_indexed_it(tmp_path):
    corpus = _write(tmp_path / "news.jsonl", _bundled("abc-news.jsonl.gz")[:200])
    messages: list[str] = []
    build_index([corpus], tmp_path / "idx", signals="ngram", holdout_rate=0.2, progress=messages.append)
    line = next(m for m in messages if m.startswith("calibration: held out"))
    assert "then indexed them with the rest (the index holds all 200)" in line
