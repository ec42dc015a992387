"""The command line as a user drives it: build, info, scan, outputs, errors."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from overlap import api
from overlap.io import bundled as data
from overlap.cli import main
from overlap.io import read_table


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture()
def passages(tmp_path, reference_docs):
    """A tiny dataset in Alpaca layout: two verbatim corpus passages, one novel answer."""
    doc = reference_docs["pydoc-topics.jsonl.gz"][5]
    words = doc["text"].split()
    records = [
        {"instruction": "Explain this.", "input": "", "output": " ".join(words[10:70])},
        {"instruction": "Quote it.", "input": "", "output": " ".join(words[40:120])},
        {"instruction": "Invent a recipe.", "input": "", "output": "Blend purple carrots with cardamom foam and "
         "serve on a slab of smoked ice beside a frozen lemon."},
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    # The passages' words, and every corpus document that holds them (pydoc topics repeat one another).
    quoted = [" ".join(r["output"].lower().split()) for r in records[:2]]
    holders = {d["id"] for d in reference_docs["pydoc-topics.jsonl.gz"]
               if all(q in " ".join(d["text"].lower().split()) for q in quoted)}
    return path, holders


def test_scan_writes_every_format_and_prints_a_summary(runner, tmp_path, lexical_index, passages):
    dataset, holders = passages
    assert holders
    for suffix in ("parquet", "jsonl", "csv"):
        out = tmp_path / f"scores.{suffix}"
        result = runner.invoke(main, ["scan", str(dataset), "--index", str(lexical_index), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "3 examples scanned" in result.output
        scores = read_table(out)
        assert scores["label"].to_list() == ["familiar", "familiar", "novel"]
        assert set(scores["ngram_doc_id"].to_list()[:2]) <= holders


def test_scan_refuses_to_clobber_without_overwrite(runner, tmp_path, lexical_index, passages):
    dataset, _ = passages
    out = tmp_path / "scores.parquet"
    args = ["scan", str(dataset), "--index", str(lexical_index), "--out", str(out)]
    assert runner.invoke(main, args).exit_code == 0
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and "--overwrite" in result.output
    assert runner.invoke(main, [*args, "--overwrite"]).exit_code == 0


def test_bad_input_names_file_line_and_field(runner, tmp_path, lexical_index):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": 7}\n')
    out = tmp_path / "s.parquet"
    result = runner.invoke(main, ["scan", str(path), "--index", str(lexical_index), "--out", str(out)])
    assert result.exit_code == 1
    assert "bad.jsonl" in result.output and "line 2" in result.output and "completion" in result.output
    assert not out.exists()
    skipped = runner.invoke(main, ["scan", str(path), "--index", str(lexical_index), "--out", str(out),
                                   "--on-error", "skip"])
    assert skipped.exit_code == 0, skipped.output
    assert read_table(out).height == 1
    rejects = [json.loads(l) for l in (tmp_path / "s.parquet.rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == 1 and rejects[0]["line"] == 2


def test_index_build_and_info(runner, tmp_path):
    out = tmp_path / "idx"
    source = str(data.corpora_dir() / "reference" / "pydoc-topics.jsonl.gz")
    result = runner.invoke(main, ["index", "build", source, "--out", str(out), "--signals", "ngram"])
    assert result.exit_code == 0, result.output
    assert "79 documents" in result.output
    info = runner.invoke(main, ["index", "info", str(out)])
    assert "signals: ngram" in info.output and "param ngram_n: 8" in info.output


def test_scan_of_a_missing_index_is_a_clear_error(runner, tmp_path, passages):
    dataset, _ = passages
    result = runner.invoke(main, ["scan", str(dataset), "--index", str(tmp_path / "nope"), "--out",
                                  str(tmp_path / "s.parquet")])
    assert result.exit_code == 1 and "no such index" in result.output


def test_python_api_matches_cli(tmp_path, lexical_index, passages, runner):
    dataset, _ = passages
    out = tmp_path / "cli.parquet"
    runner.invoke(main, ["scan", str(dataset), "--index", str(lexical_index), "--out", str(out)])
    from_api = api.scan(dataset, lexical_index)
    assert from_api.equals(pl.read_parquet(out))


def test_a_text_over_the_size_limit_is_a_clear_error_or_a_reject(runner, tmp_path, lexical_index):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"text": "word " * 3000}) + "\n" + json.dumps({"text": "short one"}) + "\n")
    out = tmp_path / "s.parquet"
    args = ["scan", str(path), "--index", str(lexical_index), "--out", str(out), "--max-text-bytes", "10000"]
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert "line 1" in result.output and "15,000 bytes, over the limit of 10,000" in result.output
    assert runner.invoke(main, [*args, "--on-error", "skip"]).exit_code == 0
    assert read_table(out)["row"].to_list() == [1]
