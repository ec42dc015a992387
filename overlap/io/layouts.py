"""Fine-tuning layouts (chat, instruction, QA, plain text) mapped to prompt / response / text.

Also the two readers built on them: ``read_dataset`` for a whole fine-tuning
dataset, and ``iter_corpus_batches`` for streaming reference-corpus documents.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from overlap.io.errors import InputError, Reject, type_name
from overlap.io.formats import (
    RawRecord,
    Source,
    iter_parquet_records,
    iter_raw_records,
    line_limit,
    parquet_columns,
    resolve_sources,
)

LAYOUTS = ("text", "messages", "conversations", "alpaca", "prompt_completion", "question_answer")
MAX_TEXT_BYTES = 32 * 1024 * 1024

_PROMPT_ROLES = ("system", "user", "human", "tool", "function")
_RESPONSE_ROLES = ("assistant", "gpt", "bot", "model")
_SIDES = {**dict.fromkeys(_PROMPT_ROLES, "prompt"), **dict.fromkeys(_RESPONSE_ROLES, "response")}
_TEXT_KEYS = ("text", "content")
_RESPONSE_KEYS = ("completion", "response", "chosen")
_ID_KEYS = ("id", "_id", "uid", "idx")
_CATEGORY_KEYS = ("source", "category", "task")
_CORPUS_TEXT_KEYS = ("text", "content", "raw_content", "contents", "body")
_CORPUS_ID_KEYS = ("id", "doc_id", "url", "_id")
_ON_ERROR = ("fail", "skip")

# An error factory bound to one record's file and line: fail(field, reason).
_Fail = Callable[[str | None, str], InputError]
# (side, content) pieces of an example in input order; side is "prompt", "response" or "text".
_Parts = list[tuple[str, str]]


@dataclass(frozen=True)
class Example:
    """One fine-tuning example, normalised.

    ``row`` is the record's 0-based input position (rejected records keep theirs),
    ``id`` the record's own id or ``str(row)``, ``prompt`` / ``response`` the
    user and assistant sides ("" if none), ``text`` every part in input order
    joined by newlines ("" if all are blank), ``category`` its source/category/task.
    """

    row: int
    id: str
    prompt: str
    response: str
    text: str
    category: str | None


@dataclass
class CorpusBatch:
    """Reference documents from one file, with the records of it that were skipped."""

    path: str
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


def detect_layout(
    record: dict, text_field: str | None = None, *, path: str = "<record>", line: int | None = None
) -> str:
    """The layout of one record, one of ``LAYOUTS``, judged by its field names.

    "text" when ``text_field`` is given or only a text/content field fits. Raises
    InputError listing the fields present when no layout fits.
    """
    if text_field is not None:
        return "text"
    if "messages" in record:
        return "messages"
    if "conversations" in record:
        return "conversations"
    if "instruction" in record and "output" in record:
        return "alpaca"
    if "prompt" in record and any(k in record for k in _RESPONSE_KEYS):
        return "prompt_completion"
    if "question" in record and "answer" in record:
        return "question_answer"
    if any(k in record for k in _TEXT_KEYS):
        return "text"
    raise InputError(
        path,
        line,
        None,
        f"no known layout fits; fields present: {_field_list(record)}. Expected messages, conversations, "
        "instruction/input/output, prompt/completion (or response/chosen), question/answer, or text "
        "(or name the text field with --text-field)",
    )


def to_example(
    record: dict,
    row: int,
    *,
    path: str,
    line: int | None,
    layout: str,
    text_field: str | None = None,
    id_field: str | None = None,
) -> Example:
    """Map one record of a known layout to an Example.

    Raises InputError naming path, line and field for missing fields (listing those
    present), wrong types, unknown chat roles, non-string contents and strings that
    are not valid Unicode. OpenAI content given as a list of parts is accepted.
    """
    if layout not in _LAYOUT_PARTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    fail: _Fail = partial(InputError, str(path), line)
    parts = _LAYOUT_PARTS[layout](record, fail, text_field)
    id_key = _id_key(record, id_field)
    if id_field is not None and id_key is None:
        raise fail(id_field, f"missing id field; fields present: {_field_list(record)}")
    return Example(
        row=row,
        id=str(row) if id_key is None else _id_text(record[id_key], id_key, fail),
        prompt=_join(parts, "prompt"),
        response=_join(parts, "response"),
        text=_join(parts, None),
        category=_category(record),
    )


def read_dataset(
    path: str | Path,
    *,
    text_field: str | None = None,
    id_field: str | None = None,
    on_error: str = "fail",
    max_text_bytes: int | None = MAX_TEXT_BYTES,
) -> tuple[list[Example], list[Reject]]:
    """Read a whole fine-tuning dataset (a file, folder or glob) into Examples.

    The layout is detected from the first valid record and required of all others.
    ``on_error="fail"`` raises the first InputError; ``"skip"`` collects a Reject
    (with the raw text) per bad record and goes on. A repeated id is an error on
    the later record, and so is a record without the id field the first record has. A text longer than ``max_text_bytes`` (UTF-8) is an error
    too, so one runaway record cannot exhaust memory. Every input record becomes
    exactly one Example or Reject.
    """
    _check_on_error(on_error)
    examples: list[Example] = []
    rejects: list[Reject] = []
    layout: str | None = None
    detected_at = ""
    first_seen: dict[str, tuple[str, int]] = {}
    ids_from: tuple[str | None, str] | None = None  # the id field of the first valid record, and where
    row = 0
    for source in resolve_sources([path]):
        for item in iter_raw_records(source.path, line_limit(max_text_bytes)):
            try:
                record = _record_of(item)
                if layout is None:
                    layout = detect_layout(record, text_field, path=item.path, line=item.line)
                    detected_at = f"{item.path}, line {item.line}"
                example = _dataset_example(item, record, row, layout, detected_at, text_field, id_field)
                own_key = _id_key(record, id_field)
                if ids_from is None:
                    ids_from = (own_key, f"{item.path}, line {item.line}")
                elif ids_from[0] is not None and own_key is None:
                    # Its row number would stand in for the id, and could collide with another record's id.
                    raise InputError(item.path, item.line, ids_from[0],
                                     f"missing id field (records have {ids_from[0]!r} from {ids_from[1]} on); "
                                     f"fields present: {_field_list(record)}")
                _check_size(example.text, max_text_bytes, item, text_field or layout)
                if example.id in first_seen:
                    seen_path, seen_line = first_seen[example.id]
                    where = (
                        f"line {seen_line}" if seen_path == item.path else f"{seen_path}, line {seen_line}"
                    )
                    id_key = _id_key(record, id_field) or "id"
                    reason = f"duplicate id {example.id!r}, first seen at {where}"
                    raise InputError(item.path, item.line, id_key, reason)
                first_seen[example.id] = (item.path, item.line)
                examples.append(example)
            except InputError as error:
                if on_error == "fail":
                    raise
                rejects.append(Reject.from_error(error, item.raw()))
            row += 1
    return examples, rejects


def iter_corpus_batches(
    sources: Iterable[str | Path],
    *,
    text_field: str | None = None,
    id_field: str | None = None,
    batch_size: int = 1000,
    on_error: str = "fail",
    max_text_bytes: int | None = MAX_TEXT_BYTES,
) -> Iterator[CorpusBatch]:
    """Stream reference-corpus documents in batches of at most ``batch_size`` records.

    Memory is bounded by the batch, not the corpus; a batch never spans two files.
    Text: ``text_field``, else the first of text, content, raw_content, contents,
    body present, else the text of a chat/instruction layout. Id: ``id_field``,
    else the first of id, doc_id, url, _id present, else ``"{file name}:{line}"``
    with the file name relative to the source argument. Ids are not checked for
    uniqueness here (that would hold every id of the corpus in memory).
    """
    _check_on_error(on_error)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for source in resolve_sources(sources):
        batch = CorpusBatch(str(source.path))
        for item in _corpus_records(source, text_field, id_field, max_text_bytes):
            try:
                doc_id, text = _corpus_document(item, source.name, text_field, id_field)
                _check_size(text, max_text_bytes, item, text_field or "text")
            except InputError as error:
                if on_error == "fail":
                    raise
                batch.rejects.append(Reject.from_error(error, item.raw()))
            else:
                batch.ids.append(doc_id)
                batch.texts.append(text)
                batch.lines.append(item.line)
            if len(batch.ids) + len(batch.rejects) >= batch_size:
                yield batch
                batch = CorpusBatch(str(source.path))
        if batch.ids or batch.rejects:
            yield batch


# --- layouts ------------------------------------------------------------------


def _text_parts(record: dict, fail: _Fail, text_field: str | None) -> _Parts:
    key = text_field or next((k for k in _TEXT_KEYS if k in record), _TEXT_KEYS[0])
    return [("text", _string(_require(record, key, fail), key, fail))]


def _chat_parts(key: str) -> Callable[[dict, _Fail, str | None], _Parts]:
    def parts(record: dict, fail: _Fail, _text_field: str | None) -> _Parts:
        return _turns(_require(record, key, fail), key, fail)

    return parts


def _alpaca_parts(record: dict, fail: _Fail, _text_field: str | None) -> _Parts:
    instruction = _string(_require(record, "instruction", fail), "instruction", fail)
    extra = record.get("input")
    extra = "" if extra is None else _string(extra, "input", fail)
    output = _string(_require(record, "output", fail), "output", fail)
    return [("prompt", instruction), ("prompt", extra), ("response", output)]


def _prompt_completion_parts(record: dict, fail: _Fail, _text_field: str | None) -> _Parts:
    key = next((k for k in _RESPONSE_KEYS if k in record), _RESPONSE_KEYS[0])
    return _side(_require(record, "prompt", fail), "prompt", "prompt", fail) + _side(
        _require(record, key, fail), key, "response", fail
    )


def _question_answer_parts(record: dict, fail: _Fail, _text_field: str | None) -> _Parts:
    question = _string(_require(record, "question", fail), "question", fail)
    return [("prompt", question), ("response", _string(_require(record, "answer", fail), "answer", fail))]


_LAYOUT_PARTS: dict[str, Callable[[dict, _Fail, str | None], _Parts]] = {
    "text": _text_parts,
    "messages": _chat_parts("messages"),
    "conversations": _chat_parts("conversations"),
    "alpaca": _alpaca_parts,
    "prompt_completion": _prompt_completion_parts,
    "question_answer": _question_answer_parts,
}


def _side(value: object, key: str, side: str, fail: _Fail) -> _Parts:
    """A prompt or completion given as a string or as a list of chat turns (TRL's conversational form)."""
    if isinstance(value, list):
        return [(side, content) for _, content in _turns(value, key, fail)]
    return [(side, _string(value, key, fail))]


def _turns(value: object, key: str, fail: _Fail) -> _Parts:
    """Chat turns, OpenAI (role/content) or ShareGPT (from/value) style."""
    if not isinstance(value, list):
        raise fail(key, f"expected a list of {{role, content}}, got {type_name(value)}")
    parts = []
    for i, turn in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(turn, dict):
            raise fail(where, f"expected an object with role and content, got {type_name(turn)}")
        role_key = "role" if "role" in turn else "from" if "from" in turn else None
        content_key = "content" if "content" in turn else "value" if "value" in turn else None
        if role_key is None or content_key is None:
            missing = "'role' (or 'from')" if role_key is None else "'content' (or 'value')"
            raise fail(where, f"missing {missing}; fields present: {_field_list(turn)}")
        role = _string(turn[role_key], f"{where}.{role_key}", fail)
        side = _SIDES.get(role.lower())
        if side is None:
            allowed = ", ".join(_PROMPT_ROLES + _RESPONSE_ROLES)
            raise fail(f"{where}.{role_key}", f"unknown role {role!r}; allowed: {allowed}")
        parts.append((side, _content(turn[content_key], f"{where}.{content_key}", fail)))
    return parts


def _content(value: object, key: str, fail: _Fail) -> str:
    """A turn's content: a string, null (OpenAI tool-call turns), or a list of typed parts."""
    if value is None:
        return ""
    if not isinstance(value, list):
        if not isinstance(value, str):
            raise fail(key, f"expected a string or a list of content parts, got {type_name(value)}")
        return _string(value, key, fail)
    texts = []
    for j, part in enumerate(value):
        if not isinstance(part, dict):
            raise fail(f"{key}[{j}]", f"expected a content part object, got {type_name(part)}")
        # Non-text parts (images, audio) carry no text to compare.
        if part.get("type", "text") == "text":
            texts.append(_string(_require(part, "text", fail, f"{key}[{j}]."), f"{key}[{j}].text", fail))
    return "\n".join(texts)


# --- fields -------------------------------------------------------------------


def _require(record: dict, key: str, fail: _Fail, prefix: str = "") -> object:
    if key not in record:
        raise fail(prefix + key, f"missing; fields present: {_field_list(record)}")
    return record[key]


def _string(value: object, key: str, fail: _Fail) -> str:
    if not isinstance(value, str):
        raise fail(key, f"expected a string, got {type_name(value)}")
    # JSON can escape lone surrogates ("\ud800"); such strings cannot be encoded, hashed or stored.
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise fail(key, f"not valid Unicode: lone surrogate at character {error.start}") from None
    return value


def _field_list(record: dict) -> str:
    return ", ".join(repr(k) for k in record) or "none"


def _join(parts: _Parts, side: str | None) -> str:
    return "\n".join(c for s, c in parts if (side is None or s == side) and c.strip())


def _id_key(record: dict, id_field: str | None) -> str | None:
    """The field that holds the record's id: ``id_field`` if present, else the first usual one set."""
    if id_field is not None:
        return id_field if id_field in record else None
    return next((k for k in _ID_KEYS if record.get(k) is not None), None)


def _id_text(value: object, key: str, fail: _Fail) -> str:
    if value is None:
        raise fail(key, "id is null")
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return _string(value, key, fail) if isinstance(value, str) else str(value)


def _category(record: dict) -> str | None:
    for key in _CATEGORY_KEYS:
        value = record.get(key)
        if isinstance(value, (str, int, float, bool)):
            return str(value)
    return None


def _check_size(text: str, limit: int | None, item: RawRecord, field: str) -> None:
    """Refuse a text over ``limit`` UTF-8 bytes, naming its size and the limit."""
    if limit is not None and len(text) > limit // 4:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise InputError(item.path, item.line, field,
                             f"text is {size:,} bytes, over the limit of {limit:,} (--max-text-bytes)")


