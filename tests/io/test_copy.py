"""Copying a dataset's records unchanged into a new file of its own format (what a resample writes)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap.io import bundled as data
from overlap.io.copy import copy_format, copy_records
from overlap.io.formats import iter_records


def test_every_row_in_order_copies_the_bundled_dataset_byte_for_byte(tmp_path: Path) -> None:
    source = data.sample_dataset()
    count = sum(1 for _ in iter_records(source))
    out = tmp_path / "copy.jsonl"
    assert copy_records(source, np.arange(count), out) == count
    assert out.read_bytes() == source.read_bytes()


def test_rows_of_the_bundled_dataset_come_back_as_its_records(tmp_path: Path) -> None:
    source = data.sample_dataset()
    records = [record for _, record in iter_records(source)]
    rows = np.array([len(records) - 1, 0, 7, 7])
    out = tmp_path / "some.jsonl"
    copy_records(source, rows, out)
    assert [record for _, record in iter_records(out)] == [records[k] for k in rows]


def test_copy_format_is_the_input_suffix_or_parquet_for_a_datasets_folder(tmp_path: Path) -> None:
    assert copy_format("train.jsonl.zst") == ".jsonl.zst"
    assert copy_format(data.sample_dataset()) == ".jsonl"
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "dataset_info.json").write_text("{}")
    (folder / "state.json").write_text('{"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}')
    assert copy_format(folder) == ".parquet"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
json_records = st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=5), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(json_records, st.data())
def test_jsonl_holds_only_input_records_untouched(records: list[dict], data: st.DataObject) -> None:
    rows = np.array(data.draw(st.lists(st.integers(0, len(records) - 1), max_size=30)), dtype=np.int64)
    # Spacing and escapes the way other tools write them; a blank line is not a record.
    lines = [json.dumps(r, ensure_ascii=data.draw(st.booleans()), separators=(", ", ": ")) for r in records]
    with tempfile.TemporaryDirectory() as folder:
        source, out = Path(folder, "in.jsonl"), Path(folder, "out.jsonl")
        source.write_bytes(("\n\n".join(lines) + "\r\n").encode())
        assert copy_records(source, rows, out) == rows.size
        written = out.read_bytes().decode().split("\n")[:-1]
    assert written == [lines[k] for k in rows]
    for k, line in zip(rows, written):
        parsed = json.loads(line)
        assert parsed == records[k] and list(parsed) == list(records[k])


def test_rows_count_records_as_the_reader_does(tmp_path: Path) -> None:
    source = tmp_path / "mixed.jsonl"
    source.write_bytes(b'\xef\xbb\xbf{"b": 1, "a": 2}\n\n   \n{"x": "y"}\nnot json\n{"z": [1.50, 2e3]}')
    records = [record for _, record in iter_records(source)]
    out = tmp_path / "out.jsonl"
    copy_records(source, np.array([3, 0, 0, 1]), out)
    lines = out.read_bytes().split(b"\n")
    assert lines == [b'{"z": [1.50, 2e3]}', b'{"b": 1, "a": 2}', b'{"b": 1, "a": 2}', b'{"x": "y"}', b""]
    assert json.loads(lines[0]) == records[3] and json.loads(lines[3]) == records[1]


def test_json_array_stays_an_array(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    text = '[ {"q": "é", "n": 1.0},\n  {"q": "two", "n": [1, {"deep": null}]} ,{"q":"3"} ]'
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.json"
    copy_records(source, np.array([1, 1, 2]), out)
    text = out.read_text(encoding="utf-8")
    assert '{"q": "two", "n": [1, {"deep": null}]}' in text and '{"q":"3"}' in text
    assert json.loads(text) == [json.loads(source.read_text())[k] for k in (1, 1, 2)]
    copy_records(source, np.array([], dtype=np.int64), tmp_path / "empty.json")
    assert json.loads((tmp_path / "empty.json").read_text()) == []


def test_json_file_of_lines_stays_lines(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    copy_records(source, np.array([1, 0]), tmp_path / "out.json")
    assert (tmp_path / "out.json").read_text() == '{"a": 2}\n{"a": 1}\n'


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_compressed_jsonl_stays_compressed(tmp_path: Path, suffix: str) -> None:
    raw = b'{"a": 1}\n{"a": 2}\n{"a": 3}\n'
    packed = gzip.compress(raw) if suffix.endswith(".gz") else zstandard.ZstdCompressor().compress(raw)
    source, out = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    source.write_bytes(packed)
    copy_records(source, np.array([2, 0]), out)
    assert [r for _, r in iter_records(out)] == [{"a": 3}, {"a": 1}]


def test_parquet_keeps_its_schema(tmp_path: Path) -> None:
    schema = pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            pa.field("score", pa.float32()),
            pa.field("when", pa.timestamp("ms", tz="UTC")),
        ],
        metadata={b"origin": b"unit test"},
    )
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "messages": [[{"role": "user", "content": "hi"}], [], None],
            "score": [0.5, None, 2.0],
            "when": [0, 1, 2],
        },
        schema=schema,
    )
    source, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(table, source)
    copy_records(source, np.array([2, 0, 0]), out)
    back = pq.read_table(out)
    assert back.schema.equals(pq.read_schema(source), check_metadata=True)
    assert back.to_pylist() == table.take([2, 0, 0]).to_pylist()


def test_csv_records_keep_their_text(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    text = '\ufeffid,text\r\n1,"line one\r\nline two"\r\n\r\n2,"say ""hi"""\r\n3,plain'
    source.write_bytes(text.encode())
    out = tmp_path / "out.csv"
    copy_records(source, np.array([2, 0, 1]), out)
    written = out.read_bytes().decode()
    assert written == '\ufeffid,text\r\n3,plain\r\n1,"line one\r\nline two"\r\n2,"say ""hi"""\r\n'
    assert list(csv.reader(io.StringIO(written.lstrip("\ufeff"), newline=""))) == [
        ["id", "text"], ["3", "plain"], ["1", "line one\r\nline two"], ["2", 'say "hi"']
    ]
    assert [r for _, r in iter_records(out)] == [
        {"id": "3", "text": "plain"}, {"id": "1", "text": "line one\r\nline two"}, {"id": "2", "text": 'say "hi"'}
    ]


