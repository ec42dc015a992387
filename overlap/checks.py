"""Checks the API runs before any work: inputs exist, outputs can be written, options agree.

A scan of a large dataset should not fail on a mistyped ``--out`` suffix after an
hour, so every path and option a command will use is checked first, each failure
one line naming the path or option.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import polars as pl

from overlap.index.manifest import read_manifest
from overlap.io import Example, InputError, Reject, check_table_output, refuse_existing, write_rejects
from overlap.io.copy import copy_format
from overlap.io.formats import require_path

REPORT_SUFFIXES = (".html", ".htm")


def scan_outputs(
    dataset: str | Path,
    *,
    out: str | Path | None,
    report: str | Path | None,
    rejects: str | Path | None,
    on_error: str,
    overwrite: bool,
    index: str | Path | None,
) -> None:
    """Everything ``scan`` will read or write, checked before it reads a record."""
    require_path(dataset)
    if out is not None:
        check_table_output(out, overwrite=overwrite)
        _not_the_input(out, dataset)
    if report is not None:
        if Path(report).suffix.lower() not in REPORT_SUFFIXES:
            raise ValueError(f"{report}: the report is HTML; name it with {' or '.join(REPORT_SUFFIXES)}")
        refuse_existing(report, overwrite)
    if on_error == "skip":
        refuse_existing(rejects or f"{out or dataset}.rejects.jsonl", overwrite)
    if index is not None:
        read_manifest(index)


def reweight_outputs(
    scores: str | Path | pl.DataFrame,
    out: str | Path | None,
    *,
    dataset: str | Path | None,
    resample: int | None,
    resample_factor: float | None,
    overwrite: bool,
) -> None:
    """Everything ``reweight`` will read or write, and its resampling options, checked first."""
    if not isinstance(scores, pl.DataFrame):
        require_path(scores)
    if dataset is not None:
        require_path(dataset)
    if resample is not None and resample_factor is not None:
        raise ValueError("pass --resample N or --resample-factor F, not both")
    if resample is None and resample_factor is None:
        if out is not None:
            check_table_output(out, overwrite=overwrite)
        return
    if resample is not None and resample < 0:
        raise ValueError(f"--resample must be 0 or more records, got {resample}")
    if resample_factor is not None and not resample_factor > 0:
        raise ValueError(f"--resample-factor must be above 0, got {resample_factor}")
    if dataset is None:
        raise ValueError("resampling needs --dataset, the file that was scanned")
    if out is None:
        raise ValueError("resampling needs --out, the file to write the resampled dataset to")
    fmt = copy_format(dataset)
    if fmt is None:
        raise ValueError(f"{dataset}: cannot resample this kind of input (a folder of .txt files?)")
    if not Path(out).name.lower().endswith(fmt):
        raise ValueError(f"{out}: the resampled dataset keeps the input's format, so its name must end in {fmt}")
    _not_the_input(out, dataset)
    refuse_existing(out, overwrite)


def require_examples(
    dataset: str | Path, examples: Sequence[Example], rejected: list[Reject], rejects_path: Path,
    *, overwrite: bool = False,
) -> None:
    """Raise InputError when a dataset gave no example to scan (its rejects written first, if any)."""
    if examples:
        return
    if rejected:
        write_rejects(rejected, rejects_path, overwrite=overwrite)
        raise InputError(str(dataset), None, None, f"no examples to scan: all {len(rejected):,} records were "
                         f"rejected (written to {rejects_path})")
    raise InputError(str(dataset), None, None, "no examples to scan: it holds no records")


def _not_the_input(out: str | Path, dataset: str | Path) -> None:
    if Path(out).exists() and Path(out).resolve() == Path(dataset).resolve():
        raise ValueError(f"{out} is the input dataset; write to another file")
