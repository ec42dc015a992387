"""External sort for shard builders: sorted runs spilled to disk and merged, streamed .npy files.

A shard of a corpus larger than memory cannot hold all its n-gram hashes (or
all its LSH band hashes) in RAM until the end. :class:`SortedRuns` buffers
``(key, value)`` pairs up to a byte budget, sorts the buffer into a *run* and
writes it to a spill folder inside the shard's temp folder, and at the end
merges the runs into the final sorted arrays, a slice of the key space at a
time, so memory stays at the budget whatever the corpus size. Sorting is
stable throughout and runs are merged in the order they were written, so the
result is exactly ``np.argsort(all_keys, kind="stable")`` of everything added
(and, with ``unique``, the first occurrence of each key), as if it had all been
in memory at once.

:class:`NpyStream` appends rows to a ``.npy`` file whose length is only known
at the end (signatures written batch by batch). The MinHash signal's band
runs (``signals/minhash.py``) are built from the same pieces.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import Callable

import numpy as np

from overlap.index.sorting import merge_sorted, sort_pairs

DEFAULT_SPILL_BYTES = 128 << 20
SPILL_ENV = "OVERLAP_SPILL_BYTES"

_MAGIC = b"\x93NUMPY\x01\x00"
_KEY_SPACE = 1 << 64


def spill_bytes(options: dict | None) -> int:
    """The memory budget of one builder: ``options["spill_bytes"]``, else ``$OVERLAP_SPILL_BYTES``, else 128 MiB."""
    value = (options or {}).get("spill_bytes") or os.environ.get(SPILL_ENV) or DEFAULT_SPILL_BYTES
    return max(int(value), 1 << 16)


def _npy_header(dtype: np.dtype, shape: tuple[int, ...], length: int | None = None) -> bytes:
    """A version 1.0 ``.npy`` header, padded with spaces to ``length`` bytes (default: the next multiple of 64)."""
    text = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (
        np.lib.format.dtype_to_descr(np.dtype(dtype)),
        tuple(shape),
    )
    used = len(_MAGIC) + 2 + len(text) + 1
    if length is None:
        length = -(-used // 64) * 64
    if used > length:
        raise ValueError("npy header does not fit its reserved space")
    return _MAGIC + struct.pack("<H", length - len(_MAGIC) - 2) + (text + " " * (length - used) + "\n").encode("latin1")


def write_npy_header(handle, dtype, shape: tuple[int, ...]) -> None:
    """Start a ``.npy`` file of a known shape; the caller writes the C-order data after it."""
    handle.write(_npy_header(np.dtype(dtype), tuple(shape)))


class NpyStream:
    """Writes a C-order ``.npy`` array row block by row block; the row count is fixed at :meth:`close`.

    The header is reserved for the largest possible row count, then rewritten
    with the real one, padded with spaces to the same length (the format allows
    any padding), so the data never moves.
    """

    def __init__(self, path: str | Path, dtype, row_shape: tuple[int, ...] = ()):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.row_shape = tuple(row_shape)
        self.rows = 0
        self.header_len = len(_npy_header(self.dtype, (10**18, *self.row_shape)))
        self.handle = None

    def _open(self):
        if self.handle is None:
            self.handle = open(self.path, "wb")
            self.handle.write(b"\0" * self.header_len)
        return self.handle

    def append(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {block.shape[1:]}, expected {self.row_shape}")
        block.tofile(self._open())
        self.rows += len(block)

    def close(self) -> int:
        """Write the real header; return the number of rows."""
        self._open().seek(0)
        self.handle.write(_npy_header(self.dtype, (self.rows, *self.row_shape), self.header_len))
        self.handle.close()
        return self.rows


FENCE = 4096  # a spilled run keeps every FENCE-th key in memory, to find positions with one small read


class ArrayRun:
    """A sorted run held in memory (or memory-mapped): ``(keys, values)`` arrays."""

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        self.keys, self.values = keys, values

    def __len__(self) -> int:
        return len(self.keys)

    def position(self, bound: int) -> int:
        """Index of the first key >= ``bound`` (``bound`` may be 2**64: past every key)."""
        if bound >= _KEY_SPACE:
            return len(self.keys)
        return int(np.searchsorted(self.keys, np.uint64(bound), side="left"))

    def read_into(self, a: int, b: int, keys: np.ndarray, values: np.ndarray) -> None:
        keys[: b - a] = self.keys[a:b]
        values[: b - a] = self.values[a:b]


class FileRun:
    """A sorted run in two ``.npy`` files (or row ``row`` of two 2-D ones), read with plain reads.

    Not memory-mapped: pages of a mapped file count in the process's resident
    memory until unmapped, which would make a merge's footprint grow with the
    size of the runs. Positions are found from the keys at every ``FENCE``-th
    place (kept when the run was written) plus one read of at most ``FENCE`` keys.
    """

    def __init__(self, keys_path: Path, values_path: Path, fence: np.ndarray, row: int | None = None):
        self.keys_file, self.keys_base, self.key_dtype, length = _open_npy(keys_path, row)
        self.values_file, self.values_base, self.value_dtype, _ = _open_npy(values_path, row)
        self.length = length
        self.fence = fence

    def __len__(self) -> int:
        return self.length

    def _read(self, handle, base: int, dtype: np.dtype, a: int, out: np.ndarray) -> None:
        handle.seek(base + a * dtype.itemsize)
        view = memoryview(out).cast("B")
        got = handle.readinto(view)
        if got != view.nbytes:
            raise OSError(f"{handle.name}: short read ({got} of {view.nbytes} bytes)")

    def position(self, bound: int) -> int:
        if bound >= _KEY_SPACE:
            return self.length
        i = int(np.searchsorted(self.fence, np.uint64(bound), side="left"))
        if i == 0:
            return 0
        lo = (i - 1) * FENCE
        hi = min(i * FENCE, self.length)
        block = np.empty(hi - lo, self.key_dtype)
        self._read(self.keys_file, self.keys_base, self.key_dtype, lo, block)
        return lo + int(np.searchsorted(block, np.uint64(bound), side="left"))

    def read_into(self, a: int, b: int, keys: np.ndarray, values: np.ndarray) -> None:
        self._read(self.keys_file, self.keys_base, self.key_dtype, a, keys[: b - a])
        self._read(self.values_file, self.values_base, self.value_dtype, a, values[: b - a])

    def close(self) -> None:
        self.keys_file.close()
        self.values_file.close()


def _open_npy(path: Path, row: int | None):
    """An open ``.npy`` file, where the data (of row ``row``) starts, its dtype and length."""
    handle = open(path, "rb")
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    if fortran:
        raise ValueError(f"{path}: Fortran order")
    base = handle.tell()
    if row is None:
        return handle, base, dtype, shape[0]
    return handle, base + row * shape[1] * dtype.itemsize, dtype, shape[1]


def merge_runs(
    runs: list,
    emit: Callable[[np.ndarray, np.ndarray], None],
    unique: bool,
    capacity: int,
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> None:
    """Merge sorted runs (earlier runs first on equal keys), emitting ``(keys, values)`` in key order.

    ``runs`` are :class:`FileRun`, :class:`ArrayRun` or ``(keys, values)``
    arrays. Works through the key space a slice at a time: a slice holding at
    most ``capacity`` pairs over all runs is gathered (run by run, so equal keys
    stay in run order), merged stably and emitted. A slice of one single key is
    streamed run by run instead, however many pairs it has. ``buffers`` are
    ``(keys, values, scratch_keys, scratch_values)`` of at least ``capacity``;
    emitted arrays are views into them, valid until ``emit`` returns.
    """
    runs = [ArrayRun(*r) if isinstance(r, tuple) else r for r in runs]
    runs = [r for r in runs if len(r)]
    if not runs:
        return
    total = sum(len(r) for r in runs)
    capacity = max(int(capacity), 2 * len(runs), 16)
    if buffers is None:
        vdtype = runs[0].values.dtype if isinstance(runs[0], ArrayRun) else runs[0].value_dtype
        buffers = (
            np.empty(capacity, np.uint64),
            np.empty(capacity, vdtype),
            np.empty(capacity, np.uint64),
            np.empty(capacity, vdtype),
        )
    bk, bv, sk, sv = buffers
    capacity = min(capacity, len(bk))
    parts = max(1, -(-2 * total // capacity))
    bounds = [(_KEY_SPACE * i) // parts for i in range(parts + 1)]
    cuts = [[r.position(b) for b in bounds] for r in runs]
    # Slices to do, last one on top: (lo, hi) of the key space and each run's span, if known.
    todo = [(bounds[i], bounds[i + 1], [(c[i], c[i + 1]) for c in cuts]) for i in range(parts)][::-1]
    while todo:
        lo, hi, spans = todo.pop()
        if spans is None:
            spans = [(r.position(lo), r.position(hi)) for r in runs]
        count = sum(b - a for a, b in spans)
        if count == 0:
            continue
        if count > capacity and hi - lo > 1:
            mid = (lo + hi) // 2
            todo += [(mid, hi, None), (lo, mid, None)]
            continue
        if count > capacity:  # one key, more pairs than fit: already in order, run by run
            for run, (a, b) in zip(runs, spans):
                if b > a:
                    if unique:
                        run.read_into(a, a + 1, bk, bv)
                        emit(bk[:1], bv[:1])
                        break
                    for start in range(a, b, capacity):
                        end = min(start + capacity, b)
                        run.read_into(start, end, bk, bv)
                        emit(bk[: end - start], bv[: end - start])
            continue
        edges = [0]
        for run, (a, b) in zip(runs, spans):
            if b > a:
                run.read_into(a, b, bk[edges[-1] :], bv[edges[-1] :])
                edges.append(edges[-1] + b - a)
        fill = edges[-1]
        bounds = np.array(edges, dtype=np.int64)
        kept = merge_sorted(bk[:fill], bv[:fill], bounds, sk[:fill], sv[:fill], unique)
        emit(bk[:kept], bv[:kept])


class SortedRuns:
    """``(uint64 key, value)`` pairs buffered up to a memory budget, spilled as sorted runs, merged at the end."""

    def __init__(self, folder: str | Path, value_dtype, unique: bool, budget: int):
        self.folder = Path(folder)
        self.value_dtype = np.dtype(value_dtype)
        self.unique = unique
        # Pending arrays, then the sort's work arrays (keys, values and their scratch): 3 copies.
        self.capacity = max(budget // (3 * (8 + self.value_dtype.itemsize)), 1024)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.fill = 0
        self.work: tuple[np.ndarray, ...] = ()
        self.spilled: list[tuple[Path, Path, np.ndarray]] = []

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Buffer pairs (the arrays are kept, not copied: do not change them afterwards)."""
        for start in range(0, len(keys), self.capacity):
            k = keys[start : start + self.capacity]
            v = values[start : start + self.capacity]
            if self.fill + len(k) > self.capacity:
                self.spill()
            self.pending.append((k, v))
            self.fill += len(k)

    def _work(self, n: int) -> tuple[np.ndarray, ...]:
        if not self.work or len(self.work[0]) < n:
            size = self.capacity if self.spilled or n > self.capacity // 2 else n
            size = max(size, n)
            self.work = (np.empty(size, np.uint64), np.empty(size, self.value_dtype),
                         np.empty(size, np.uint64), np.empty(size, self.value_dtype))
        return self.work

    def _sort_pending(self) -> tuple[np.ndarray, np.ndarray]:
        """The pending pairs sorted (and made unique): views into the work arrays."""
        n = self.fill
        keys, values, sk, sv = (w[:n] for w in self._work(n))
        np.concatenate([k for k, _ in self.pending], out=keys)
        np.concatenate([v for _, v in self.pending], out=values)
        self.pending = []
        self.fill = 0
        kept = sort_pairs(keys, values, sk, sv, self.unique)
        return keys[:kept], values[:kept]

    def spill(self) -> None:
        """Sort the pending pairs and write them to the spill folder as one run."""
        if not self.fill:
            return
        keys, values = self._sort_pending()
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(self.spilled)
        paths = (self.folder / f"run-{number:05d}-keys.npy", self.folder / f"run-{number:05d}-values.npy")
        np.save(paths[0], keys, allow_pickle=False)
        np.save(paths[1], values, allow_pickle=False)
        self.spilled.append((*paths, keys[::FENCE].copy()))

    def drain(self, emit: Callable[[np.ndarray, np.ndarray], None]) -> None:
        """Hand every pair to ``emit`` in sorted order, a block of ``(keys, values)`` at a time.

        The blocks are views into work buffers, valid until ``emit`` returns.
        """
        if not self.spilled:
            if self.fill:
                emit(*self._sort_pending())
            self._release()
            return
        self.spill()
        runs = [FileRun(k, v, fence) for k, v, fence in self.spilled]
        # The merge may use all three copies' worth of the budget as its one buffer.
        capacity = self.capacity * 3 // 2
        self.work = ()
        buffers = (np.empty(capacity, np.uint64), np.empty(capacity, self.value_dtype),
                   np.empty(capacity, np.uint64), np.empty(capacity, self.value_dtype))
        try:
            merge_runs(runs, emit, self.unique, capacity, buffers)
        finally:
            for run in runs:
                run.close()
        del buffers
        self._release()

    def _release(self) -> None:
        self.pending = []
        self.work = ()
        self.fill = 0
        shutil.rmtree(self.folder, ignore_errors=True)
        self.spilled = []
