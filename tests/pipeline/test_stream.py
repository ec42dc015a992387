"""Stream mode (``overlap scan --corpus``) gives index mode's scores table without an index.

The lexical signals must match a scan of the index of the same files value for
value, evidence included: on the bundled corpus (one batch per file), and on a
corpus of paragraphs whose first file spans several read batches and repeats a
boilerplate paragraph often enough to hit the per-band candidate cap, so
window numbering across batches and the cap's tie rules are exercised.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from overlap import api
from overlap.io import bundled as data
from overlap.pipeline.build import CORPUS_BATCH, build_index
from overlap.cli import main
from overlap.io import InputError, read_dataset, read_table
from overlap.pipeline.scan import scan_examples
from overlap.pipeline.stream import scan_corpus

from helpers import load_docs, write_bad_corpus

BOILERPLATE = ("All rights reserved. No part of this publication may be reproduced, distributed, or "
               "transmitted in any form or by any means without the prior written permission of the publisher.")


@pytest.fixture(scope="module")
def whole_index(tmp_path_factory) -> Path:
    """Lexical index of every bundled document, self-calibrated (cross-fitted) as stream mode calibrates itself."""
    out = tmp_path_factory.mktemp("whole-index")
    build_index(data.reference_sources(), out, signals="ngram,minhash")
    return out


@pytest.fixture(scope="module")
def sample_examples():
    return read_dataset(data.sample_dataset())[0]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The bundled sample's first 200 records plus passages cut from every bundled corpus file, some edited."""
    rng = np.random.default_rng(7)
    lines = data.sample_dataset().read_text().splitlines()[:200]
    for path in data.reference_sources():
        docs = load_docs(path)
        for k in range(12):
            words = docs[int(rng.integers(len(docs)))]["text"].split()
            length = int(rng.integers(12, 150))
            start = int(rng.integers(0, max(1, len(words) - length)))
            passage = words[start : start + length]
            if k % 3 == 2:  # a light edit: about one word in eight replaced
                passage = [w if rng.random() > 0.125 else "zebra" for w in passage]
            record = {"id": f"{path.name}-{k}", "messages": [
                {"role": "user", "content": "Tell me something."},
                {"role": "assistant", "content": " ".join(passage)}]}
            lines.append(json.dumps(record))
    dataset = tmp_path_factory.mktemp("planted") / "planted.jsonl"
    dataset.write_text("\n".join(lines) + "\n")
    return read_dataset(dataset)[0]


def test_lexical_stream_equals_index_scan_on_the_bundled_corpus(whole_index, planted):
    indexed = scan_examples(planted, whole_index)
    streamed, rejects = scan_corpus(planted, data.reference_sources(), signals="ngram,minhash")
    assert rejects == []
    assert streamed.columns == indexed.columns
    assert streamed.equals(indexed)
    # Not two empty results: the planted passages are found, with evidence, in every corpus file.
    cut = streamed.filter(streamed["id"].str.contains(".jsonl.gz"))
    assert (cut["ngram_containment"] > 0.3).sum() >= 32  # at least the 32 verbatim passages
    assert (cut["minhash_jaccard"] > 0.3).sum() >= 20
    assert cut["ngram_match"].drop_nulls().len() >= 40
    assert cut["minhash_doc_id"].drop_nulls().len() >= 20


@pytest.fixture(scope="module")
def paragraph_corpus(tmp_path_factory) -> tuple[list[Path], Path]:
    """Two JSONL files of bundled paragraphs (the first over two read batches) with a repeated boilerplate, and a dataset."""
    folder = tmp_path_factory.mktemp("paragraphs")
    paragraphs = []
    for path in data.reference_sources():
        if path.name.startswith(("python-docs", "pydoc")):
            for d in load_docs(path):
                paragraphs += [p for p in d["text"].split("\n\n") if len(p.split()) >= 3]
    paragraphs = paragraphs[: 2 * CORPUS_BATCH + 1500]
    files = []
    for k, part in enumerate([paragraphs[: 2 * CORPUS_BATCH + 500], paragraphs[2 * CORPUS_BATCH + 500 :]]):
        docs = []
        for i, p in enumerate(part):
            docs.append(p)
            if i % 25 == 0:  # about 170 copies in the first file, beyond the 64-candidate cap
                docs.append(BOILERPLATE)
        path = folder / f"part-{k}.jsonl"
        path.write_text("".join(json.dumps({"id": f"f{k}-{i}", "text": t}) + "\n" for i, t in enumerate(docs)))
        files.append(path)
    late = next(p for p in paragraphs[CORPUS_BATCH + 700 :] if len(p.split()) >= 60)
    dataset = folder / "dataset.jsonl"
    lines = data.sample_dataset().read_text().splitlines()[:150]
    extra = [
        {"id": "boilerplate", "messages": [{"role": "user", "content": "Legal notice?"},
                                           {"role": "assistant", "content": BOILERPLATE}]},
        {"id": "late", "messages": [{"role": "user", "content": "Quote the docs."},
                                    {"role": "assistant", "content": late}]},
    ]
    dataset.write_text("\n".join(lines + [json.dumps(e) for e in extra]) + "\n")
    return files, dataset


