"""The Signal declaration's derived parts and an empty SignalResult."""

import numpy as np

from overlap import signals as registry
from overlap.signals.base import Signal, SignalResult, no_problems


def test_empty_result_says_nothing_and_matches_nothing():
    result = SignalResult.empty(3)
    assert np.isnan(result.score).all() and len(result.score) == 3
    for part in (result.shard, result.doc, result.start, result.end):
        assert part.dtype == np.int64 and (part == -1).all()
    assert result.match == [None] * 3 and result.features == {} and result.doc_ids == []


def _signal(**extra) -> Signal:
    return Signal(name="toy", column="toy_score", evidence="toy", title="toy", short="toy",
                  default_params=dict, Builder=object, Reader=object, merge=lambda *a: None, **extra)


def test_model_inputs_and_columns():
    plain = _signal()
    assert plain.model_inputs == ("toy_score",) and plain.columns == ("toy_score",)
    rich = _signal(measures=("toy_len",), inputs=("sqrt_toy_score", "toy_len"))
    assert rich.model_inputs == ("sqrt_toy_score", "toy_len") and rich.columns == ("toy_score", "toy_len")
    assert plain.compatibility_problems is no_problems and no_problems({}, {}) == []


def test_every_registered_signal_has_distinct_columns():
    columns = [c for s in registry.all_signals() for c in s.columns]
    assert len(columns) == len(set(columns))
