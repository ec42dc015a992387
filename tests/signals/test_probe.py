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