def test_lexical_stream_equals_index_scan_across_batches_and_capped_bands(tmp_path, paragraph_corpus):
    files, dataset = paragraph_corpus
    index = tmp_path / "index"
    build_index(files, index, signals="ngram,minhash")
    examples, _ = read_dataset(dataset)
    indexed = scan_examples(examples, index)
    streamed, _ = scan_corpus(examples, files, signals="ngram,minhash")
    assert streamed.equals(indexed)
    rows = {r["id"]: r for r in streamed.iter_rows(named=True)}
    # Whole texts hold the prompt too, so nearly but not exactly the corpus paragraph.
    assert rows["boilerplate"]["minhash_jaccard"] > 0.9 and rows["boilerplate"]["ngram_containment"] > 0.9
    assert rows["late"]["ngram_containment"] > 0.9
    assert rows["late"]["ngram_doc_id"].startswith("f0-")
    assert int(rows["late"]["ngram_doc_id"][3:]) > CORPUS_BATCH  # found in the file's second read batch


def test_cli_stream_scan_writes_the_index_scan_table(tmp_path, whole_index, sample_examples):
    out = tmp_path / "scores.parquet"
    sources = [str(p) for p in data.reference_sources()]
    report = tmp_path / "report.html"
    args = ["scan", str(data.sample_dataset()), "--out", str(out), "--signals", "ngram,minhash", "--workers", "2",
            "--report", str(report)]
    for source in sources:
        args += ["--corpus", source]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "stream: file 4/4" in result.output
    assert "near-duplicate (MinHash Jaccard)" in report.read_text()  # stream mode has no index to read
    assert read_table(out).equals(scan_examples(sample_examples, whole_index))


def test_index_and_corpus_together_are_refused_in_one_line(tmp_path, lexical_index):
    result = CliRunner().invoke(main, ["scan", str(data.sample_dataset()), "--out", str(tmp_path / "s.csv"),
                                       "--index", str(lexical_index), "--corpus", str(data.reference_sources()[0])])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "error: give either an index (--index) or a corpus to stream (--corpus), not both")


def test_bad_corpus_record_gets_the_error_build_gives(tmp_path, sample_examples):
    corpus = write_bad_corpus(tmp_path, 2)
    with pytest.raises(InputError) as built:
        build_index(corpus, tmp_path / "idx", signals="ngram")
    with pytest.raises(InputError) as streamed:
        scan_corpus(sample_examples[:5], corpus, signals="ngram")
    assert str(streamed.value) == str(built.value)
    assert str(streamed.value).endswith("line 2, field 'text': expected a string, got int")
    result = CliRunner().invoke(main, ["scan", str(data.sample_dataset()), "--out", str(tmp_path / "s.csv"),
                                       "--signals", "ngram", "--workers", "1", "--corpus", corpus[0], "--corpus", corpus[1]])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"error: {corpus[1]}, line 2, field 'text': expected a string, got int"
    assert "Traceback" not in result.output


def test_skipped_corpus_records_go_to_the_rejects_file(tmp_path):
    corpus = write_bad_corpus(tmp_path, 2)
    out = tmp_path / "scores.jsonl"
    scores = api.scan(data.sample_dataset(), corpus=corpus, signals="ngram", out=out, on_error="skip")
    assert scores.height == len(read_dataset(data.sample_dataset())[0])
    rejects = [json.loads(line) for line in Path(f"{out}.rejects.jsonl").read_text().splitlines()]
    assert [(r["path"], r["line"], r["field"]) for r in rejects] == [(corpus[1], 2, "text")]


def test_semantic_stream_within_001_of_index_scan(tmp_path, sample_examples):
    examples = sample_examples[:24]
    index = tmp_path / "index"
    build_index(data.reference_sources(), index, signals="embedding", holdout_rate=0.0)
    indexed = scan_examples(examples, index)
    streamed, _ = scan_corpus(examples, data.reference_sources(), signals="embedding")
    assert streamed.columns == indexed.columns
    a = indexed["semantic_similarity"].to_numpy()
    b = streamed["semantic_similarity"].to_numpy()
    assert np.nanmax(np.abs(a - b)) <= 0.01
    assert np.nanmean(a) > 0.3  # real matches, not two rows of zeros
    same = (indexed["semantic_doc_id"] == streamed["semantic_doc_id"]).mean()
    assert same >= 0.9
    # Term similarity is exact in both modes: the same value to the bit.
    terms_indexed = indexed["term_similarity"].to_numpy()
    assert np.array_equal(terms_indexed, streamed["term_similarity"].to_numpy(), equal_nan=True)
    assert np.nanmin(terms_indexed) >= 0.0 and np.nanmax(terms_indexed) > 0.2  # real matches, not zeros


FORKED_STREAM = """
import sys
from overlap.engines import Engine
from overlap.engines.local import LocalEngine
from overlap.io import bundled as data
from overlap.io import read_dataset
from overlap.pipeline.stream import scan_corpus

assert LocalEngine(2).allow_fork()  # a fresh process: the workers will be forked and inherit the tasks
examples = read_dataset(sys.argv[1])[0]
scan_corpus(examples, data.reference_sources(), signals="ngram,minhash", engine=Engine("local", 2))[0].write_parquet(
    sys.argv[2])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_forked_workers_stream_the_table_one_process_streams(tmp_path, planted):
    """Forked workers inherit the tasks (tables and all, never pickled) and give the same table."""
    dataset = tmp_path / "planted.jsonl"
    dataset.write_text("".join(json.dumps({"id": e.id, "text": e.text}) + "\n" for e in planted))
    out = tmp_path / "forked.parquet"
    subprocess.run([sys.executable, "-c", FORKED_STREAM, str(dataset), str(out)], check=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    here, _ = scan_corpus(read_dataset(dataset)[0], data.reference_sources(), signals="ngram,minhash")
    assert pl.read_parquet(out).equals(here)
