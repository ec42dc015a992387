"""Near-duplicate similarity: best estimated Jaccard against a corpus window, via MinHash LSH.

Short examples live inside long documents, so the corpus side is not only whole
documents but *windows* (``window_shingles``, each stepping ``window_step`` of
its size); an example's whole-text signature is compared with every window,
and the best estimate wins. Signatures follow datasketch's ``affine32`` scheme
exactly, so they can be cross-checked against it.

Shard files: ``minhash_signatures.npy`` (the low ``signature_bits`` of each
minimum, windows x permutations: b-bit MinHash, a quarter of the bytes at 8 bits),
``minhash_windows.npy`` (int32: document, byte start, byte end, shingles),
``minhash_bands.npy`` / ``minhash_band_rows.npy`` (each band's hashes sorted,
kept as their top 32 bits, with the window row of each).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from overlap.index.documents import DocStore
from overlap.index.runs import FENCE, FileRun, NpyStream, merge_runs, spill_bytes, write_npy_header
from overlap.index.sorting import sort_pairs
from overlap.index.store import Shard, ShardWriter
from overlap.text.batch import LexicalBatch
from overlap.signals.minhash import kernels as minhash_kernels
from overlap.signals.base import SignalResult

NAME = "minhash"
SIGNATURES = "minhash_signatures.npy"
WINDOWS = "minhash_windows.npy"
BANDS = "minhash_bands.npy"
BAND_ROWS = "minhash_band_rows.npy"
MAX_CANDIDATES_PER_BAND = 64
CHUNK_SHINGLES = 1 << 18


def _doc_chunks(offsets: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Consecutive document ranges ``[lo, hi)`` of about ``size`` items each (a larger document alone)."""
    ndocs = len(offsets) - 1
    chunks, lo = [], 0
    while lo < ndocs:
        hi = int(np.searchsorted(offsets, offsets[lo] + size, side="right")) - 1
        hi = min(max(hi, lo + 1), ndocs)
        chunks.append((lo, hi))
        lo = hi
    return chunks


def default_params() -> dict:
    """Word 5-grams, 128 permutations in 32 bands of 4 rows, windows of 128 shingles side by side.

    32 x 4 puts the LSH threshold near 0.42: a window with Jaccard 0.5 is a
    candidate with probability 0.87, one with 0.6 with 0.98. Windows of 128
    shingles, stepping their full size, cover examples of about a page; ``0``
    adds one window per whole document, for examples that copy a document
    entire. A window costs about 400 bytes (signature, row, 32 band entries), so
    the 32-shingle windows stepping 16 that short examples would need cost 25
    bytes per corpus word, twice the rest of the lexical index: short passages
    inside long documents are the n-gram signal's (containment ranks them as
    well, measured in ``benchmarks/validity``). Stored signatures keep 8 bits of
    each minimum (b-bit MinHash): at J = 0.5 and 128 permutations the
    estimate's standard error grows from 0.0442 to 0.0444, for a quarter of the
    bytes.
    """
    return {
        "shingle_n": 5,
        "num_perm": 128,
        "minhash_seed": 1,
        "bands": 32,
        "rows": 4,
        "block_shingles": 16,
        "window_shingles": [128, 0],
        "window_step": 1.0,
        "signature_bits": 8,
    }


def stored(sigs: np.ndarray, bits: int) -> np.ndarray:
    """Signatures as the index stores them: the low ``bits`` (8, 16 or 32) of each minimum."""
    dtype = _SIGNATURE_DTYPES[bits]
    return sigs if bits == 32 else (sigs & np.uint32((1 << bits) - 1)).astype(dtype)


_SIGNATURE_DTYPES = {8: np.uint8, 16: np.uint16, 32: np.uint32}


def stored_band(hashes: np.ndarray) -> np.ndarray:
    """Band hashes as the index stores them: the top 32 bits (sorted 64-bit hashes stay sorted)."""
    return (hashes >> np.uint64(32)).astype(np.uint32)


