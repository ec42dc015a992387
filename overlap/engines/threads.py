"""numba's threading layer and thread count, set once for every compiled kernel.

Every module with parallel kernels (``lexical_kernels``, ``index/sorting``,
``signals/minhash_kernels``, ``static_model``) compiles them with
:func:`parallel_kernel` or :func:`batch_kernel` from here, so the layer is
chosen before any parallel kernel runs, whatever the entry point (CLI,
API, benchmarks, pool and Ray workers). Engines size a worker's kernels with
:func:`set_threads`, handed to them as their ``setup`` hook.

numba's OpenMP threading layer (its default when no TBB is installed) starts the
same libgomp that torch's CPU kernels use; once a parallel kernel has run,
torch.set_num_threads (which models, lm and distill call) leaves the two
fighting over the cores and MiniLM ran 5-12x slower. The workqueue layer uses
plain threads and no OpenMP, so torch keeps its own runtime; TBB, if a user
asks for it, is safe too.
"""

from __future__ import annotations

import functools
import types
from typing import Callable

import numba
from numba import njit

if numba.config.THREADING_LAYER not in ("tbb", "safe", "workqueue"):
    numba.config.THREADING_LAYER = "workqueue"


def set_threads(n: int) -> None:
    """Number of threads the kernels use in this process."""
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


def parallel_kernel(fn):
    """``fn`` compiled by numba to run its ``prange`` loops on this process's kernel threads (cached on disk)."""
    return njit(cache=True, parallel=True)(fn)


def batch_kernel(work: Callable[..., int], small: int):
    """Compile a batch kernel in parallel, and run a serial build of it when ``work(*args) < small``.

    Waking worker threads for a parallel loop costs more than a small input's
    whole work (a millisecond or more on a busy machine, also with one thread
    set, against tens of microseconds for a single document), and evidence
    lookups call the kernels one document at a time. The serial build is the
    same Python function compiled without ``parallel`` (under its own name, so
    numba's on-disk cache keeps the two apart), so results are identical.
    """

    def decorate(fn):
        compiled = parallel_kernel(fn)
        twin = types.FunctionType(fn.__code__, fn.__globals__, f"{fn.__name__}_serial", fn.__defaults__,
                                  fn.__closure__)
        twin.__qualname__ = f"{fn.__qualname__}_serial"
        serial = njit(cache=True)(twin)

        @functools.wraps(fn)
        def call(*args):
            return serial(*args) if work(*args) < small else compiled(*args)

        call.compiled = compiled
        call.serial = serial
        return call

    return decorate
