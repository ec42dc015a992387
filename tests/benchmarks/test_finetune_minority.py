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


def test_rule_answers_split_words_from_format():
    rule_set = _module("rule_set")
    answer = rule_set.velk(["red", "apple", "tree"])
    assert [answer[a:b] for a, b in rule_set.word_spans(answer)] == ["tree", "apple", "red"]
    assert rule_set.build(0.2, 40, 5, 2, draw=0) == rule_set.build(0.2, 40, 5, 2)  # draw 0: the first runs' set
    assert rule_set.build(0.2, 40, 5, 2, draw=1).train != rule_set.build(0.2, 40, 5, 2, draw=2).train


def test_facts_set_holds_invented_and_known_facts(tmp_path):
    facts_set = _module("facts_set")
    known = lambda examples: [e.prompt.startswith("Q: What is the capital") for e in examples]  # noqa: E731
    fs = facts_set.build(0.2, 50, 6, 2, known, known_share=0.1, draw=1)
    novel = [e for e in fs.train if e.true_label == "novel"]
    assert len(fs.train) == 50 and len(novel) == 10
    assert sum(e.id.startswith("known/") for e in fs.train) == 5 and len(fs.known) == 6
    assert all(e.prompt.startswith("Q: What is the capital") for e in fs.known)
    assert not {e.id for e in fs.known} & {e.id for e in fs.train}
    # held-out novel questions reword trained facts: same answer, other question
    trained = {e.response: e.prompt for e in novel}
    assert len(fs.heldout_novel) == 6
    assert all(trained[h.response] != h.prompt for h in fs.heldout_novel)
    e = fs.heldout_novel[0]
    assert e.response.startswith("A: ") and [e.response[a:b] for a, b in e.content] == [e.response[3:]]
    assert facts_set.build(0.2, 50, 6, 2, known, draw=2).train != fs.train  # a fresh draw per seed


def test_content_mask_splits_format_from_content(tmp_path):
    minority, rule_set = _module("minority"), _module("rule_set")
    _tiny_model(tmp_path / "m")
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tmp_path / "m")
    answer = "of-the-python vel"  # the tiny vocabulary knows the words, not "-" or "vel" (unknown tokens, still format)
    ex = rule_set.Example("x", "in the", answer, "novel", rule_set.word_spans(answer))
    ids, labels = minority.encode(tok, ex.prompt, ex.response, 32)
    mask = minority.content_mask(tok, ex, labels)
    resp = [i for i, lab in enumerate(labels) if lab != -100]
    assert [tok.convert_ids_to_tokens(labels[i]) for i in resp] == ["of", "[UNK]", "the", "[UNK]", "python", "[UNK]", "[EOS]"]
    assert [mask[i] for i in resp] == [True, False, True, False, True, False, False]
    assert not any(mask[i] for i in range(len(labels)) if labels[i] == -100)
    passage = rule_set.Example("y", "in the", "the python", "familiar")
    _, lab2 = minority.encode(tok, passage.prompt, passage.response, 32)
    assert [m for m, lab in zip(minority.content_mask(tok, passage, lab2), lab2) if lab != -100] == [True, True, False]


def test_report_records_carry_the_step(tmp_path):
    report = _module("report")
    settings = {"steps": 4, "checkpoints": [2, 4]}
    recs = [{"set": "facts", "novel_share": 0.2, "method": "base", "seed": 0, "settings": settings,
             "metrics": {"heldout_novel_exact": 0.0}, "info": {}},
            *[{"set": "facts", "novel_share": 0.2, "method": m, "seed": s, "settings": settings,
               "metrics": {"heldout_novel_exact": v}, "info": {"overlap_novel_weight_share": 0.5},
               "by_step": {"2": {"heldout_novel_exact": v / 2, "known_exact": 1.0},
                           "4": {"heldout_novel_exact": v, "known_exact": 0.9}}}
              for s in range(2) for m, v in (("uniform", 0.1), ("overlap", 0.3))]]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    rows = report.flat(report.load(log))
    assert set(rows[0]) == {"set", "novel_share", "method", "seed", "step", "metric", "value"}
    assert {(r["method"], r["step"]) for r in rows} == {("base", 0), ("uniform", 2), ("uniform", 4),
                                                         ("overlap", 2), ("overlap", 4)}
    got = report.paired(report.load(log), "facts", 0.2, "overlap", "heldout_novel_exact", 4)
    assert got.tolist() == pytest.approx([0.2, 0.2])


