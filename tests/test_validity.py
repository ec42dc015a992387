"""The validity benchmark runs in CI and fails when a target of the combined score is missed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_validity_benchmark_meets_its_targets():
    # Seed 1: a labelled set the calibration (fitted on seed 0) never saw.
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "validity" / "run.py"), "--seed", "1", "--check"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all targets met" in result.stdout
