"""Streaming record readers, the format chosen by file suffix.

Every reader yields records one at a time (Parquet in row batches), so memory is
bounded by a record or a batch, never by the file. Bad records (malformed JSON,
invalid UTF-8, a line that is not an object) are yielded as ``InputError`` items
so the caller decides whether to fail or skip; only damage that makes the rest of
a file unreadable (a corrupt compressed stream, a broken JSON array) is raised.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from overlap.io.errors import InputError, type_name
from overlap.io.hf import is_hf_dataset, iter_hf_rows

JSON_LINES_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst")
# .json files may hold one JSON array of objects instead of JSON lines.
JSON_SUFFIXES = (".json", ".json.gz", ".json.zst")
RECORD_SUFFIXES = (*JSON_LINES_SUFFIXES, *JSON_SUFFIXES, ".parquet", ".csv")
SUPPORTED_SUFFIXES = (*RECORD_SUFFIXES, ".txt")

_PARQUET_BATCH_ROWS = 1024
_JSON_WHITESPACE = b" \t\r\n"
BOM = b"\xef\xbb\xbf"


@dataclass
class RawRecord:
    """One input record with where it came from.

    ``path`` is the file the record is in (inside a txt folder: the .txt file),
    ``line`` its 1-based line (row for Parquet), ``record`` the parsed object or
    the ``InputError`` that stopped it, ``source_text`` the line as read when the
    format has lines.
    """

    path: str
    line: int
    record: dict | InputError
    source_text: str | None = None

    def raw(self) -> str:
        """The record as text, for a reject file: the original line where there is one."""
        if isinstance(self.record, InputError) and self.record.raw is not None:
            return self.record.raw
        if self.source_text is not None:
            return self.source_text
        return json.dumps(self.record, ensure_ascii=False, default=str)


class Source(NamedTuple):
    """An input file (or txt folder) and the short name it gives to document ids."""

    path: Path
    name: str


def format_of(path: str | Path) -> str | None:
    """The supported suffix ``path`` ends with (lower-cased), or None."""
    name = Path(path).name.lower()
    return next((s for s in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True) if name.endswith(s)), None)


def iter_records(path: str | Path) -> Iterator[tuple[int, dict | InputError]]:
    """Yield ``(line_or_row_number, record)`` for every record of one file or txt folder.

    JSON lines (.jsonl, .jsonl.gz, .jsonl.zst, .json.gz, .json.zst), .json (an array
    of objects, or JSON lines if it is not an array), .parquet (1-based row numbers,
    read in row batches), .csv (header row; the line a record starts on), a .txt file
    or a directory of .txt files (each file one record ``{"id": relative path,
    "text": content}`` at line 1), a ``datasets`` folder written by ``save_to_disk``
    or a local hub-cache dataset (rows numbered from 1 in each data file, see
    :mod:`overlap.io.hf`). Blank JSON lines are not records and are skipped.
    Bad records are yielded as ``InputError`` items, not raised.
    """
    for item in iter_raw_records(path):
        yield item.line, item.record


def line_limit(max_text_bytes: int | None) -> int | None:
    """The longest JSON line read whole for texts of at most ``max_text_bytes``: room for JSON's escapes
    (up to 4 bytes of line per byte of text) and the other fields. None: no limit."""
    return None if max_text_bytes is None else 4 * max_text_bytes + (1 << 20)


def iter_raw_records(path: str | Path, max_line_bytes: int | None = None) -> Iterator[RawRecord]:
    """Like ``iter_records`` but with each record's file and original text.

    A JSON line longer than ``max_line_bytes`` is never held in memory: it is read
    past in bounded pieces and comes back as an ``InputError`` record.
    """
    path = Path(path)
    if is_hf_dataset(path):
        yield from _iter_hf(path)
        return
    if path.is_dir():
        yield from _iter_txt_folder(path)
        return
    fmt = format_of(path)
    if fmt is None:
        raise ValueError(f"{path}: unsupported file type; supported: {', '.join(SUPPORTED_SUFFIXES)}")
    if fmt == ".parquet":
        yield from iter_parquet_records(path)
    elif fmt == ".csv":
        yield from _iter_csv(path)
    elif fmt == ".txt":
        yield _txt_record(path, path.name)
    else:
        yield from _iter_json(path, fmt, max_line_bytes)


def require_path(path: str | Path) -> Path:
    """``path`` as a Path; FileNotFoundError with a one-line message when nothing is there."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    return Path(path)


