"""Record readers: every format round-trips, line numbers are right, bad bytes become InputError items."""

from __future__ import annotations

import gzip
import json
import pickle
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap.io import InputError, expand_sources, iter_records, write_table
from overlap.io.formats import iter_raw_records

RECORDS = [
    {"id": "1", "text": "Plain ASCII line."},
    {"id": "2", "text": 'Ünïcödé, emoji 🙂, CJK 漢字, a line\nbreak and a "quote", comma'},
    {"id": "3", "text": ""},
]


def _jsonl_bytes(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def _write(path: Path, records: list[dict]) -> Path:
    """Write ``records`` in the format ``path``'s name asks for."""
    name = path.name
    if name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(records), path, row_group_size=2)
    elif name.endswith(".csv"):
        import csv

        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    elif name.endswith(".gz"):
        path.write_bytes(gzip.compress(_jsonl_bytes(records)))
    elif name.endswith(".zst"):
        path.write_bytes(zstandard.ZstdCompressor().compress(_jsonl_bytes(records)))
    else:
        path.write_bytes(_jsonl_bytes(records))
    return path


@pytest.mark.parametrize(
    "name",
    ["d.jsonl", "d.jsonl.gz", "d.jsonl.zst", "d.json.gz", "d.json.zst", "d.json", "d.parquet", "d.csv"],
)
def test_every_format_round_trips(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, RECORDS)
    got = list(iter_records(path))
    assert [r for _, r in got] == RECORDS
    if name.endswith(".csv"):
        # Header on line 1; record 2 spans two physical lines (quoted newline).
        assert [n for n, _ in got] == [2, 3, 5]
    else:
        assert [n for n, _ in got] == [1, 2, 3]


