"""Public pretraining-corpus layouts: which files of a download hold documents, in which fields.

Each layout is a JSON file in ``corpora/layouts/`` (shipped inside the package
as ``overlap/corpora/layouts/``), one per corpus: FineWeb, C4, the Pile, Dolma,
RedPajama v1 and v2, SlimPajama, Wikipedia. A layout names the text field, the
id field (``null``: the corpus has none and documents are named
``<file>:<line>``), the metadata fields, the compression, and which files under
a downloaded folder are documents (``include`` / ``exclude`` patterns matched
against the path relative to the folder given; ``*`` also crosses ``/``). ::

    layout = load_corpus_layout("fineweb")
    files = layout.expand(["/data/fineweb/data/CC-MAIN-2024-10"])
    build_index(files, "idx", text_field=layout.text_field, id_field=layout.id_field)

or ``overlap index build /data/fineweb/data --corpus-layout fineweb --out idx``.
A path to a JSON file of the same shape can stand in for a name, for a corpus
not listed here.
"""

from __future__ import annotations

import fnmatch
import glob
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from overlap.io.formats import SUPPORTED_SUFFIXES, _walk, format_of

LAYOUTS_FOLDER = "layouts"
_REQUIRED = ("name", "include", "text_field", "id_field")
_STRINGS = ("name", "title", "homepage", "licence", "format", "compression", "notes")
_LISTS = ("include", "exclude", "metadata_fields", "repo_layout")


@dataclass(frozen=True)
class CorpusLayout:
    """How one public corpus is laid out on disk (see the module docstring)."""

    name: str
    include: tuple[str, ...]
    text_field: str
    id_field: str | None
    exclude: tuple[str, ...] = ()
    metadata_fields: tuple[str, ...] = ()
    repo_layout: tuple[str, ...] = ()
    title: str = ""
    homepage: str = ""
    licence: str = ""
    format: str = ""
    compression: str = ""
    notes: str = ""
    path: str | None = field(default=None, compare=False)

    def matches(self, relative: str) -> bool:
        """Whether a file at ``relative`` (posix path under the folder given) is a document file."""
        name = relative.lower()
        if format_of(name) is None:
            return False
        if not any(fnmatch.fnmatchcase(name, p.lower()) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(name, p.lower()) for p in self.exclude)

    def expand(self, sources: Iterable[str | Path]) -> list[Path]:
        """The document files of ``sources``: folders searched with the layout's patterns.

        A folder gives its matching files (recursively, hidden ones skipped, sorted
        by relative path, the order plain folder expansion uses); a glob gives the
        matches that are document files; a file named outright is kept as it is.
        Raises FileNotFoundError when a source gives no document file.
        """
        found: list[Path] = []
        seen: set[Path] = set()

        def add(path: Path) -> None:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                found.append(path)

        for source in sources:
            text = str(source)
            if any(c in text for c in "*?["):
                matches = [Path(m) for m in sorted(glob.glob(text, recursive=True))]
                files = [m for m in matches if m.is_file() and self.matches(m.as_posix())]
                for folder in (m for m in matches if m.is_dir()):
                    files += self._folder_files(folder)
                if not files:
                    raise FileNotFoundError(f"{text}: no {self.name} document files match this pattern "
                                            f"({self._patterns()})")
                for file in files:
                    add(file)
                continue
            path = Path(text)
            if not path.exists():
                raise FileNotFoundError(f"{text}: no such file or directory")
            if path.is_file():
                add(path)
                continue
            files = self._folder_files(path)
            if not files:
                raise FileNotFoundError(
                    f"{text}: no {self.name} document files in this directory ({self._patterns()}); "
                    f"the corpus is laid out like {', '.join(self.repo_layout[:2]) or 'its documentation says'}"
                )
            for file in files:
                add(file)
        if not found:
            raise FileNotFoundError("no input files given")
        return found

    def _folder_files(self, folder: Path) -> list[Path]:
        return [f for f in _walk(folder) if self.matches(f.relative_to(folder).as_posix())]

    def _patterns(self) -> str:
        text = "files " + " or ".join(self.include)
        return text + (f", not {' or '.join(self.exclude)}" if self.exclude else "")

    def describe(self) -> str:
        """A few lines for ``overlap index layouts``."""
        lines = [f"{self.name}: {self.title}" if self.title else self.name]
        if self.homepage:
            lines.append(f"  source:   {self.homepage}")
        lines.append(f"  files:    {self._patterns()} ({self.format or '?'}, {self.compression or '?'})")
        if self.repo_layout:
            lines.append(f"  e.g.      {self.repo_layout[0]}")
        lines.append(f"  text:     {self.text_field}")
        lines.append(f"  id:       {self.id_field or '(none: <file name>:<line>)'}")
        if self.metadata_fields:
            lines.append(f"  metadata: {', '.join(self.metadata_fields)}")
        return "\n".join(lines)


