"""Engines run the same per-shard functions locally or on a cluster; they know nothing else.

An :class:`Engine` is the choice a caller passes in (which kind, how many
workers, which cluster); :meth:`Engine.start` gives the runner of that kind, an
object with a ``map(fn, items)`` method that yields ``fn(item)`` for every item,
in order, whatever process ran it, and optionally a ``warm(items)`` method that
starts its workers ahead of the ``map``, and an ``allow_fork()`` method: a caller
whose tasks use nothing whose threads a fork leaves broken (polars, torch,
tokenizers) calls it, and where it returns True the workers the next ``map``
starts are forked from the caller's process, so they inherit its imports, loaded
kernels and data instead of loading or receiving them again. An item is one task
object (a small frozen dataclass such as ``build.ShardTask``). ``setup(threads)`` is the caller's hook,
run in a worker before its tasks with the number of threads the worker may use
(the callers pass ``threads.set_threads``, which sizes the compiled kernels).

A kind is one module here plus a line in :data:`_KINDS`; a kind defined
elsewhere (a plug-in, a test) joins with :func:`register`.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, replace
from typing import Any, Callable

# kind -> (module, class) of its runner, built as ``Runner(workers, address, setup)``
_KINDS: dict[str, tuple[str, str] | Callable[..., Any]] = {
    "local": ("overlap.engines.local", "LocalEngine"),
    "ray": ("overlap.engines.ray", "RayEngine"),
}


def kinds() -> tuple[str, ...]:
    """Every engine kind, built in or registered."""
    return tuple(_KINDS)


class EngineError(RuntimeError):
    """The engine itself cannot run (Ray missing, cluster unreachable, a worker died)."""


def register(kind: str, runner: Callable[..., Any]) -> None:
    """Add engine ``kind``: ``runner(workers, address, setup)`` returns an object with ``map(fn, items)``."""
    if kind in _KINDS:
        raise ValueError(f"engine {kind!r} already registered")
    _KINDS[kind] = runner


def unregister(kind: str) -> None:
    """Remove an engine added with :func:`register` (the built-in ones stay)."""
    if kind in ("local", "ray"):
        raise ValueError(f"engine {kind!r} is built in")
    _KINDS.pop(kind, None)


@dataclass(frozen=True)
class Engine:
    """Where per-shard work runs: ``kind`` (``local``, ``ray``, or a registered one), ``workers``, ``address``.

    ``workers`` None means every core: one process per core on the local engine
    (:meth:`pool_size`), every CPU of the cluster on Ray. ``address`` is a Ray
    cluster's (None: a local Ray).
    """

    kind: str = "local"
    workers: int | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown engine {self.kind!r}; choose from {', '.join(_KINDS)}")

    @classmethod
    def of(cls, engine: "Engine | str | None") -> "Engine":
        """``engine`` itself, or the engine of that kind with default workers (None: local)."""
        if isinstance(engine, Engine):
            return engine
        return cls(engine or "local")

    def pool_size(self) -> int | None:
        """The workers the command line builds and streams with: ``workers`` if set, else every core.

        On the local engine every core is one process per core; on Ray, None lets
        Ray use every CPU of the cluster. (A scan of an index queries each shard in
        this process unless ``workers`` is set: its compiled kernels already use
        every core.)
        """
        if self.workers is None and self.kind == "local":
            return os.cpu_count()
        return self.workers

    def pooled(self) -> "Engine":
        """This engine with its workers set to :meth:`pool_size` (what the command line runs with)."""
        return replace(self, workers=self.pool_size())

    def start(self, setup: Callable[[int], None] | None = None) -> Any:
        """The runner of this engine, with ``setup`` run in each worker first (``workers`` None: one, here)."""
        make = _KINDS[self.kind]
        if isinstance(make, tuple):
            module, cls = make
            make = getattr(importlib.import_module(module), cls)
        return make(self.workers, self.address, setup)
