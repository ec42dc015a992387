"""Bounded-memory building blocks for shard builders: sorted runs spilled to disk, streamed .npy files.

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
at the end (signatures written batch by batch).
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path
from typing import Callable

import numpy as np

from overlap import kernels

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


def _searchsorted(keys: np.ndarray, bound: int) -> int:
    """Position of the first key >= ``bound`` (``bound`` may be 2**64: past every key)."""
    if bound >= _KEY_SPACE:
        return len(keys)
    return int(np.searchsorted(keys, np.uint64(bound), side="left"))


def merge_runs(
    runs: list[tuple[np.ndarray, np.ndarray]],
    emit: Callable[[np.ndarray, np.ndarray], None],
    unique: bool,
    capacity: int,
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> None:
    """Merge sorted ``(keys, values)`` runs (earlier runs first on equal keys), emitting in key order.

    Works through the key space a slice at a time: a slice holding at most
    ``capacity`` pairs over all runs is gathered (run by run, so equal keys stay
    in run order), sorted stably and emitted. A slice of one single key is
    streamed run by run instead, however many pairs it has. ``buffers`` are
    ``(keys, values, scratch_keys, scratch_values)`` of at least ``capacity``.
    """
    runs = [(k, v) for k, v in runs if len(k)]
    if not runs:
        return
    total = sum(len(k) for k, _ in runs)
    capacity = max(int(capacity), 2 * len(runs), 16)
    if buffers is None:
        vdtype = runs[0][1].dtype
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
    inner = np.array(bounds[1:-1], dtype=np.uint64)
    cuts = [np.concatenate([[0], np.searchsorted(k, inner, side="left"), [len(k)]]) for k, _ in runs]
    # Slices to do, last one on top: (lo, hi) of the key space and each run's span, if known.
    todo = [(bounds[i], bounds[i + 1], [(int(c[i]), int(c[i + 1])) for c in cuts]) for i in range(parts)][::-1]
    while todo:
        lo, hi, spans = todo.pop()
        if spans is None:
            spans = [(_searchsorted(k, lo), _searchsorted(k, hi)) for k, _ in runs]
        count = sum(b - a for a, b in spans)
        if count == 0:
            continue
        if count > capacity and hi - lo > 1:
            mid = (lo + hi) // 2
            todo += [(mid, hi, None), (lo, mid, None)]
            continue
        if count > capacity:  # one key, more pairs than fit: already in order, run by run
            for (k, v), (a, b) in zip(runs, spans):
                if b > a:
                    if unique:
                        emit(np.asarray(k[a : a + 1]), np.asarray(v[a : a + 1]))
                        break
                    for start in range(a, b, capacity):
                        end = min(start + capacity, b)
                        emit(np.asarray(k[start:end]), np.asarray(v[start:end]))
            continue
        fill = 0
        for (k, v), (a, b) in zip(runs, spans):
            bk[fill : fill + b - a] = k[a:b]
            bv[fill : fill + b - a] = v[a:b]
            fill += b - a
        kept = kernels.sort_pairs(bk[:fill], bv[:fill], sk[:fill], sv[:fill], unique)
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
        self.spilled: list[tuple[Path, Path]] = []

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
        kept = kernels.sort_pairs(keys, values, sk, sv, self.unique)
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
        self.spilled.append(paths)

    def finish(self, keys_path: str | Path, values_path: str | Path) -> int:
        """Write the merged sorted keys and their values as two ``.npy`` files; return the count."""
        if not self.spilled:
            if self.fill:
                keys, values = self._sort_pending()
            else:
                keys, values = np.zeros(0, np.uint64), np.zeros(0, self.value_dtype)
            np.save(keys_path, keys, allow_pickle=False)
            np.save(values_path, values, allow_pickle=False)
            self._release()
            return len(keys)
        self.spill()
        runs = [(np.load(k, mmap_mode="r"), np.load(v, mmap_mode="r")) for k, v in self.spilled]
        keys_out = NpyStream(keys_path, np.uint64)
        values_out = NpyStream(values_path, self.value_dtype)

        def emit(k: np.ndarray, v: np.ndarray) -> None:
            keys_out.append(k)
            values_out.append(v)

        # The merge may use all three copies' worth of the budget as its one buffer.
        capacity = self.capacity * 3 // 2
        self.work = ()
        buffers = (np.empty(capacity, np.uint64), np.empty(capacity, self.value_dtype),
                   np.empty(capacity, np.uint64), np.empty(capacity, self.value_dtype))
        merge_runs(runs, emit, self.unique, capacity, buffers)
        del runs, buffers
        count = keys_out.close()
        values_out.close()
        self._release()
        return count

    def _release(self) -> None:
        self.pending = []
        self.work = ()
        self.fill = 0
        shutil.rmtree(self.folder, ignore_errors=True)
        self.spilled = []


def write_npy_header(handle, dtype, shape: tuple[int, ...]) -> None:
    """Start a ``.npy`` file of a known shape; the caller writes the C-order data after it."""
    handle.write(_npy_header(np.dtype(dtype), tuple(shape)))


class BandRuns:
    """LSH band hashes of consecutive signature rows, each band sorted with its row numbers, in bounded memory.

    ``add`` takes ``[bands, w]`` hashes of the next ``w`` rows. The result,
    written by :meth:`finish`, is for each band its hashes sorted (stably) and
    the row of each: ``np.argsort(all_bands, axis=1, kind="stable")`` applied,
    as ``[bands, n]`` uint64 and uint32 arrays.
    """

    def __init__(self, folder: str | Path, bands: int, budget: int):
        self.folder = Path(folder)
        self.bands = bands
        self.budget = budget
        # Per pending row: a hash per band, plus one band's keys, rows and sort scratch.
        self.capacity = max(budget // (8 * bands + 24), 1024)
        self.pending: list[np.ndarray] = []
        self.fill = 0
        self.base = 0
        self.spilled: list[tuple[Path, Path]] = []

    def add(self, hashes: np.ndarray) -> None:
        """Buffer the band hashes of the next rows (kept, not copied)."""
        for start in range(0, hashes.shape[1], self.capacity):
            block = hashes[:, start : start + self.capacity]
            if self.fill + block.shape[1] > self.capacity:
                self.spill()
            self.pending.append(block)
            self.fill += block.shape[1]

    def _write_sorted(self, keys_out, rows_out) -> None:
        """Sort each band of the pending rows and append it to the open files."""
        n = self.fill
        keys = np.empty(n, np.uint64)
        rows = np.empty(n, np.uint32)
        scratch_k = np.empty(n, np.uint64)
        scratch_v = np.empty(n, np.uint32)
        numbers = np.arange(self.base, self.base + n, dtype=np.uint32)
        for j in range(self.bands):
            np.concatenate([p[j] for p in self.pending], out=keys)
            rows[:] = numbers
            kernels.sort_pairs(keys, rows, scratch_k, scratch_v, False)
            keys.tofile(keys_out)
            rows.tofile(rows_out)
        self.pending = []
        self.base += n
        self.fill = 0

    def spill(self) -> None:
        if not self.fill:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(self.spilled)
        paths = (self.folder / f"bands-{number:05d}-keys.npy", self.folder / f"bands-{number:05d}-rows.npy")
        with open(paths[0], "wb") as keys_out, open(paths[1], "wb") as rows_out:
            write_npy_header(keys_out, np.uint64, (self.bands, self.fill))
            write_npy_header(rows_out, np.uint32, (self.bands, self.fill))
            self._write_sorted(keys_out, rows_out)
        self.spilled.append(paths)

    def finish(self, keys_path: str | Path, rows_path: str | Path) -> int:
        """Write the ``[bands, n]`` sorted hashes and rows; return ``n``."""
        total = self.base + self.fill
        with open(keys_path, "wb") as keys_out, open(rows_path, "wb") as rows_out:
            write_npy_header(keys_out, np.uint64, (self.bands, total))
            write_npy_header(rows_out, np.uint32, (self.bands, total))
            if not self.spilled:
                if self.fill:
                    self._write_sorted(keys_out, rows_out)
            else:
                self.spill()
                runs = [(np.load(k, mmap_mode="r"), np.load(v, mmap_mode="r")) for k, v in self.spilled]
                capacity = max(self.budget // 24, 1024)
                buffers = (np.empty(capacity, np.uint64), np.empty(capacity, np.uint32),
                           np.empty(capacity, np.uint64), np.empty(capacity, np.uint32))

                def emit(k: np.ndarray, v: np.ndarray) -> None:
                    k.tofile(keys_out)
                    v.tofile(rows_out)

                for j in range(self.bands):
                    merge_runs([(k[j], v[j]) for k, v in runs], emit, False, capacity, buffers)
                del runs, buffers
        self.pending = []
        self.fill = 0
        shutil.rmtree(self.folder, ignore_errors=True)
        self.spilled = []
        return total
