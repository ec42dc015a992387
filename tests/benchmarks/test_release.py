"""benchmarks/release.py: the shipped calibration and fine-tune evidence equal the benchmarks' outputs."""

from __future__ import annotations

import importlib.util
import pytest

from helpers import ROOT


def _release():
    spec = importlib.util.spec_from_file_location("release", ROOT / "benchmarks" / "release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_copies_equal_the_benchmark_outputs():
    assert _release().differing() == []


def test_release_copies_and_refuses_when_an_output_is_missing(tmp_path, capsys):
    release = _release()
    for source, shipped in release.RELEASED.items():
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / shipped).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / source).write_text('{"new": 1}\n')
        (tmp_path / shipped).write_text('{"old": 1}\n')
    assert release.main(["--check", "--root", str(tmp_path)]) == 1
    assert release.main(["--root", str(tmp_path)]) == 0
    assert release.main(["--check", "--root", str(tmp_path)]) == 0
    assert all((tmp_path / s).read_text() == '{"new": 1}\n' for s in release.RELEASED.values())
    first = next(iter(release.RELEASED))
    (tmp_path / first).unlink()
    with pytest.raises(FileNotFoundError, match="nothing copied"):
        release.release(tmp_path)
    assert release.main(["--root", str(tmp_path)]) == 1
