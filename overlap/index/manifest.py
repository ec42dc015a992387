"""The index manifest: format version, parameters, provenance, shards and counts; and a build's plan.

``manifest.json`` is written last and atomically, so a directory without one
(or with ``"complete": false``) is never read as a usable index. A build
records its plan (``build-plan.json``: parameters, signals, sources) before its
first shard and removes it just before writing the manifest, so a directory
with a plan holds an interrupted build, which only the same plan may resume.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from overlap.io.writers import atomic_write_bytes

FORMAT = "overlap-index"
FORMAT_VERSION = 4  # 4: held-out calibration folds are indexed, in shard parts
MANIFEST = "manifest.json"
PLAN_FILE = "build-plan.json"  # written by a build before its first shard, removed with the manifest


class IndexError_(Exception):
    """An index that cannot be used: missing, incomplete, foreign, altered or incompatible."""


@dataclass
class Manifest:
    """Everything a scan needs to know about an index before opening its shards."""

    params: dict[str, Any]
    signals: list[str]
    sources: list[dict[str, Any]] = field(default_factory=list)
    shards: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = True
    created: str = ""
    updated: str = ""
    overlap_version: str = ""
    sample_rate: float = 1.0
    holdout_rate: float = 0.0  # share of documents held out by id hash for self-calibration (then indexed)
    holdout_kfold: int = 0  # or: folds each held out once (small corpora)
    calibration: dict[str, Any] = field(default_factory=dict)  # overlap.scoring.calibrate's fit and card
    builds: list[dict[str, Any]] = field(default_factory=list)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def counts(self) -> dict[str, int]:
        """Totals over shards of every counted quantity (documents, words, ...)."""
        totals: dict[str, int] = {}
        for shard in self.shards:
            for key, value in shard.get("counts", {}).items():
                totals[key] = totals.get(key, 0) + value
        return totals

    def to_json(self) -> str:
        data = asdict(self)
        data["counts"] = self.counts()
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def manifest_path(directory: str | Path) -> Path:
    return Path(directory) / MANIFEST


def write_manifest(directory: str | Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` atomically."""
    atomic_write_bytes(manifest_path(directory), manifest.to_json().encode())


def read_manifest(directory: str | Path) -> Manifest:
    """Read and check a manifest; raise :class:`IndexError_` saying what is wrong."""
    path = manifest_path(directory)
    if not Path(directory).is_dir():
        raise IndexError_(f"{directory}: no such index directory")
    if not path.exists():
        if (Path(directory) / PLAN_FILE).exists():
            raise IndexError_(
                f"{directory}: an index build that did not finish (no manifest.json yet); "
                "rerun `overlap index build ... --resume`"
            )
        raise IndexError_(
            f"{directory}: not an overlap index (no manifest.json); "
            f"make one with `overlap index build SOURCE... --out {directory}`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexError_(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise IndexError_(f"{path}: not an overlap index manifest")
    if data.get("format_version") != FORMAT_VERSION:
        raise IndexError_(
            f"{path}: index format version {data.get('format_version')} but this overlap "
            f"reads version {FORMAT_VERSION}; rebuild the index with this version"
        )
    data.pop("counts", None)
    try:
        manifest = Manifest(**data)
    except TypeError as exc:
        raise IndexError_(f"{path}: malformed manifest ({exc})") from exc
    if not manifest.complete:
        raise IndexError_(f"{directory}: the index is incomplete (an interrupted build?)")
    return manifest


def start_plan(directory: str | Path, plan: dict[str, Any], resume: bool) -> None:
    """Record a build's plan before its first shard; with ``resume``, check it is the interrupted build's."""
    path = Path(directory) / PLAN_FILE
    if path.exists():
        if not resume:
            raise IndexError_(
                f"{directory}: holds an interrupted build; pass --resume to continue it "
                "or choose another directory"
            )
        if json.loads(path.read_text()) != plan:
            raise IndexError_(f"{directory}: --resume with different sources or settings than the interrupted build")
    else:
        atomic_write_bytes(path, json.dumps(plan, indent=2).encode())


def finish_build(directory: str | Path, manifest: Manifest) -> None:
    """End a build: remove its plan, then write the manifest.

    The plan goes first: a kill between the two leaves shards that --resume reuses.
    """
    (Path(directory) / PLAN_FILE).unlink()
    write_manifest(directory, manifest)


def param_differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Human-readable differences between the stored and the wanted parameters."""
    return [
        f"{key}: index has {stored.get(key)!r}, asked for {wanted[key]!r}"
        for key in sorted(wanted)
        if key in stored and stored[key] != wanted[key]
    ]
