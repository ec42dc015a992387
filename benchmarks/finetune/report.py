"""Turn the minority benchmark's run logs into results.json, Markdown tables and the shipped evidence.

    python benchmarks/finetune/report.py [--log benchmarks/finetune/minority-runs.jsonl --log ...grid-runs.jsonl]

Writes ``results.json`` (records ``{"set", "novel_share", "method", "seed", "step", "metric", "value"}``;
a run evaluated at several checkpoints gives one record per step, a run of the first log its last step,
the base model step 0), ``results-minority.md`` (per set, share and step: mean ± std over seeds per
method, and per-seed differences to uniform with a 95% t interval), and ``finetune_evidence.json``
beside this script, what ``overlap reweight`` quotes once ``python benchmarks/release.py`` has copied it
into the package (``overlap/weights/``). Per log and set, only runs with the settings of that set's last
record count, the latest record per run.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
METHOD_ORDER = ("base", "uniform", "overlap", "permuted", "oracle", "model", "zlib")
SHOWN = ("heldout_novel_loss", "heldout_novel_exact", "heldout_novel_content_acc", "heldout_novel_content_loss",
         "heldout_novel_format_loss", "trained_novel_loss", "trained_novel_exact", "familiar_loss",
         "familiar_retention", "general_loss", "known_exact")
RELATIVE = {"heldout_novel_loss", "trained_novel_loss", "familiar_loss", "general_loss",
            "heldout_novel_content_loss", "heldout_novel_format_loss"}  # also shown in %
KIND = {"rule": "an invented rule (a novel skill: new instances held out)",
        "facts": "invented facts (new knowledge: reworded questions held out), beside facts the base model knew"}
DEFAULT_LOGS = ("minority-runs.jsonl", "grid-runs.jsonl")
LINK = "benchmarks/finetune/results-minority.md"  # in the overlap repository


def load(log: Path) -> list[dict]:
    """Points ``{set, novel_share, method, seed, step, metrics, info, settings}`` of the latest record of
    every run that has the settings of its set's last record in ``log``."""
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    settings = {r["set"]: r["settings"] for r in recs}
    latest = {}
    for r in recs:
        if r["settings"] == settings[r["set"]]:
            latest[(r["set"], r["novel_share"], r["method"], r["seed"])] = r
    points = []
    for r in latest.values():
        steps = r.get("by_step") or {str(0 if r["method"] == "base" else r["settings"]["steps"]): r["metrics"]}
        for step, m in steps.items():
            points.append({"set": r["set"], "novel_share": r["novel_share"], "method": r["method"],
                           "seed": r["seed"], "step": int(step), "metrics": m, "info": r.get("info", {}),
                           "settings": r["settings"]})
    return points


def flat(points: list[dict]) -> list[dict]:
    """One row per (run, step, metric), as results.json holds them."""
    return [{"set": r["set"], "novel_share": r["novel_share"], "method": r["method"], "seed": r["seed"],
             "step": r["step"], "metric": m, "value": v} for r in points for m, v in sorted(r["metrics"].items())]


def paired(points: list[dict], set_name: str, share: float, method: str, metric: str,
           step: int | None = None) -> np.ndarray:
    """Per-seed ``method - uniform`` of ``metric`` at ``step`` (default: the last), over the seeds both have."""
    step = _last_step(points, set_name, share) if step is None else step
    by = {(r["method"], r["seed"]): r["metrics"].get(metric, np.nan) for r in points
          if r["set"] == set_name and r["novel_share"] == share and r["step"] == step}
    seeds = sorted(s for m, s in by if m == method and ("uniform", s) in by)
    d = np.array([by[(method, s)] - by[("uniform", s)] for s in seeds], dtype=float)
    return d[np.isfinite(d)]


def _last_step(points, set_name, share) -> int:
    return max((r["step"] for r in points if r["set"] == set_name and r["novel_share"] == share), default=0)


