"""The throughput benchmark runs end to end at a tiny size, so it cannot rot unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import ROOT


def test_throughput_benchmark_prints_its_table_and_ratios(tmp_path, lexical_index):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--size", "1MB", "--files", "2",
         "--work", str(tmp_path), "--scan-examples", "60", "--scan-index", str(lexical_index),
         "--question-examples", "40", "--planted", "4"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for label in ("overlap index build (CLI)", "overlap MinHash only (API, 1 thread)", "rensa", "datasketch"):
        assert label in out
    ratios = [line for line in out.splitlines() if line.startswith("ratio ")]
    assert any(line.startswith("ratio index build / rensa: ") for line in ratios)
    assert any(line.startswith("ratio index build / datasketch: ") for line in ratios)
    assert any("MinHash only" in line for line in ratios)
    assert "bytes per token" in out
    assert "scan: 60 examples" in out
    # The question, answered by stream mode, index + scan and both peers' pipelines; stream mode finds the
    # planted passages that whole-document signatures miss.
    assert "Which of 40 examples overlap" in out
    stream = next(line for line in out.splitlines() if line.startswith("overlap stream mode"))
    assert "4 of 4" in stream
    for label in ("overlap index build + scan", "rensa pipeline", "datasketch pipeline"):
        assert label in out
    assert "stream mode vs rensa pipeline: " in out and "n-grams + MinHash" in out
    assert not (tmp_path / "index").exists()  # the built index is removed unless --keep
