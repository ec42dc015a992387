"""The Ray engine builds and scans the same index as the local engine, on a real local Ray.

Ray starts once for the module (about 5-10 s) with the machine's two CPUs. The
corpus is the bundled reference corpus split into five Parquet shards laid out
like a FineWeb download, read through ``--corpus-layout fineweb``.
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from overlap.io import bundled as data
from overlap.pipeline.build import build_index
from overlap.engines import Engine
from overlap.index.manifest import read_manifest
from overlap.io import InputError, read_dataset
from overlap.io.corpus_layouts import apply_corpus_layout
from overlap.pipeline.scan import scan_examples
from overlap.engines.threads import set_threads

from helpers import ROOT, write_bad_corpus

ray = pytest.importorskip("ray")

SIGNALS = "ngram,minhash"
FILES = 5
# Manifest keys that record when and by which engine a build ran, not what it built.
VOLATILE = ("created", "updated", "builds", "overlap_version")


pytestmark = pytest.mark.usefixtures("ray_cluster")


def _bundled_docs() -> list[dict]:
    docs = []
    for path in data.reference_sources():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            docs += [json.loads(line) for line in handle]
    return docs


def write_fineweb_like(root: Path, files: int = FILES) -> Path:
    """The bundled corpus as a FineWeb-style download: data/<dump>/<nnn>_<nnnnn>.parquet, plus clutter."""
    docs = _bundled_docs()
    dumps = ["CC-MAIN-2024-10", "CC-MAIN-2024-18"]
    for k in range(files):
        part = docs[k::files]
        dump = dumps[k * len(dumps) // files]
        table = pa.table({
            "text": [d["text"] for d in part],
            "id": [f"<urn:uuid:{d['id']}>" for d in part],
            "dump": [dump] * len(part),
            "url": [f"https://example.org/{d['id']}" for d in part],
            "date": ["2024-03-01T00:00:00Z"] * len(part),
            "file_path": [f"s3://commoncrawl/crawl-data/{dump}/{k}.warc.gz"] * len(part),
            "language": ["en"] * len(part),
            "language_score": [0.9] * len(part),
            "token_count": [len(d["text"].split()) for d in part],
        })
        out = root / "data" / dump / f"000_{k:05d}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out, row_group_size=50)
    # What a Hugging Face download also holds; the layout must not read it as documents.
    (root / "README.md").write_text("# FineWeb (test copy)\n")
    (root / "dataset_info.json").write_text(json.dumps({"features": ["text", "id"]}))
    return root


@pytest.fixture(scope="module")
def fineweb(tmp_path_factory) -> Path:
    return write_fineweb_like(tmp_path_factory.mktemp("fineweb"))


@pytest.fixture(scope="module")
def layout_args(fineweb):
    files, text_field, id_field = apply_corpus_layout("fineweb", [fineweb])
    assert len(files) == FILES and all(f.endswith(".parquet") for f in files)
    return files, {"text_field": text_field, "id_field": id_field}


def digests(index: Path) -> dict[str, str]:
    manifest = read_manifest(index)
    return {f"{s['name']}/{f}": i["sha256"] for s in manifest.shards for f, i in s["files"].items()}


def stable_manifest(index: Path) -> dict:
    """The manifest without when/how it was built (timestamps, engine)."""
    manifest = json.loads((index / "manifest.json").read_text())
    for key in VOLATILE:
        manifest.pop(key)
    return manifest


@pytest.fixture(scope="module")
def local_index(tmp_path_factory, layout_args) -> Path:
    files, fields = layout_args
    out = tmp_path_factory.mktemp("local") / "idx"
    build_index(files, out, signals=SIGNALS, engine=Engine("local", 1), **fields)
    return out


@pytest.fixture(scope="module")
def ray_index(tmp_path_factory, layout_args) -> Path:
    files, fields = layout_args
    out = tmp_path_factory.mktemp("ray") / "idx"
    build_index(files, out, signals=SIGNALS, engine=Engine("ray", 2), **fields)
    return out


def test_ray_builds_the_same_index_as_local(local_index, ray_index):
    assert len({s["number"] for s in read_manifest(ray_index).shards}) == FILES
    assert digests(ray_index) == digests(local_index)
    assert stable_manifest(ray_index) == stable_manifest(local_index)
    assert read_manifest(ray_index).builds[-1]["engine"] == "ray"
    docs = pq.read_table(ray_index / "shard-00000" / "docs.parquet", columns=["id"]).column("id").to_pylist()
    assert docs[0].startswith("<urn:uuid:")  # the layout's id field, not a file:line fallback


def test_ray_scan_matches_local_scan(local_index, ray_index):
    examples, _ = read_dataset(data.sample_dataset())
    local = scan_examples(examples, local_index, engine=Engine("local", 1))
    on_ray = scan_examples(examples, ray_index, engine="ray")
    assert local.height == len(examples)
    assert on_ray.equals(local)
    assert (local["label"] == "familiar").sum() > 0  # the comparison is not between two empty results


def test_incremental_build_on_ray_equals_one_local_build(tmp_path, layout_args, local_index):
    files, fields = layout_args
    out = tmp_path / "idx"
    build_index(files[:3], out, signals=SIGNALS, engine="ray", **fields)
    manifest = build_index(files, out, signals=SIGNALS, engine="ray", **fields)
    assert [b["shards"] for b in manifest.builds] == [[0, 1, 2], [3, 4]]
    assert digests(out) == digests(local_index)
    assert stable_manifest(out) == stable_manifest(local_index)


def test_sampled_build_is_the_same_on_both_engines(tmp_path, layout_args):
    files, fields = layout_args
    local = build_index(files, tmp_path / "l", signals="ngram", sample_rate=0.3, engine=Engine(workers=1), **fields)
    on_ray = build_index(files, tmp_path / "r", signals="ngram", sample_rate=0.3, engine="ray", **fields)
    assert 0 < on_ray.counts()["documents"] < local.counts()["documents"] + local.counts()["sampled_out"]
    assert digests(tmp_path / "r") == digests(tmp_path / "l")


@pytest.fixture()
def bad_corpus(tmp_path) -> list[str]:
    """Three JSONL.gz shards; the second has a record whose text is a number on line 2."""
    return write_bad_corpus(tmp_path, 3, "c4-train.{k:05d}-of-00003.json.gz")


def test_input_error_in_a_ray_task_reaches_the_caller_as_itself(tmp_path, bad_corpus):
    with pytest.raises(InputError) as local:
        build_index(bad_corpus, tmp_path / "l", signals="ngram", engine=Engine(workers=1))
    with pytest.raises(InputError) as on_ray:
        build_index(bad_corpus, tmp_path / "r", signals="ngram", engine="ray")
    assert type(on_ray.value) is InputError
    assert str(on_ray.value) == str(local.value)
    assert str(on_ray.value).endswith("line 2, field 'text': expected a string, got int")
    assert "RayTaskError" not in str(on_ray.value) and "Traceback" not in str(on_ray.value)


def test_cli_reports_a_ray_task_error_in_one_line(tmp_path, bad_corpus):
    from overlap.cli import main

    result = CliRunner().invoke(
        main, ["index", "build", *bad_corpus, "--out", str(tmp_path / "idx"), "--signals", "ngram", "--engine", "ray"]
    )
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {bad_corpus[1]}, line 2, field 'text': expected a string, got int"]
    assert "RayTaskError" not in result.output and "Traceback" not in result.output


# --- the engine itself -----------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    values: list[int]
    offset: int


def _threads_and_total(task: _Task) -> tuple[int, int]:
    import numba

    return numba.get_num_threads(), sum(task.values) + task.offset


def test_engine_joins_the_running_ray_and_keeps_order():
    engine = Engine("ray", workers=7).start(set_threads)
    assert not engine.started  # the module's Ray is used as it is
    shared = list(range(10_000))
    results = list(engine.map(_threads_and_total, [_Task(shared, k) for k in range(6)]))
    assert [total for _, total in results] == [sum(shared) + k for k in range(6)]
    assert {threads for threads, _ in results} == {1}  # one CPU per task, one kernel thread


def test_engine_sizes_kernel_threads_to_the_task_cpus():
    from overlap.engines.ray import RayEngine

    results = list(RayEngine(setup=set_threads, cpus_per_task=2).map(_threads_and_total, [_Task([1], 0)]))
    assert results == [(2, 1)]
    # One task: all 2 CPUs.
    results = list(RayEngine(setup=set_threads, cpus_per_task=None).map(_threads_and_total, [_Task([1], 0)]))
    assert results == [(2, 1)]


def test_shared_arguments_are_put_into_the_object_store_once(monkeypatch):
    puts = []
    real_put = ray.put

    def counting_put(value, *args, **kwargs):
        puts.append(type(value).__name__)
        return real_put(value, *args, **kwargs)

    monkeypatch.setattr(ray, "put", counting_put)
    texts = ["some query text"] * 2000
    prepared = {"embedding": np.zeros((2000, 8), np.float32)}
    tasks = [_Texts(texts, k, prepared) for k in range(5)]
    results = list(Engine("ray").start().map(_count_task_texts, tasks))
    assert results == [2000 + k for k in range(5)]
    assert sorted(puts) == ["dict", "list"]  # once each, not once per task


@dataclass(frozen=True)
class _Texts:
    texts: list[str]
    k: int
    prepared: dict


def _count_task_texts(task: _Texts) -> int:
    assert task.prepared["embedding"].shape == (2000, 8)
    return len(task.texts) + task.k


@pytest.mark.slow
def test_scale_benchmark_runs_end_to_end(tmp_path):
    """The scale benchmark at a tiny size: both engines, identical shards, a projection table."""
    import subprocess

    script = ROOT / "benchmarks" / "scale" / "run.py"
    done = subprocess.run(
        [sys.executable, str(script), "--size", "2MB", "--files", "2", "--workers", "1", "--engines", "local,ray",
         "--corpus", str(tmp_path / "corpus"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(r["engine"], r["workers"]) for r in report["runs"]] == [("local", 1), ("ray", 1)]
    assert report["runs"][0]["shard_sha256"] == report["runs"][1]["shard_sha256"]
    assert report["runs"][0]["scan_digest"] == report["runs"][1]["scan_digest"]
    text = (tmp_path / "out" / "results.md").read_text()
    assert "time(S, N)  = max( S / (N * r) ,  S * (1 + k) / B )" in text and "| 10 TB | 512 |" in text
