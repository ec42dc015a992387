"""Hugging Face ``datasets`` on disk: save_to_disk folders and the local hub cache, scanned and resampled."""

from __future__ import annotations

import json

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from overlap import api
from overlap.io import bundled as data
from overlap.cli import main
from overlap.io import InputError, read_dataset

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    """The first 60 records of the bundled fine-tuning sample (Python FAQ pairs in the OpenAI messages layout)."""
    lines = data.sample_dataset().read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:60]]


@pytest.fixture(scope="module")
def saved(records, tmp_path_factory):
    """The records as a DatasetDict saved with save_to_disk (train and test splits), and as JSON lines."""
    root = tmp_path_factory.mktemp("hf")
    jsonl = root / "train.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records[:50]))
    train = datasets.Dataset.from_list(records[:50])
    test = datasets.Dataset.from_list(records[50:])
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(root / "dict"), max_shard_size="20KB")
    train.save_to_disk(str(root / "single"))
    return root


def test_a_save_to_disk_folder_reads_as_its_records(saved):
    from_jsonl, _ = read_dataset(saved / "train.jsonl")
    for folder in ("single", "dict", "dict/train"):
        examples, rejects = read_dataset(saved / folder)
        assert not rejects
        assert [(e.row, e.id, e.prompt, e.response) for e in examples] == \
            [(e.row, e.id, e.prompt, e.response) for e in from_jsonl]
    assert len(list((saved / "dict" / "train").glob("data-*.arrow"))) > 1  # several shards, read in order


def test_a_datasetdict_without_a_train_split_is_one_clear_error(saved, tmp_path):
    only_test = tmp_path / "only-test"
    datasets.DatasetDict({"test": datasets.load_from_disk(str(saved / "dict" / "test"))}).save_to_disk(str(only_test))
    with pytest.raises(InputError, match="a DatasetDict without a 'train' split \\(splits: test\\)"):
        read_dataset(only_test)


@pytest.fixture()
def hub_cache(records, tmp_path):
    """A dataset as `datasets` leaves it in ~/.cache/huggingface/hub: blobs, refs/main and a snapshot of symlinks."""
    repo = tmp_path / "hub" / "datasets--someone--tea-sft"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "blobs").mkdir()
    snapshot = repo / "snapshots" / commit / "data"
    snapshot.mkdir(parents=True)
    parts = {"train-00000-of-00002.parquet": records[:30], "train-00001-of-00002.parquet": records[30:50],
             "test-00000-of-00001.parquet": records[50:]}
    for name, rows in parts.items():
        blob = repo / "blobs" / f"blob-{name}"
        pq.write_table(pa.Table.from_pylist(rows), blob)
        (snapshot / name).symlink_to(blob)
    (repo / "snapshots" / commit / "README.md").write_text("# tea\n")
    return repo


def test_the_hub_cache_reads_the_train_split_of_the_main_snapshot(hub_cache, saved):
    from_jsonl, _ = read_dataset(saved / "train.jsonl")
    for path in (hub_cache, next((hub_cache / "snapshots").iterdir())):
        examples, _ = read_dataset(path)
        assert [(e.id, e.text) for e in examples] == [(e.id, e.text) for e in from_jsonl]


def test_scan_and_resample_a_datasets_folder(saved, tmp_path, lexical_index):
    runner = CliRunner()
    scores = tmp_path / "s.parquet"
    scanned = runner.invoke(main, ["scan", str(saved / "dict"), "--index", str(lexical_index), "--out", str(scores)])
    assert scanned.exit_code == 0, scanned.output
    assert "50 examples scanned" in scanned.output
    wrong = runner.invoke(main, ["reweight", str(scores), "--out", str(tmp_path / "r.jsonl"),
                                 "--dataset", str(saved / "dict"), "--resample", "80"])
    assert wrong.exit_code == 1 and "must end in .parquet" in wrong.output
    out = tmp_path / "r.parquet"
    result = runner.invoke(main, ["reweight", str(scores), "--out", str(out), "--dataset", str(saved / "dict"),
                                  "--resample", "80"])
    assert result.exit_code == 0, result.output
    resampled = datasets.Dataset.from_parquet(str(out))
    assert len(resampled) == 80 and resampled.features == datasets.load_from_disk(str(saved / "dict" / "train")).features
    assert set(resampled["id"]) <= {r["id"] for r in datasets.load_from_disk(str(saved / "single"))}
    other = runner.invoke(main, ["reweight", str(scores), "--out", str(tmp_path / "o.parquet"),
                                 "--dataset", str(saved / "dict" / "test"), "--resample", "5"])
    assert other.exit_code == 1 and "is not the dataset scanned into" in other.output


def test_weights_join_a_hub_cache_dataset_by_id(hub_cache, tmp_path, lexical_index):
    scores = api.scan(hub_cache, lexical_index, out=tmp_path / "s.parquet")
    weighted, _ = api.reweight(tmp_path / "s.parquet", tmp_path / "w.parquet", dataset=hub_cache)
    assert weighted["id"].to_list() == scores["id"].to_list() and pl.read_parquet(tmp_path / "w.parquet").height == 50