def _check_on_error(on_error: str) -> None:
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(_ON_ERROR)}, got {on_error!r}")


# --- reader helpers -------------------------------------------------------------


def _record_of(item: RawRecord) -> dict:
    if isinstance(item.record, InputError):
        raise item.record
    return item.record


def _dataset_example(
    item: RawRecord,
    record: dict,
    row: int,
    layout: str,
    detected_at: str,
    text_field: str | None,
    id_field: str | None,
) -> Example:
    """``to_example``, with a hint when the record's own layout differs from the dataset's."""
    try:
        return to_example(
            record,
            row,
            path=item.path,
            line=item.line,
            layout=layout,
            text_field=text_field,
            id_field=id_field,
        )
    except InputError as error:
        try:
            own = detect_layout(record, text_field)
        except InputError:
            own = None
        if own is None or own == layout:
            raise
        hint = (
            f" (the dataset's layout is {layout!r}, detected at {detected_at}; "
            f"this record looks like {own!r})"
        )
        raise InputError(error.path, error.line, error.field, error.reason + hint, error.raw) from None


def _corpus_records(source: Source, text_field: str | None, id_field: str | None,
                    max_text_bytes: int | None = None) -> Iterator[RawRecord]:
    """Records of one corpus source; from Parquet only the text and id columns are read."""
    if source.path.suffix.lower() == ".parquet":
        names = parquet_columns(source.path)
        text_keys = (text_field,) if text_field is not None else _CORPUS_TEXT_KEYS
        text_key = next((k for k in text_keys if k in names), None)
        id_keys = (id_field,) if id_field is not None else _CORPUS_ID_KEYS
        # Without a text column (chat layouts) or without the named id column the whole row is needed.
        if text_key is not None and (id_field is None or id_field in names):
            return iter_parquet_records(source.path, [text_key] + [k for k in id_keys if k in names])
    return iter_raw_records(source.path, line_limit(max_text_bytes))


def _corpus_document(
    item: RawRecord, name: str, text_field: str | None, id_field: str | None
) -> tuple[str, str]:
    record = _record_of(item)
    fail: _Fail = partial(InputError, item.path, item.line)
    if text_field is not None:
        text = _string(_require(record, text_field, fail), text_field, fail)
    else:
        key = next((k for k in _CORPUS_TEXT_KEYS if k in record), None)
        if key is not None:
            text = _string(record[key], key, fail)
        else:
            layout = detect_layout(record, path=item.path, line=item.line)
            text = to_example(record, 0, path=item.path, line=item.line, layout=layout).text
    if id_field is not None:
        return _id_text(_require(record, id_field, fail), id_field, fail), text
    id_key = next((k for k in _CORPUS_ID_KEYS if record.get(k) is not None), None)
    if id_key is None:
        return f"{name}:{item.line}", text
    return _id_text(record[id_key], id_key, fail), text