def window_blocks(params: dict) -> list[int]:
    """Blocks per window of each of ``window_shingles`` (``0``: one window per whole text)."""
    block = params["block_shingles"]
    return [max(size // block, 1) if size else 0 for size in params["window_shingles"]]


def cut_windows(minima: np.ndarray, block_offsets: np.ndarray, blocks_per_window: int, params: dict):
    """Windows of ``blocks_per_window`` blocks cut from block minima, each stepping ``window_step`` of its size.

    The one definition of the windows an index holds. Returns ``(signatures, doc,
    first_block, end_block)`` (see ``minhash_kernels.windows``).
    """
    step = max(int(blocks_per_window * params["window_step"]), 1)
    return minhash_kernels.windows(minima, block_offsets, blocks_per_window, step)


def index_windows(minima: np.ndarray, block_offsets: np.ndarray, params: dict) -> list[tuple]:
    """The windows an index holds, one ``cut_windows`` result per size of ``window_shingles``.

    ``minima`` may be any per-block values cut the same way (stream mode cuts block hit flags).

    A text's whole-text window is left out where one window of the largest size
    already covers the whole text: it would repeat that window's signature.
    """
    sizes = window_blocks(params)
    largest = max(sizes)
    out = []
    for size in sizes:
        sigs, doc, first, last = cut_windows(minima, block_offsets, size, params)
        if size == 0 and largest:
            keep = last > largest
            sigs, doc, first, last = sigs[keep], doc[keep], first[keep], last[keep]
        out.append((sigs, doc, first, last))
    return out


def signatures(batch: LexicalBatch, params: dict, blocks_per_window: int = 0):
    """Window signatures of every text of a batch (``0``: one window per whole text)."""
    a, b = minhash_kernels.permutations(params["num_perm"], params["minhash_seed"])
    shingles, offsets = batch.grams(params["shingle_n"])
    minima, block_offsets = minhash_kernels.block_minima(shingles, offsets, a, b, params["block_shingles"])
    return cut_windows(minima, block_offsets, blocks_per_window, params)


def _in_row_order(batch: LexicalBatch, params: dict, cut):
    """Yield, in index row order, what ``cut(lo, hi)`` gives per window size for each chunk of documents.

    ``cut(lo, hi)`` handles documents ``lo:hi`` of the batch (a few hundred
    thousand shingles) and returns one item per entry of ``window_shingles``.
    Rows keep the order of one pass per window size over the whole batch: the
    first size's items come chunk by chunk, the others (several times fewer
    windows) are kept until the batch ends. Index building writes rows in this
    order and stream mode probes them in it, so both number (and break ties
    between) windows alike.
    """
    _, shingle_offsets = batch.grams(params["shingle_n"])
    later: list[list] = [[] for _ in params["window_shingles"][1:]]
    for lo, hi in _doc_chunks(shingle_offsets, CHUNK_SHINGLES):
        items = cut(lo, hi)
        yield items[0]
        for number, item in enumerate(items[1:]):
            later[number].append(item)
    for items in later:
        yield from items


def window_rows(batch: LexicalBatch, params: dict, perm: tuple[np.ndarray, np.ndarray]):
    """Yield ``(signatures, rows)`` blocks of every corpus window of a batch, in index row order.

    ``rows`` are ``[document in the batch, byte start, byte end, shingles]``.
    Block minima are computed a chunk of documents at a time and every window
    size is cut from them, so the batch's minima never sit in memory whole.
    """
    shingles, shingle_offsets = batch.grams(params["shingle_n"])

    def cut(lo: int, hi: int) -> list[tuple[np.ndarray, np.ndarray]]:
        offsets = shingle_offsets[lo : hi + 1] - shingle_offsets[lo]
        chunk = shingles[shingle_offsets[lo] : shingle_offsets[hi]]
        minima, block_offsets = minhash_kernels.block_minima(chunk, offsets, *perm, params["block_shingles"])
        return [(sigs, _window_meta(batch, params, doc + lo, first, last))
                for sigs, doc, first, last in index_windows(minima, block_offsets, params)]

    yield from _in_row_order(batch, params, cut)


def hit_window_rows(batch: LexicalBatch, params: dict, perm: tuple[np.ndarray, np.ndarray], hit: np.ndarray):
    """Like :func:`window_rows`, with signatures only for the windows with a band made of shingles marked in ``hit``.

    ``hit`` marks shingles of ``batch.grams(shingle_n)``. Yields ``(signatures,
    rows, numbers, count)`` per block of ``count`` windows in index row order:
    the signatures and rows of the windows for which, in some LSH band, every
    minimum is at a marked shingle (``minhash_kernels.marked_bands``), and their
    positions ``numbers`` among the ``count``. Only the blocks of those windows
    are hashed; a window's signature is the minimum over its blocks, so it is
    the one :func:`window_rows` gives it.
    """
    shingles, shingle_offsets = batch.grams(params["shingle_n"])
    block = params["block_shingles"]

    def cut(lo: int, hi: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
        offsets = shingle_offsets[lo : hi + 1] - shingle_offsets[lo]
        span = slice(shingle_offsets[lo], shingle_offsets[hi])
        mixed = minhash_kernels.mixed_shingles(shingles[span])
        marked = np.flatnonzero(hit[span])
        flags, block_offsets = minhash_kernels.block_hits(hit[span], offsets, block)
        layouts = []
        for marks, doc, first, last in index_windows(flags, block_offsets, params):
            keep = np.flatnonzero(marks[:, 0] == 0)
            starts = offsets[doc[keep]] + first[keep] * block
            ends = np.minimum(offsets[doc[keep]] + last[keep] * block, offsets[doc[keep] + 1])
            keep = keep[minhash_kernels.marked_bands(mixed, marked, starts, ends, *perm, params["bands"],
                                                     params["rows"])]
            layouts.append((keep, doc[keep], first[keep], last[keep], len(doc)))
        needed = np.zeros(len(flags) + 1, dtype=np.int64)
        for keep, doc, first, last, _ in layouts:
            np.add.at(needed, block_offsets[doc] + first, 1)
            np.add.at(needed, block_offsets[doc] + last, -1)
        blocks_needed = np.flatnonzero(np.cumsum(needed[:-1]) > 0)
        position = np.full(len(flags), -1, dtype=np.int64)
        position[blocks_needed] = np.arange(len(blocks_needed))
        minima = minhash_kernels.some_block_minima(shingles[span], offsets, block_offsets, *perm, block, blocks_needed)
        items = []
        for keep, doc, first, last, count in layouts:
            sigs = minhash_kernels.gather_windows(minima, position, block_offsets, doc, first, last)
            items.append((sigs, _window_meta(batch, params, doc + lo, first, last), keep, count))
        return items

    yield from _in_row_order(batch, params, cut)


def _window_meta(batch: LexicalBatch, params: dict, doc, first, last) -> np.ndarray:
    """``[document, byte start, byte end, shingles]`` of each window (``doc`` within the batch)."""
    n, block = params["shingle_n"], params["block_shingles"]
    _, shingle_offsets = batch.grams(n)
    m = shingle_offsets[doc + 1] - shingle_offsets[doc]
    lo = first * block
    hi = np.minimum(last * block, m)
    words = batch.word_offsets[doc + 1] - batch.word_offsets[doc]
    word_lo = lo
    word_hi = np.minimum(hi - 1 + n, words)
    base = batch.word_offsets[doc]
    start = batch.word_starts[base + word_lo] - batch.offsets[doc]
    end = batch.word_ends[base + word_hi - 1] - batch.offsets[doc]
    return np.stack([doc, start, end, hi - lo], axis=1)


class BandRuns:
    """LSH band hashes of consecutive signature rows, each band sorted with its row numbers, in bounded memory.

    ``add`` takes ``[bands, w]`` 64-bit hashes of the next ``w`` rows. The
    result, written by :meth:`finish`, is for each band its hashes sorted
    (stably) and the row of each: ``np.argsort(all_bands, axis=1,
    kind="stable")`` applied, as ``[bands, n]`` arrays of the hashes' top 32
    bits (:func:`stored_band`) and uint32 rows. Sorting is on the full hashes;
    only the files keep half of each: a band lookup then also meets rows
    whose hash differs below the top 32 bits (one chance in 2^32 per row), and
    the signature comparison that follows every lookup discards them.
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
        self.spilled: list[tuple[Path, Path, list[np.ndarray]]] = []

    def add(self, hashes: np.ndarray) -> None:
        """Buffer the band hashes of the next rows (kept, not copied)."""
        for start in range(0, hashes.shape[1], self.capacity):
            block = hashes[:, start : start + self.capacity]
            if self.fill + block.shape[1] > self.capacity:
                self.spill()
            self.pending.append(block)
            self.fill += block.shape[1]

    def _write_sorted(self, keys_out, rows_out, final: bool) -> list[np.ndarray]:
        """Sort each band of the pending rows and append it to the open files; return each band's fence.

        Spilled runs keep the full 64-bit hashes (so merging them gives the
        same order as one sort); ``final`` writes the stored 32-bit form.
        """
        n = self.fill
        keys = np.empty(n, np.uint64)
        rows = np.empty(n, np.uint32)
        scratch_k = np.empty(n, np.uint64)
        scratch_v = np.empty(n, np.uint32)
        numbers = np.arange(self.base, self.base + n, dtype=np.uint32)
        fences = []
        for j in range(self.bands):
            np.concatenate([p[j] for p in self.pending], out=keys)
            rows[:] = numbers
            sort_pairs(keys, rows, scratch_k, scratch_v, False)
            (stored_band(keys) if final else keys).tofile(keys_out)
            rows.tofile(rows_out)
            fences.append(keys[::FENCE].copy())
        self.pending = []
        self.base += n
        self.fill = 0
        return fences

    def spill(self) -> None:
        if not self.fill:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(self.spilled)
        paths = (self.folder / f"bands-{number:05d}-keys.npy", self.folder / f"bands-{number:05d}-rows.npy")
        with open(paths[0], "wb") as keys_out, open(paths[1], "wb") as rows_out:
            write_npy_header(keys_out, np.uint64, (self.bands, self.fill))
            write_npy_header(rows_out, np.uint32, (self.bands, self.fill))
            fences = self._write_sorted(keys_out, rows_out, final=False)
        self.spilled.append((*paths, fences))

    def finish(self, keys_path: str | Path, rows_path: str | Path) -> int:
        """Write the ``[bands, n]`` sorted hashes and rows; return ``n``."""
        total = self.base + self.fill
        with open(keys_path, "wb") as keys_out, open(rows_path, "wb") as rows_out:
            write_npy_header(keys_out, np.uint32, (self.bands, total))
            write_npy_header(rows_out, np.uint32, (self.bands, total))
            if not self.spilled:
                if self.fill:
                    self._write_sorted(keys_out, rows_out, final=True)
            else:
                self.spill()
                capacity = max(self.budget // 24, 1024)
                buffers = (np.empty(capacity, np.uint64), np.empty(capacity, np.uint32),
                           np.empty(capacity, np.uint64), np.empty(capacity, np.uint32))

                def emit(k: np.ndarray, v: np.ndarray) -> None:
                    stored_band(k).tofile(keys_out)
                    v.tofile(rows_out)

                for j in range(self.bands):
                    runs = [FileRun(k, v, fences[j], row=j) for k, v, fences in self.spilled]
                    try:
                        merge_runs(runs, emit, False, capacity, buffers)
                    finally:
                        for run in runs:
                            run.close()
                del buffers
        self.pending = []
        self.fill = 0
        shutil.rmtree(self.folder, ignore_errors=True)
        self.spilled = []
        return total


class Builder:
    """Writes one shard's window signatures as they come; bands are sorted at the end, in bounded memory.

    Per batch the block minima are computed once and every window size is cut
    from them. Signatures and window rows stream straight into their files;
    band hashes are buffered up to the memory budget (``options["spill_bytes"]``,
    ``$OVERLAP_SPILL_BYTES``, default 128 MiB) and spilled as sorted runs to
    the shard's temp folder when it is exceeded (:class:`BandRuns`, built on ``index/runs.py``).
    """

    def __init__(self, params: dict, writer: ShardWriter, options: dict | None = None):
        self.params = params
        self.writer = writer
        self.perm = minhash_kernels.permutations(params["num_perm"], params["minhash_seed"])
        self.sigs = NpyStream(writer.path(SIGNATURES), _SIGNATURE_DTYPES[params["signature_bits"]],
                              (params["num_perm"],))
        self.meta = NpyStream(writer.path(WINDOWS), np.int32, (4,))
        self.bands = BandRuns(writer.path(".spill-minhash"), params["bands"], spill_bytes(options))

    def add(self, batch: LexicalBatch, texts: list[str], doc_base: int) -> None:
        for sigs, meta in window_rows(batch, self.params, self.perm):
            meta[:, 0] += doc_base
            self._write(sigs, meta)

    def _write(self, sigs: np.ndarray, meta: np.ndarray) -> None:
        self.sigs.append(stored(sigs, self.params["signature_bits"]))
        self.meta.append(meta)
        self.bands.add(minhash_kernels.band_hashes(sigs, self.params["bands"], self.params["rows"]))

    def finish(self) -> dict[str, int]:
        windows = self.sigs.close()
        self.meta.close()
        self.bands.finish(self.writer.path(BANDS), self.writer.path(BAND_ROWS))
        return {"windows": windows}


@dataclass
class Partial:
    """For each query text: best window row of this shard (-1: none) and its estimate."""

    row: np.ndarray
    score: np.ndarray


def query_signatures(batch: LexicalBatch, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """Whole-text signatures of a batch and, for each, which text it belongs to."""
    sigs, doc, _, _ = signatures(batch, params, 0)
    return sigs, doc


class Reader:
    def __init__(self, shard: Shard, params: dict):
        self.params = params
        self.sigs = shard.array(SIGNATURES)
        self.windows = shard.array(WINDOWS)
        self.bands = shard.array(BANDS)
        self.rows = shard.array(BAND_ROWS)

    def query(self, batch: LexicalBatch, prepared: object = None) -> Partial:
        p = self.params
        qsigs, qdoc = query_signatures(batch, p)
        row = np.full(len(batch), -1, dtype=np.int64)
        score = np.zeros(len(batch))
        if len(qsigs) and len(self.sigs):
            qbands = stored_band(minhash_kernels.band_hashes(qsigs, p["bands"], p["rows"]))
            bits = p["signature_bits"]
            best, est = minhash_kernels.best_candidates(
                qbands, stored(qsigs, bits), self.bands, self.rows, self.sigs, MAX_CANDIDATES_PER_BAND, bits
            )
            row[qdoc], score[qdoc] = best, est
        return Partial(row, score)


def merge(partials: list[Partial], batch: LexicalBatch, docs: DocStore, params: dict) -> SignalResult:
    """Max over shards (ties to the first shard); evidence is the winning window's text."""
    result = SignalResult.empty(len(batch))
    has_words = batch.word_counts() > 0
    result.score[has_words] = 0.0
    windows = [np.load(f / WINDOWS, mmap_mode="r", allow_pickle=False) for f in docs.folders]
    for number, part in enumerate(partials):
        better = (part.row >= 0) & (part.score > np.nan_to_num(result.score, nan=-1.0))
        result.score[better] = part.score[better]
        result.shard[better] = number
        result.doc[better] = part.row[better]
    for d in np.flatnonzero(result.shard >= 0):
        s, row = int(result.shard[d]), int(result.doc[d])
        doc, start, end, _ = (int(v) for v in windows[s][row])
        result.doc[d] = doc
        result.start[d], result.end[d], result.match[d] = docs.excerpt(s, doc, start, end)
    return result
