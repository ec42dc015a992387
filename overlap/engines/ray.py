"""Run per-shard work as Ray tasks, on a local Ray or an existing cluster."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator


def _call(fn: Callable[..., Any], threads: int, *args: Any) -> Any:
    from overlap import kernels

    kernels.set_threads(threads)
    return fn(*args)


class RayEngine:
    """Maps a function over items as Ray tasks (one CPU each), results in order.

    ``address=None`` starts (or joins) a local Ray with ``workers`` CPUs;
    ``address="auto"`` or ``"ray://host:10001"`` joins a running cluster. Shard
    files are written to the index path, which must be reachable by every node
    (a shared filesystem).
    """

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, cpus_per_task: int = 1):
        import ray

        if not ray.is_initialized():
            ray.init(
                address=address,
                num_cpus=workers if address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        self.ray = ray
        self.cpus_per_task = cpus_per_task

    def map(self, fn: Callable[..., Any], items: Iterable[tuple]) -> Iterator[Any]:
        task = self.ray.remote(num_cpus=self.cpus_per_task)(_call)
        refs = [task.remote(fn, self.cpus_per_task, *item) for item in items]
        for ref in refs:
            yield self.ray.get(ref)
