"""Provenance: a dataset's digest, kept in Parquet metadata and read back; a different dataset is refused."""

import hashlib
import json

import polars as pl
import pytest

from overlap.io import bundled as data
from overlap.io import read_dataset, write_table
from overlap.io import provenance as prov


def test_a_single_files_digest_is_its_sha256sum(tmp_path):
    sample = data.sample_dataset()
    assert prov.dataset_digest(sample) == hashlib.sha256(sample.read_bytes()).hexdigest()
    assert prov.dataset_files(sample) == [sample]


def test_a_folders_digest_covers_names_and_bytes(tmp_path):
    (tmp_path / "a.txt").write_text("one")
    (tmp_path / "b.txt").write_text("two")
    first = prov.dataset_digest(tmp_path)
    (tmp_path / "b.txt").rename(tmp_path / "c.txt")
    assert prov.dataset_digest(tmp_path) != first  # a renamed file is another dataset
    (tmp_path / "c.txt").rename(tmp_path / "b.txt")
    assert prov.dataset_digest(tmp_path) == first


def test_metadata_round_trip_and_check(tmp_path):
    sample = data.sample_dataset()
    examples, rejects = read_dataset(sample)
    record = prov.provenance_of(sample, len(examples) + len(rejects))
    assert json.loads(record.to_metadata()[prov.METADATA_KEY])["sha256"] == record.sha256
    scores = pl.DataFrame({"row": [e.row for e in examples], "id": [e.id for e in examples]})
    out = tmp_path / "scores.parquet"
    write_table(scores, out, metadata=record.to_metadata())
    assert prov.read_provenance(out) == record
    prov.check_dataset(scores, sample, record)  # the scanned file passes
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(sample.read_bytes())
    prov.check_dataset(scores, copy, record)  # so does a copy elsewhere
    copy.write_bytes(sample.read_bytes() + b"\n" + sample.read_bytes().splitlines(keepends=True)[0])
    with pytest.raises(prov.DatasetMismatch, match="SHA-256"):
        prov.check_dataset(scores, copy, record)
    with pytest.raises(prov.DatasetMismatch, match="records"):
        prov.check_dataset(scores.head(len(scores) - 1), copy, None)
    with pytest.raises(ValueError, match="lacks column"):
        prov.check_dataset(scores.drop("id"), sample, record)