def layouts_dir() -> Path:
    """The folder of layout descriptions (inside the installed package, else the checkout's)."""
    from overlap.io import bundled as data

    return data.corpora_dir() / LAYOUTS_FOLDER


def corpus_layout_names() -> list[str]:
    """Names of the bundled layouts, sorted."""
    return sorted(p.stem for p in layouts_dir().glob("*.json"))


def load_corpus_layout(name: str | Path) -> CorpusLayout:
    """The layout called ``name`` (e.g. ``"fineweb"``), or read from a JSON file at that path.

    Raises ValueError naming the known layouts for an unknown name, and saying
    what is wrong for a malformed description.
    """
    text = str(name)
    candidate = Path(text)
    if text.endswith(".json") and candidate.is_file():
        path = candidate
    else:
        key = text.strip().lower().replace("_", "-")
        path = layouts_dir() / f"{key}.json"
        if not path.is_file():
            raise ValueError(
                f"unknown corpus layout {text!r}; choose from {', '.join(corpus_layout_names())} "
                "or give the path of a layout .json file"
            )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable corpus layout ({exc})") from None
    return layout_from_dict(data, str(path))


def layout_from_dict(data: Any, where: str = "<layout>") -> CorpusLayout:
    """Check and convert one layout description."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: a corpus layout is a JSON object")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ValueError(f"{where}: corpus layout lacks {', '.join(repr(k) for k in missing)}")
    known = set(_STRINGS) | set(_LISTS) | {"text_field", "id_field"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown corpus layout key(s) {', '.join(repr(k) for k in unknown)}")
    values: dict[str, Any] = {}
    for key in _STRINGS:
        if key in data:
            if not isinstance(data[key], str):
                raise ValueError(f"{where}: {key!r} must be a string")
            values[key] = data[key]
    for key in _LISTS:
        if key in data:
            if not isinstance(data[key], list) or not all(isinstance(v, str) for v in data[key]):
                raise ValueError(f"{where}: {key!r} must be a list of strings")
            values[key] = tuple(data[key])
    if not isinstance(data["text_field"], str) or not data["text_field"]:
        raise ValueError(f"{where}: 'text_field' must be a field name")
    if data["id_field"] is not None and (not isinstance(data["id_field"], str) or not data["id_field"]):
        raise ValueError(f"{where}: 'id_field' must be a field name or null")
    if not values.get("include"):
        raise ValueError(f"{where}: 'include' must name at least one file pattern")
    for pattern in values["include"]:
        if not any(pattern.lower().endswith(s) for s in SUPPORTED_SUFFIXES):
            raise ValueError(
                f"{where}: include pattern {pattern!r} does not end in a supported suffix "
                f"({', '.join(SUPPORTED_SUFFIXES)})"
            )
    return CorpusLayout(text_field=data["text_field"], id_field=data["id_field"], path=where, **values)


def apply_corpus_layout(
    name: str | Path | None,
    sources: Iterable[str | Path],
    text_field: str | None = None,
    id_field: str | None = None,
) -> tuple[list[str], str | None, str | None]:
    """``(files, text_field, id_field)`` for a build: the layout's, where the caller gave none.

    With ``name=None`` the sources and fields pass through unchanged. Fields the
    caller names win over the layout's.
    """
    sources = [str(s) for s in sources]
    if name is None:
        return sources, text_field, id_field
    layout = load_corpus_layout(name)
    files = [str(p) for p in layout.expand(sources)]
    return files, text_field or layout.text_field, id_field or layout.id_field
