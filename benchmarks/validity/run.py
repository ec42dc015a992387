"""Validity benchmark: does each signal, and the combined score, separate familiar from novel?

Usage::

    python benchmarks/validity/run.py                  # against the bundled index
    python benchmarks/validity/run.py --index DIR --per-kind 200 --check
    python benchmarks/validity/run.py --index DIR --heldout unseen.jsonl --check   # any index

For every familiar kind it prints the AUROC of each signal and of the combined
``familiarity`` against all novel items, the recall of the default label (share
labelled ``familiar``) and of ``familiar_content``; for the novel kinds the
share wrongly labelled familiar. Beside them, the index's own validity card
(``overlap index info``) and, with ``--check``, whether it agrees with this
measurement within ``CARD_TOLERANCE``. ``--check`` exits non-zero when a target
is missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labelled_set import FAMILIAR_KINDS, NOVEL_KINDS, build, read_texts  # noqa: E402

from overlap import api  # noqa: E402
from overlap import signals as registry  # noqa: E402
from overlap.scoring import calibrate  # noqa: E402
from overlap.scoring.calibrate import auroc  # noqa: E402
from overlap.index.manifest import read_manifest  # noqa: E402
from overlap.pipeline.options import ScanOptions  # noqa: E402
from overlap.pipeline.scan import scan_examples  # noqa: E402

TARGETS = {"whole": 0.995, "window": 0.995, "edit10": 0.99, "edit25": 0.95, "wrapped": 0.99, "paraphrase": 0.80}
MAX_FALSE_FAMILIAR = 0.04
CARD_TOLERANCE = 0.02
SIGNALS = (*registry.scored_columns(), "familiarity")


def evaluate(scores: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    """One row per kind: AUROC per signal (familiar kinds) and share labelled familiar."""
    frame = scores.with_columns(pl.Series("kind", kinds))
    novel = frame.filter(pl.col("kind").is_in(NOVEL_KINDS))
    heldout = frame.filter(pl.col("kind") == "heldout")
    present = [s for s in SIGNALS if s in frame.columns]
    rows = []
    for kind in FAMILIAR_KINDS + NOVEL_KINDS:
        part = frame.filter(pl.col("kind") == kind)
        if part.height == 0:
            continue
        row = {"kind": kind, "n": part.height}
        for signal in present:
            row[signal] = auroc(part[signal].to_numpy(), novel[signal].to_numpy()) if kind in FAMILIAR_KINDS else None
        row["auroc_heldout"] = (auroc(part["familiarity"].to_numpy(), heldout["familiarity"].to_numpy())
                                if kind in FAMILIAR_KINDS else None)
        row["labelled familiar"] = float((part["label"] == "familiar").mean())
        if "familiar_content" in part.columns:
            row["familiar_content"] = float(part["familiar_content"].fill_null(False).mean())
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
    """The table as Markdown, for benchmarks/validity/README.md."""
    headers = table.columns
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in table.iter_rows():
        cells = [f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v)) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def card_rows(table: pl.DataFrame, card: dict) -> pl.DataFrame:
    """The index's validity card beside this benchmark: AUROC against held-out text, false familiar."""
    frame = table.filter(pl.col("kind") == "heldout")
    rows = []
    for kind, value in card.get("auroc", {}).items():
        measured = table.filter(pl.col("kind") == kind)
        if measured.height:
            rows.append({"kind": kind, "measure": "AUROC vs held-out", "card": value,
                         "benchmark": float(measured["auroc_heldout"][0])})
    if frame.height:
        rows.append({"kind": "heldout", "measure": "labelled familiar", "card": card["false_familiar"],
                     "benchmark": float(frame["labelled familiar"][0])})
    return pl.DataFrame(rows).with_columns((pl.col("card") - pl.col("benchmark")).abs().alias("difference"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=None, help="index directory (default: the bundled corpus)")
    parser.add_argument("--per-kind", type=int, default=60,
                        help="planted items per kind (the build's card uses overlap.scoring.calibrate.PER_KIND)")
    parser.add_argument("--heldout-windows", type=int, default=None,
                        help="held-out windows (default: with --heldout as many as the build's card uses, "
                             "overlap.scoring.calibrate.HELDOUT_ITEMS; else twice --per-kind, as many as the chats)")
    parser.add_argument("--seed", type=int, default=1, help="the build's self-calibration uses seed 0")
    parser.add_argument("--heldout", nargs="*", default=None,
                        help="documents of the index's style it never saw (default: the bundled held-out text)")
    parser.add_argument("--text-field", default=None, help="text field of the --heldout files")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--scores", default=None, help="also write the scores table here")
    parser.add_argument("--model", default=None,
                        help="embedding model the index was built with (default: the shipped static model; minilm; a folder)")
    args = parser.parse_args(argv)
    index = Path(args.index) if args.index else api.default_index()
    heldout = read_texts(args.heldout, args.text_field) if args.heldout else None
    windows = args.heldout_windows or (calibrate.HELDOUT_ITEMS if heldout is not None else None)
    items = build(index, args.per_kind, args.seed, heldout, windows)
    scores = scan_examples([i.example for i in items], index, ScanOptions(model=args.model))
    kinds = [i.kind for i in items]
    # As the build's card does: a held-out window the corpus holds half of is a copy, not unseen text.
    copies = calibrate.copied({c: scores[c].to_numpy() for c in SIGNALS if c in scores.columns})
    kinds = ["copied" if k == "heldout" and c else k for k, c in zip(kinds, copies)]
    table = evaluate(scores, kinds)
    print(f"{kinds.count('copied')} held-out windows set aside as copies (overlap.scoring.calibrate.copied)")
    if args.scores:
        scores.with_columns(pl.Series("kind", kinds)).write_parquet(args.scores)
    print(markdown(table))
    missed = failures(table)
    card = read_manifest(index).calibration.get("card")
    if card:
        agreement = card_rows(table, card)
        print("\nthe index's validity card against this benchmark:\n" + markdown(agreement))
        # The card's negatives are the index's own held-out documents: comparable with --heldout text
        # set aside the same way (by id hash), not with the bundled held-out pages, chosen by hand.
        if args.check and heldout is not None:
            missed += [f"card {r['kind']} {r['measure']}: {r['card']:.3f} vs {r['benchmark']:.3f}"
                       for r in agreement.iter_rows(named=True) if r["difference"] > CARD_TOLERANCE]
    for line in missed:
        print(f"MISSED {line}")
    if not missed:
        print("all targets met")
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
