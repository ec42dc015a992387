"""Progress lines: when they appear, what they say, and that the CLI shows them in a log (not a tty)."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import time
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


def test_a_step_blocked_on_one_long_call_still_reports_every_interval():
    """``ticking``: one shard's query, writing a file: lines come while nothing is counted."""
    out = io.StringIO()
    p = Progress("querying 20,000 texts", 1, "shards", interval=0.05, stream=out)
    with p.ticking():
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and len(out.getvalue().splitlines()) < 2:
            time.sleep(0.01)
    p.update(1)
    p.close()
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3, lines
    assert lines[0].startswith("querying 20,000 texts: 0/1 shards (0%)")
    assert lines[-1].startswith("querying 20,000 texts: 1 shards in ")


def test_a_slow_rate_shows_its_digits_not_zero():
    clock, out = FakeClock(), io.StringIO()
    p = Progress("shard 0 (c.jsonl.gz, text uncompressed)", None, "MB", scale=1e6, interval=3, clock=clock, stream=out)
    clock.now += 20
    p.update(300_000)  # 0.015 MB/s
    assert out.getvalue() == "shard 0 (c.jsonl.gz, text uncompressed): 0.3 MB, 0.015 MB/s, 20s elapsed\n"


def test_cli_build_of_a_gz_shard_says_uncompressed_and_a_positive_rate(tmp_path):
    source = next(p for p in data.reference_sources() if p.name == "abc-news.jsonl.gz")
    done = _overlap("index", "build", str(source), "--out", str(tmp_path / "idx"), "--signals", "ngram",
                    "--workers", "1")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines()
             if line.startswith("shard 0 (abc-news.jsonl.gz, text uncompressed): ")]
    assert lines, done.stderr
    rates = [float(part.split()[0]) for line in lines for part in line.split(", ") if part.endswith(" MB/s")]
    rates += [float(line.rsplit("(", 1)[1].split()[0]) for line in lines if " MB in " in line]
    assert rates and all(rate > 0 for rate in rates), lines