def test_json_array_records_carry_the_line_they_start_on(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[\n  {"id": 1},\n  {"id": 2,\n   "x": [1,\n 2]},\n\n  {"id": 3}\n]\n')
    assert list(iter_records(path)) == [(2, {"id": 1}), (3, {"id": 2, "x": [1, 2]}), (7, {"id": 3})]


def test_json_array_in_gzip_and_empty_array(tmp_path: Path) -> None:
    path = tmp_path / "a.json.gz"
    path.write_bytes(gzip.compress(b'\n[{"a": 1}, {"a": 2}]'))
    assert list(iter_records(path)) == [(2, {"a": 1}), (2, {"a": 2})]
    empty = tmp_path / "e.json"
    empty.write_text(" [ ] ")
    assert list(iter_records(empty)) == []


def test_json_array_non_object_element_is_an_item_not_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[{"a": 1},\n 5,\n {"a": 2}]')
    items = list(iter_records(path))
    assert items[0] == (1, {"a": 1}) and items[2] == (3, {"a": 2})
    line, error = items[1]
    assert line == 2 and isinstance(error, InputError)
    assert str(error) == f"{path}, line 2: expected a JSON object, got int"


@pytest.mark.parametrize(
    ("text", "line"),
    [('[{"a": 1},\n {"a": 2]', 2), ('[{"a": 1},\n\n {"a": 2}', 3), ('[{"a": 1}] x', 1), ('[{"a": 1},]', 1)],
)
def test_broken_json_array_raises_with_its_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "a.json"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        list(iter_records(path))
    assert info.value.line == line and "malformed JSON" in info.value.reason


def test_json_file_that_is_not_an_array_reads_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    path.write_text('\n{"a": 1}\n{"a": 2}\n')
    assert list(iter_records(path)) == [(2, {"a": 1}), (3, {"a": 2})]


def test_jsonl_blank_lines_skipped_but_counted_and_bom_and_crlf_handled(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n   \n{"a": 2}\r\n\t\n')
    assert list(iter_records(path)) == [(1, {"a": 1}), (4, {"a": 2})]


def test_jsonl_bad_lines_become_errors_with_file_line_and_raw(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": \n"\xff\xfe"\n[1, 2]\n{"a": 2}\n')
    items = list(iter_raw_records(path))
    assert [i.line for i in items] == [1, 2, 3, 4, 5]
    assert items[0].record == {"a": 1} and items[4].record == {"a": 2}
    malformed, utf8, array = (i.record for i in items[1:4])
    assert str(malformed) == f"{path}, line 2: malformed JSON at column 7: Expecting value"
    assert malformed.raw == '{"a": '
    assert str(utf8) == f"{path}, line 3: invalid UTF-8 at byte 1"
    assert utf8.raw == '"\\xff\\xfe"'
    assert str(array) == f"{path}, line 4: expected a JSON object, got list"
    assert items[4].raw() == '{"a": 2}'


def test_deeply_nested_json_is_an_error_item(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("[" * 100_000 + "\n")
    ((line, error),) = list(iter_records(path))
    assert line == 1 and isinstance(error, InputError) and "malformed JSON" in error.reason


def test_truncated_gzip_raises_input_error(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl_bytes(RECORDS * 50))[:-20])
    with pytest.raises(InputError, match="cannot read compressed data"):
        list(iter_records(path))


def test_multi_frame_zstd_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl.zst"
    frames = [zstandard.ZstdCompressor().compress(_jsonl_bytes([r])) for r in RECORDS]
    path.write_bytes(b"".join(frames))
    assert [r for _, r in iter_records(path)] == RECORDS


def test_csv_invalid_utf8_and_wrong_width_are_items(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b'id,text\n1,fine\n2,"caf\xe9"\n3,a,b\n\n4,"two\nlines"\n')
    items = list(iter_raw_records(path))
    assert [i.line for i in items] == [2, 3, 4, 6]
    assert items[0].record == {"id": "1", "text": "fine"}
    assert items[3].record == {"id": "4", "text": "two\nlines"}
    assert items[3].raw() == '4,"two\nlines"'
    bad_utf8, wrong_width = items[1].record, items[2].record
    assert str(bad_utf8) == f"{path}, line 3, field 'text': invalid UTF-8 at byte 6"
    assert bad_utf8.raw == '2,"caf\\xe9"'
    assert str(wrong_width) == f"{path}, line 4: expected 2 fields (the header's), got 3"


def test_csv_duplicate_header_is_raised(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,text,id\n1,a,2\n")
    with pytest.raises(InputError, match="line 1, field 'id': column name appears more than once"):
        list(iter_records(path))


def test_csv_field_larger_than_csv_default_limit(tmp_path: Path) -> None:
    big = "word " * 60_000
    path = _write(tmp_path / "d.csv", [{"id": "1", "text": big}])
    assert list(iter_records(path)) == [(2, {"id": "1", "text": big})]


def test_parquet_rows_numbered_across_batches_and_row_groups(tmp_path: Path) -> None:
    records = [{"id": i, "text": f"doc {i}"} for i in range(2500)]
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=700)
    got = list(iter_records(path))
    assert [n for n, _ in got] == list(range(1, 2501))
    assert [r for _, r in got] == records


def test_parquet_errors_say_row(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        list(iter_records(path))
    assert str(InputError("d.parquet", 17, "text", "expected a string, got int")) == (
        "d.parquet, row 17, field 'text': expected a string, got int"
    )


def test_txt_folder_is_one_record_per_file(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("Second.\n")
    (folder / "a.txt").write_text("First.")
    (folder / "sub" / "c.txt").write_text("Third, nested.")
    (folder / ".hidden.txt").write_text("skipped")
    (folder / "bad.txt").write_bytes(b"line one\nline \xff two")
    items = list(iter_raw_records(folder))
    assert [(i.line, i.record) for i in items if not isinstance(i.record, InputError)] == [
        (1, {"id": "a.txt", "text": "First."}),
        (1, {"id": "b.txt", "text": "Second.\n"}),
        (1, {"id": "sub/c.txt", "text": "Third, nested."}),
    ]
    (error,) = [i.record for i in items if isinstance(i.record, InputError)]
    assert str(error) == f"{folder / 'bad.txt'}, line 2, field 'text': invalid UTF-8 at byte 14"


def test_input_error_message_and_pickle() -> None:
    error = InputError("data.jsonl", 17, "messages", "expected a list of {role, content}, got str", raw="x")
    assert str(error) == "data.jsonl, line 17, field 'messages': expected a list of {role, content}, got str"
    again = pickle.loads(pickle.dumps(error))
    assert (again.path, again.line, again.field, again.reason, again.raw) == (
        "data.jsonl",
        17,
        "messages",
        error.reason,
        "x",
    )
    assert str(again) == str(error)
    assert str(InputError("d.jsonl", None, None, "broken")) == "d.jsonl: broken"


# --- expand_sources -------------------------------------------------------------


def _tree(root: Path) -> None:
    (root / "shards" / "b").mkdir(parents=True)
    (root / "shards" / "b" / "2.jsonl").write_text("{}\n")
    (root / "shards" / "1.parquet").write_bytes(b"")
    (root / "shards" / "README.md").write_text("ignored")
    (root / "shards" / ".cache.jsonl").write_text("ignored")
    (root / "texts").mkdir()
    (root / "texts" / "a.txt").write_text("a")


def test_expand_sources_files_dirs_globs(tmp_path: Path) -> None:
    _tree(tmp_path)
    shards = tmp_path / "shards"
    assert expand_sources([shards]) == [shards / "1.parquet", shards / "b" / "2.jsonl"]
    assert expand_sources([f"{tmp_path}/**/*.jsonl"]) == [shards / "b" / "2.jsonl"]
    # A txt folder is one source; the same file named twice is read once.
    assert expand_sources([tmp_path / "texts", shards / "1.parquet", str(shards / "1.parquet")]) == [
        tmp_path / "texts",
        shards / "1.parquet",
    ]


def test_expand_sources_errors(tmp_path: Path) -> None:
    _tree(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        expand_sources([tmp_path / "missing.jsonl"])
    with pytest.raises(FileNotFoundError, match="no files match"):
        expand_sources([f"{tmp_path}/*.csv"])
    with pytest.raises(ValueError, match="unsupported file type"):
        expand_sources([tmp_path / "shards" / "README.md"])
    with pytest.raises(ValueError, match=r"mixes \.txt files"):
        expand_sources([tmp_path])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no supported files"):
        expand_sources([tmp_path / "empty"])
    with pytest.raises(FileNotFoundError, match="no input files"):
        expand_sources([])


# --- properties -------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(records=st.lists(st.dictionaries(st.text(), _json_values, max_size=4), min_size=1, max_size=5))
def test_property_any_unicode_survives_jsonl(records: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.jsonl"
        # ensure_ascii keeps lone surrogates (valid JSON escapes) writable.
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="ascii")
        assert [r for _, r in iter_records(path)] == records
        if _utf8_ok(records):
            path.write_bytes(_jsonl_bytes(records))
            assert [r for _, r in iter_records(path)] == records


def _utf8_ok(records: list[dict]) -> bool:
    try:
        _jsonl_bytes(records)
    except UnicodeEncodeError:
        return False
    return True


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(), min_size=1, max_size=6))
def test_property_strings_survive_write_table_jsonl(texts: list[str]) -> None:
    import polars as pl

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.jsonl"
        write_table(pl.DataFrame({"text": texts}), path)
        assert [r["text"] for _, r in iter_records(path)] == texts


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(
        st.binary(max_size=40) | st.sampled_from([b"{}", b'{"a": "\\ud800"}', b"\xef\xbb\xbf{}"]), max_size=8
    )
)
def test_property_arbitrary_bytes_never_raise(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "b.jsonl"
        data = b"\n".join(lines)
        path.write_bytes(data)
        items = list(iter_records(path))
        physical = data.split(b"\n")
        if physical and physical[0].startswith(b"\xef\xbb\xbf"):
            physical[0] = physical[0][3:]
        expected = [n for n, line in enumerate(physical, start=1) if line.strip(b" \t\r\n")]
        assert [n for n, _ in items] == expected
        assert all(isinstance(r, (dict, InputError)) for _, r in items)
