"""The Python API as the CLI's one source of defaults: engine, workers, and outputs never replaced unasked."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import click
import polars as pl
import pytest
from click.testing import CliRunner

from overlap import api, cli
from overlap.pipeline import build
from overlap.io import bundled as data
from overlap.io import read_table

from helpers import plain_scores

REFUSED = "already exists; pass --overwrite to replace it"


def test_default_workers_is_every_core_on_the_local_engine() -> None:
    assert api.Engine("local").pool_size() == os.cpu_count()
    assert api.Engine("local", 3).pool_size() == 3
    assert api.Engine("ray").pool_size() is None  # Ray's own default: every CPU of the cluster
    assert api.Engine("ray", 2).pool_size() == 2


COMMANDS = [  # each command and the functions it passes its options to
    (cli.index_build, [api.BuildOptions, api.build_index, build.build_index]),
    (cli.scan, [api.ScanOptions, api.scan]),
    (cli.reweight, [api.reweight]),
    (cli.report, [api.report]),
    (cli.model_distill, [api.distill_model]),
]


@pytest.mark.parametrize("command, functions", COMMANDS, ids=[c.name for c, _ in COMMANDS])
def test_every_option_defaults_as_its_api_parameter(command, functions) -> None:
    context = click.Context(command)
    options = {p.name: p for p in command.params if not p.required and not getattr(p, "multiple", False)}
    compared = 0
    for function in functions:
        for name, parameter in inspect.signature(function).parameters.items():
            if name in options and name != "engine" and parameter.default is not inspect.Parameter.empty:
                assert options[name].get_default(context) == parameter.default, (command.name, name)
                compared += 1
    assert compared >= 3  # the test compares something for every command
    if "engine" in options:
        assert options["engine"].get_default(context) == api.ENGINE.kind
        assert options["workers"].get_default(context) is api.ENGINE.workers is None
        assert options["ray_address"].get_default(context) is api.ENGINE.address is None


@pytest.fixture()
def captured_build(monkeypatch) -> list[dict]:
    """Every call of overlap.pipeline.build.build_index, its keyword arguments, without building anything."""
    calls: list[dict] = []

    def fake(sources, out, options, *, engine, progress=None):
        calls.append({"options": options, "engine": engine})
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
        api.build_index(data.reference_sources(), tmp_path / "c", engine=api.Engine(workers=1))
    with pytest.raises(RuntimeError):
        api.build_index(data.reference_sources(), tmp_path / "d", engine="ray")
    assert [(c["engine"].kind, c["engine"].workers) for c in captured_build] == [
        ("local", os.cpu_count()), ("local", os.cpu_count()), ("local", 1), ("ray", None)]
    assert captured_build[0]["options"] == captured_build[1]["options"] == api.BuildOptions(signals="ngram")


def _weighted(tmp_path: Path) -> Path:
    scores = tmp_path / "scores.parquet"
    plain_scores(["novel", "familiar", "familiar", "borderline"]).write_parquet(scores)
    return scores


@pytest.mark.parametrize("name, write, written", [
    ("weights.jsonl", api.reweight, lambda out: read_table(out)["weight"].sum() == pytest.approx(4.0)),
    ("report.html", api.report, lambda out: out.read_text().startswith("<!DOCTYPE html>")),
])
def test_reweight_and_report_keep_an_existing_output_unless_overwrite(tmp_path, name, write, written) -> None:
    scores, out = _weighted(tmp_path), tmp_path / name
    out.write_text("keep me")
    with pytest.raises(FileExistsError, match=f"{name} {REFUSED}"):
        write(scores, out)
    assert out.read_text() == "keep me"
    write(scores, out, overwrite=True)
    assert written(out)


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
    scores = api.scan(dataset, corpus=[corpus], signals="ngram", out=out, report=report, engine=api.Engine(workers=1))
    assert scores["ngram_containment"].to_list() == pytest.approx([1.0, 0.0])
    assert report.read_text().startswith("<!DOCTYPE html>")
    for existing in (out, report):
        kept = existing.read_bytes()
        others = {"out": tmp_path / "other.parquet", "report": tmp_path / "other.html"}
        others["out" if existing == out else "report"] = existing
        with pytest.raises(FileExistsError, match=f"{existing.name} {REFUSED}"):
            api.scan(dataset, corpus=[corpus], signals="ngram", engine=api.Engine(workers=1), **others)
        assert existing.read_bytes() == kept
    assert pl.read_parquet(out)["id"].to_list() == ["a", "b"]
