"""Shard files on disk: written whole into a temp folder, renamed into place, checked on open.

A shard is a folder ``shard-NNNNN`` of plain files (``.npy``, Parquet, FAISS
index files, JSON) and a ``shard.json`` listing each file's size and SHA-256.
Nothing is loaded with pickle (``np.load(..., allow_pickle=False)``). A build
holds the index's lock (:func:`build_lock`) and clears what dead builds left
(:func:`remove_leftovers`) before it writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from overlap.index.manifest import IndexError_

SHARD_META = "shard.json"
LOCK = ".lock"


def shard_name(number: int) -> str:
    return f"shard-{number:05d}"


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ShardWriter:
    """Collects one shard's files in a temp folder; :meth:`commit` makes it visible."""

    def __init__(self, index_dir: Path, number: int, suffix: str = ""):
        self.index_dir = Path(index_dir)
        self.name = shard_name(number) + suffix
        self.tmp = self.index_dir / f".tmp-{self.name}-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)

    def path(self, filename: str) -> Path:
        return self.tmp / filename

    def save_array(self, filename: str, array: np.ndarray) -> None:
        np.save(self.path(filename), np.ascontiguousarray(array), allow_pickle=False)

    def save_table(self, filename: str, table: pa.Table) -> None:
        pq.write_table(table, self.path(filename), compression="zstd")

    def commit(self, meta: dict[str, Any]) -> dict[str, Any]:
        """Checksum every file, write ``shard.json``, fsync and rename into place."""
        files = {}
        for path in sorted(self.tmp.iterdir()):
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
            files[path.name] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
        entry = {"name": self.name, **meta, "files": files}
        (self.tmp / SHARD_META).write_text(json.dumps(entry, indent=2, sort_keys=True))
        final = self.index_dir / self.name
        if final.exists():
            shutil.rmtree(final)
        os.replace(self.tmp, final)
        _fsync_dir(self.index_dir)
        return entry

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def remove_leftovers(index_dir: Path) -> None:
    """Delete the temp files and folders of builds that died (call it holding the build lock: none is live)."""
    for path in Path(index_dir).glob(".tmp-*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def finished_shard(index_dir: Path, number: int) -> dict[str, Any] | None:
    """The ``shard.json`` entry of a shard a previous build finished, if its files (and its parts') check out."""
    folder = Path(index_dir) / shard_name(number)
    meta = folder / SHARD_META
    if not meta.exists():
        return None
    try:
        entry = json.loads(meta.read_text())
        verify_shard(folder, entry)
        for part in entry.get("parts", []):
            verify_shard(Path(index_dir) / part["name"], part)
    except (IndexError_, json.JSONDecodeError, OSError, KeyError):
        return None
    return entry


def verify_shard(folder: Path, entry: dict[str, Any], full: bool = True) -> None:
    """Raise :class:`IndexError_` if a file is missing, truncated or altered."""
    for filename, info in entry["files"].items():
        path = folder / filename
        if not path.exists():
            raise IndexError_(f"{path}: missing from the index")
        size = path.stat().st_size
        if size != info["bytes"]:
            raise IndexError_(f"{path}: {size} bytes, the manifest says {info['bytes']} (truncated?)")
        if full and file_digest(path) != info["sha256"]:
            raise IndexError_(f"{path}: checksum differs from the manifest (altered or corrupt)")


class Shard:
    """Read access to one committed shard; arrays are memory-mapped."""

    def __init__(self, index_dir: Path, entry: dict[str, Any], verify: bool = True):
        self.folder = Path(index_dir) / entry["name"]
        self.entry = entry
        verify_shard(self.folder, entry, full=verify)

    def has(self, filename: str) -> bool:
        return filename in self.entry["files"]

    def array(self, filename: str) -> np.ndarray:
        try:
            return np.load(self.folder / filename, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise IndexError_(f"{self.folder / filename}: unreadable array ({exc})") from exc

    def table(self, filename: str, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.folder / filename, columns=columns)


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold ``DIR/.lock`` for the duration of a build; refuse if another live build holds it."""
    path = Path(index_dir) / LOCK
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            pid = _lock_owner(path)
            if pid is not None and _alive(pid):
                raise IndexError_(
                    f"{index_dir}: another build (pid {pid}) is writing this index; "
                    f"wait for it, or remove {path} if that process is gone"
                ) from None
            path.unlink(missing_ok=True)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        path.unlink(missing_ok=True)


def build_holder(index_dir: Path) -> int | None:
    """The process id of a live build holding ``DIR/.lock``, or None."""
    pid = _lock_owner(Path(index_dir) / LOCK)
    return pid if pid is not None and _alive(pid) else None


def _lock_owner(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
