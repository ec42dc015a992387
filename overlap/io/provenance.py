"""Which dataset a scores table came from, and the check that a dataset given later is that one.

A scan records the scanned dataset's path, SHA-256, record count and reading
options in the Parquet metadata of the scores (and of the weights made from
them). ``reweight --dataset`` and ``report --dataset`` compare a dataset against
that record and against the scores' ``row``/``id`` columns before using it, so
weights are never applied to, and records never copied from, a file that was
not scanned. JSON lines and CSV scores have no metadata: for them the ids are
checked, not the digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from overlap.io.formats import format_of, resolve_sources
from overlap.io.hf import hf_data_files, is_hf_dataset
from overlap.io.layouts import MAX_TEXT_BYTES, read_dataset
from overlap.io.writers import table_metadata

METADATA_KEY = "overlap.dataset"
_CHUNK = 1 << 20


class DatasetMismatch(ValueError):
    """A dataset given with scores is not the one they were made from."""


@dataclass(frozen=True)
class Provenance:
    """The scanned dataset: absolute path, SHA-256 of its data files, records read, reading options."""

    path: str
    sha256: str
    records: int
    text_field: str | None = None
    id_field: str | None = None
    max_text_bytes: int | None = MAX_TEXT_BYTES

    def to_metadata(self) -> dict[str, str]:
        """Parquet key-value metadata holding this record."""
        return {METADATA_KEY: json.dumps(asdict(self), sort_keys=True)}


def dataset_files(path: str | Path) -> list[Path]:
    """Every file the readers take records from for ``path`` (a file, folder or glob), in reading order."""
    files: list[Path] = []
    for source in resolve_sources([path]):
        if is_hf_dataset(source.path):
            files.extend(hf_data_files(source.path))
        elif source.path.is_dir():
            files.extend(sorted((f for f in source.path.rglob("*.txt") if format_of(f) == ".txt"),
                                key=lambda f: f.relative_to(source.path).as_posix()))
        else:
            files.append(source.path)
    return files


def dataset_digest(path: str | Path) -> str:
    """SHA-256 over the dataset's data files: each file's path relative to the first's folder, then its bytes."""
    files = dataset_files(path)
    root = files[0].parent
    digest = hashlib.sha256()
    for file in files:
        try:
            name = file.relative_to(root).as_posix()
        except ValueError:
            name = file.as_posix()
        if len(files) > 1:  # a single file's digest is plain `sha256sum FILE`
            digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        with open(file, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def provenance_of(
    dataset: str | Path,
    records: int,
    *,
    text_field: str | None = None,
    id_field: str | None = None,
    max_text_bytes: int | None = MAX_TEXT_BYTES,
) -> Provenance:
    """The record a scan of ``dataset`` (``records`` records read, accepted or rejected) keeps."""
    return Provenance(str(Path(dataset).resolve()), dataset_digest(dataset), records,
                      text_field, id_field, max_text_bytes)


def read_provenance(scores: str | Path) -> Provenance | None:
    """The provenance kept in a Parquet scores or weights file; None for other formats or older files."""
    raw = table_metadata(scores).get(METADATA_KEY)
    if raw is None:
        return None
    try:
        return Provenance(**json.loads(raw))
    except (json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"{scores}: unreadable {METADATA_KEY} metadata ({error})") from None


def check_dataset(
    scores: pl.DataFrame, dataset: str | Path, provenance: Provenance | None, scores_name: str = "the scores"
) -> None:
    """Raise DatasetMismatch unless ``dataset`` is the file ``scores`` were made from.

    With ``provenance`` its digest must match (a copy elsewhere is fine, an edited
    file is not). Always, the dataset read as the scan read it must give exactly
    the scores' ``row``/``id`` pairs, in order.
    """
    missing = [c for c in ("row", "id") if c not in scores.columns]
    if missing:
        raise ValueError(f"{scores_name} lacks column(s) {', '.join(missing)}; is it a scores table?")
    refuse = f"{dataset} is not the dataset scanned into {scores_name}"
    options = provenance or Provenance("", "", 0)
    if provenance is not None:
        actual = dataset_digest(dataset)
        if actual != provenance.sha256:
            raise DatasetMismatch(
                f"{refuse}: its SHA-256 is {actual[:12]}..., the scanned {provenance.path} had "
                f"{provenance.sha256[:12]}..."
            )
    examples, rejects = read_dataset(dataset, text_field=options.text_field, id_field=options.id_field,
                                     on_error="skip", max_text_bytes=options.max_text_bytes)
    if provenance is not None and len(examples) + len(rejects) != provenance.records:
        raise DatasetMismatch(f"{refuse}: it has {len(examples) + len(rejects):,} records, "
                              f"the scanned file had {provenance.records:,}")
    ours = [(e.row, e.id) for e in examples]
    theirs = list(zip(scores["row"].cast(pl.Int64).to_list(), scores["id"].cast(pl.String).to_list()))
    if ours == theirs:
        return
    by_row = dict(ours)
    for row, score_id in theirs:
        if row not in by_row:
            raise DatasetMismatch(f"{refuse}: the scores have row {row} (id {score_id!r}), which it lacks "
                                  f"({len(ours):,} usable records)")
        if by_row[row] != score_id:
            raise DatasetMismatch(f"{refuse}: row {row} has id {by_row[row]!r} there but {score_id!r} in the scores")
    raise DatasetMismatch(f"{refuse}: it has {len(ours):,} usable records, the scores {len(theirs):,}")
