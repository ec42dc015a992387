"""Where the bundled corpora live (installed package or checkout) and where overlap caches what it builds."""

from __future__ import annotations

import os
from pathlib import Path


def corpora_dir() -> Path:
    """The bundled ``corpora/`` folder: inside the installed package, else the checkout's."""
    packaged = Path(__file__).resolve().parent.parent / "corpora"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent.parent / "corpora"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("the bundled corpora are missing from this installation of overlap")


def reference_sources() -> list[Path]:
    """The bundled reference corpus files, in a fixed order."""
    return sorted((corpora_dir() / "reference").glob("*.jsonl.gz"))


def sample_dataset() -> Path:
    """The bundled fine-tuning sample."""
    return corpora_dir() / "finetune" / "sample.jsonl"


def cache_dir() -> Path:
    """``$OVERLAP_CACHE``, else ``$XDG_CACHE_HOME/overlap``, else ``~/.cache/overlap``."""
    if os.environ.get("OVERLAP_CACHE"):
        return Path(os.environ["OVERLAP_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "overlap"

