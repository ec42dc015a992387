"""Engines run the same per-shard functions locally or on a cluster; they know nothing else."""

from __future__ import annotations

ENGINES = ("local", "ray")


def get(name: str = "local", workers: int | None = None, address: str | None = None):
    """An engine with a ``map(fn, items)`` method yielding results in order."""
    if name == "local":
        from overlap.engines.local import LocalEngine

        return LocalEngine(workers)
    if name == "ray":
        from overlap.engines.ray import RayEngine

        return RayEngine(workers, address)
    raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
