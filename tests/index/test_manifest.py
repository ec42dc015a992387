"""The manifest: what an index holds, read back and checked, and the refusals of what is not an index."""

import json

import pytest

from overlap.index import manifest as mf
from overlap.io import bundled as data


def test_the_bundled_index_manifest_reads_back(lexical_index):
    manifest = mf.read_manifest(lexical_index)
    raw = json.loads(mf.manifest_path(lexical_index).read_text())
    assert mf.manifest_path(lexical_index) == lexical_index / mf.MANIFEST
    assert raw["format"] == mf.FORMAT and raw["format_version"] == mf.FORMAT_VERSION
    assert set(manifest.signals) == {"ngram", "minhash"}
    assert len(manifest.sources) == len(data.reference_sources())


def test_what_is_not_an_index_is_refused(tmp_path, lexical_index):
    with pytest.raises(mf.IndexError_):
        mf.read_manifest(tmp_path)
    raw = json.loads(mf.manifest_path(lexical_index).read_text())
    copy = tmp_path / "other"
    copy.mkdir()
    (copy / mf.MANIFEST).write_text(json.dumps({**raw, "format_version": mf.FORMAT_VERSION + 1}))
    with pytest.raises(mf.IndexError_, match="version"):
        mf.read_manifest(copy)


def test_param_differences_name_each_changed_value():
    assert mf.param_differences({"n": 8, "bands": 32}, {"n": 8, "bands": 32}) == []
    assert mf.param_differences({"n": 8, "bands": 32}, {"n": 5, "bands": 32, "new": 1}) == [
        "n: index has 8, asked for 5"]


def test_write_read_round_trip_counts_and_unfinished_builds(tmp_path):
    shards = [{"counts": {"documents": 3, "words": 10}}, {"counts": {"documents": 2}}]
    written = mf.Manifest(params={"n": 8}, signals=["ngram"], shards=shards)
    mf.write_manifest(tmp_path, written)
    assert mf.read_manifest(tmp_path) == written
    assert json.loads(mf.manifest_path(tmp_path).read_text())["counts"] == {"documents": 5, "words": 10}
    mf.write_manifest(tmp_path, mf.Manifest(params={}, signals=[], complete=False))
    with pytest.raises(mf.IndexError_, match="incomplete"):
        mf.read_manifest(tmp_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    mf.start_plan(fresh, {"sources": ["a"]}, resume=False)
    with pytest.raises(mf.IndexError_, match="--resume"):
        mf.read_manifest(fresh)
    with pytest.raises(mf.IndexError_, match="interrupted build"):
        mf.start_plan(fresh, {"sources": ["a"]}, resume=False)
    with pytest.raises(mf.IndexError_, match="different sources"):
        mf.start_plan(fresh, {"sources": ["b"]}, resume=True)
