"""Self-calibration per index: hold-out by id hash, the fit and its card in the manifest, the fallback."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from click.testing import CliRunner

from overlap.scoring import calibrate
from overlap.io import bundled as data
from overlap.scoring import planting
from overlap.scoring import score
from overlap.pipeline.build import build_index
from overlap.cli import main
from overlap.index.manifest import read_manifest
from overlap.pipeline.scan import scan_examples
from overlap.io import Example


def test_holdout_rate_follows_corpus_size():
    assert calibrate.holdout_rate_for(calibrate.MIN_SOURCE_BYTES - 1) == 0.0
    assert calibrate.holdout_rate_for(calibrate.MIN_SOURCE_BYTES) == calibrate.MAX_HOLDOUT_RATE
    big = calibrate.holdout_rate_for(1 << 40)
    assert 0 < big < 1e-5 and big * (1 << 40) == pytest.approx(calibrate.HOLDOUT_TARGET_BYTES, rel=0.1)


def test_holdout_is_deterministic_and_near_its_rate():
    ids = [f"doc/{i}" for i in range(20000)]
    chosen = [calibrate.held_out(i, 0.05) for i in ids]
    assert chosen == [calibrate.held_out(i, 0.05) for i in ids]
    assert 0.045 < np.mean(chosen) < 0.055
    assert not any(calibrate.held_out(i, 0.0) for i in ids[:100])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=4), min_size=0, max_size=120), st.integers(1, 5),
       st.integers(0, 120))
def test_gatherers_of_parts_merged_in_order_equal_one_gatherer_of_all(ids, kfold, cut):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(calibrate, "INDEXED_SAMPLE", 7)  # small, so that the sample is a choice
        _gather_in_two_parts(ids, kfold, cut)


def _gather_in_two_parts(ids: list[str], kfold: int, cut: int) -> None:
    folds = calibrate.heldout_folds(0.0, kfold)
    docs = [(calibrate.fold_of(doc_id, 0.0, kfold), doc_id, f"text {n}") for n, doc_id in enumerate(ids)]
    whole, first, second, backwards = (calibrate.Gatherer(folds) for _ in range(4))
    for n, (fold, doc_id, text) in enumerate(docs):
        position = (int(n >= cut), n)  # (file, line): the ids repeat, the positions do not
        whole.add(fold, doc_id, text, position)
        (first if n < cut else second).add(fold, doc_id, text, position)
    for n, (fold, doc_id, text) in reversed(list(enumerate(docs))):
        backwards.add(fold, doc_id, text, (int(n >= cut), n))
    first.merge(second)
    assert first.documents == whole.documents == len(ids)
    assert first.held == whole.held
    for fold in folds:
        assert first.sample(fold) == whole.sample(fold) == backwards.sample(fold)  # in any order, the same sample


def test_threshold_lets_at_most_the_allowed_share_through():
    scores = np.random.default_rng(0).normal(size=200)
    cut = calibrate.threshold_for(scores, 0.04)
    assert (scores >= cut).mean() <= 0.04
    assert (scores >= cut - 0.05).mean() > 0.04


def test_threshold_over_a_tie_at_the_lowest_score_sits_in_the_gap_above_it():
    heldout = np.zeros(100)
    assert calibrate.threshold_for(heldout, 0.04, np.array([0.8, 1.0])) == 0.4
    heldout[:3] = 0.2  # three may pass; the cut still lies above the tie at zero
    assert calibrate.threshold_for(heldout, 0.04, np.array([1.0])) == 0.1


def test_a_threshold_fitted_on_few_documents_keeps_a_margin_and_on_many_does_not():
    scores = np.random.default_rng(4).normal(size=2000)
    point = calibrate.threshold_for(scores, 0.04)
    # 2,000 documents of one window each: 4% is bounded under 5% already, so nothing changes.
    assert calibrate.threshold_for(scores, 0.04, groups=np.arange(2000)) == point
    # The same windows from 100 documents: fewer let through, until the upper bound is at most 5%.
    few = np.repeat(np.arange(100), 20)
    cut = calibrate.threshold_for(scores, 0.04, groups=few)
    assert cut > point
    assert calibrate.upper_bound(scores >= cut, few) <= calibrate.MAX_FALSE_FAMILIAR_UPPER
    assert calibrate.upper_bound(scores >= point, few) > calibrate.MAX_FALSE_FAMILIAR_UPPER


def test_the_margin_never_lifts_the_threshold_to_a_verbatim_copy():
    scores = np.random.default_rng(5).normal(size=200)
    groups = np.repeat(np.arange(10), 20)  # 10 documents: no rate over them is bounded under 5%
    point = calibrate.threshold_for(scores, 0.04)
    ceiling = point + 0.05
    cut = calibrate.threshold_for(scores, 0.04, groups=groups, ceiling=ceiling)
    assert point <= cut < ceiling
    # Six held-out windows outscore the planted verbatim copies (0.45), within the 4% let through:
    # however few the documents, the margin stops below the copies.
    kinds = np.array(["heldout"] * 200 + ["window"] * 20 + ["edit25"] * 20)
    heldout = np.concatenate([np.linspace(0.0, 0.3, 194), np.linspace(0.46, 0.49, 6)])
    jaccard = np.concatenate([heldout, np.full(20, 0.45), np.full(20, 0.2)])
    model = calibrate.fit_model({"minhash_jaccard": jaccard}, kinds,
                                groups=np.concatenate([groups, np.full(40, -1)]))
    fam = score.familiarity({"minhash_jaccard": np.array([0.45, 1.0])}, {"models": [model]})
    assert score.label(fam).tolist() == ["familiar", "familiar"]


def test_a_fit_where_held_out_text_never_overlaps_keeps_zero_overlap_novel():
    rng = np.random.default_rng(2)
    kinds = np.array(["heldout"] * 100 + ["window"] * 50)
    jaccard = np.concatenate([np.zeros(100), rng.uniform(0.05, 1.0, 50)])
    model = calibrate.fit_model({"minhash_jaccard": jaccard}, kinds)
    assert model["coefficients"][0] > 0
    fam = score.familiarity({"minhash_jaccard": np.array([0.0, 0.05, 1.0])}, {"models": [model]})
    assert score.label(fam).tolist() == ["novel", "familiar", "familiar"]


def test_the_fit_never_gives_a_signal_negative_weight():
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(300, 1))
    y = (x[:, 0] > 0.5).astype(float)
    # The second feature is the first minus noise that anticorrelates with the label.
    design = np.column_stack([x[:, 0], x[:, 0] - 0.3 * y])
    coef, _ = calibrate.nonnegative_logistic(design, y, np.ones(300))
    assert (coef >= 0).all() and coef[0] > 0


def test_logistic_separates_and_matches_its_optimum():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=400) > 0).astype(float)
    w = np.ones(400)
    coef, intercept = calibrate.logistic(x, y, w)
    assert coef[0] > coef[1] > 0
    # The gradient of the regularised objective vanishes at the returned optimum.
    p = 1 / (1 + np.exp(-(x @ coef + intercept)))
    assert np.allclose(calibrate.C * x.T @ (p - y) + coef, 0, atol=1e-6)


def test_bundled_index_is_self_calibrated(lexical_index):
    manifest = read_manifest(lexical_index)
    cal = manifest.calibration
    # 13 MB of sources, under MIN_SOURCE_BYTES: each document is held out once, in one of KFOLDS folds.
    assert cal["status"] == "fitted" and manifest.holdout_rate == 0.0 and manifest.holdout_kfold == calibrate.KFOLDS
    by_fold: dict[int, set] = {}
    for shard in manifest.shards:
        ids = set(pq.read_table(lexical_index / shard["name"] / "docs.parquet")["id"].to_pylist())
        fold = shard.get("fold", 0)
        assert shard["name"].endswith(f"-f{fold}") if fold else "-f" not in shard["name"]
        assert all(calibrate.fold_of(i, 0.0, calibrate.KFOLDS) == fold for i in ids)
        by_fold.setdefault(fold, set()).update(ids)
    assert sorted(by_fold) == list(range(calibrate.KFOLDS))
    everything = set().union(*by_fold.values())
    assert sum(map(len, by_fold.values())) == len(everything) == manifest.counts()["documents"]  # each indexed once
    assert cal["heldout"]["indexed"] and set(cal["heldout"]["ids"]) <= everything
    card = cal["card"]
    assert card["false_familiar"] <= 0.05
    assert card["auroc"]["whole"] >= 0.99 and card["auroc"]["window"] >= 0.99
    assert {tuple(m["signals"]) for m in cal["models"]} == {
        ("ngram_containment",), ("minhash_jaccard",), ("ngram_containment", "minhash_jaccard")}


def test_scan_uses_the_index_calibration(lexical_index):
    manifest = read_manifest(lexical_index)
    folder = lexical_index / manifest.shards[0]["name"]
    doc = pq.read_table(folder / "docs.parquet")["text"][0].as_py()
    words = doc.split()
    texts = [" ".join(planting.edit(random.Random(0), words[:120], 0.25, words)), "an unseen line"]
    examples = [Example(row=i, id=str(i), prompt="", response="", text=t, category=None) for i, t in enumerate(texts)]
    scores = scan_examples(examples, lexical_index)
    signals = {c: scores[c].to_numpy() for c in ("ngram_containment", "ngram_alignment", "minhash_jaccard")}
    own = score.familiarity(signals, manifest.calibration)
    bundled = score.familiarity(signals)
    assert np.allclose(scores["familiarity"].to_numpy(), own)
    assert not np.allclose(own, bundled)


def _write(path: Path, docs: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for d in docs:
            handle.write(json.dumps(d) + "\n")
    return path


def _bundled(name: str) -> list[dict]:
    with gzip.open(data.corpora_dir() / "reference" / name, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_small_corpus_calibrates_itself_by_folds(tmp_path):
    corpus = _write(tmp_path / "small.jsonl", _bundled("abc-news.jsonl.gz")[:100])
    manifest = build_index([corpus], tmp_path / "idx", signals="ngram")
    assert manifest.holdout_kfold == calibrate.KFOLDS and manifest.counts()["documents"] == 100
    cal = manifest.calibration
    assert cal["status"] == "fitted" and cal["heldout"]["kfold"] == calibrate.KFOLDS
    assert {s.get("fold", 0) for s in manifest.shards} == set(range(calibrate.KFOLDS))
    info = CliRunner().invoke(main, ["index", "info", str(tmp_path / "idx")])
    assert f"{calibrate.KFOLDS} folds, each held out once, all indexed afterwards" in info.output
    assert "AUROC" in info.output and "window" in info.output


def test_corpus_too_small_to_hold_anything_out_falls_back_and_says_why(tmp_path):
    corpus = _write(tmp_path / "tiny.jsonl", _bundled("abc-news.jsonl.gz")[:30])
    manifest = build_index([corpus], tmp_path / "idx", signals="ngram")
    assert manifest.counts()["documents"] == 30
    assert manifest.calibration["status"] == "fallback"
    assert "too small to hold anything out" in manifest.calibration["reason"]
    examples = [Example(row=0, id="0", prompt="", response="", text=_bundled("abc-news.jsonl.gz")[0]["text"], category=None)]
    scores = scan_examples(examples, tmp_path / "idx")
    assert scores["familiarity"][0] == pytest.approx(
        score.familiarity({"ngram_containment": scores["ngram_containment"].to_numpy()})[0])
    info = CliRunner().invoke(main, ["index", "info", str(tmp_path / "idx")])
    assert "validity: bundled calibration (corpus too small to hold anything out" in info.output


def test_adding_sources_refits(tmp_path):
    news = _bundled("abc-news.jsonl.gz")
    first = _write(tmp_path / "a.jsonl", news[:120])
    second = _write(tmp_path / "b.jsonl", news[120:])
    manifest = build_index([first], tmp_path / "idx", signals="ngram,minhash", holdout_rate=0.12)
    assert manifest.calibration["status"] == "fallback" and "fewer than" in manifest.calibration["reason"]
    manifest = build_index([second], tmp_path / "idx")
    assert manifest.holdout_rate == 0.12
    cal = manifest.calibration
    assert cal["status"] == "fitted"
    assert cal["heldout"]["documents"] + cal["heldout"]["duplicates"] == manifest.counts()["held_out"] >= 20
    info = CliRunner().invoke(main, ["index", "info", str(tmp_path / "idx")])
    assert "held-out text labelled familiar" in info.output and "edit25" in info.output


def test_planted_windows_cycle_through_every_length():
    rng = random.Random(4)
    vocabulary = ["".join(rng.choice("abcdefgh") for _ in range(6)) for _ in range(5000)]
    docs = [" ".join(rng.choice(vocabulary) for _ in range(300)) for _ in range(20)]
    items = planting.plant(docs, 10, 0) + planting.heldout_windows(docs, 10, 1)
    for kind in ("window", "edit10", "edit25", "heldout"):
        lengths = [len(i.text.split()) for i in items if i.kind == kind]
        assert lengths == list(planting.WINDOW_LENGTHS) * 2, kind


def test_copies_are_texts_the_corpus_holds_half_of_by_any_lexical_measure():
    columns = {"ngram_containment": np.array([0.1, 0.6, 0.0, 0.2, np.nan]),
               "ngram_alignment": np.array([0.3, 0.6, 0.0, 0.5, np.nan]),
               "minhash_jaccard": np.array([0.0, 0.0, 0.7, 0.0, np.nan])}
    assert calibrate.copied(columns).tolist() == [False, True, True, True, False]


def test_a_rate_over_windows_of_few_documents_is_as_uncertain_as_its_documents():
    hits = np.array([1] * 10 + [0] * 190, dtype=bool)  # 5% of 200 windows
    rate, alone = calibrate.clustered_rate(hits, np.arange(200))  # each window its own document
    same, clustered = calibrate.clustered_rate(hits, np.repeat(np.arange(20), 10))  # 10 windows a document
    assert rate == same == 0.05
    assert clustered > alone >= np.sqrt(0.05 * 0.95 / 200) - 1e-12
    # Nothing let through on a few documents is still not a certain 0.
    assert calibrate.clustered_rate(np.zeros(100, dtype=bool), np.repeat(np.arange(10), 10))[1] > 0


def _fold_part(copied_doc: bool, n: int = 40):
    """One fold of fit_folds' input: 40 held-out documents, one window each, and planted copies;
    the lexical columns of the documents say whether they copy others."""
    rng = np.random.default_rng(0)
    fi = calibrate.FoldItems(0, [str(i) for i in range(n)], [""] * n,
                             [planting.Planted(planting.HELDOUT, False, "", source=i) for i in range(n)]
                             + [planting.Planted(k, True, "", source=i) for k in planting.PLANTED_KINDS
                                for i in range(n)])
    size = len(fi.items)
    held = np.arange(size) < n
    columns = {"ngram_containment": np.where(held, rng.uniform(0, 0.3, size), rng.uniform(0.6, 1, size)),
               "ngram_alignment": np.where(held, rng.uniform(0, 0.3, size), rng.uniform(0.6, 1, size))}
    doc = {"ngram_containment": np.full(n, 0.9 if copied_doc else 0.0),
           "ngram_alignment": np.full(n, 0.9 if copied_doc else 0.0)}
    return fi, doc, columns


def test_windows_of_documents_that_copy_others_stay_novel_text_unless_copies_themselves():
    """The reference of novel text is every held-out window that is not itself a copy, as the
    benchmarks measure novel text: a document that repeats others elsewhere still has novel parts."""
    cal = calibrate.fit_folds([_fold_part(False), _fold_part(True)], 0.0, 2)
    assert cal["status"] == "fitted"
    assert cal["heldout"]["duplicates"] == 40 and cal["heldout"]["documents"] == 40
    assert cal["items"][planting.HELDOUT] == 80  # the copying documents' windows too
    card = cal["card"]
    assert card["heldout_documents"] == 80
    assert card["false_familiar"] <= card["false_familiar_upper"] <= 1.0 and card["false_familiar_se"] > 0
    assert any("at 95%" in line for line in calibrate.card_lines(cal))
    # The threshold lets through what the card says it was fitted to, within the 4% and its margin.
    assert 0 <= card["fitted_false_familiar"] <= calibrate.MAX_FALSE_FAMILIAR
    assert any("too few to bound it under 5% at 95%" in line for line in calibrate.card_lines(cal))
