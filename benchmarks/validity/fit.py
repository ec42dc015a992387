"""Fit the combined score on the labelled benchmark and write ``benchmarks/validity/calibration.json``.

Usage::

    python benchmarks/validity/run.py --scores val.parquet     # scan the labelled set
    python benchmarks/validity/fit.py val.parquet              # fit, print, write the calibration
    python benchmarks/release.py                               # copy it into the package (what ships)

For every subset of signals an index can hold, a logistic regression (the one
the build's self-calibration uses, ``overlap.scoring.calibrate``) on the signals
(``overlap.scoring.score.feature_names``) is fitted with every
kind weighted equally. The label threshold lets at most ``--max-false`` of the
held-out same-style novel text be called familiar, halfway into the gap above
the last held-out score it must keep out (``overlap.scoring.calibrate.threshold_for``);
``familiarity`` is then ``sigmoid(sharpness * (z - threshold))``, so 0.5 is the label boundary and the ranking (AUROC) is the regression's own.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_set import FAMILIAR_KINDS  # noqa: E402

from overlap.scoring.calibrate import fit_model, subset_columns  # noqa: E402
from overlap import signals as registry  # noqa: E402

SIGNALS = registry.score_columns()
OUT = Path(__file__).resolve().parent / "calibration.json"  # benchmarks/release.py ships it


def fit(scores: pl.DataFrame, signals: tuple[str, ...], max_false: float) -> dict:
    """Coefficients and threshold for one subset of signals (``overlap.scoring.calibrate.fit_model``)."""
    kinds = scores["kind"].to_numpy()
    present = [n for n in registry.scored_columns() if n in scores.columns]
    columns = subset_columns({n: scores[n].fill_null(0.0).to_numpy().astype(float) for n in present}, signals)
    return fit_model(columns, kinds, max_false, familiar=np.isin(kinds, FAMILIAR_KINDS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", help="scores of the labelled set (run.py --scores)")
    parser.add_argument("--max-false", type=float, default=0.04, help="held-out novel share allowed above threshold")
    parser.add_argument("--out", default=str(OUT), help="default: benchmarks/validity/calibration.json")
    args = parser.parse_args(argv)
    scores = pl.read_parquet(args.scores).filter(pl.col("kind") != "copied")  # run.py's set-aside copies
    models = []
    for size in range(1, len(SIGNALS) + 1):
        for subset in itertools.combinations(SIGNALS, size):
            models.append(fit(scores, subset, args.max_false))
            print(json.dumps(models[-1]))
    Path(args.out).write_text(json.dumps({"source": "benchmarks/validity/fit.py", "models": models}, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
