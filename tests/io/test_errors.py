"""Input errors name file, line (row for Parquet) and field; a reject keeps the record's raw text."""

from overlap.io.errors import InputError, Reject, type_name


def test_message_names_file_line_and_field():
    error = InputError("data.jsonl", 17, "messages", "expected a list of {role, content}, got str")
    assert str(error) == "data.jsonl, line 17, field 'messages': expected a list of {role, content}, got str"
    assert str(InputError("t.parquet", 3, None, "bad")) == "t.parquet, row 3: bad"
    assert str(InputError("t.arrow", 0, "text", "bad")) == "t.arrow, row 0, field 'text': bad"
    assert str(InputError("folder", None, None, "empty")) == "folder: empty"


def test_type_names_for_messages():
    assert [type_name(v) for v in (None, "x", [1], {}, 3, 2.5, True)] == [
        "null", "str", "list", "dict", "int", "float", "bool"]


def test_reject_prefers_the_errors_raw_text():
    with_raw = InputError("a.jsonl", 2, "text", "not a string", raw='{"text": 1}')
    assert Reject.from_error(with_raw, "fallback") == Reject("a.jsonl", 2, "text", "not a string", '{"text": 1}')
    without = InputError("a.jsonl", 5, None, "bad json")
    assert Reject.from_error(without, "{oops").raw == "{oops"
