"""The bundled corpora are found, and the cache folder follows $OVERLAP_CACHE, then $XDG_CACHE_HOME."""

import gzip
import json
from pathlib import Path

from overlap.io import bundled

from helpers import ROOT


def test_reference_sources_are_the_bundled_jsonl_gz_files_in_order():
    sources = bundled.reference_sources()
    assert bundled.corpora_dir().resolve() in (ROOT / "corpora", ROOT / "overlap" / "corpora")
    assert len(sources) >= 3 and sources == sorted(sources)
    assert all(p.name.endswith(".jsonl.gz") and p.parent.name == "reference" for p in sources)
    with gzip.open(sources[0], "rt", encoding="utf-8") as handle:
        first = json.loads(handle.readline())
    assert isinstance(first["id"], str) and isinstance(first["text"], str) and first["text"]


def test_sample_dataset_is_a_jsonl_of_records():
    lines = bundled.sample_dataset().read_text(encoding="utf-8").splitlines()
    assert len(lines) > 10 and all(isinstance(json.loads(line), dict) for line in lines)


def test_cache_dir_order(monkeypatch, tmp_path):
    monkeypatch.setenv("OVERLAP_CACHE", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert bundled.cache_dir() == tmp_path / "own"
    monkeypatch.delenv("OVERLAP_CACHE")
    assert bundled.cache_dir() == tmp_path / "xdg" / "overlap"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert bundled.cache_dir() == Path.home() / ".cache" / "overlap"
