"""Run per-shard work in this process or a local process pool."""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator

FORK_UNSAFE = ("torch", "tokenizers")  # loaded here, their threads make a fork unsafe: spawn


class LocalEngine:
    """Maps a function over items with ``workers`` processes (default 1: in this process).

    In this process the compiled kernels already use every core. With more
    workers the cores are split between the processes and the kernels' threads,
    so parsing and normalising (Python) run in parallel too. Worker processes
    are spawned, so a script that asks for them needs the usual
    ``if __name__ == "__main__":`` guard; the ``overlap`` command has it.
    ``setup(threads)`` runs in each worker process first (a picklable function).
    After :meth:`allow_fork` they are forked instead where that is safe.
    """

    name = "local"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 setup: Callable[[int], None] | None = None):
        self.workers = workers or 1
        self.setup = setup
        self.start_method = "spawn"
        self._pool: tuple[int, ProcessPoolExecutor] | None = None

    def allow_fork(self) -> bool:
        """Fork the workers from this process, and say whether they will be: on Linux, while no torch or
        tokenizers is loaded here (GNU OpenMP hangs in a forked child; tokenizers turns its threads off).
        Forked workers inherit this process's imports, compiled kernels and data (a second or so of CPU
        each, and no pickled tables). The caller's tasks must not use polars, whose threads a fork leaves
        broken; the numba threading layers ``threads.py`` allows are fork-safe."""
        if sys.platform.startswith("linux") and not any(name in sys.modules for name in FORK_UNSAFE):
            self.start_method = "fork"
        return self.start_method == "fork"

    def _start(self, processes: int) -> ProcessPoolExecutor:
        threads = max(1, (os.cpu_count() or 1) // processes)
        context = multiprocessing.get_context(self.start_method)
        initargs = (threads,) if self.setup else ()
        return ProcessPoolExecutor(processes, mp_context=context, initializer=self.setup, initargs=initargs)

    def warm(self, items: int) -> None:
        """Start the worker processes for a ``map`` of ``items`` items now, so that their start-up (imports,
        ``setup``) runs while the caller prepares the items; the next ``map`` uses them."""
        processes = min(self.workers, items)
        if processes > 1 and self._pool is None:
            pool = self._start(processes)
            for _ in range(processes):
                pool.submit(int)  # spawns a worker (its setup runs first)
            self._pool = (processes, pool)

    def __del__(self) -> None:
        # Warmed but never mapped (the caller failed in between): let the idle workers go.
        if getattr(self, "_pool", None) is not None:
            self._pool[1].shutdown(wait=False, cancel_futures=True)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item, in order."""
        items = list(items)
        processes = min(self.workers, len(items))
        warmed, self._pool = self._pool, None
        if processes <= 1 and warmed is None:
            for item in items:
                yield fn(item)
            return
        pool = warmed[1] if warmed is not None else self._start(processes)
        try:
            futures = [pool.submit(fn, item) for item in items]
            for future in futures:
                yield future.result()
        finally:
            # Every result is in (or the caller stopped): the workers wind down (a second or so of freeing
            # their tables) while the caller goes on; the interpreter joins them at exit.
            pool.shutdown(wait=False, cancel_futures=True)
