"""A corpus of a style overlap was never fitted on, many times the bundled one: the fixed calibration
drifts, the index's own stays within the 5% bar, and its card agrees with the validity benchmark."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks" / "validity"))

MIN_WORDS = 10_000_000  # the bundled corpus holds 1.9M words


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="measured on 17M words (man pages + python docs + wordnet + fortunes), "
                   "lexical signals, 200 per kind, 1,000 held-out windows: fixed calibration 15.2% false familiar, "
                   "self-calibrated 6.2% (bar 5%), card 4.6%; card edit25 AUROC 0.940 against 0.906 measured "
                   "(containment alone 0.847); few long unseen documents, whose share of corpus text varies")
def test_self_calibration_holds_where_the_fixed_one_drifts(tmp_path):
    import gather

    words = gather.gather(tmp_path / "corpus")
    if sum(words.values()) < MIN_WORDS:
        pytest.skip(f"only {sum(words.values())} words of offline text here (man pages, python3.11-doc, ...)")
    from overlap.scoring import score
    from overlap.pipeline.build import build_index

    index = tmp_path / "idx"
    manifest = build_index([tmp_path / "corpus" / "corpus.jsonl"], index, signals="ngram,minhash")
    assert manifest.calibration["status"] == "fitted"
    scores_file = tmp_path / "val.parquet"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "validity" / "run.py"), "--index", str(index),
         "--heldout", str(tmp_path / "corpus" / "unseen.jsonl"), "--per-kind", "200", "--scores", str(scores_file),
         "--check"],
        capture_output=True, text=True,
    )
    scores = pl.read_parquet(scores_file)
    unseen = scores.filter(pl.col("kind") == "heldout")
    signals = {c: unseen[c].fill_null(0.0).to_numpy() for c in ("ngram_containment", "minhash_jaccard")}
    fixed = float((score.familiarity(signals) >= score.FAMILIAR_AT).mean())
    own = float((unseen["label"] == "familiar").mean())
    assert own <= 0.05, result.stdout
    assert fixed > 0.05 and fixed > 2 * own, (fixed, own)
    assert "MISSED card" not in result.stdout, result.stdout