def interval(d: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t interval of paired differences (nan bounds with fewer than 2)."""
    if len(d) < 2:
        return (float(d.mean()) if len(d) else float("nan"), float("nan"), float("nan"))
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def _values(points, set_name, share, method, metric, step=None):
    if method != "base":
        step = _last_step(points, set_name, share) if step is None else step
    v = np.array([r["metrics"].get(metric, np.nan) for r in points if r["set"] == set_name
                  and r["novel_share"] == share and r["method"] == method and (method == "base" or r["step"] == step)],
                 dtype=float)
    return v[np.isfinite(v)]


def _cell(v: np.ndarray) -> str:
    if not len(v):
        return "-"
    return f"{v.mean():.3f}" + (f" ± {v.std(ddof=1):.3f}" if len(v) > 1 else "")


def _diff_cell(d: np.ndarray, base: float | None) -> str:
    if not len(d):
        return "-"
    mean, lo, hi = interval(d)
    text = f"{mean:+.3f}" + (f" [{lo:+.3f}, {hi:+.3f}]" if np.isfinite(lo) else "")
    return text + (f" ({100 * mean / base:+.1f}%)" if base else "")


def _change(points, set_name, share, method, metric, step, relative: bool) -> dict | None:
    """Paired change of ``metric`` against uniform: mean and 95% interval, relative to uniform's mean
    (losses) or absolute (rates)."""
    d = paired(points, set_name, share, method, metric, step)
    if not len(d):
        return None
    mean, lo, hi = interval(d)
    scale = _values(points, set_name, share, "uniform", metric, step).mean() if relative else 1.0
    return {"mean": mean / scale, "ci95": [lo / scale, hi / scale] if np.isfinite(lo) else None}


EVIDENCE_METRICS = {"heldout_novel_loss": True, "heldout_novel_exact": False, "heldout_novel_content_acc": False,
                    "familiar_loss": True, "familiar_retention": False, "general_loss": True, "known_exact": False}


def evidence(points: list[dict]) -> dict:
    """Per set, share and step: every method's held-out exact match, and each method's paired changes
    against uniform (gain and costs, with intervals), as ``overlap.weights.advice`` reads it."""
    sets = {}
    for set_name in sorted({r["set"] for r in points}):
        rows = []
        for share in sorted({r["novel_share"] for r in points if r["set"] == set_name}):
            steps = sorted({r["step"] for r in points if r["set"] == set_name and r["novel_share"] == share
                            and r["method"] == "uniform"})
            for step in steps:
                uni = _values(points, set_name, share, "uniform", "heldout_novel_loss", step)
                info = next(r["info"] for r in points if r["set"] == set_name and r["novel_share"] == share)
                row = {"novel_share": share, "step": step, "seeds": int(len(uni)),
                       "uniform_heldout_novel_loss": float(uni.mean()),
                       "overlap_novel_weight_share": info["overlap_novel_weight_share"],
                       "heldout_novel_exact": {m: float(v.mean()) for m in METHOD_ORDER
                                               if len(v := _values(points, set_name, share, m,
                                                                   "heldout_novel_exact", step))},
                       "trained_novel_exact": {m: float(v.mean()) for m in METHOD_ORDER
                                               if len(v := _values(points, set_name, share, m,
                                                                   "trained_novel_exact", step))}}
                for m in METHOD_ORDER[2:]:
                    changes = {k: c for k, rel in EVIDENCE_METRICS.items()
                               if (c := _change(points, set_name, share, m, k, step, rel)) is not None}
                    if changes:
                        row[m] = changes
                if "model" in row:  # what the `model` baseline ranked rows by (the first runs: whole-text loss)
                    row["model_score"] = info.get("baseline_score", {}).get("model", "lm_loss")
                rows.append(row)
        sets[set_name] = {"kind": KIND.get(set_name, set_name), "shares": rows,
                          "settings": next(r["settings"] for r in points if r["set"] == set_name)}
    return {"link": LINK, "model": "SmolLM2-135M-Instruct", "sets": sets}


def markdown(points: list[dict]) -> str:
    """Tables per (set, share, step): methods by metric, then paired differences to uniform."""
    lines = ["Mean ± std over seeds; differences are per seed against uniform (same init and batch order), mean "
             "[95% t interval] (relative to uniform's mean). Losses in nats/token (lower is better); exact = share "
             "of held-out items answered exactly by greedy decoding (every answer token, end of sequence included); "
             "content = the tokens of the rule's words or the fact's answer (format: hyphens, ` vel`, `A:`, end of "
             "sequence); retention = share of answer tokens the base model predicted right that still are; "
             "known_exact = exact match on held-out facts the base model knew. Base: the model before training.\n"]
    for set_name in sorted({r["set"] for r in points}):
        settings = next(r["settings"] for r in points if r["set"] == set_name)
        lines.append(f"## set `{set_name}`: {KIND.get(set_name, set_name)}\n")
        lines.append("Settings: " + ", ".join(f"{k} {v}" for k, v in settings.items()) + ".\n")
        for share in sorted({r["novel_share"] for r in points if r["set"] == set_name}):
            info = next(r["info"] for r in points if r["set"] == set_name and r["novel_share"] == share)
            shown = [k for k in SHOWN if any(k in r["metrics"] for r in points
                                             if r["set"] == set_name and r["novel_share"] == share)]
            for step in sorted({r["step"] for r in points if r["set"] == set_name and r["novel_share"] == share
                                and r["method"] != "base"}):
                lines.append(f"### set `{set_name}`, novel share {share:g}, step {step}\n")
                lines.append(f"Scan: {info['scan_novel_share']:.1%} of rows labelled novel, "
                             f"{info['scan_recall']:.0%} of the novel rows; overlap's weights give the novel rows "
                             f"{info['overlap_novel_weight_share']:.1%} of the total weight"
                             + (" (first draw shown)" if info.get("draw") else "") + ".\n")
                lines.append("| method | seeds | " + " | ".join(shown) + " |")
                lines.append("|---|---|" + "---|" * len(shown))
                for m in METHOD_ORDER:
                    n = len(_values(points, set_name, share, m, shown[0], step))
                    if n:
                        lines.append(f"| {m} | {n} | " + " | ".join(
                            _cell(_values(points, set_name, share, m, k, step)) for k in shown) + " |")
                for m in METHOD_ORDER[2:]:
                    if len(paired(points, set_name, share, m, shown[0], step)):
                        lines.append(f"| {m} − uniform | | " + " | ".join(
                            _diff_cell(paired(points, set_name, share, m, k, step),
                                       _values(points, set_name, share, "uniform", k, step).mean()
                                       if k in RELATIVE else None) for k in shown) + " |")
                lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log", action="append", default=None,
                    help="run log (repeatable; default: minority-runs.jsonl and grid-runs.jsonl beside this script, "
                         "those that exist)")
    ap.add_argument("--json", default=str(HERE / "results.json"))
    ap.add_argument("--md", default=str(HERE / "results-minority.md"))
    ap.add_argument("--evidence", default=str(HERE / "finetune_evidence.json"))
    a = ap.parse_args(argv)
    logs = [Path(x) for x in a.log] if a.log else [HERE / n for n in DEFAULT_LOGS if (HERE / n).exists()]
    records = [p for log in logs for p in load(log)]
    Path(a.json).write_text(json.dumps(flat(records), indent=1) + "\n")
    text = markdown(records)
    Path(a.md).write_text(text)
    if a.evidence:
        Path(a.evidence).write_text(json.dumps(evidence(records), indent=1) + "\n")
    print(text)
    return text


if __name__ == "__main__":
    main()
