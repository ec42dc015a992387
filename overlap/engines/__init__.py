"""Engines run the same per-shard functions locally or on a cluster; they know nothing else.

An engine is one module here plus a line in :data:`_ENGINES`: a class built as
``Engine(workers, address, setup)`` with a ``map(fn, items)`` method that
yields ``fn(item)`` for every item, in order, whatever process ran it. An item
is one task object (a small frozen dataclass such as ``build.ShardTask``).
``setup(threads)`` is the caller's hook, run in a worker before its tasks with
the number of threads the worker may use (the callers pass
``threads.set_threads``, which sizes the compiled kernels).
"""

from __future__ import annotations

import importlib
from typing import Callable

# name -> (module, class)
_ENGINES = {
    "local": ("overlap.engines.local", "LocalEngine"),
    "ray": ("overlap.engines.ray", "RayEngine"),
}
ENGINES = tuple(_ENGINES)


class EngineError(RuntimeError):
    """The engine itself cannot run (Ray missing, cluster unreachable, a worker died)."""


def get(name: str = "local", workers: int | None = None, address: str | None = None,
        setup: Callable[[int], None] | None = None):
    """An engine with a ``map(fn, items)`` method yielding ``fn(item)`` in order; ``setup`` sizes its workers."""
    if name not in _ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    module, cls = _ENGINES[name]
    return getattr(importlib.import_module(module), cls)(workers, address, setup)
