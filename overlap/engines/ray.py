"""Run per-shard work as Ray tasks, on a local Ray or an existing cluster.

The tasks run the very functions the local engine runs (``build_shard``,
``query_shard``) with the very task objects, so an index or a scan is the same
whichever engine made it. Three things differ from a process pool and are
handled here:

* **Threads.** Each task asks Ray for a number of CPUs and runs the caller's
  ``setup`` hook with that number first (the callers size the compiled kernels'
  threads with it), so tasks sharing a node do not oversubscribe it. (Ray
  itself sets ``OMP_NUM_THREADS`` for torch and BLAS from the same number.)
* **Shared arguments.** A field of the task objects that several tasks hold as
  the very same object (the query texts and their prepared vectors in a scan,
  the parameters of a build) is put into the object store once and handed to every task by reference, instead of being
  serialised again for every shard.
* **Errors.** A task's exception reaches the caller as the exception the task
  raised (an ``InputError`` stays an ``InputError`` with its one-line message),
  not as a ``RayTaskError`` wall of remote traceback; the remote traceback is
  kept as a note on the exception for debugging. Tasks not yet finished are
  cancelled.

Shard files are written to the index path by the workers, so on a cluster that
path (and the corpus files) must be on storage every node mounts at the same
path, and ``overlap`` must be installed on every node.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import logging
import os
from typing import Any, Callable, Iterable, Iterator

from overlap.engines import EngineError

INSTALL_HINT = "the Ray engine needs the ray package: pip install 'overlap[ray]'"


def _call(fn: Callable[[Any], Any], threads: int, setup: Callable[[int], None] | None, item: Any,
          keys: tuple, *shared: Any) -> Any:
    """Body of every task: run ``setup`` with the task's CPUs, put the shared parts back into ``item``, run ``fn``.

    ``shared`` are the values of the object refs (Ray resolves top-level
    arguments) of the fields ``keys`` of the task object ``item``.
    """
    if setup is not None:
        setup(threads)
    return fn(_with_parts(item, dict(zip(keys, shared))))


def _parts(item: Any) -> dict:
    """The parts of an item that may be shared: a task object's fields."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
    return {}


def _with_parts(item: Any, parts: dict) -> Any:
    """``item`` with the given parts replaced (a copy; frozen dataclasses too, without running ``__init__``)."""
    if not parts:
        return item
    item = copy.copy(item)
    for name, value in parts.items():
        object.__setattr__(item, name, value)
    return item


def _import_ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a test dependency
        raise EngineError(INSTALL_HINT) from exc
    return ray


def _shareable(value: Any) -> bool:
    """Worth putting into the object store once when several tasks get this very object."""
    if isinstance(value, (str, bytes)):
        return len(value) >= 4096
    return not isinstance(value, (int, float, bool, type(None)))


