"""A scan takes the embedding model from the index it reads; ``--help`` names the models ``--model`` takes."""

from __future__ import annotations

import gzip
import json

import polars as pl
import pytest
from click.testing import CliRunner

from overlap.io import bundled as data
from overlap.signals.embedding import models
from overlap.pipeline.build import build_index
from overlap.cli import main
from overlap.index.manifest import read_manifest
from overlap.signals.embedding import index as embedding


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OVERLAP_CACHE", str(tmp_path_factory.mktemp("overlap-cache")))
        yield


@pytest.fixture(scope="module")
def minilm_index(tmp_path_factory):
    """A small index of three ABC news articles built with ``--model minilm``, and the articles."""
    folder = tmp_path_factory.mktemp("minilm-index")
    with gzip.open(data.corpora_dir() / "reference" / "abc-news.jsonl.gz", "rt", encoding="utf-8") as handle:
        docs = [json.loads(line) for _, line in zip(range(3), handle)]
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    out = folder / "index"
    build_index([corpus], out, signals="embedding", model="minilm", holdout_rate=0)
    return out, docs


def test_index_records_minilm_and_a_scan_without_model_uses_it(tmp_path, minilm_index):
    index, docs = minilm_index
    params = read_manifest(index).params
    assert params["embedding_model"] == models.MINILM_NAME
    assert embedding.index_model(params, {}) == "minilm"
    assert embedding.index_model(params, {"model": "default"}) == "default"
    dataset = tmp_path / "data.jsonl"
    words = docs[0]["text"].split()
    dataset.write_text(json.dumps({"id": "a", "text": " ".join(words[:60])}) + "\n", encoding="utf-8")
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(main, ["scan", str(dataset), "--index", str(index), "--out", str(out)])
    assert result.exit_code == 0, result.output
    scores = pl.read_parquet(out)
    # A passage cut from an indexed article: MiniLM finds its own chunk.
    assert scores["semantic_similarity"][0] > 0.8
    assert scores["semantic_doc_id"][0] == docs[0]["id"]


def test_an_explicit_other_model_is_still_refused_clearly(tmp_path, minilm_index):
    index, docs = minilm_index
    dataset = tmp_path / "data.jsonl"
    dataset.write_text(json.dumps({"id": "a", "text": docs[1]["text"][:300]}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["scan", str(dataset), "--index", str(index), "--out",
                                       str(tmp_path / "s.parquet"), "--model", "default"])
    assert result.exit_code != 0
    message = result.output + str(result.exception or "")
    assert "built with all-MiniLM-L6-v2" in message and "asked for static-minilm" in message
    assert "--model minilm" in message


@pytest.mark.parametrize("command", [["scan"], ["index", "build"]])
def test_help_documents_the_model_names(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "--model default|minilm|PATH" in text
    assert "'minilm'" in text and "'default'" in text
