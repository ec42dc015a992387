"""Smaller things a user meets: --quiet after the subcommand, Ctrl-C, `index verify`, --out into a
foreign folder, the card's threshold on the familiarity scale, first-use scans waiting for each other."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from overlap import api
from overlap.io import bundled as data
from overlap.pipeline import build
from overlap.pipeline.build import build_index
from overlap.cli import main
from overlap.index.manifest import IndexError_


def _corpus(path: Path, n: int = 120) -> Path:
    with gzip.open(data.corpora_dir() / "reference" / "abc-news.jsonl.gz", "rt", encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle][:n]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("details")
    build_index([_corpus(root / "news.jsonl")], root / "idx", signals="ngram")
    return root / "idx"


def test_quiet_is_accepted_after_the_subcommand(small_index):
    result = CliRunner().invoke(main, ["index", "info", str(small_index), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "signals: ngram" in result.output


def test_index_info_gives_the_label_threshold_on_the_familiarity_scale(small_index):
    result = CliRunner().invoke(main, ["index", "info", str(small_index)])
    assert "labelled familiar at familiarity >= 0.5" in result.output
    assert "AUROC" in result.output


def test_index_verify_checks_every_file(small_index, tmp_path):
    ok = CliRunner().invoke(main, ["index", "verify", str(small_index)])
    assert ok.exit_code == 0 and "files match their checksums" in ok.output
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small_index, copy)
    docs = next(copy.glob("shard-*-f2")) / "docs.parquet"
    docs.write_bytes(docs.read_bytes()[:-10])
    bad = CliRunner().invoke(main, ["index", "verify", str(copy)])
    assert bad.exit_code == 1 and "docs.parquet" in bad.output and "truncated" in bad.output


def test_build_refuses_an_unrelated_non_empty_folder(tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(IndexError_, match="not empty and not an overlap index"):
        build_index([_corpus(tmp_path / "news.jsonl", 30)], out, signals="ngram")
    assert sorted(p.name for p in out.iterdir()) == ["holiday.jpg"]


def test_ctrl_c_during_a_build_says_how_to_resume(monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "build_index", interrupted)
    result = CliRunner().invoke(main, ["index", "build", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "i")])
    assert result.exit_code == 130
    assert "--resume" in result.output and "Traceback" not in result.output


def test_ctrl_c_inside_compiled_code_during_a_scan_is_one_line(monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("CPUDispatcher(<function probe>) returned a result with an exception set") from exc

    monkeypatch.setattr(api, "scan", interrupted)
    result = CliRunner().invoke(main, ["scan", str(tmp_path / "d.jsonl"), "--out", str(tmp_path / "s.parquet")])
    assert result.exit_code == 130
    assert result.output.strip() == "interrupted: nothing was written"


def test_a_first_use_scan_waits_for_another_building_the_default_index(monkeypatch, tmp_path):
    directory = tmp_path / "cache" / "index"
    directory.mkdir(parents=True)
    corpus = _corpus(tmp_path / "news.jsonl", 60)
    monkeypatch.setattr(build, "default_index_dir", lambda: directory)
    monkeypatch.setattr(data, "reference_sources", lambda: [corpus])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
    (directory / ".lock").write_text(str(other.pid))  # another first use, building
    messages: list[str] = []
    reaper = threading.Thread(target=other.wait)
    reaper.start()
    try:
        assert api.default_index(messages.append) == directory
    finally:
        reaper.join()
    assert any("waiting for another overlap process" in m for m in messages)
    assert (directory / "manifest.json").exists()


def test_a_record_without_an_id_among_records_with_ids_is_a_clear_error(tmp_path):
    from overlap.io import InputError, read_dataset

    lines = [{"id": str(i + 1), "prompt": f"question {i}", "response": f"answer {i}"} for i in range(5)]
    lines.append({"prompt": "question 5", "response": "answer 5"})
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in lines))
    with pytest.raises(InputError) as caught:
        read_dataset(dataset)
    message = str(caught.value)
    assert "line 6" in message and "missing id field" in message and "duplicate" not in message
    examples, rejects = read_dataset(dataset, on_error="skip")
    assert len(examples) == 5 and len(rejects) == 1


def test_the_embedding_cache_size_is_shown_and_it_can_be_cleared(monkeypatch, tmp_path):
    monkeypatch.setenv("OVERLAP_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "embeddings" / "abc123"
    folder.mkdir(parents=True)
    (folder / "vectors-x.npy").write_bytes(b"\0" * 2_000_000)
    info = CliRunner().invoke(main, ["cache", "info"])
    assert info.exit_code == 0 and "embeddings: 2.0 MB" in info.output
    cleared = CliRunner().invoke(main, ["cache", "clear"])
    assert cleared.exit_code == 0 and "2.0 MB freed" in cleared.output
    assert not (tmp_path / "cache" / "embeddings").exists()


def test_a_resampled_dataset_can_get_unique_ids_and_be_read_again(tmp_path):
    import numpy as np

    from overlap.io import read_dataset
    from overlap.io.copy import copy_records

    dataset = tmp_path / "d.jsonl"
    dataset.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"q {i}", "response": f"a {i}"}) + "\n"
                               for i in range(4)))
    rows = np.array([0, 2, 2, 3, 2])
    copy_records(dataset, rows, tmp_path / "plain.jsonl")
    with pytest.raises(Exception, match="duplicate id 'r2'"):
        read_dataset(tmp_path / "plain.jsonl")
    copy_records(dataset, rows, tmp_path / "unique.jsonl", unique_ids="id")
    examples, _ = read_dataset(tmp_path / "unique.jsonl")
    assert [e.id for e in examples] == ["r0", "r2", "r2#2", "r3", "r2#3"]
    lines = (tmp_path / "unique.jsonl").read_text().splitlines()
    assert lines[1] == (tmp_path / "d.jsonl").read_text().splitlines()[2]  # first copies keep their bytes


def test_an_oversized_record_is_refused_without_holding_it_in_memory(tmp_path):
    import gzip as gz
    import tracemalloc

    from overlap.io import InputError, iter_corpus_batches, read_dataset

    limit = 1 << 20
    dataset = tmp_path / "big.jsonl.gz"
    with gz.open(dataset, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "a", "text": "short one"}) + "\n")
        handle.write('{"id": "b", "text": "' + "word " * (8 * limit) + '"}\n')  # 40 MiB on one line
        handle.write(json.dumps({"id": "c", "text": "short two"}) + "\n")
    tracemalloc.start()
    examples, rejects = read_dataset(dataset, on_error="skip", max_text_bytes=limit)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [e.id for e in examples] == ["a", "c"] and len(rejects) == 1 and rejects[0].line == 2
    assert peak < 20 * limit  # the 40 MiB line was never held whole
    with pytest.raises(InputError, match="line 2.*over the"):
        read_dataset(dataset, max_text_bytes=limit)
    batches = list(iter_corpus_batches([dataset], on_error="skip", max_text_bytes=limit))
    assert sum(len(b.ids) for b in batches) == 2