class RayEngine:
    """Maps a function over items as Ray tasks, results in order.

    ``address=None`` starts a local Ray with ``workers`` CPUs (default: every
    core), unless ``RAY_ADDRESS`` names a cluster; ``address="auto"`` or
    ``"ray://host:10001"`` joins a running cluster. A Ray this process already
    initialised (a test, a notebook) is used as it is, and left running.

    ``cpus_per_task`` is the CPUs (and kernel threads) each task gets; ``None``
    (the default) spreads the cluster's CPUs over the tasks of a map: one each
    when there are more tasks than CPUs, more (up to one node's worth) when
    there are fewer, so a few large shards still use every core. The kernels
    give the same results on any number of threads. ``max_in_flight`` bounds
    the tasks submitted but not yet collected (default: twice the tasks that fit
    the cluster at once), so a map over many thousand shards does not queue
    every one of them at once.
    """

    name = "ray"

    def __init__(
        self,
        workers: int | None = None,
        address: str | None = None,
        setup: Callable[[int], None] | None = None,
        cpus_per_task: int | None = None,
        max_in_flight: int | None = None,
    ):
        ray = _import_ray()
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                # Keep the terminal for overlap's own progress and errors: no worker logs, no Ray notices.
                "log_to_driver": False,
                "logging_level": logging.ERROR,
            }
            if address is None and not os.environ.get("RAY_ADDRESS"):
                options["num_cpus"] = workers
            else:
                options["address"] = address
            try:
                ray.init(**options)
            except ConnectionError as exc:
                where = address or os.environ.get("RAY_ADDRESS")
                raise EngineError(f"cannot reach the Ray cluster at {where}: {exc}") from None
            self.started = True
        if cpus_per_task is not None and cpus_per_task < 1:
            raise ValueError(f"cpus_per_task must be at least 1, got {cpus_per_task}")
        self.cpus_per_task = cpus_per_task
        self.max_in_flight = max_in_flight
        self.setup = setup
        self._task = ray.remote(_call)

    # -- sizing ---------------------------------------------------------------

    def _cluster_cpus(self) -> tuple[int, int]:
        """(all CPUs of the cluster, the most CPUs of one node), at least 1 each."""
        total = int(self.ray.cluster_resources().get("CPU", 1))
        try:
            per_node = [int(n.get("Resources", {}).get("CPU", 0)) for n in self.ray.nodes() if n.get("Alive")]
        except Exception:  # noqa: BLE001 - some client modes do not list nodes
            per_node = [total]
        return max(1, total), max([1, *per_node])

    def _task_cpus(self, tasks: int) -> int:
        if self.cpus_per_task is not None:
            return self.cpus_per_task
        total, per_node = self._cluster_cpus()
        return max(1, min(per_node, total // max(1, tasks)))

    # -- mapping --------------------------------------------------------------

    def _share(self, items: list) -> list[tuple[Any, tuple, list]]:
        """Each item as ``(item without its shared parts, their keys, their object refs)``.

        A part is shared when several items hold that very object (and it is
        worth it, :func:`_shareable`); it is put into the object store once.
        """
        seen: collections.Counter[int] = collections.Counter()
        for item in items:
            seen.update({id(part) for part in _parts(item).values() if _shareable(part)})
        refs: dict[int, Any] = {}
        shared = []
        for item in items:
            keys, values = [], []
            for key, part in _parts(item).items():
                if seen[id(part)] > 1 and _shareable(part):
                    if id(part) not in refs:
                        refs[id(part)] = self.ray.put(part)
                    keys.append(key)
                    values.append(refs[id(part)])
            shared.append((_with_parts(item, dict.fromkeys(keys)), tuple(keys), values))
        return shared

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item, in order, each run as a Ray task."""
        items = list(items)
        if not items:
            return
        cpus = self._task_cpus(len(items))
        task = self._task.options(num_cpus=cpus)
        window = self.max_in_flight or max(2, 2 * (self._cluster_cpus()[0] // cpus))
        pending = collections.deque(self._share(items))
        running: collections.deque = collections.deque()
        done = 0
        try:
            while pending or running:
                while pending and len(running) < window:
                    item, keys, refs = pending.popleft()
                    running.append(task.remote(fn, cpus, self.setup, item, keys, *refs))
                ref = running.popleft()
                try:
                    result = self.ray.get(ref)
                except self.ray.exceptions.RayTaskError as exc:
                    raise _original(exc) from None
                except self.ray.exceptions.RayError as exc:
                    raise EngineError(f"Ray task {done + 1} of {len(items)} failed: {exc}") from None
                done += 1
                yield result
        finally:
            for ref in running:
                self.ray.cancel(ref)


def _original(exc: Exception) -> BaseException:
    """The exception a task raised, with the remote traceback as a note; else the Ray error."""
    cause = getattr(exc, "cause", None)
    if not isinstance(cause, Exception):
        return EngineError(str(exc))
    if hasattr(cause, "add_note"):  # Python 3.11+: shown under a traceback, not in str(cause)
        cause.add_note(f"raised in a Ray task; the remote traceback:\n{exc}")
    cause.__traceback__ = None
    return cause
