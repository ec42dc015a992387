"""The bucketed hash set against a plain dict of the same prefixes."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap.signals.ngram import hashtable


def _write(folder, hashes: np.ndarray, values: np.ndarray, block: int):
    paths = [folder / f"{n}.npy" for n in ("rems", "offsets", "values")]
    writer = hashtable.BucketedWriter(*paths, count=len(hashes), value_dtype=np.int64)
    for i in range(0, len(hashes), block):
        writer.append(hashes[i:i + block], values[i:i + block])
    stored = writer.close()
    rems, offsets, vals = (np.load(p) for p in paths)
    return stored, offsets, rems, vals, writer.bits


def test_bucket_bits_keep_the_load_bounded():
    assert hashtable.bucket_bits(0) == 0 and hashtable.bucket_bits(15) == 0
    for count in (16, 100, 10_000, 10**9):
        bits = hashtable.bucket_bits(count)
        assert count / 2**bits <= 2 * hashtable.BUCKET_LOAD and count / 2**bits >= hashtable.BUCKET_LOAD
    assert hashtable.bucket_bits(1 << 60) == 32


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3000), st.integers(1, 700), st.integers(0, 2**32))
def test_lookup_agrees_with_a_dict(tmp_path_factory, n, block, seed):
    rng = np.random.default_rng(seed)
    hashes = np.unique(rng.integers(0, 2**64, n, dtype=np.uint64))
    values = rng.integers(0, 1000, len(hashes)).astype(np.int64)
    stored, offsets, rems, vals, bits = _write(tmp_path_factory.mktemp("set"), hashes, values, block)
    assert len(offsets) == (1 << bits) + 1 and stored == len(rems) == len(vals)
    expected: dict[int, int] = {}
    for h, v in zip(hashtable.prefixes(hashes, bits).tolist(), values.tolist()):
        expected.setdefault(h, v)  # colliding prefixes keep the first value
    absent = rng.integers(0, 2**64, 200, dtype=np.uint64)
    queries = np.concatenate([hashes, absent])
    found = hashtable.lookup(offsets, rems, vals, queries)
    want = [expected.get(p, -1) for p in hashtable.prefixes(queries, bits).tolist()]
    assert found.tolist() == want
    assert (found[: len(hashes)] >= 0).all()
