"""The dataset-side key tables of stream mode (``overlap/probe.py``)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap.signals import probe


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1 << 62), max_size=300, unique=True), st.lists(st.integers(0, 1 << 62), max_size=300))
def test_key_table_contains_exactly_its_keys(keys, queries):
    table = probe.KeyTable.build(np.array(keys, dtype=np.uint64))
    asked = np.array(queries + keys[:50], dtype=np.uint64)
    np.testing.assert_array_equal(table.contains(asked), np.isin(asked, np.array(keys, dtype=np.uint64)))


def test_key_table_pickles_as_its_keys_and_answers_the_same():
    import pickle

    keys = np.unique(np.random.default_rng(3).integers(0, 2**63, 5000, dtype=np.uint64))
    table = probe.KeyTable.build(keys)
    data = pickle.dumps(table)
    assert len(data) < keys.nbytes + 4096  # neither the slots nor the filter are shipped
    again = pickle.loads(data)
    asked = np.concatenate([keys[::7], np.random.default_rng(4).integers(0, 2**63, 5000, dtype=np.uint64)])
    np.testing.assert_array_equal(again.find(asked), table.find(asked))
    np.testing.assert_array_equal(again.contains(asked, 0xFFFFFFFF), table.contains(asked, 0xFFFFFFFF))
    low = keys & np.uint64(0xFFFFFFFF)
    masked = probe.KeyTable.build(np.unique(low))
    np.testing.assert_array_equal(masked.contains(asked, 0xFFFFFFFF),
                                  np.isin(asked & np.uint64(0xFFFFFFFF), low))
