"""What the fine-tune benchmark measured for a set's novel share, quoted in `overlap reweight`'s summary.

The numbers live in ``finetune_evidence.json`` beside this module, written by
``benchmarks/finetune/report.py`` from the benchmark's run logs; nothing here is typed in by hand.
The advice says what was measured (which kind of novelty, loss or exact match, how many steps), the
costs with their intervals, whether the novel items were learned at all, and warns where a set's share
is not one that was measured. It never quotes one neighbouring share alone when the set lies between
two: it quotes both.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

EVIDENCE_FILE = Path(__file__).with_name("finetune_evidence.json")
NEAR = 1.25  # a measured share within this ratio of the set's share is "the same share"
CONTESTED = ("The direction is contested: Gekhman et al. (2024) found that facts a model does not know are "
             "fitted late and, once fitted, raise hallucination on facts it knew; up-weighting novel rows can "
             "make that worse.")


@lru_cache(maxsize=1)
def evidence() -> dict:
    """The shipped benchmark evidence (``{"sets": {...}}``, empty when the file is missing)."""
    if not EVIDENCE_FILE.exists():
        return {"sets": {}}
    return json.loads(EVIDENCE_FILE.read_text())


def _ratio(a: float, b: float) -> float:
    return math.exp(abs(math.log(max(a, 1e-3) / max(b, 1e-3))))


def nearest(novel_share: float, shares: list[dict]) -> dict | None:
    """The measured share closest to ``novel_share`` on a log scale (ratios, not differences, matter)."""
    if not shares:
        return None
    return min(shares, key=lambda s: _ratio(s["novel_share"], novel_share))


def quoted(novel_share: float, shares: list[dict]) -> tuple[list[dict], str]:
    """The measured rows to quote for a set and the warning that goes with them (``""``: none).

    Within a factor ``NEAR`` of a measured share: that share. Between two measured shares: both (the
    effect in between was not measured, and the more favourable one alone would flatter). Outside
    the measured range: the edge, with a warning that it is no prediction for this set."""
    if not shares:
        return [], ""
    ordered = sorted(shares, key=lambda s: s["novel_share"])
    measured = ", ".join(f"{100 * s['novel_share']:.0f}%" for s in ordered)
    met = [s for s in ordered if _uniform(s) and novel_share >= s["novel_share"]]
    if met:  # at or above a share whose novel rows already met the target: the weights are uniform here too
        return [met[0]], ""
    near = nearest(novel_share, ordered)
    if _ratio(near["novel_share"], novel_share) <= NEAR and not _uniform(near):
        return [near], ""
    below = [s for s in ordered if s["novel_share"] < novel_share]
    above = [s for s in ordered if s["novel_share"] > novel_share]
    if below and above:
        return [below[-1], above[0]], (f"Warning: this share was not measured (measured: {measured}); it lies "
                                       f"between the two below, and the effect at it may be either or neither.")
    return [near], (f"Warning: this share is outside what was measured (measured: {measured}); the nearest "
                    f"measured share, quoted next, is no prediction for this set.")


def _uniform(row: dict) -> bool:
    """Whether the default weights were exactly uniform at this measured share (the target already met)."""
    return abs(row.get("overlap_novel_weight_share", math.nan) - row["novel_share"]) < 1e-9


def _pct(x: float) -> str:
    return f"{100 * x:+.0f}%" if abs(x) >= 0.095 else f"{100 * x:+.1f}%"


def _pts(x: float) -> str:
    return f"{100 * x:+.1f} points"


def _change(c: dict | None, fmt) -> str:
    if not c:
        return "not measured"
    ci = f" (95% CI {fmt(c['ci95'][0])} to {fmt(c['ci95'][1])})" if c.get("ci95") else " (one seed, no interval)"
    return fmt(c["mean"]) + ci


def _row_text(row: dict) -> str:
    share = f"{100 * row['novel_share']:.0f}%"
    if _uniform(row):
        return (f"At {share} novel the novel rows already held the default target share: the default weights were "
                f"exactly uniform and training was unchanged (no gain, no cost).")
    o = row.get("overlap", {})
    exact = row.get("heldout_novel_exact", {})
    text = (f"At {share} novel ({row['seeds']} seed(s), {row['step']} steps): held-out novel exact match "
            f"uniform {100 * exact.get('uniform', math.nan):.0f}%, overlap {100 * exact.get('overlap', math.nan):.0f}% "
            f"(change {_change(o.get('heldout_novel_exact'), _pts)})")
    if exact and all(v == 0 for v in exact.values()):
        text += (f"; no method answered any held-out novel item exactly, so the novel items were not learned in "
                 f"{row['step']} steps and any gain is in loss only")
    text += f". Held-out novel loss against uniform {_change(o.get('heldout_novel_loss'), _pct)}"
    score = row.get("model_score", "lm_loss")
    names = {"model": "base-model labels (" + ("whole-text lm_loss, a weaker form of this baseline"
                                               if score == "lm_loss" else score) + ")", "zlib": "lm_zlib labels",
             "permuted": "permuted", "oracle": "oracle"}
    others = [f"{label} {_pct(row[m]['heldout_novel_loss']['mean'])}" for m, label in names.items()
              if m in row and "heldout_novel_loss" in row[m]]
    if others:
        text += " (" + ", ".join(others) + ")"
    text += (f". Costs against uniform: familiar loss {_change(o.get('familiar_loss'), _pct)}, general-text loss "
             f"{_change(o.get('general_loss'), _pct)}, familiar retention {_change(o.get('familiar_retention'), _pts)}")
    if "known_exact" in o:
        text += f", accuracy on facts the model knew {_change(o['known_exact'], _pts)}"
    return text + "."


def measured(novel_share: float) -> str:
    """The set's regime (its novel share), then per benchmark set what was measured nearest to it."""
    ev = evidence()
    head = f"This set is {100 * novel_share:.0f}% novel by the scan."
    sets = {name: s for name, s in ev.get("sets", {}).items() if s.get("shares")}
    if not sets:
        return head + " No fine-tune measurement ships with this installation."
    parts = [head]
    for name, s in sets.items():
        last = {}
        for row in s["shares"]:  # the longest run measured at each share
            if row["novel_share"] not in last or row["step"] > last[row["novel_share"]]["step"]:
                last[row["novel_share"]] = row
        rows, warning = quoted(novel_share, list(last.values()))
        parts.append(f"Fine-tune benchmark, set `{name}` ({s['kind']}; {ev.get('model', 'a small model')}):")
        if warning:
            parts.append(warning)
        parts += [_row_text(r) for r in rows]
    if "facts" not in sets:
        parts.append("New facts were not measured; only the set above was.")
    parts.append(CONTESTED)
    parts.append(f"Details: {ev.get('link', 'benchmarks/finetune/')}.")
    return " ".join(parts)
