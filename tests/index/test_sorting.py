"""The radix sort and segment merge (``overlap/index/sorting.py``) are a stable ``np.argsort``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap.index.sorting import merge_sorted, sorted_pairs, unique_keys

from helpers import reference_sort


def _key_arrays():
    rng = np.random.default_rng(3)
    random_keys = rng.integers(0, 2**64, 300_000, dtype=np.uint64)
    random_keys[1::4] = random_keys[0::4][: len(random_keys[1::4])]  # many repeats
    return [
        np.zeros(0, np.uint64),
        np.array([5], np.uint64),
        random_keys,
        rng.integers(0, 2**64, 1000, dtype=np.uint64),
        np.full(50_000, 2**63 + 1, np.uint64),  # one key only
        rng.integers(0, 50, 100_000).astype(np.uint64),  # small keys: all in the first buckets
        (rng.integers(0, 2**12, 100_000).astype(np.uint64) << np.uint64(44)),  # few distinct top bits
    ]


def _assert_sorts_like_the_reference(keys: np.ndarray, values: np.ndarray, unique: bool) -> None:
    got = sorted_pairs(keys, values, unique)
    want = reference_sort(keys, values, unique)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("unique", [False, True])
def test_sort_pairs_is_a_stable_argsort(unique):
    for keys in _key_arrays():
        _assert_sorts_like_the_reference(keys, np.arange(len(keys), dtype=np.uint32), unique)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**64 - 1, 2**63]), max_size=400),
       st.booleans())
def test_sort_pairs_on_generated_keys(raw, unique):
    keys = np.array(raw, dtype=np.uint64)
    _assert_sorts_like_the_reference(keys, np.arange(len(keys), dtype=np.int64), unique)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40) | st.integers(0, 2**64 - 1), max_size=60), max_size=9), st.booleans())
def test_merge_sorted_segments_is_a_stable_sort(segments, unique):
    parts = [np.sort(np.array(seg, dtype=np.uint64)) for seg in segments]
    keys = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    values = np.arange(len(keys), dtype=np.uint32)
    bounds = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    want = reference_sort(keys, values, unique)
    k, v = keys.copy(), values.copy()
    count = merge_sorted(k, v, bounds, np.empty_like(k), np.empty_like(v), unique)
    np.testing.assert_array_equal(k[:count], want[0])
    np.testing.assert_array_equal(v[:count], want[1])


def test_unique_keys_is_np_unique():
    rng = np.random.default_rng(2)
    keys = rng.integers(0, 1000, 5000).astype(np.uint64)
    np.testing.assert_array_equal(unique_keys(keys), np.unique(keys))
    assert len(unique_keys(np.zeros(0, dtype=np.uint64))) == 0
