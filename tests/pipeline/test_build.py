"""Kill `overlap index build` at random moments: no reader ever accepts the partial index,
and `--resume` converges to the index an uninterrupted run builds."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from overlap.io import bundled as data
from overlap.index.manifest import IndexError_, read_manifest
from overlap.io import Example
from overlap.pipeline.scan import scan_examples

SOURCES = [str(p) for p in data.reference_sources() if p.name != "python-docs.jsonl.gz"]
BUILD = [sys.executable, "-m", "overlap.cli", "index", "build", *SOURCES, "--signals", "ngram,minhash", "--workers", "1"]
PROBE = [Example(0, "0", "", "", "the prime minister said on tuesday that the government would act", None)]


def _digests(index: Path) -> dict[str, str]:
    manifest = read_manifest(index)
    return {f"{s['name']}/{f}": i["sha256"] for s in manifest.shards for f, i in s["files"].items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "idx"
    subprocess.run([*BUILD, "--out", str(out)], check=True, capture_output=True)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_killed_build_is_refused_then_resumes_to_the_same_index(tmp_path, reference, seed):
    out = tmp_path / "idx"
    rng = random.Random(seed)
    proc = subprocess.Popen([*BUILD, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.3, 3.0))
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # Killed after its manifest was written, a build is complete; before, it must be refused.
    if killed and not (out / "manifest.json").exists():
        with pytest.raises(IndexError_):
            scan_examples(PROBE, out)
        # The dead build's lock is stale: a resumed build takes it over.
        subprocess.run([*BUILD, "--out", str(out), "--resume"], check=True, capture_output=True)
    assert _digests(out) == _digests(reference)
    assert scan_examples(PROBE, out).equals(scan_examples(PROBE, reference))
    # A lock left by a killed build is stale (its pid is gone) and the next build takes it over.
    assert not list(out.glob(".tmp-*"))
