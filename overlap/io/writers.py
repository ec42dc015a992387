"""Atomic file writing, and result tables in Parquet, JSON lines or CSV.

Every write goes to a temporary file in the target's directory, is fsynced and
then renamed over the target, so a reader sees the old file or the whole new
one, never a torn one, and a failed write leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from overlap.io.errors import Reject

TABLE_SUFFIXES = (".parquet", ".jsonl", ".csv")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; it replaces ``path`` on success and is deleted on error.

    The temporary name ends with ``path``'s name, so writers that pick a format
    or append a suffix by name (``numpy.save``) treat it like the target.
    """
    target = Path(path)
    temp = _reserve_temp(target)
    try:
        yield temp
        with open(temp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same directory, fsync, rename)."""
    with atomic_path(path) as temp, open(temp, "wb") as fh:
        fh.write(data)


def refuse_existing(path: str | Path, overwrite: bool, *, folder: bool = False) -> None:
    """Raise FileExistsError (one message for every command) if ``path`` exists and may not be replaced.

    Every public function that writes an output calls this first. A file output
    never replaces a directory, and a ``folder`` output never a file, whatever
    ``overwrite`` says.
    """
    target = Path(path)
    if not folder and target.is_dir():
        raise IsADirectoryError(f"{target} is a directory; name a file to write")
    if folder and target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target} is a file; name a folder to write")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass --overwrite to replace it")


def check_table_output(path: str | Path, *, overwrite: bool = False) -> None:
    """Raise before any work if ``write_table`` would refuse ``path`` (suffix, existing file)."""
    _table_format(Path(path))
    refuse_existing(path, overwrite)


def write_table(
    df: pl.DataFrame, path: str | Path, *, overwrite: bool = False, metadata: dict[str, str] | None = None
) -> None:
    """Write ``df`` atomically as .parquet (zstd), .jsonl or .csv, by suffix.

    CSV is flat, so list and struct columns are written as JSON text there.
    ``metadata`` goes into a Parquet file's key-value metadata (JSON lines and
    CSV have no place for it). Raises FileExistsError if ``path`` exists and
    ``overwrite`` is false, and ValueError for another suffix. Missing parent
    directories are created.
    """
    target = Path(path)
    check_table_output(target, overwrite=overwrite)
    fmt = _table_format(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temp:
        if fmt == ".parquet":
            df.write_parquet(temp, compression="zstd", metadata=metadata or None)
        elif fmt == ".jsonl":
            df.write_ndjson(temp)
        else:
            _json_encode_nested(df).write_csv(temp)


def read_table(path: str | Path, *, string_columns: Iterable[str] = ("id",)) -> pl.DataFrame:
    """Read a table written by ``write_table``.

    CSV carries no types: values are inferred from the whole file, except
    ``string_columns`` (ids like "007" must stay strings), and columns that were
    nested come back as JSON text (``pl.col(c).str.json_decode()`` restores them).
    """
    target = Path(path)
    fmt = _table_format(target)
    if fmt == ".parquet":
        return pl.read_parquet(target)
    if fmt == ".jsonl":
        # polars cannot infer a schema from no lines; an empty table it is.
        if target.stat().st_size == 0:
            return pl.DataFrame()
        return pl.read_ndjson(target, infer_schema_length=None)
    header = pl.read_csv(target, n_rows=0).columns
    overrides = {c: pl.String for c in string_columns if c in header}
    return pl.read_csv(target, infer_schema_length=None, schema_overrides=overrides)


def table_metadata(path: str | Path) -> dict[str, str]:
    """The key-value metadata of a Parquet table (empty for other formats or none written)."""
    target = Path(path)
    if _table_format(target) != ".parquet":
        return {}
    # The file's key-value metadata, not the Arrow schema's: polars writes the former.
    metadata = pq.ParquetFile(target).metadata.metadata or {}
    return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in metadata.items()}


def write_rejects(rejects: list[Reject], path: str | Path, *, overwrite: bool = False) -> None:
    """Write rejected records atomically as JSON lines of path, line, field, reason and raw.

    Raises FileExistsError if ``path`` exists and ``overwrite`` is false.
    """
    refuse_existing(path, overwrite)
    with atomic_path(path) as temp, open(temp, "w", encoding="utf-8") as fh:
        for reject in rejects:
            fh.write(_json_line(dataclasses.asdict(reject)))


def _json_line(value: dict) -> str:
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (from a "\ud800" escape) cannot be written as UTF-8; escape it.
        text = json.dumps(value)
    return text + "\n"


def _table_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(
            f"{path}: unsupported table format {suffix or '(none)'!r}; use one of {', '.join(TABLE_SUFFIXES)}"
        )
    return suffix


def _json_encode_nested(df: pl.DataFrame) -> pl.DataFrame:
    encoded = [
        pl.Series(
            name,
            [
                None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                for v in df[name].to_list()
            ],
            dtype=pl.String,
        )
        for name, dtype in df.schema.items()
        if dtype.is_nested()
    ]
    return df.with_columns(encoded) if encoded else df


def _reserve_temp(target: Path) -> Path:
    while True:
        temp = target.with_name(f".tmp-{secrets.token_hex(4)}-{target.name}")
        try:
            # O_EXCL: never share a temp file with a concurrent writer; 0o666 lets the umask decide.
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temp


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable; directories cannot be opened for fsync on Windows."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
