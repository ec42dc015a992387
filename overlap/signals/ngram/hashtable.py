"""A compact on-disk set of 64-bit hashes: 32 bits stored per hash, the rest implied by its bucket.

The hashes are cut to a prefix of ``32 + bits`` bits. The top ``bits`` of the
prefix pick one of ``2**bits`` buckets, and only the 32 bits after them are
stored (``uint32``, sorted within each bucket); a second array holds where each
bucket starts. With ``bits`` chosen so that a bucket holds at most
``BUCKET_LOAD`` hashes on average, a hash that is not in the set matches a
stored one by chance with probability about ``BUCKET_LOAD / 2**32`` (4e-9),
whatever the size of the set, for 4.25 bytes per hash instead of 8. Each hash
carries one value (for the n-gram index: the document group holding it) and,
optionally, a count (for the n-gram index: how many documents hold it).

Plain ``.npy`` files, memory-mapped at query time: the remainders, the bucket
offsets (``2**bits + 1`` of them), the values and the counts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

from overlap.index.runs import NpyStream
from overlap.index.sorting import lower_bound, sort_pairs

BUCKET_LOAD = 16


def bucket_bits(count: int) -> int:
    """Bucket bits for a set of at most ``count`` hashes: at most ``BUCKET_LOAD`` per bucket on average."""
    return min(max((count // BUCKET_LOAD).bit_length() - 1, 0), 32)


def prefixes(hashes: np.ndarray, bits: int) -> np.ndarray:
    """The ``32 + bits``-bit prefix of each 64-bit hash (what the set actually holds)."""
    return np.asarray(hashes, dtype=np.uint64) >> np.uint64(32 - bits)


class BucketedWriter:
    """Writes a bucketed hash set from sorted unique 64-bit hashes given in order, a block at a time.

    ``count`` bounds the number of hashes (it sets the bucket bits and the
    offsets' dtype). Hashes whose prefixes collide keep the first one's value
    (and count). With ``counts_path``, each hash also carries a count of ``counts_dtype``.
    """

    def __init__(self, hashes_path: Path, offsets_path: Path, values_path: Path, count: int, value_dtype,
                 counts_path: Path | None = None, counts_dtype=np.uint8):
        self.bits = bucket_bits(count)
        offsets_dtype = np.uint32 if count < (1 << 32) else np.uint64
        self.rems = NpyStream(hashes_path, np.uint32)
        self.offsets = NpyStream(offsets_path, offsets_dtype)
        self.values = NpyStream(values_path, value_dtype)
        self.counts = NpyStream(counts_path, counts_dtype) if counts_path is not None else None
        self.count = 0
        self.next_bucket = 0
        self.last: np.uint64 | None = None

    def append(self, hashes: np.ndarray, values: np.ndarray, counts: np.ndarray | None = None) -> None:
        """Add sorted unique hashes (all above those added before), their values (and counts)."""
        if not len(hashes):
            return
        prefix = prefixes(hashes, self.bits)
        keep = np.empty(len(prefix), dtype=bool)
        keep[0] = self.last is None or prefix[0] != self.last
        np.not_equal(prefix[1:], prefix[:-1], out=keep[1:])
        prefix, values = prefix[keep], values[keep]
        if self.counts is not None:
            counts = counts[keep]
        self.last = prefix[-1] if len(prefix) else self.last
        if not len(prefix):
            return
        bucket = (prefix >> np.uint64(32)).astype(np.int64)
        # offsets[j] = hashes in buckets below j; those of earlier blocks all lie below self.next_bucket.
        starts = np.arange(self.next_bucket, bucket[-1] + 1)
        self.offsets.append(self.count + np.searchsorted(bucket, starts, side="left"))
        self.next_bucket = int(bucket[-1]) + 1
        self.rems.append((prefix & np.uint64(0xFFFFFFFF)).astype(np.uint32))
        self.values.append(values)
        if self.counts is not None:
            self.counts.append(counts)
        self.count += len(prefix)

    def close(self) -> int:
        """Write the remaining bucket offsets and the headers; return the number of hashes stored."""
        self.offsets.append(np.full((1 << self.bits) + 1 - self.next_bucket, self.count))
        self.offsets.close()
        self.rems.close()
        self.values.close()
        if self.counts is not None:
            self.counts.close()
        return self.count


def lookup(offsets: np.ndarray, rems: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The value of each query hash in the set (int64), -1 where it is absent."""
    at = find(offsets, rems, queries)
    out = np.full(len(at), -1, dtype=np.int64)
    hit = at >= 0
    out[hit] = values[at[hit]]
    return out


@njit(cache=True)
def _bucket_find(offsets, rems, query, positions, out):
    """For sorted ``query`` prefixes: where each one's low 32 bits are in its bucket (left -1 if absent)."""
    for i in range(query.shape[0]):
        p = query[i]
        bucket = np.int64(p >> np.uint64(32))
        r = np.uint32(p & np.uint64(0xFFFFFFFF))
        hi = np.int64(offsets[bucket + 1])
        lo = lower_bound(rems, np.int64(offsets[bucket]), hi, r)
        if lo < hi and rems[lo] == r:
            out[positions[i]] = lo


def find(offsets: np.ndarray, rems: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The position in the set of each query hash (int64; index its values or counts), -1 where absent.

    Queries are looked up in sorted order, so a large memory-mapped table is
    read in increasing address order.
    """
    bits = (len(offsets) - 1).bit_length() - 1
    out = np.full(len(queries), -1, dtype=np.int64)
    if len(queries) == 0 or len(rems) == 0:
        return out
    q = np.array(prefixes(queries, bits), dtype=np.uint64)
    positions = np.arange(len(q), dtype=np.int64)
    sort_pairs(q, positions, np.empty_like(q), np.empty_like(positions), False)
    _bucket_find(offsets, rems, q, positions, out)
    return out