def test_refuses_to_clobber_and_leaves_nothing_behind(tmp_path: Path) -> None:
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('{"a": 1}\n{"a": 2}\n')
    out.write_text("keep me")
    with pytest.raises(FileExistsError):
        copy_records(source, np.array([0]), out)
    assert out.read_text() == "keep me"
    with pytest.raises(IndexError, match="row 2 is out of range"):
        copy_records(source, np.array([0, 2]), out, overwrite=True)
    assert out.read_text() == "keep me"
    assert copy_records(source, np.array([1]), out, overwrite=True) == 1
    assert out.read_text() == '{"a": 2}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]


def test_refuses_a_format_change_or_the_input_itself(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"a": 1}\n')
    with pytest.raises(ValueError, match="keeps the input's format"):
        copy_records(source, np.array([0]), tmp_path / "out.parquet")
    with pytest.raises(ValueError, match="is the input dataset"):
        copy_records(source, np.array([0]), source, overwrite=True)
    with pytest.raises(ValueError, match="integer"):
        copy_records(source, np.array([0.5]), tmp_path / "out.jsonl")


def test_a_datasets_folder_becomes_one_parquet_file_with_its_features(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    saved = datasets.Dataset.from_list([{"id": f"r{i}", "text": f"text {i}", "n": i} for i in range(5)])
    saved.save_to_disk(str(tmp_path / "saved"))
    out = tmp_path / "out.parquet"
    assert copy_records(tmp_path / "saved", np.array([4, 0, 0]), out) == 3
    copied = datasets.Dataset.from_parquet(str(out))
    assert copied["id"] == ["r4", "r0", "r0"] and copied["n"] == [4, 0, 0]
    assert copied.features == saved.features
