"""Hugging Face ``datasets`` on disk, read with pyarrow alone (no ``datasets`` import needed).

Two layouts are understood:

* a folder written by ``Dataset.save_to_disk`` (``state.json`` naming Arrow stream
  files ``data-*.arrow``), or by ``DatasetDict.save_to_disk`` (``dataset_dict.json``
  and one such folder per split: its ``train`` split is read);
* a dataset in the local hub cache (``~/.cache/huggingface/hub/datasets--owner--name``,
  or one of its ``snapshots/<commit>`` folders): the Parquet files of its ``train``
  split in the snapshot ``refs/main`` points to.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from overlap.io.errors import InputError

STATE_FILE = "state.json"
DICT_FILE = "dataset_dict.json"
SPLIT = "train"
_SPLIT_NAMES = ("train", "test", "validation", "valid", "dev", "eval")
_SPLIT_OF_FILE = re.compile(r"^(train|test|validation|valid|dev|eval)(?=[-_.])")


def is_hf_dataset(path: str | Path) -> bool:
    """Whether ``path`` is a ``save_to_disk`` folder or a hub-cache dataset (repo or snapshot folder)."""
    folder = Path(path)
    if not folder.is_dir():
        return False
    if (folder / STATE_FILE).is_file() or (folder / DICT_FILE).is_file():
        return True
    return _hub_snapshot(folder) is not None


def hf_data_files(path: str | Path) -> list[Path]:
    """The data files of the dataset at ``path``, in row order (Arrow for save_to_disk, else Parquet).

    Raises InputError when the folder names no readable data or more than one
    configuration holds a train split.
    """
    folder = Path(path)
    if (folder / DICT_FILE).is_file():
        splits = _json(folder / DICT_FILE).get("splits", [])
        if SPLIT not in splits:
            raise InputError(str(folder), None, None,
                             f"a DatasetDict without a {SPLIT!r} split (splits: {', '.join(splits) or 'none'}); "
                             "pass the folder of the split to read")
        folder = folder / SPLIT
    if (folder / STATE_FILE).is_file():
        names = [entry.get("filename") for entry in _json(folder / STATE_FILE).get("_data_files", [])]
        files = [folder / name for name in names if isinstance(name, str)]
        if not files or not all(f.is_file() for f in files):
            raise InputError(str(folder / STATE_FILE), None, "_data_files", "names no data file of this folder")
        return files
    snapshot = _hub_snapshot(folder)
    if snapshot is None:
        raise InputError(str(folder), None, None, "not a save_to_disk folder or a hub-cache dataset")
    return _train_parquet_files(snapshot)


def iter_hf_rows(path: str | Path, batch_rows: int = 1024) -> Iterator[tuple[Path, list[dict]]]:
    """``(data file, rows)`` batches of the dataset at ``path``, in row order; memory is one batch."""
    for file in hf_data_files(path):
        try:
            if file.suffix == ".arrow":
                with pa.memory_map(str(file)) as source:
                    for batch in pa.ipc.open_stream(source):
                        yield file, batch.to_pylist()
            else:
                for batch in pq.ParquetFile(file).iter_batches(batch_size=batch_rows):
                    yield file, batch.to_pylist()
        except (pa.ArrowException, OSError) as error:
            raise InputError(str(file), None, None, f"not a readable data file: {error}") from None


def read_hf_table(path: str | Path) -> pa.Table:
    """The whole dataset at ``path`` as one Arrow table (its schema and metadata kept)."""
    tables = []
    for file in hf_data_files(path):
        try:
            if file.suffix == ".arrow":
                with pa.memory_map(str(file)) as source:
                    tables.append(pa.ipc.open_stream(source).read_all())
            else:
                tables.append(pq.read_table(file))
        except (pa.ArrowException, OSError) as error:
            raise InputError(str(file), None, None, f"not a readable data file: {error}") from None
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(str(path), None, None, f"unreadable: {error}") from None
    if not isinstance(value, dict):
        raise InputError(str(path), None, None, "expected a JSON object")
    return value


def _hub_snapshot(folder: Path) -> Path | None:
    """The snapshot folder of a hub-cache dataset repo (``refs/main``), or ``folder`` if it is one."""
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("datasets--"):
        return folder
    if not folder.name.startswith("datasets--") or not (folder / "snapshots").is_dir():
        return None
    ref = folder / "refs" / "main"
    if ref.is_file():
        snapshot = folder / "snapshots" / ref.read_text(encoding="utf-8").strip()
        if snapshot.is_dir():
            return snapshot
    snapshots = sorted(p for p in (folder / "snapshots").iterdir() if p.is_dir())
    if len(snapshots) != 1:
        raise InputError(str(folder), None, None,
                         f"{len(snapshots)} snapshots and no refs/main to choose one; pass a snapshot folder")
    return snapshots[0]


def _train_parquet_files(snapshot: Path) -> list[Path]:
    """The snapshot's Parquet files of the train split (all of them when none is named by split)."""
    files = sorted(
        (Path(root, name) for root, dirs, names in os.walk(snapshot, followlinks=True)
         for name in names if name.endswith(".parquet") and not name.startswith(".")),
        key=lambda f: f.relative_to(snapshot).as_posix(),
    )
    if not files:
        raise InputError(str(snapshot), None, None, "no Parquet files in this hub-cache snapshot")
    split_of = {f: _split_of(f.relative_to(snapshot)) for f in files}
    if any(split_of.values()):
        files = [f for f in files if split_of[f] == SPLIT]
        if not files:
            found = sorted({s for s in split_of.values() if s})
            raise InputError(str(snapshot), None, None,
                             f"no {SPLIT!r} split among its Parquet files (splits: {', '.join(found)})")
    configs = sorted({_config_of(f.relative_to(snapshot)) for f in files})
    if len(configs) > 1:
        raise InputError(str(snapshot), None, None,
                         f"holds several configurations ({', '.join(configs)}); pass the folder of one")
    return files


def _split_of(relative: Path) -> str | None:
    for part in relative.parts[:-1]:
        if part in _SPLIT_NAMES:
            return part
    match = _SPLIT_OF_FILE.match(relative.name)
    return match.group(1) if match else None


def _config_of(relative: Path) -> str:
    """The folder a split's files sit in, without the split's own folder level."""
    parts = [p for p in relative.parts[:-1] if p not in _SPLIT_NAMES]
    return "/".join(parts) or "."
