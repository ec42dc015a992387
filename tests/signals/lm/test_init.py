"""The base-LM example signal: asked for by --lm, and entering familiarity only at memorisation level."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import overlap.signals.lm as lm_signal
from overlap.pipeline.options import ScanOptions


def test_requested_only_with_a_model():
    assert lm_signal.requested(ScanOptions()) is None
    assert lm_signal.requested(ScanOptions(lm="default", lm_device="cuda")) == {"model": "default", "device": "cuda"}
    assert lm_signal.SIGNAL.column == "lm_familiarity" and "lm_familiarity" in lm_signal.SIGNAL.columns


def test_with_lm_by_hand():
    fam = np.array([0.2, 0.2, 0.7, 0.5])
    lm = np.array([np.nan, 0.5, 0.9, 0.99])
    out = lm_signal.with_lm(fam, lm)
    assert out[0] == 0.2  # not scored: unchanged
    assert out[1] == 0.2  # far below memorisation level: no lift
    np.testing.assert_allclose(out[2], 0.7)  # at the midpoint the logistic is 0.5 < 0.7
    assert out[3] > 0.98  # memorised


@given(st.lists(st.tuples(st.floats(0, 1), st.one_of(st.none(), st.floats(0, 1))), min_size=1, max_size=30))
def test_with_lm_never_lowers_and_stays_in_unit_interval(pairs):
    fam = np.array([f for f, _ in pairs])
    lm = np.array([np.nan if v is None else v for _, v in pairs])
    out = lm_signal.with_lm(fam, lm)
    assert (out >= fam).all() and (out <= 1).all()
