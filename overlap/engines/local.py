"""Run per-shard work in this process or a local process pool."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator


class LocalEngine:
    """Maps a function over items with ``workers`` processes (default 1: in this process).

    In this process the compiled kernels already use every core. With more
    workers the cores are split between the processes and the kernels' threads,
    so parsing and normalising (Python) run in parallel too. Worker processes
    are spawned, so a script that asks for them needs the usual
    ``if __name__ == "__main__":`` guard; the ``overlap`` command has it.
    ``setup(threads)`` runs in each worker process first (a picklable function).
    """

    name = "local"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 setup: Callable[[int], None] | None = None):
        self.workers = workers or 1
        self.setup = setup

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(item)`` for every item, in order."""
        items = list(items)
        processes = min(self.workers, len(items))
        if processes <= 1:
            for item in items:
                yield fn(item)
            return
        threads = max(1, (os.cpu_count() or 1) // processes)
        context = multiprocessing.get_context("spawn")
        initargs = (threads,) if self.setup else ()
        with ProcessPoolExecutor(processes, mp_context=context, initializer=self.setup, initargs=initargs) as pool:
            futures = [pool.submit(fn, item) for item in items]
            for future in futures:
                yield future.result()