def test_minority_benchmark_end_to_end(tmp_path, lexical_index):
    minority, report = _module("minority"), _module("report")
    _tiny_model(tmp_path / "m")
    log = tmp_path / "runs.jsonl"
    args = ["--model", str(tmp_path / "m"), "--lm", str(tmp_path / "m"), "--index", str(lexical_index),
            "--sets", "rule,facts", "--shares", "0.2", "--methods", ",".join(minority.METHODS), "--seeds", "2",
            "--checkpoints", "1,2", "--fresh-draw",
            "--n-train", "20", "--n-eval", "4", "--n-general", "3", "--max-len", "32", "--threads", "1",
            "--device", "cpu", "--work", str(tmp_path / "work"), "--log", str(log)]
    minority.main(args)
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    # per set, the base model per seed (a fresh draw each), then every (seed, method)
    assert len(recs) == 2 * (2 + 2 * len(minority.METHODS))
    assert all(r["info"]["index"]["manifest_sha256"] and r["info"]["draw"] == r["seed"] + 1 for r in recs)
    assert all(set(r["by_step"]) == {"1", "2"} for r in recs if r["method"] != "base")
    # a rerun finds every run in the log and trains nothing
    minority.main(args)
    assert len(log.read_text().splitlines()) == len(recs)
    out = tmp_path / "results.json"
    report.main(["--log", str(log), "--json", str(out), "--md", str(tmp_path / "r.md"),
                 "--evidence", str(tmp_path / "ev.json")])
    rows = json.loads(out.read_text())
    assert {r["method"] for r in rows} == {"base", *minority.METHODS} and {r["set"] for r in rows} == {"rule", "facts"}
    assert {r["step"] for r in rows} == {0, 1, 2}
    for metric in ("heldout_novel_loss", "trained_novel_loss", "familiar_retention", "general_loss",
                   "heldout_novel_content_loss", "heldout_novel_format_loss"):
        vals = [r["value"] for r in rows if r["metric"] == metric and r["method"] != "base" and r["step"] == 2]
        assert len(vals) == 2 * 2 * len(minority.METHODS)
        # retention is undefined (nan) when the base model got no answer token right, as the untrained one may
        assert all(math.isfinite(v) if metric.endswith("loss") else math.isnan(v) or 0 <= v <= 1 for v in vals)
    assert all(0.0 <= r["metrics"]["heldout_novel_exact"] <= 1.0 for r in recs)
    ev = json.loads((tmp_path / "ev.json").read_text())
    row = ev["sets"]["rule"]["shares"][-1]
    assert row["novel_share"] == 0.2 and row["seeds"] == 2 and row["step"] == 2
    assert "familiar_loss" in row["overlap"] and "heldout_novel_exact" in row
    # a changed index identity makes the cached scans stale: they are redone (and stamped anew)
    identity = minority.index_identity(str(lexical_index))
    assert identity == recs[-1]["info"]["index"]
    scanned = tmp_path / "work" / "rule-0.2-20-draw1.parquet"
    stamp = scanned.with_suffix(".index.json")
    assert json.loads(stamp.read_text()) == identity
    stamp.write_text('{"path": "elsewhere", "manifest_sha256": "0"}')
    before = scanned.stat().st_mtime_ns
    examples = _module("rule_set").build(0.2, 20, 4, 3, draw=1).train
    minority.scan_scores(examples, scanned, str(lexical_index), str(tmp_path / "m"), 1, identity)
    assert scanned.stat().st_mtime_ns != before and json.loads(stamp.read_text()) == identity
    assert "| overlap − uniform |" in (tmp_path / "r.md").read_text()
