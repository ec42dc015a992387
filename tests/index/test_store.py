"""The on-disk index: atomic shards, manifest checks, tampering, resume, incremental builds, locking."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from overlap.scoring import calibrate
from overlap.io import bundled as data
from overlap.pipeline.build import ShardTask, build_index, build_shard, index_params
from overlap.index.manifest import PLAN_FILE, IndexError_, read_manifest
from overlap.index.store import build_lock
from overlap.io import Example
from overlap.pipeline.scan import scan_examples

SOURCES = [p for p in data.reference_sources() if p.name in ("abc-news.jsonl.gz", "pydoc-topics.jsonl.gz")]


@pytest.fixture()
def small_index(tmp_path) -> Path:
    out = tmp_path / "idx"
    build_index(SOURCES, out, signals="ngram,minhash")
    return out


def _digests(index: Path) -> dict[str, str]:
    manifest = read_manifest(index)
    return {f"{s['name']}/{f}": info["sha256"] for s in manifest.shards for f, info in s["files"].items()}


def _probe(index: Path):
    text = "the quick brown fox jumps over the lazy dog near the river bank today"
    return scan_examples([Example(0, "0", "", "", text, None)], index)


def test_manifest_records_params_sources_and_checksums(small_index):
    manifest = read_manifest(small_index)
    assert manifest.signals == ["ngram", "minhash"]
    assert manifest.params == index_params(["ngram", "minhash"])
    assert [Path(s["path"]).name for s in manifest.sources] == [p.name for p in SOURCES]
    assert manifest.counts()["documents"] == 300 + 79
    for shard in manifest.shards:
        assert {"docs.parquet", "ngram_hashes.npy", "minhash_signatures.npy"} <= set(shard["files"])
    assert not list(small_index.glob(".tmp-*")) and not (small_index / PLAN_FILE).exists()


def test_a_directory_without_manifest_is_refused(small_index):
    (small_index / "manifest.json").unlink()
    with pytest.raises(IndexError_, match=r"not an overlap index \(no manifest.json\)"):
        _probe(small_index)


def test_an_altered_shard_file_is_refused(small_index):
    path = small_index / "shard-00000" / "ngram_hashes.npy"
    raw = bytearray(path.read_bytes())
    raw[-9] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(IndexError_, match="checksum differs"):
        _probe(small_index)


def test_a_truncated_shard_file_is_refused(small_index):
    path = small_index / "shard-00001" / "minhash_signatures.npy"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IndexError_, match="truncated"):
        _probe(small_index)


def test_a_foreign_format_version_is_refused(small_index):
    path = small_index / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexError_, match="format version 99"):
        _probe(small_index)


def test_a_different_lexical_definition_is_refused(small_index):
    path = small_index / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["params"]["lexical_version"] = "something-else"
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexError_, match="lexical_version"):
        _probe(small_index)


def test_resume_finishes_an_interrupted_build_identically(tmp_path, small_index):
    out = tmp_path / "resumed"
    out.mkdir()
    names = ["ngram", "minhash"]
    params = index_params(names)
    # An interrupted run: its plan is on disk, one shard finished, one half-written.
    plan = {"params": params, "signals": names, "sources": [str(p) for p in SOURCES], "first": 0, "sample_rate": 1.0,
            "holdout_rate": 0.0, "holdout_kfold": calibrate.KFOLDS}  # under 1 MiB of sources: k folds
    (out / PLAN_FILE).write_text(json.dumps(plan))
    build_shard(ShardTask(index_dir=str(out), number=0, source=str(SOURCES[0]), params=params, signal_names=names,
                          holdout_kfold=calibrate.KFOLDS))
    (out / ".tmp-shard-00001-999").mkdir()
    (out / ".tmp-shard-00001-999" / "ngram_hashes.npy").write_bytes(b"partial")
    with pytest.raises(IndexError_, match="an index build that did not finish"):
        _probe(out)
    with pytest.raises(IndexError_, match="--resume"):
        build_index(SOURCES, out, signals="ngram,minhash")
    build_index(SOURCES, out, signals="ngram,minhash", resume=True)
    assert _digests(out) == _digests(small_index)
    assert _probe(out).equals(_probe(small_index))


def test_adding_sources_later_extends_the_index(tmp_path):
    out = tmp_path / "grow"
    build_index(SOURCES[:1], out, signals="ngram,minhash")
    build_index(SOURCES, out, signals="ngram,minhash")
    manifest = read_manifest(out)
    assert len({s["number"] for s in manifest.shards}) == 2 and len(manifest.builds) == 2
    assert manifest.counts()["documents"] == 379
    with pytest.raises(IndexError_, match="different settings"):
        build_index(SOURCES, out, signals="ngram,minhash", params={"ngram_n": 13})


def test_a_second_build_into_a_locked_directory_is_refused(tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    with build_lock(out):
        with pytest.raises(IndexError_, match="another build"):
            build_index(SOURCES[:1], out, signals="ngram")
    build_index(SOURCES[:1], out, signals="ngram")
    assert read_manifest(out).signals == ["ngram"]


def test_no_pickle_in_index_files(small_index):
    for path in small_index.rglob("*.npy"):
        array = np.load(path, allow_pickle=False)
        assert array.dtype != object


def test_sampled_index_is_marked_as_an_estimate(tmp_path):
    out = tmp_path / "sampled"
    build_index(SOURCES[:1], out, signals="ngram", sample_rate=0.5)
    manifest = read_manifest(out)
    assert manifest.sample_rate == 0.5
    kept = manifest.counts()["documents"]
    assert 100 < kept < 200 and kept + manifest.counts()["sampled_out"] == 300


def test_copy_of_an_index_scans_the_same(tmp_path, small_index):
    copy = tmp_path / "copy"
    shutil.copytree(small_index, copy)
    assert _probe(copy).equals(_probe(small_index))


def test_a_full_disk_during_a_build_is_a_clear_error_and_leaves_no_index(tmp_path, monkeypatch):
    import errno

    from click.testing import CliRunner

    from overlap.cli import main
    from overlap.index import store

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.ShardWriter, "save_array", full)
    out = tmp_path / "idx"
    result = CliRunner().invoke(main, ["index", "build", str(SOURCES[0]), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 1
    assert "No space left on device" in result.output
    assert not (out / "manifest.json").exists() and not list(out.glob(".tmp-*"))
    with pytest.raises(IndexError_, match="an index build that did not finish"):
        _probe(out)
