"""The external sort (``overlap/index/runs.py``): sorted runs spilled to disk and merged, streamed ``.npy``.

Spilling gives the arrays an in-memory sort gives; a shard built with a tiny
memory budget (sorted runs spilled to disk and merged) is identical to one built
in memory, and leaves no temp files behind.
"""

from __future__ import annotations

import numpy as np
import pytest

from overlap.io import bundled as data
from overlap.pipeline.build import build_index
from overlap.index.manifest import read_manifest
from overlap.index.runs import FENCE, FileRun, NpyStream, SortedRuns, merge_runs
from overlap.signals.minhash import index as minhash

from helpers import reference_sort


@pytest.mark.parametrize("unique", [False, True])
@pytest.mark.parametrize("budget", [1 << 16, 1 << 20, 1 << 30])
def test_sorted_runs_spilled_or_not_give_the_same_arrays(tmp_path, unique, budget):
    rng = np.random.default_rng(7)
    chunks = []
    for size in (5000, 40_000, 1, 0, 30_000, 12_345):
        keys = rng.integers(0, 2**64, size, dtype=np.uint64)
        keys[::3] = 2**63  # a key repeated across every run
        keys[1::5] = rng.integers(0, 200, len(keys[1::5])).astype(np.uint64)  # and clustered keys
        chunks.append(keys)
    runs = SortedRuns(tmp_path / "spill", np.uint32, unique=unique, budget=budget)
    base = 0
    for keys in chunks:
        runs.add(keys, np.arange(base, base + len(keys), dtype=np.uint32))
        base += len(keys)
    spilled = budget < (1 << 30)
    blocks = []
    runs.drain(lambda k, v: blocks.append((k.copy(), v.copy())))
    all_keys = np.concatenate(chunks)
    want = reference_sort(all_keys, np.arange(len(all_keys), dtype=np.uint32), unique)
    got_keys = np.concatenate([k for k, _ in blocks])
    got_values = np.concatenate([v for _, v in blocks])
    np.testing.assert_array_equal(got_keys, want[0])
    np.testing.assert_array_equal(got_values, want[1])
    assert got_values.dtype == np.uint32
    assert not (tmp_path / "spill").exists()
    assert spilled or not runs.spilled


def test_file_run_positions_and_reads_match_the_arrays(tmp_path):
    rng = np.random.default_rng(2)
    keys = np.sort(rng.integers(0, 2**64, 3 * FENCE + 17, dtype=np.uint64))
    keys[FENCE - 2 : FENCE + 3] = keys[FENCE - 2]  # a run of equal keys across a fence
    values = rng.integers(0, 2**32, len(keys), dtype=np.uint64).astype(np.uint32)
    np.save(tmp_path / "k.npy", keys)
    np.save(tmp_path / "v.npy", values)
    run = FileRun(tmp_path / "k.npy", tmp_path / "v.npy", keys[::FENCE].copy())
    probes = [0, 1, 2**64 - 1, 2**64, *keys[::97].tolist(), *(keys[::89] + np.uint64(1)).tolist()]
    for bound in probes:
        want = len(keys) if bound >= 2**64 else int(np.searchsorted(keys, np.uint64(bound)))
        assert run.position(int(bound)) == want
    k, v = np.empty(100, np.uint64), np.empty(100, np.uint32)
    run.read_into(FENCE - 50, FENCE + 50, k, v)
    np.testing.assert_array_equal(k, keys[FENCE - 50 : FENCE + 50])
    np.testing.assert_array_equal(v, values[FENCE - 50 : FENCE + 50])
    run.close()


def test_merge_runs_streams_a_key_repeated_beyond_capacity():
    runs = [(np.full(100, 9, np.uint64), np.arange(100, dtype=np.uint32)),
            (np.array([1, 9, 9, 20], np.uint64), np.arange(100, 104, dtype=np.uint32))]
    out_k, out_v = [], []
    merge_runs(runs, lambda k, v: (out_k.append(k.copy()), out_v.append(v.copy())), False, 16)
    keys, values = np.concatenate(out_k), np.concatenate(out_v)
    want = reference_sort(np.concatenate([r[0] for r in runs]), np.concatenate([r[1] for r in runs]), False)
    np.testing.assert_array_equal(keys, want[0])
    np.testing.assert_array_equal(values, want[1])


def test_npy_stream_writes_a_loadable_array(tmp_path):
    stream = NpyStream(tmp_path / "a.npy", np.uint32, (3,))
    parts = [np.arange(12, dtype=np.uint32).reshape(4, 3), np.zeros((0, 3), np.uint32), np.ones((2, 3), np.uint32)]
    for part in parts:
        stream.append(part)
    assert stream.close() == 6
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy", allow_pickle=False), np.concatenate(parts))
    assert np.load(tmp_path / "a.npy", mmap_mode="r").shape == (6, 3)
    empty = NpyStream(tmp_path / "e.npy", np.int64, (4,))
    assert empty.close() == 0
    assert np.load(tmp_path / "e.npy").shape == (0, 4)


def test_a_shard_built_in_small_pieces_is_identical_and_leaves_no_temp_files(tmp_path, monkeypatch):
    sources = [p for p in data.reference_sources() if p.name in ("abc-news.jsonl.gz", "pydoc-topics.jsonl.gz")]
    build_index(sources, tmp_path / "memory", signals="ngram,minhash")
    monkeypatch.setenv("OVERLAP_SPILL_BYTES", str(1 << 17))
    monkeypatch.setattr(minhash, "CHUNK_SHINGLES", 500)  # block minima a few documents at a time
    build_index(sources, tmp_path / "spilled", signals="ngram,minhash")
    a, b = read_manifest(tmp_path / "memory"), read_manifest(tmp_path / "spilled")
    for sa, sb in zip(a.shards, b.shards):
        assert sa["counts"] == sb["counts"]
        assert {f: i["sha256"] for f, i in sa["files"].items()} == {f: i["sha256"] for f, i in sb["files"].items()}
        folder = tmp_path / "spilled" / sb["name"]
        assert sorted(p.name for p in folder.iterdir()) == sorted([*sb["files"], "shard.json"])
    assert not list((tmp_path / "spilled").glob(".tmp-*"))
