"""Where the bundled corpora live (installed package or checkout) and the default index cache."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from overlap import __version__


def corpora_dir() -> Path:
    """The bundled ``corpora/`` folder: inside the installed package, else the checkout's."""
    packaged = Path(__file__).parent / "corpora"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "corpora"
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


def default_index_dir() -> Path:
    """Where the index of the bundled corpus is built on first use.

    The name carries the overlap version and a digest of the bundled files and of
    the default embedding model, so an upgrade, a changed corpus or a new default
    model gets a fresh index instead of a stale one.
    """
    from overlap import models

    digest = hashlib.sha256(models.model_identity(None).sha256.encode())
    for path in reference_sources():
        digest.update(path.name.encode())
        digest.update(str(path.stat().st_size).encode())
    from overlap.index.manifest import FORMAT_VERSION

    return cache_dir() / f"bundled-index-{__version__}-v{FORMAT_VERSION}-{digest.hexdigest()[:12]}"
