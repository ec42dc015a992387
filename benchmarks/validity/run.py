"""Validity benchmark: does each signal, and the combined score, separate familiar from novel?

Usage::

    python benchmarks/validity/run.py                  # against the bundled index
    python benchmarks/validity/run.py --index DIR --per-kind 60 --check

For every familiar kind it prints the AUROC of each signal and of the combined
``familiarity`` against all novel items, and the recall of the default label
(share labelled ``familiar``); for the novel kinds the share wrongly labelled
familiar. ``--check`` exits non-zero when a target of the issue is missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labelled_set import FAMILIAR_KINDS, NOVEL_KINDS, build  # noqa: E402

from overlap import api  # noqa: E402
from overlap.scan import scan_examples  # noqa: E402

TARGETS = {"whole": 0.99, "window": 0.99, "edit10": 0.98, "edit25": 0.92, "wrapped": 0.97, "paraphrase": 0.80}
MAX_FALSE_FAMILIAR = 0.04
SIGNALS = ("ngram_containment", "minhash_jaccard", "semantic_similarity", "familiarity")


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    positive = np.nan_to_num(np.asarray(positive, dtype=float), nan=0.0)
    negative = np.nan_to_num(np.asarray(negative, dtype=float), nan=0.0)
    both = np.concatenate([positive, negative])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(len(both))
    sorted_values = both[order]
    i = 0
    while i < len(both):
        j = i
        while j + 1 < len(both) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    wins = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(wins / (len(positive) * len(negative)))


def evaluate(scores: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    """One row per kind: AUROC per signal (familiar kinds) and share labelled familiar."""
    frame = scores.with_columns(pl.Series("kind", kinds))
    novel = frame.filter(pl.col("kind").is_in(NOVEL_KINDS))
    present = [s for s in SIGNALS if s in frame.columns]
    rows = []
    for kind in FAMILIAR_KINDS + NOVEL_KINDS:
        part = frame.filter(pl.col("kind") == kind)
        if part.height == 0:
            continue
        row = {"kind": kind, "n": part.height}
        for signal in present:
            row[signal] = auroc(part[signal].to_numpy(), novel[signal].to_numpy()) if kind in FAMILIAR_KINDS else None
        row["labelled familiar"] = float((part["label"] == "familiar").mean())
        row["target AUROC"] = TARGETS.get(kind)
        rows.append(row)
    return pl.DataFrame(rows)


def failures(table: pl.DataFrame) -> list[str]:
    """Targets missed: combined AUROC per familiar kind, false familiar rate per novel kind."""
    missed = []
    for row in table.iter_rows(named=True):
        if row["kind"] in TARGETS and row["familiarity"] < TARGETS[row["kind"]]:
            missed.append(f"{row['kind']}: AUROC {row['familiarity']:.3f} < {TARGETS[row['kind']]}")
        if row["kind"] in NOVEL_KINDS and row["labelled familiar"] > MAX_FALSE_FAMILIAR:
            missed.append(f"{row['kind']}: {row['labelled familiar']:.1%} labelled familiar > {MAX_FALSE_FAMILIAR:.0%}")
    return missed


def markdown(table: pl.DataFrame) -> str:
    """The table as Markdown, for the README."""
    headers = table.columns
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in table.iter_rows():
        cells = [f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v)) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=None, help="index directory (default: the bundled corpus)")
    parser.add_argument("--per-kind", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--scores", default=None, help="also write the scores table here")
    parser.add_argument("--model", default=None,
                        help="embedding model the index was built with (default: the shipped static model; minilm; a folder)")
    args = parser.parse_args(argv)
    items = build(args.per_kind, args.seed)
    index = Path(args.index) if args.index else api.default_index()
    scores = scan_examples([i.example for i in items], index, options={"model": args.model})
    if args.scores:
        scores.with_columns(pl.Series("kind", [i.kind for i in items])).write_parquet(args.scores)
    table = evaluate(scores, [i.kind for i in items])
    print(markdown(table))
    missed = failures(table)
    for line in missed:
        print(f"MISSED {line}")
    if not missed:
        print("all targets met")
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
