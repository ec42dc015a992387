"""Atomic writers: tables round-trip, nothing is clobbered without overwrite, failures leave no temp files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from overlap.io import Reject, atomic_path, atomic_write_bytes, read_table, write_rejects, write_table

TABLE = pl.DataFrame(
    {
        "id": ["007", "8", "ünï"],
        "row": [0, 1, 2],
        "familiarity": [0.25, None, 1.0],
        "label": ["novel", "familiar", None],
        "matched_text": ['a "quoted", comma\nnewline', "", "漢字 🙂"],
    }
)


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv"])
def test_flat_table_round_trips(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    write_table(TABLE, path)
    back = read_table(path)
    if suffix == ".csv":
        # CSV cannot tell "" from null in a string column; polars writes both as an empty field.
        back = back.with_columns(pl.col("matched_text").fill_null(""))
    assert_frame_equal(back, TABLE)
    assert os.listdir(tmp_path) == [path.name]


def test_parquet_is_zstd(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_table(TABLE, path)
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_nested_columns(tmp_path: Path) -> None:
    df = pl.DataFrame(
        {"id": ["a", "b"], "evidence": [[{"doc": "d1", "score": 0.5}], []], "spans": [[1, 2], None]}
    )
    for suffix in (".parquet", ".jsonl"):
        write_table(df, tmp_path / f"n{suffix}")
        assert_frame_equal(read_table(tmp_path / f"n{suffix}"), df)
    write_table(df, tmp_path / "n.csv")
    assert (
        tmp_path / "n.csv"
    ).read_text() == 'id,evidence,spans\na,"[{""doc"": ""d1"", ""score"": 0.5}]","[1, 2]"\nb,[],\n'
    back = read_table(tmp_path / "n.csv")
    assert back["evidence"].to_list() == ['[{"doc": "d1", "score": 0.5}]', "[]"]


def test_empty_tables(tmp_path: Path) -> None:
    for suffix in (".parquet", ".csv"):
        write_table(TABLE.head(0), tmp_path / f"e{suffix}")
        assert read_table(tmp_path / f"e{suffix}").columns == TABLE.columns
    write_table(TABLE.head(0), tmp_path / "e.jsonl")
    assert read_table(tmp_path / "e.jsonl").height == 0


def test_refuses_to_clobber_without_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "scores.parquet"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_table(TABLE, path)
    assert path.read_bytes() == b"precious"
    write_table(TABLE, path, overwrite=True)
    assert_frame_equal(read_table(path), TABLE)
    assert os.listdir(tmp_path) == ["scores.parquet"]


def test_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"use one of \.parquet, \.jsonl, \.csv"):
        write_table(TABLE, tmp_path / "scores.xlsx")
    with pytest.raises(ValueError, match="use one of"):
        read_table(tmp_path / "scores")
    assert os.listdir(tmp_path) == []


def test_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "out" / "run1" / "scores.jsonl"
    write_table(TABLE, path)
    assert read_table(path).height == 3


def test_failed_write_leaves_no_temp_and_keeps_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "scores.parquet"
    path.write_bytes(b"old")

    def half_write(self: pl.DataFrame, file: Path, **kwargs: object) -> None:
        Path(file).write_bytes(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_write)
    with pytest.raises(OSError, match="disk full"):
        write_table(TABLE, path, overwrite=True)
    assert os.listdir(tmp_path) == ["scores.parquet"]
    assert path.read_bytes() == b"old"


def test_atomic_path_renames_on_success_and_cleans_on_error(tmp_path: Path) -> None:
    target = tmp_path / "shard.npy"
    with atomic_path(target) as temp:
        assert temp.parent == tmp_path and temp.name.endswith("shard.npy") and temp != target
        assert not target.exists()
        temp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_bytes(b"partial")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["shard.npy"]


def test_atomic_write_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "manifest.json"
    atomic_write_bytes(target, b"{}")
    atomic_write_bytes(target, b'{"v": 2}')
    assert target.read_bytes() == b'{"v": 2}'

    def failing_replace(src: str, dst: str) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        atomic_write_bytes(target, b"lost")
    assert target.read_bytes() == b'{"v": 2}'
    assert os.listdir(tmp_path) == ["manifest.json"]


def test_write_rejects(tmp_path: Path) -> None:
    rejects = [
        Reject("d.jsonl", 3, None, "malformed JSON at column 2: Expecting value", "{x"),
        Reject("d.jsonl", 7, "messages[1].role", "unknown role 'narrator'", '{"raw": "caf\\xe9 ünï"}'),
        Reject("d.parquet", 2, "text", "not valid Unicode", '{"text": "\ud800"}'),
    ]
    path = tmp_path / "rejects.jsonl"
    write_rejects(rejects, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"path": r.path, "line": r.line, "field": r.field, "reason": r.reason, "raw": r.raw} for r in rejects
    ]
    assert "ünï" in lines[1]
    with pytest.raises(FileExistsError, match="rejects.jsonl already exists; pass --overwrite to replace it"):
        write_rejects([], path)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
    write_rejects([], path, overwrite=True)
    assert path.read_bytes() == b""
