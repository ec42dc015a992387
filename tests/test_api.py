"""The Python API as the CLI's one source of defaults: engine, workers, and outputs never replaced unasked."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from overlap import api, build, cli, data
from overlap.io import read_table

from conftest import plain_scores

REFUSED = "already exists; pass --overwrite to replace it"


def test_default_workers_is_every_core_on_the_local_engine() -> None:
    assert api.default_workers("local") == os.cpu_count()
    assert api.default_workers("local", 3) == 3
    assert api.default_workers("ray") is None  # Ray's own default: every CPU of the cluster
    assert api.default_workers("ray", 2) == 2


def _option(command, name: str):
    return next(p for p in command.params if p.name == name)


def test_the_cli_takes_its_defaults_from_the_api() -> None:
    for command in (cli.index_build, cli.scan):
        assert _option(command, "engine").default == api.ENGINE
        assert _option(command, "workers").default is None
    for function in (api.build_index, api.scan):
        parameters = inspect.signature(function).parameters
        assert parameters["engine"].default == api.ENGINE
        assert parameters["workers"].default is None


@pytest.fixture()
def captured_build(monkeypatch) -> list[dict]:
    """Every call of overlap.build.build_index, its keyword arguments, without building anything."""
    calls: list[dict] = []

    def fake(sources, out, **options):
        calls.append(options)
        raise RuntimeError("not building")

    monkeypatch.setattr(build, "build_index", fake)
    return calls


def test_api_and_cli_build_on_the_same_workers(captured_build, tmp_path) -> None:
    with pytest.raises(RuntimeError, match="not building"):
        api.build_index(data.reference_sources(), tmp_path / "a", signals="ngram")
    result = CliRunner().invoke(cli.main, ["index", "build", *map(str, data.reference_sources()),
                                           "--out", str(tmp_path / "b"), "--signals", "ngram"])
    assert isinstance(result.exception, RuntimeError)
    with pytest.raises(RuntimeError):
        api.build_index(data.reference_sources(), tmp_path / "c", workers=1)
    with pytest.raises(RuntimeError):
        api.build_index(data.reference_sources(), tmp_path / "d", engine="ray")
    assert [(c["engine"], c["workers"]) for c in captured_build] == [
        ("local", os.cpu_count()), ("local", os.cpu_count()), ("local", 1), ("ray", None)]
    assert captured_build[0]["signals"] == captured_build[1]["signals"] == "ngram"


def _weighted(tmp_path: Path) -> Path:
    scores = tmp_path / "scores.parquet"
    plain_scores(["novel", "familiar", "familiar", "borderline"]).write_parquet(scores)
    return scores


def test_reweight_keeps_an_existing_output_unless_overwrite(tmp_path) -> None:
    scores, out = _weighted(tmp_path), tmp_path / "weights.jsonl"
    out.write_text("keep me")
    with pytest.raises(FileExistsError, match=f"weights.jsonl {REFUSED}"):
        api.reweight(scores, out)
    assert out.read_text() == "keep me"
    weighted, _ = api.reweight(scores, out, overwrite=True)
    assert read_table(out)["weight"].to_list() == pytest.approx(weighted["weight"].to_list())
    assert weighted["weight"].sum() == pytest.approx(4.0)


def test_report_keeps_an_existing_output_unless_overwrite(tmp_path) -> None:
    scores, out = _weighted(tmp_path), tmp_path / "report.html"
    out.write_text("keep me")
    with pytest.raises(FileExistsError, match=f"report.html {REFUSED}"):
        api.report(scores, out)
    assert out.read_text() == "keep me"
    assert api.report(scores, out, overwrite=True) == out
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_distill_model_refuses_an_existing_folder_before_loading_anything(tmp_path) -> None:
    folder = tmp_path / "static"
    folder.mkdir()
    with pytest.raises(FileExistsError, match=f"static {REFUSED}"):
        api.distill_model(folder, teacher=str(tmp_path / "no-such-model"))
    assert list(folder.iterdir()) == []


def test_a_stream_scan_writes_its_report_and_refuses_existing_outputs(tmp_path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    dataset = tmp_path / "train.jsonl"
    text = "the quick brown fox jumps over the lazy dog while the cat sleeps on a warm mat by the door"
    corpus.write_text(json.dumps({"id": "d0", "text": text}) + "\n")
    dataset.write_text(json.dumps({"id": "a", "text": text}) + "\n"
                       + json.dumps({"id": "b", "text": "purple carrots with cardamom foam on smoked ice"}) + "\n")
    out, report = tmp_path / "scores.parquet", tmp_path / "report.html"
    scores = api.scan(dataset, corpus=[corpus], signals="ngram", out=out, report=report, workers=1)
    assert scores["ngram_containment"].to_list() == pytest.approx([1.0, 0.0])
    assert report.read_text().startswith("<!DOCTYPE html>")
    for existing in (out, report):
        kept = existing.read_bytes()
        others = {"out": tmp_path / "other.parquet", "report": tmp_path / "other.html"}
        others["out" if existing == out else "report"] = existing
        with pytest.raises(FileExistsError, match=f"{existing.name} {REFUSED}"):
            api.scan(dataset, corpus=[corpus], signals="ngram", workers=1, **others)
        assert existing.read_bytes() == kept
    assert pl.read_parquet(out)["id"].to_list() == ["a", "b"]
