"""The signals, one module each, all of the same shape (see ``signals/base.py``)."""

from __future__ import annotations

import importlib
from types import ModuleType

ALL = ("ngram", "minhash", "embedding")
LEXICAL = ("ngram", "minhash")


def get(name: str) -> ModuleType:
    """The module of signal ``name``, imported on first use (embedding pulls in torch)."""
    if name not in ALL:
        raise ValueError(f"unknown signal {name!r}; choose from {', '.join(ALL)}")
    return importlib.import_module(f"overlap.signals.{name}")


def parse(spec: str | list[str] | None) -> list[str]:
    """Signal names from a comma list (``None``: every signal), in canonical order."""
    if spec is None:
        return list(ALL)
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise ValueError(f"unknown signal {unknown[0]!r}; choose from {', '.join(ALL)}")
    return [n for n in ALL if n in names]