def expand_sources(sources: Iterable[str | Path]) -> list[Path]:
    """Input files from paths, directories and glob patterns.

    Directories are searched recursively for supported files (sorted, hidden ones
    skipped); a directory holding only .txt files is one txt-folder source. Raises
    FileNotFoundError when a path or pattern matches nothing and ValueError for an
    unsupported suffix or a directory without supported files.
    """
    return [source.path for source in resolve_sources(sources)]


def resolve_sources(sources: Iterable[str | Path]) -> list[Source]:
    """``expand_sources`` with each file's name relative to the argument it came from."""
    resolved: list[Source] = []
    seen: set[Path] = set()
    for source in sources:
        for found in _resolve_one(str(source)):
            key = found.path.resolve()
            if key not in seen:
                seen.add(key)
                resolved.append(found)
    if not resolved:
        raise FileNotFoundError("no input files given")
    return resolved


def _resolve_one(source: str) -> list[Source]:
    if any(c in source for c in "*?["):
        matches = sorted(glob.glob(source, recursive=True))
        if not matches:
            raise FileNotFoundError(f"{source}: no files match this pattern")
        root = _glob_root(source)
        return [s for match in matches for s in _resolve_path(Path(match), root)]
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{source}: no such file or directory")
    return _resolve_path(path, path if path.is_dir() else path.parent)


