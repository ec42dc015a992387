"""The minority fine-tune benchmark (benchmarks/finetune/minority.py) end to end on a tiny model."""
import importlib
import json
import math
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from helpers import tiny_model as _tiny_model  # noqa: E402

from helpers import ROOT  # noqa: E402
FT = ROOT / "benchmarks/finetune"


def _module(name: str):
    if str(FT) not in sys.path:
        sys.path.insert(0, str(FT))
    return importlib.import_module(name)


def test_rule_set_is_a_minority_with_new_heldout_instances():
    rule_set = _module("rule_set")
    assert rule_set.velk(["red", "apple", "tree"]) == "tree-apple-red vel"
    small, large = rule_set.build(0.05, 100, 10, 3), rule_set.build(0.5, 100, 10, 3)
    for s, n in ((small, 5), (large, 50)):
        assert len(s.train) == 100 and sum(e.true_label == "novel" for e in s.train) == n
    assert {e.id for e in small.train if e.true_label == "novel"} < {e.id for e in large.train}
    assert small.heldout_novel == large.heldout_novel and small.heldout_familiar == large.heldout_familiar
    trained = {e.response for e in large.train}
    assert not any(e.response in trained for e in small.heldout_novel + small.heldout_familiar)


def test_minority_benchmark_end_to_end(tmp_path, lexical_index):
    minority, report = _module("minority"), _module("report")
    _tiny_model(tmp_path / "m")
    log = tmp_path / "runs.jsonl"
    args = ["--model", str(tmp_path / "m"), "--lm", str(tmp_path / "m"), "--index", str(lexical_index),
            "--shares", "0.2", "--methods", ",".join(minority.METHODS), "--seeds", "2", "--steps", "2",
            "--n-train", "20", "--n-eval", "4", "--n-general", "3", "--max-len", "32", "--threads", "1",
            "--device", "cpu", "--work", str(tmp_path / "work"), "--log", str(log)]
    minority.main(args)
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(recs) == 1 + 2 * len(minority.METHODS)  # the base model once, then every (seed, method)
    # a rerun finds every run in the log and trains nothing
    minority.main(args)
    assert len(log.read_text().splitlines()) == len(recs)
    out = tmp_path / "results.json"
    report.main(["--log", str(log), "--json", str(out), "--md", str(tmp_path / "r.md"),
                 "--evidence", str(tmp_path / "ev.json")])
    rows = json.loads(out.read_text())
    assert {r["method"] for r in rows} == {"base", *minority.METHODS}
    for metric in ("heldout_novel_loss", "trained_novel_loss", "familiar_retention", "general_loss"):
        vals = [r["value"] for r in rows if r["metric"] == metric and r["method"] != "base"]
        assert len(vals) == 2 * len(minority.METHODS)
        # retention is undefined (nan) when the base model got no answer token right, as the untrained one may
        assert all(math.isfinite(v) if metric.endswith("loss") else math.isnan(v) or 0 <= v <= 1 for v in vals)
    assert all(0.0 <= r["metrics"]["heldout_novel_exact"] <= 1.0 for r in recs)
    ev = json.loads((tmp_path / "ev.json").read_text())
    assert ev["shares"][0]["novel_share"] == 0.2 and ev["shares"][0]["seeds"] == 2
    assert "| overlap − uniform |" in (tmp_path / "r.md").read_text()
