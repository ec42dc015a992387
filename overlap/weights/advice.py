"""What the fine-tune benchmark measured for a set's novel share, quoted in `overlap reweight`'s summary.

The numbers live in ``finetune_evidence.json`` beside this module, written by
``benchmarks/finetune/report.py`` from the benchmark's run log; nothing here is typed in by hand.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

EVIDENCE_FILE = Path(__file__).with_name("finetune_evidence.json")


@lru_cache(maxsize=1)
def evidence() -> dict:
    """The shipped benchmark evidence (``{"shares": [...]}``, empty when the file is missing)."""
    if not EVIDENCE_FILE.exists():
        return {"shares": []}
    return json.loads(EVIDENCE_FILE.read_text())


def nearest(novel_share: float, shares: list[dict]) -> dict | None:
    """The measured share closest to ``novel_share`` on a log scale (ratios, not differences, matter)."""
    if not shares:
        return None
    x = max(novel_share, 1e-3)
    return min(shares, key=lambda s: abs(math.log(max(s["novel_share"], 1e-3) / x)))


def _uniform(row: dict) -> bool:
    """Whether the default weights were exactly uniform at this measured share (the target already met)."""
    return abs(row.get("overlap_novel_weight_share", math.nan) - row["novel_share"]) < 1e-9


def _pct(x: float) -> str:
    return f"{100 * x:+.0f}%" if abs(x) >= 0.095 else f"{100 * x:+.1f}%"


def measured(novel_share: float) -> str:
    """One paragraph: the set's regime (its novel share) and what the benchmark measured nearest to it."""
    ev = evidence()
    row = nearest(novel_share, ev["shares"])
    if row is not None and _uniform(row) and novel_share < row["novel_share"]:
        # A set below that share is still reweighted: quote the nearest share where weights moved.
        row = nearest(novel_share, [r for r in ev["shares"] if not _uniform(r)]) or row
    head = f"This set is {100 * novel_share:.0f}% novel by the scan."
    if row is None or "overlap" not in row:
        return head + " No fine-tune measurement ships with this installation."
    if abs(math.log(max(row["novel_share"], 1e-3) / max(novel_share, 1e-3))) > math.log(2):
        shares = ", ".join(f"{100 * r['novel_share']:.0f}%" for r in ev["shares"])
        head += f" Nothing was measured near that share (measured: {shares}); the nearest says:"
    if _uniform(row):
        return (f"{head} In the fine-tune benchmark (SmolLM2-135M, an invented rule as {100 * row['novel_share']:.0f}% "
                f"of the set) the novel rows already held the default target share, so the default weights were "
                f"exactly uniform and training was unchanged; its gains were measured on smaller novel shares, "
                f"where the weights move (see {ev['link']}).")
    o = row["overlap"]
    spread = f"95% CI {_pct(o['ci95'][0])} to {_pct(o['ci95'][1])}" if o["ci95"] else "one seed, no interval"
    text = (f"{head} In the fine-tune benchmark (SmolLM2-135M, an invented rule as {100 * row['novel_share']:.0f}% "
            f"of the set, {row['seeds']} seed(s), equal steps), the default weights changed the loss on held-out "
            f"instances of the novel rule by {_pct(o['heldout_novel_loss_change'])} against uniform training "
            f"({spread})")
    shown = {"permuted": "permuted", "oracle": "oracle", "model": "base-model loss labels"}
    others = [f"{label} {_pct(row[name]['heldout_novel_loss_change'])}" for name, label in shown.items()
              if name in row]
    if others:
        text += " (" + ", ".join(others) + ")"
    text += (f"; familiar-answer retention {100 * o['familiar_retention_change']:+.1f} points, general-text loss "
             f"{_pct(o['general_loss_change'])}. Details: {ev['link']}.")
    return text