def _resolve_path(path: Path, root: Path) -> list[Source]:
    if is_hf_dataset(path):
        return [Source(path, _relative_name(path, root))]
    if path.is_file():
        if format_of(path) is None:
            raise ValueError(f"{path}: unsupported file type; supported: {', '.join(SUPPORTED_SUFFIXES)}")
        return [Source(path, _relative_name(path, root))]
    files = _walk(path)
    data = [f for f in files if format_of(f) in RECORD_SUFFIXES]
    texts = [f for f in files if format_of(f) == ".txt"]
    if data and texts:
        raise ValueError(
            f"{path}: mixes .txt files ({texts[0]}) with data files ({data[0]}); pass them separately"
        )
    if texts:
        return [Source(path, _relative_name(path, root))]
    if not data:
        raise ValueError(
            f"{path}: no supported files in this directory (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        )
    return [Source(f, _relative_name(f, root)) for f in data]


def _walk(folder: Path) -> list[Path]:
    """Non-hidden files under ``folder``, sorted by relative path."""
    found = []
    for directory, subdirs, names in os.walk(folder):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        found.extend(Path(directory, n) for n in names if not n.startswith("."))
    return sorted(found, key=lambda f: f.relative_to(folder).as_posix())


def _glob_root(pattern: str) -> Path:
    """The directory a glob pattern starts from: its leading parts without wildcards."""
    parts = Path(pattern).parts
    fixed = list(itertools.takewhile(lambda p: not any(c in p for c in "*?["), parts))
    return Path(*fixed) if fixed else Path(".")


def _relative_name(path: Path, root: Path) -> str:
    try:
        name = path.relative_to(root).as_posix()
    except ValueError:
        name = path.as_posix()
    return path.name if name == "." else name


# --- JSON -------------------------------------------------------------------


@contextmanager
def open_binary(path: Path, fmt: str) -> Iterator[IO[bytes]]:
    """``path`` opened for reading bytes, decompressed as its format (``.gz``, ``.zst``) says."""
    if fmt.endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            yield stream
    elif fmt.endswith(".zst"):
        decompressor = zstandard.ZstdDecompressor()
        with open(path, "rb") as fh:
            reader = decompressor.stream_reader(fh, read_across_frames=True, closefd=False)
            with io.BufferedReader(reader) as stream:
                yield stream
    else:
        with open(path, "rb") as stream:
            yield stream


class _TooLong(NamedTuple):
    size: int


def _bounded_lines(stream: IO[bytes], limit: int) -> Iterator[bytes | _TooLong]:
    """The lines of ``stream``; one longer than ``limit`` is skipped in 1 MiB pieces and given as its size."""
    while True:
        data = stream.readline(limit + 1)
        if not data:
            return
        if len(data) > limit and not data.endswith(b"\n"):
            size = len(data)
            del data
            while True:
                piece = stream.readline(1 << 20)
                size += len(piece)
                if not piece or piece.endswith(b"\n"):
                    break
            yield _TooLong(size)
        else:
            yield data


def _iter_json(path: Path, fmt: str, max_line_bytes: int | None = None) -> Iterator[RawRecord]:
    name = str(path)
    with open_binary(path, fmt) as stream:
        if max_line_bytes is not None and fmt not in JSON_SUFFIXES:
            number = 0
            for data in _without_bom(_bounded_lines(stream, max_line_bytes)):
                number += 1
                if isinstance(data, _TooLong):
                    reason = (f"a line of {data.size} bytes, over the {max_line_bytes} bytes any record within "
                              "the text-size limit takes (--max-text-bytes); skipped without reading it whole")
                    raw = f"<line of {data.size} bytes, not kept>"
                    yield RawRecord(name, number, InputError(name, number, None, reason, raw), raw)
                elif data.strip(_JSON_WHITESPACE):
                    yield _parse_line(name, number, data)
            return
        lines = _without_bom(stream)
        try:
            if fmt in JSON_SUFFIXES:
                head = []
                for data in lines:
                    head.append(data)
                    if data.strip(_JSON_WHITESPACE):
                        break
                if head and head[-1].lstrip(_JSON_WHITESPACE).startswith(b"["):
                    yield from _parse_array(name, b"".join(head) + stream.read())
                    return
                lines = itertools.chain(head, lines)
            for number, data in enumerate(lines, start=1):
                if data.strip(_JSON_WHITESPACE):
                    yield _parse_line(name, number, data)
        except (OSError, EOFError, zstandard.ZstdError) as error:
            raise InputError(name, None, None, f"cannot read compressed data: {error}") from error


def _without_bom(stream: Iterable) -> Iterator:
    first = True
    for data in stream:
        if first and isinstance(data, bytes) and data.startswith(BOM):
            data = data[len(BOM) :]
        first = False
        yield data


def _parse_line(path: str, number: int, data: bytes) -> RawRecord:
    data = data.rstrip(b"\r\n")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raw = data.decode("utf-8", "backslashreplace")
        return RawRecord(
            path, number, InputError(path, number, None, f"invalid UTF-8 at byte {error.start}", raw), raw
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        reason = f"malformed JSON at column {error.colno}: {json_error_text(error)}"
        return RawRecord(path, number, InputError(path, number, None, reason, text), text)
    except (ValueError, RecursionError) as error:
        return RawRecord(path, number, InputError(path, number, None, f"malformed JSON: {error}", text), text)
    if not isinstance(value, dict):
        reason = f"expected a JSON object, got {type_name(value)}"
        return RawRecord(path, number, InputError(path, number, None, reason, text), text)
    return RawRecord(path, number, value, text)


def json_error_text(error: json.JSONDecodeError) -> str:
    """The decoder's message made whole: some end in "at" and rely on a position the caller drops.

    ``Unterminated string starting at`` becomes ``Unterminated string starting at column 34``.
    """
    if error.msg.endswith(" at"):
        return f"{error.msg} column {error.colno}"
    return error.msg


def _parse_array(path: str, data: bytes) -> Iterator[RawRecord]:
    """Objects of one JSON array, each with the line it starts on.

    A broken array cannot be split into records, so its errors are raised.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(path, line, None, f"invalid UTF-8 in JSON array at byte {error.start}") from None
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    line, counted = 1, 0

    def skip_space(at: int) -> int:
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        return at

    def line_at(at: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, at)
        counted = at
        return line

    pos = skip_space(pos)
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            start_line = line_at(pos)
            try:
                value, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as error:
                reason = f"malformed JSON array at column {error.colno}: {json_error_text(error)}"
                raise InputError(path, error.lineno, None, reason) from None
            except (ValueError, RecursionError) as error:
                raise InputError(path, start_line, None, f"malformed JSON array: {error}") from None
            source = text[pos:end]
            if isinstance(value, dict):
                yield RawRecord(path, start_line, value, source)
            else:
                reason = f"expected a JSON object, got {type_name(value)}"
                yield RawRecord(path, start_line, InputError(path, start_line, None, reason, source), source)
            pos = skip_space(end)
            if text.startswith(",", pos):
                pos = skip_space(pos + 1)
            elif text.startswith("]", pos):
                pos += 1
                break
            else:
                raise InputError(path, line_at(pos), None, "malformed JSON array: expected ',' or ']'")
    if text[pos:].strip(" \t\r\n"):
        raise InputError(path, line_at(skip_space(pos)), None, "malformed JSON: data after the closing ']'")


# --- CSV --------------------------------------------------------------------


def _iter_csv(path: Path) -> Iterator[RawRecord]:
    name = str(path)
    # Corpus documents easily exceed csv's default 128 KiB field limit.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    # surrogateescape keeps invalid bytes readable so one bad record can be reported, not the file.
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        pending: list[str] = []

        def lines() -> Iterator[str]:
            for text in fh:
                pending.append(text)
                yield text

        reader = csv.reader(lines())
        try:
            header = next(reader, None)
            if header is None:
                return
            _check_header(name, header)
            end = reader.line_num
            for row in reader:
                number, end = end + 1, reader.line_num
                raw = "".join(pending).rstrip("\r\n")
                pending.clear()
                if row:
                    yield _csv_record(name, number, header, row, raw)
        except csv.Error as error:
            raise InputError(name, reader.line_num, None, f"malformed CSV: {error}") from None


def _check_header(path: str, header: list[str]) -> None:
    for column in header:
        if _invalid_utf8_at(column) is not None:
            raise InputError(path, 1, None, "invalid UTF-8 in the CSV header")
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise InputError(path, 1, duplicates[0], "column name appears more than once in the CSV header")


def _csv_record(path: str, number: int, header: list[str], row: list[str], raw: str) -> RawRecord:
    if _invalid_utf8_at(raw) is not None:
        shown = _show_invalid(raw)
        field = next((c for c, v in zip(header, row, strict=False) if _invalid_utf8_at(v) is not None), None)
        at = _invalid_utf8_at(raw)
        return RawRecord(
            path, number, InputError(path, number, field, f"invalid UTF-8 at byte {at}", shown), shown
        )
    if len(row) != len(header):
        reason = f"expected {len(header)} fields (the header's), got {len(row)}"
        return RawRecord(path, number, InputError(path, number, None, reason, raw), raw)
    return RawRecord(path, number, dict(zip(header, row, strict=True)), raw)


def _invalid_utf8_at(text: str) -> int | None:
    """Byte offset of the first undecodable byte kept by ``surrogateescape``, or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return len(text[: error.start].encode("utf-8", "surrogateescape"))
    return None


def _show_invalid(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# --- Parquet ----------------------------------------------------------------


def parquet_columns(path: str | Path) -> list[str]:
    """Top-level column names of a Parquet file, from its footer."""
    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError) as error:
        raise InputError(str(path), None, None, f"not a readable Parquet file: {error}") from None


def iter_parquet_records(path: str | Path, columns: Sequence[str] | None = None) -> Iterator[RawRecord]:
    """Rows of a Parquet file as records (1-based row numbers), read in row batches.

    ``columns`` limits reading to those columns.
    """
    name = str(path)
    row = 0
    try:
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=columns):
            for record in batch.to_pylist():
                row += 1
                yield RawRecord(name, row, record)
    except (pa.ArrowException, OSError) as error:
        raise InputError(
            name, row + 1 if row else None, None, f"not a readable Parquet file: {error}"
        ) from None


# --- Hugging Face datasets on disk --------------------------------------------


def _iter_hf(folder: Path) -> Iterator[RawRecord]:
    """Rows of a save_to_disk folder or hub-cache dataset, numbered from 1 within each data file."""
    current, row = None, 0
    for file, rows in iter_hf_rows(folder):
        if file != current:
            current, row = file, 0
        for record in rows:
            row += 1
            yield RawRecord(str(file), row, record)


# --- text files -------------------------------------------------------------


def _iter_txt_folder(folder: Path) -> Iterator[RawRecord]:
    files = [f for f in _walk(folder) if format_of(f) == ".txt"]
    if not files:
        raise ValueError(f"{folder}: no .txt files in this directory")
    for file in files:
        yield _txt_record(file, file.relative_to(folder).as_posix())


def _txt_record(file: Path, record_id: str) -> RawRecord:
    data = file.read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raw = data.decode("utf-8", "backslashreplace")
        reason = f"invalid UTF-8 at byte {error.start}"
        return RawRecord(str(file), 1, InputError(str(file), line, "text", reason, raw), raw)
    return RawRecord(str(file), 1, {"id": record_id, "text": text})
