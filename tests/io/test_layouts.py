"""Layouts map to prompt/response/text as checked by hand; bad records name file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from overlap.io import Example, InputError, detect_layout, iter_corpus_batches, read_dataset, to_example

from helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "io"


def _example(record: dict, row: int = 0, **kwargs: str) -> Example:
    layout = detect_layout(record, kwargs.get("text_field"))
    return to_example(record, row, path="d.jsonl", line=row + 1, layout=layout, **kwargs)


def _sides(example: Example) -> tuple[str, str, str]:
    return example.prompt, example.response, example.text


# --- layouts, by hand -------------------------------------------------------------


def test_messages_multi_turn() -> None:
    record = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
            {"role": "assistant", "content": "Paris."},
            {"role": "user", "content": "And Spain?"},
            {"role": "assistant", "content": "Madrid."},
        ]
    }
    assert detect_layout(record) == "messages"
    assert _sides(_example(record)) == (
        "Be brief.\nCapital of France?\nAnd Spain?",
        "Paris.\nMadrid.",
        "Be brief.\nCapital of France?\nParis.\nAnd Spain?\nMadrid.",
    )


def test_messages_content_parts_tool_calls_and_tool_turns() -> None:
    record = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe"},
                    {"type": "image_url", "image_url": {"url": "http://x/y.png"}},
                    {"type": "text", "text": "this image."},
                ],
            },
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
            {"role": "tool", "content": "a red square"},
            {"role": "Assistant", "content": "A red square."},
        ]
    }
    assert _sides(_example(record)) == (
        "Describe\nthis image.\na red square",
        "A red square.",
        "Describe\nthis image.\na red square\nA red square.",
    )


def test_sharegpt_conversations_from_value_and_role_content() -> None:
    sharegpt = {
        "conversations": [
            {"from": "system", "value": "You are a poet."},
            {"from": "human", "value": "A haiku on rain?"},
            {"from": "gpt", "value": "Soft rain on the roof"},
        ]
    }
    assert detect_layout(sharegpt) == "conversations"
    assert _sides(_example(sharegpt)) == (
        "You are a poet.\nA haiku on rain?",
        "Soft rain on the roof",
        "You are a poet.\nA haiku on rain?\nSoft rain on the roof",
    )
    mixed = {"conversations": [{"role": "user", "content": "Hi"}, {"role": "model", "content": "Hello"}]}
    assert _sides(_example(mixed)) == ("Hi", "Hello", "Hi\nHello")


def test_alpaca_with_and_without_input() -> None:
    record = {"instruction": "Translate to French.", "input": "cat", "output": "chat"}
    assert detect_layout(record) == "alpaca"
    assert _sides(_example(record)) == (
        "Translate to French.\ncat",
        "chat",
        "Translate to French.\ncat\nchat",
    )
    no_input = {"instruction": "Name a prime.", "input": "", "output": "7"}
    assert _sides(_example(no_input)) == ("Name a prime.", "7", "Name a prime.\n7")
    null_input = {"instruction": "Name a prime.", "input": None, "output": "7"}
    assert _sides(_example(null_input)) == ("Name a prime.", "7", "Name a prime.\n7")


@pytest.mark.parametrize("key", ["completion", "response", "chosen"])
def test_prompt_completion_variants(key: str) -> None:
    record = {"prompt": "Once upon a time", key: " there was a fox.", "rejected": "no"}
    assert detect_layout(record) == "prompt_completion"
    assert _sides(_example(record)) == (
        "Once upon a time",
        " there was a fox.",
        "Once upon a time\n there was a fox.",
    )


def test_prompt_completion_conversational() -> None:
    record = {
        "prompt": [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "3+3?"},
        ],
        "completion": [{"role": "assistant", "content": "6"}],
    }
    assert _sides(_example(record)) == ("2+2?\n4\n3+3?", "6", "2+2?\n4\n3+3?\n6")


def test_question_answer() -> None:
    record = {"question": "Who wrote Hamlet?", "answer": "Shakespeare"}
    assert detect_layout(record) == "question_answer"
    assert _sides(_example(record)) == ("Who wrote Hamlet?", "Shakespeare", "Who wrote Hamlet?\nShakespeare")


def test_text_layouts() -> None:
    assert detect_layout({"text": "x", "meta": {}}) == "text"
    assert detect_layout({"content": "x"}) == "text"
    assert _sides(_example({"content": "Just a document."})) == ("", "", "Just a document.")
    assert _sides(_example({"body": "Named.", "text": "not this"}, text_field="body")) == ("", "", "Named.")
    # A named text field wins over any layout the record also has.
    assert detect_layout({"messages": [], "body": "b"}, "body") == "text"


def test_blank_parts_are_left_out_and_all_blank_is_empty_text() -> None:
    record = {
        "messages": [
            {"role": "system", "content": "  "},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": ""},
        ]
    }
    assert _sides(_example(record)) == ("Hi", "", "Hi")
    assert _sides(_example({"instruction": " ", "input": "\n", "output": "\t"})) == ("", "", "")


def test_id_and_category() -> None:
    assert _example({"id": 7, "text": "a"}, row=3).id == "7"
    assert _example({"_id": {"$oid": "ab"}, "text": "a"}).id == '{"$oid": "ab"}'
    assert _example({"id": None, "uid": "u1", "text": "a"}).id == "u1"
    assert _example({"text": "a"}, row=5).id == "5"
    assert _example({"key": "k9", "id": "not this", "text": "a"}, id_field="key").id == "k9"
    assert _example({"text": "a", "source": "gsm8k", "task": "math"}).category == "gsm8k"
    assert _example({"text": "a", "task": "math"}).category == "math"
    assert _example({"text": "a"}).category is None
    example = _example({"id": "x", "question": "q", "answer": "a", "category": "trivia"}, row=2)
    assert example == Example(row=2, id="x", prompt="q", response="a", text="q\na", category="trivia")


def test_detect_layout_lists_fields_when_nothing_fits() -> None:
    with pytest.raises(InputError) as info:
        detect_layout({"foo": 1, "bar": 2}, path="d.jsonl", line=4)
    assert str(info.value).startswith("d.jsonl, line 4: no known layout fits; fields present: 'foo', 'bar'.")


@pytest.mark.parametrize(
    ("record", "layout", "field", "reason"),
    [
        ({"messages": "user: hi"}, "messages", "messages", "expected a list of {role, content}, got str"),
        (
            {"messages": ["hi"]},
            "messages",
            "messages[0]",
            "expected an object with role and content, got str",
        ),
        (
            {"messages": [{"content": "hi"}]},
            "messages",
            "messages[0]",
            "missing 'role' (or 'from'); fields present: 'content'",
        ),
        (
            {"messages": [{"role": "user"}]},
            "messages",
            "messages[0]",
            "missing 'content' (or 'value'); fields present: 'role'",
        ),
        (
            {"messages": [{"role": "user", "content": 5}]},
            "messages",
            "messages[0].content",
            "expected a string or a list of content parts, got int",
        ),
        (
            {"messages": [{"role": 1, "content": "x"}]},
            "messages",
            "messages[0].role",
            "expected a string, got int",
        ),
        (
            {"messages": [{"role": "narrator", "content": "x"}]},
            "messages",
            "messages[0].role",
            "unknown role 'narrator'; allowed: system, user, human, tool, function, assistant, gpt, bot, "
            "model",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages",
            "messages[0].content[0].text",
            "missing; fields present: 'type'",
        ),
        (
            {"messages": [{"role": "user", "content": ["x"]}]},
            "messages",
            "messages[0].content[0]",
            "expected a content part object, got str",
        ),
        (
            {"conversations": [{"from": "alien", "value": "x"}]},
            "conversations",
            "conversations[0].from",
            "unknown role 'alien'",
        ),
        ({"instruction": "x", "output": None}, "alpaca", "output", "expected a string, got null"),
        ({"instruction": "x", "input": 3, "output": "y"}, "alpaca", "input", "expected a string, got int"),
        ({"output": "y"}, "alpaca", "instruction", "missing; fields present: 'output'"),
        (
            {"prompt": "p", "completion": {"a": 1}},
            "prompt_completion",
            "completion",
            "expected a string, got dict",
        ),
        ({"question": "q", "answer": ["a"]}, "question_answer", "answer", "expected a string, got list"),
        ({"text": 3}, "text", "text", "expected a string, got int"),
        ({"text": "bad \ud800 escape"}, "text", "text", "not valid Unicode: lone surrogate at character 4"),
        ({"text": "x", "id": None}, "text", "id", "id is null"),
    ],
)
def test_to_example_errors_name_field(record: dict, layout: str, field: str, reason: str) -> None:
    id_field = "id" if "id" in record else None
    with pytest.raises(InputError) as info:
        to_example(record, 0, path="data.jsonl", line=17, layout=layout, id_field=id_field)
    assert info.value.field == field
    assert str(info.value).startswith(f"data.jsonl, line 17, field {field!r}: {reason}")


def test_missing_text_field_and_id_field_list_fields_present() -> None:
    with pytest.raises(InputError, match=r"field 'body': missing; fields present: 'bdy'"):
        to_example({"bdy": "x"}, 0, path="d.jsonl", line=1, layout="text", text_field="body")
    with pytest.raises(InputError, match=r"field 'key': missing id field; fields present: 'text'"):
        to_example({"text": "x"}, 0, path="d.jsonl", line=1, layout="text", id_field="key")


# --- read_dataset on the bad-input fixtures -------------------------------------------

BAD_CASES = [
    # fixture, read_dataset kwargs, bad line, field, reason start, ids of the good records
    ("malformed_json.jsonl", {}, 3, None, "malformed JSON at column 59", ["a", "c"]),
    ("invalid_utf8.jsonl", {}, 3, None, "invalid UTF-8 at byte 57", ["a", "b2"]),
    (
        "missing_text.jsonl",
        {"text_field": "body"},
        2,
        "body",
        "missing; fields present: 'id', 'bdy'",
        ["a", "c"],
    ),
    ("wrong_type.jsonl", {}, 2, "messages", "expected a list of {role, content}, got str", ["a", "c"]),
    ("unknown_role.jsonl", {}, 3, "messages[1].role", "unknown role 'narrator'", ["a", "b", "d"]),
    ("duplicate_id.jsonl", {}, 3, "id", "duplicate id 'q1', first seen at line 1", ["q1", "q2"]),
]


@pytest.mark.parametrize(("name", "kwargs", "line", "field", "reason", "good"), BAD_CASES)
def test_bad_input_fails_naming_file_line_field(name, kwargs, line, field, reason, good) -> None:
    path = FIXTURES / name
    with pytest.raises(InputError) as info:
        read_dataset(path, **kwargs)
    where = f"{path}, line {line}" + (f", field {field!r}" if field else "")
    assert str(info.value).startswith(f"{where}: {reason}")
    assert (info.value.path, info.value.line, info.value.field) == (str(path), line, field)


@pytest.mark.parametrize(("name", "kwargs", "line", "field", "reason", "good"), BAD_CASES)
def test_bad_input_skipped_keeps_every_good_row(name, kwargs, line, field, reason, good) -> None:
    path = FIXTURES / name
    examples, rejects = read_dataset(path, on_error="skip", **kwargs)
    assert [e.id for e in examples] == good
    (reject,) = rejects
    assert (reject.path, reject.line, reject.field) == (str(path), line, field)
    assert reject.reason.startswith(reason)
    lines = path.read_bytes().split(b"\n")
    assert reject.raw == lines[line - 1].decode("utf-8", "backslashreplace")
    # Every record is an example or a reject, and rows are input positions: the reject keeps its place.
    total = sum(1 for ln in lines if ln.strip())
    bad_index = sum(1 for ln in lines[: line - 1] if ln.strip())
    assert len(examples) + len(rejects) == total
    assert [e.row for e in examples] == [i for i in range(total) if i != bad_index]


def test_rows_are_input_positions(tmp_path: Path) -> None:
    examples, _ = read_dataset(FIXTURES / "wrong_type.jsonl", on_error="skip")
    assert [(e.row, e.id) for e in examples] == [(0, "a"), (2, "c")]
    assert examples[1] == Example(
        row=2,
        id="c",
        prompt="Capital of Peru?",
        response="Lima",
        text="Capital of Peru?\nLima",
        category=None,
    )


def test_layout_is_fixed_by_the_first_valid_record(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    lines = [
        {"foo": 1},
        {"instruction": "Add 1 and 1.", "output": "2"},
        {"messages": [{"role": "user", "content": "hi"}]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    examples, rejects = read_dataset(path, on_error="skip")
    assert [e.text for e in examples] == ["Add 1 and 1.\n2"]
    assert [(r.line, r.field) for r in rejects] == [(1, None), (3, "instruction")]
    assert (
        "layout is 'alpaca', detected at" in rejects[1].reason
        and "looks like 'messages'" in rejects[1].reason
    )
    with pytest.raises(InputError, match="line 1: no known layout fits"):
        read_dataset(path)


def test_dataset_folder_of_shards_and_duplicate_across_files(tmp_path: Path) -> None:
    (tmp_path / "train-0.jsonl").write_text('{"id": "a", "text": "one"}\n{"id": "b", "text": "two"}\n')
    (tmp_path / "train-1.jsonl").write_text('{"id": "c", "text": "three"}\n{"id": "a", "text": "again"}\n')
    with pytest.raises(InputError) as info:
        read_dataset(tmp_path)
    assert str(info.value) == (
        f"{tmp_path / 'train-1.jsonl'}, line 2, field 'id': "
        f"duplicate id 'a', first seen at {tmp_path / 'train-0.jsonl'}, line 1"
    )
    examples, rejects = read_dataset(tmp_path, on_error="skip")
    assert [(e.row, e.id, e.text) for e in examples] == [(0, "a", "one"), (1, "b", "two"), (2, "c", "three")]
    assert rejects[0].raw == '{"id": "a", "text": "again"}'


def test_csv_parquet_and_txt_datasets(tmp_path: Path) -> None:
    csv_path = tmp_path / "d.csv"
    csv_path.write_text('id,question,answer\nq1,"Two\nlines?",yes\nq2,Why?,Because.\n')
    examples, _ = read_dataset(csv_path)
    assert [(e.id, e.prompt, e.response) for e in examples] == [
        ("q1", "Two\nlines?", "yes"),
        ("q2", "Why?", "Because."),
    ]

    chat_csv = tmp_path / "chat.csv"
    chat_csv.write_text('id,messages\n1,"[{""role"": ""user""}]"\n')
    with pytest.raises(
        InputError, match=r"chat.csv, line 2, field 'messages': expected a list of \{role, content\}, got str"
    ):
        read_dataset(chat_csv)

    parquet_path = tmp_path / "d.parquet"
    rows = [
        {
            "id": i,
            "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
        }
        for i in range(3)
    ]
    pq.write_table(pa.Table.from_pylist(rows), parquet_path)
    examples, _ = read_dataset(parquet_path)
    assert [(e.id, e.prompt, e.response) for e in examples] == [
        ("0", "q0", "a0"),
        ("1", "q1", "a1"),
        ("2", "q2", "a2"),
    ]

    folder = tmp_path / "txt"
    folder.mkdir()
    (folder / "x.txt").write_text("Hello.")
    (folder / "blank.txt").write_text("  \n")
    examples, _ = read_dataset(folder)
    assert [(e.row, e.id, e.text) for e in examples] == [(0, "blank.txt", ""), (1, "x.txt", "Hello.")]


def test_on_error_must_be_fail_or_skip() -> None:
    with pytest.raises(ValueError, match="on_error must be one of fail, skip"):
        read_dataset(FIXTURES / "wrong_type.jsonl", on_error="ignore")


# --- corpus batches --------------------------------------------------------------------


def test_corpus_batches_text_and_id_fallbacks(tmp_path: Path) -> None:
    docs = [
        {"id": "d1", "text": "first"},
        {"url": "http://e/2", "raw_content": "second"},
        {"body": "third"},
        {"doc_id": 4, "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
        {"_id": "x5", "contents": "fifth"},
    ]
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "c.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    batches = list(iter_corpus_batches([tmp_path], batch_size=2))
    assert [b.ids for b in batches] == [["d1", "http://e/2"], ["sub/c.jsonl:3", "4"], ["x5"]]
    assert [b.texts for b in batches] == [["first", "second"], ["third", "q\na"], ["fifth"]]
    assert [b.lines for b in batches] == [[1, 2], [3, 4], [5]]
    assert {b.path for b in batches} == {str(path)}


def test_corpus_named_fields_and_rejects(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"k": "a", "t": "one"}\n{"k": "b", "t": 2}\nnot json\n{"k": "c", "t": "three"}\n')
    with pytest.raises(InputError, match=r"c.jsonl, line 2, field 't': expected a string, got int"):
        list(iter_corpus_batches([path], text_field="t", id_field="k"))
    batches = list(iter_corpus_batches([path], text_field="t", id_field="k", on_error="skip", batch_size=3))
    assert [(b.ids, [r.line for r in b.rejects]) for b in batches] == [(["a"], [2, 3]), (["c"], [])]
    assert batches[0].rejects[1].raw == "not json"


def test_corpus_batches_never_span_files(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"text": "1"}\n')
    (tmp_path / "b.jsonl").write_text('{"text": "2"}\n{"text": "3"}\n')
    batches = list(iter_corpus_batches([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], batch_size=10))
    assert [(Path(b.path).name, b.ids) for b in batches] == [
        ("a.jsonl", ["a.jsonl:1"]),
        ("b.jsonl", ["b.jsonl:1", "b.jsonl:2"]),
    ]


def test_corpus_parquet_reads_text_and_id_columns(tmp_path: Path) -> None:
    rows = [{"url": f"u{i}", "text": f"doc {i}" if i != 3 else None, "meta": {"n": i}} for i in range(5)]
    path = tmp_path / "c.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)
    (batch,) = list(iter_corpus_batches([path], on_error="skip"))
    assert batch.ids == ["u0", "u1", "u2", "u4"]
    assert batch.texts == ["doc 0", "doc 1", "doc 2", "doc 4"]
    assert batch.lines == [1, 2, 3, 5]
    (reject,) = batch.rejects
    assert (reject.line, reject.field, reject.reason) == (4, "text", "expected a string, got null")
    with pytest.raises(InputError, match=r"c.parquet, row 4, field 'text'"):
        list(iter_corpus_batches([path]))

    chat = tmp_path / "chat.parquet"
    pq.write_table(
        pa.Table.from_pylist(
            [{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}]
        ),
        chat,
    )
    assert [b.texts for b in iter_corpus_batches([chat])] == [["hi\nyo"]]


def test_corpus_batch_size_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        list(iter_corpus_batches([FIXTURES / "wrong_type.jsonl"], batch_size=0))
