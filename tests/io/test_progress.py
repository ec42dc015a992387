"""Progress lines: when they appear, what they say, and that the CLI shows them in a log (not a tty)."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from overlap.io import bundled as data
from overlap.io import progress
from overlap.io.progress import Progress

from helpers import ROOT


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def not_quiet(monkeypatch):
    monkeypatch.delenv(progress.QUIET_ENV, raising=False)
    monkeypatch.delenv(progress.INTERVAL_ENV, raising=False)


def test_a_line_every_interval_with_count_rate_and_time_left():
    clock, out = FakeClock(), io.StringIO()
    p = Progress("embedding chunks", 1000, "chunks", interval=3, clock=clock, stream=out)
    clock.now += 1
    p.update(100)
    assert out.getvalue() == ""  # under the interval: silent
    clock.now += 3
    p.update(300)  # 400 done in 4 s: 100/s, 600 left -> 6 s
    assert out.getvalue().splitlines() == ["embedding chunks: 400/1,000 chunks (40%), 100 chunks/s, 6s left"]
    clock.now += 1
    p.update(100)
    assert len(out.getvalue().splitlines()) == 1
    clock.now += 5
    p.update(500)
    clock.now += 0.5
    p.close()
    assert out.getvalue().splitlines()[1:] == [
        "embedding chunks: 1,000/1,000 chunks (100%), 100 chunks/s, 0s left",
        "embedding chunks: 1,000 chunks in 10s (95.2 chunks/s)",
    ]


def test_unknown_total_scaled_units_and_long_durations():
    clock, out = FakeClock(), io.StringIO()
    p = Progress("shard 0 (c.jsonl.gz)", None, "MB", scale=1e6, interval=3, clock=clock, stream=out)
    clock.now += 125
    p.update(250e6)
    assert out.getvalue() == "shard 0 (c.jsonl.gz): 250.0 MB, 2.0 MB/s, 2m05s elapsed\n"
    p = Progress("lm", 10_000, "sequences", interval=3, clock=clock, stream=out)
    clock.now += 4
    p.update(1)
    assert out.getvalue().splitlines()[-1] == "lm: 1/10,000 sequences (0%), 0.2 sequences/s, 11h06m left"


def test_a_short_step_prints_nothing_and_quiet_prints_nothing(monkeypatch):
    clock, out = FakeClock(), io.StringIO()
    with Progress("quick", 10, "items", interval=3, clock=clock, stream=out) as p:
        clock.now += 1
        p.update(10)
    assert out.getvalue() == ""
    progress.set_quiet(True)
    try:
        p = Progress("long", 10, "items", interval=3, clock=clock, stream=out)
        clock.now += 10
        p.update(10)
        p.close()
    finally:
        progress.set_quiet(False)
    assert out.getvalue() == ""
    assert not progress.is_quiet()


@pytest.fixture()
def plain_corpus(tmp_path) -> Path:
    """The bundled news articles as uncompressed JSONL (so the build knows its size)."""
    source = next(p for p in data.reference_sources() if p.name == "abc-news.jsonl.gz")
    path = tmp_path / "news.jsonl"
    with gzip.open(source, "rb") as handle:
        path.write_bytes(handle.read())
    return path


def _overlap(*args: str, interval: str = "0") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), progress.INTERVAL_ENV: interval}
    env.pop(progress.QUIET_ENV, None)
    return subprocess.run([sys.executable, "-m", "overlap.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_cli_build_shows_progress_lines_on_a_non_terminal_stderr(tmp_path, plain_corpus):
    done = _overlap("index", "build", str(plain_corpus), "--out", str(tmp_path / "idx"), "--signals", "ngram",
                    "--workers", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    size_mb = plain_corpus.stat().st_size / 1e6
    assert any(line.startswith("shard 0 (news.jsonl): ") and f"/{size_mb:.1f} MB (" in line
               and "MB/s" in line and line.endswith(" left") for line in lines), lines
    assert any(line.startswith("shard 0 (news.jsonl): ") and " MB in " in line for line in lines), lines
    assert "\r" not in done.stderr  # lines, not a redrawn bar

    quiet = _overlap("--quiet", "index", "build", str(plain_corpus), "--out", str(tmp_path / "idx2"),
                     "--signals", "ngram", "--workers", "1")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert "300 documents" in quiet.stdout
