"""Options objects check their values once, and the keyword shorthand builds them in one place."""

import pytest

from overlap.io.layouts import MAX_TEXT_BYTES
from overlap.pipeline.options import BuildOptions, ReadOptions, ScanOptions, options_from


def test_defaults_match_the_command_line():
    assert ReadOptions() == ReadOptions(None, None, "fail", MAX_TEXT_BYTES)
    assert BuildOptions().sample_rate == 1.0 and BuildOptions().holdout_rate is None
    assert ScanOptions().verify is True and ScanOptions().lm_device == "cpu"


@pytest.mark.parametrize("cls,fields,needle", [
    (ReadOptions, {"on_error": "ignore"}, "on_error must be"),
    (BuildOptions, {"on_error": "warn"}, "on_error must be"),
    (BuildOptions, {"sample_rate": 0.0}, "sample rate"),
    (BuildOptions, {"sample_rate": 1.5}, "sample rate"),
    (BuildOptions, {"holdout_rate": 0.5}, "holdout rate"),
    (BuildOptions, {"holdout_rate": -0.1}, "holdout rate"),
    (ScanOptions, {"on_error": "x"}, "on_error must be"),
])
def test_bad_values_are_refused(cls, fields, needle):
    with pytest.raises(ValueError, match=needle):
        cls(**fields)


def test_edges_are_accepted_and_signal_options_name_the_model():
    assert BuildOptions(sample_rate=1.0, holdout_rate=0.0).holdout_rate == 0.0
    assert BuildOptions(model="minilm").signal_options() == {"model": "minilm"}
    assert BuildOptions().signal_options() == {} == ScanOptions().signal_options()
    assert ScanOptions(model="x").signal_options() == {"model": "x"}


def test_options_from_takes_one_or_the_other():
    given = ScanOptions(lm="default")
    assert options_from(ScanOptions, given, {}) is given
    assert options_from(ScanOptions, None, {"lm": "m", "verify": False}) == ScanOptions(lm="m", verify=False)
    with pytest.raises(TypeError, match="not both"):
        options_from(ScanOptions, given, {"verify": False})
