"""What scan and reweight check before reading a record: outputs, options, an empty dataset."""

import pytest

from overlap import checks
from overlap.io import InputError, Reject
from overlap.io import bundled as data


def test_scan_outputs(tmp_path):
    sample = data.sample_dataset()
    checks.scan_outputs(sample, out=tmp_path / "s.parquet", report=tmp_path / "r.html", rejects=None,
                        on_error="fail", overwrite=False, index=None)
    with pytest.raises(ValueError, match="the report is HTML"):
        checks.scan_outputs(sample, out=None, report=tmp_path / "r.pdf", rejects=None, on_error="fail",
                            overwrite=False, index=None)
    (tmp_path / "taken.html").write_text("x")
    with pytest.raises(Exception, match="taken.html"):
        checks.scan_outputs(sample, out=None, report=tmp_path / "taken.html", rejects=None, on_error="fail",
                            overwrite=False, index=None)
    with pytest.raises(Exception):
        checks.scan_outputs(tmp_path / "missing.jsonl", out=None, report=None, rejects=None, on_error="fail",
                            overwrite=False, index=None)


@pytest.mark.parametrize("resample,factor,dataset,out,needle", [
    (5, 2.0, True, "o.jsonl", "not both"),
    (-1, None, True, "o.jsonl", "0 or more"),
    (None, 0.0, True, "o.jsonl", "above 0"),
    (5, None, False, "o.jsonl", "needs --dataset"),
    (5, None, True, None, "needs --out"),
    (5, None, True, "o.csv", "must end in .jsonl"),
])
def test_reweight_resampling_options(tmp_path, resample, factor, dataset, out, needle):
    scores = tmp_path / "scores.parquet"
    scores.write_bytes(b"")
    with pytest.raises(ValueError, match=needle):
        checks.reweight_outputs(scores, out and tmp_path / out, dataset=data.sample_dataset() if dataset else None,
                                resample=resample, resample_factor=factor, overwrite=False)


def test_reweight_refuses_to_write_over_its_input(tmp_path):
    copy = tmp_path / "data.jsonl"
    copy.write_bytes(data.sample_dataset().read_bytes())
    with pytest.raises(Exception):
        checks.reweight_outputs(copy, copy, dataset=copy, resample=3, resample_factor=None, overwrite=True)
    checks.reweight_outputs(copy, tmp_path / "new.jsonl", dataset=copy, resample=3, resample_factor=None,
                            overwrite=False)


def test_require_examples(tmp_path):
    checks.require_examples("d.jsonl", [object()], [], tmp_path / "r.jsonl")
    with pytest.raises(InputError, match="holds no records"):
        checks.require_examples("d.jsonl", [], [], tmp_path / "r.jsonl")
    reject = Reject("d.jsonl", 1, "text", "not a string", '{"text": 1}')
    with pytest.raises(InputError, match="all 1 records were rejected"):
        checks.require_examples("d.jsonl", [], [reject], tmp_path / "r.jsonl")
    import json

    assert json.loads((tmp_path / "r.jsonl").read_text())["raw"] == '{"text": 1}'
