"""Turn the minority benchmark's run log into results.json, a Markdown table and the shipped evidence.

    python benchmarks/finetune/report.py [--log benchmarks/finetune/minority-runs.jsonl]

Writes ``results.json`` (records ``{"set", "novel_share", "method", "seed", "metric", "value"}``),
``results-minority.md`` (mean ± std over seeds per method, and per-seed differences to uniform with a
95% t interval), and ``finetune_evidence.json`` beside this script, what ``overlap reweight`` quotes once
``python benchmarks/release.py`` has copied it into the package (``overlap/weights/``).
Only runs with the settings of the log's last record count, the latest record per run.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
METHOD_ORDER = ("base", "uniform", "overlap", "permuted", "oracle", "model")
SHOWN = ("heldout_novel_loss", "heldout_novel_exact", "trained_novel_loss", "familiar_loss", "familiar_retention",
         "general_loss")
RELATIVE = {"heldout_novel_loss", "trained_novel_loss", "familiar_loss", "general_loss"}  # also shown in %
LINK = "benchmarks/finetune/results-minority.md"  # in the overlap repository


def load(log: Path) -> list[dict]:
    """The latest record of every run that has the settings of the log's last record."""
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    if not recs:
        return []
    settings = recs[-1]["settings"]
    latest = {}
    for r in recs:
        if r["settings"] == settings:
            latest[(r["set"], r["novel_share"], r["method"], r["seed"])] = r
    return list(latest.values())


def flat(records: list[dict]) -> list[dict]:
    """One row per (run, metric), as results.json holds them."""
    return [{"set": r["set"], "novel_share": r["novel_share"], "method": r["method"], "seed": r["seed"],
             "metric": m, "value": v} for r in records for m, v in sorted(r["metrics"].items())]


def paired(records: list[dict], set_name: str, share: float, method: str, metric: str) -> np.ndarray:
    """Per-seed ``method - uniform`` of ``metric``, over the seeds both have."""
    by = {(r["method"], r["seed"]): r["metrics"][metric] for r in records
          if r["set"] == set_name and r["novel_share"] == share}
    seeds = sorted(s for m, s in by if m == method and ("uniform", s) in by)
    return np.array([by[(method, s)] - by[("uniform", s)] for s in seeds])


def interval(d: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t interval of paired differences (nan bounds with fewer than 2)."""
    if len(d) < 2:
        return (float(d.mean()) if len(d) else float("nan"), float("nan"), float("nan"))
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)


def _values(records, set_name, share, method, metric):
    return np.array([r["metrics"][metric] for r in records if r["set"] == set_name
                     and r["novel_share"] == share and r["method"] == method])


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


def evidence(records: list[dict], set_name: str = "rule") -> dict:
    """Per measured share: overlap, permuted and oracle against uniform, as ``overlap.weights.advice`` reads it."""
    out = []
    for share in sorted({r["novel_share"] for r in records if r["set"] == set_name}):
        uni = _values(records, set_name, share, "uniform", "heldout_novel_loss")
        if not len(uni):
            continue
        info = next(r["info"] for r in records if r["set"] == set_name and r["novel_share"] == share)
        row = {"novel_share": share, "seeds": int(len(uni)), "uniform_heldout_novel_loss": float(uni.mean()),
               "overlap_novel_weight_share": info["overlap_novel_weight_share"]}
        for m in ("overlap", "permuted", "oracle", "model"):
            d = paired(records, set_name, share, m, "heldout_novel_loss")
            if len(d):
                mean, lo, hi = interval(d)
                row[m] = {"heldout_novel_loss_change": mean / uni.mean(),
                          "ci95": [lo / uni.mean(), hi / uni.mean()] if np.isfinite(lo) else None,
                          "familiar_retention_change": interval(paired(records, set_name, share, m,
                                                                       "familiar_retention"))[0],
                          "general_loss_change": interval(paired(records, set_name, share, m, "general_loss"))[0]
                          / _values(records, set_name, share, "uniform", "general_loss").mean()}
        out.append(row)
    settings = records[-1]["settings"] if records else {}
    return {"set": set_name, "link": LINK, "settings": settings, "shares": out}


def markdown(records: list[dict]) -> str:
    """Tables per (set, share): methods by metric, then paired differences to uniform."""
    lines = []
    settings = records[-1]["settings"] if records else {}
    lines.append("Settings: " + ", ".join(f"{k} {v}" for k, v in settings.items()) + ". Mean ± std over seeds; "
                 "differences are per seed against uniform (same init and batch order), mean [95% t interval] "
                 "(relative to uniform's mean). Losses in nats/token (lower is better); exact = share of held-out "
                 "rule instances answered exactly by greedy decoding; retention = share of answer tokens the base "
                 "model predicted right that still are.\n")
    for set_name in sorted({r["set"] for r in records}):
        for share in sorted({r["novel_share"] for r in records if r["set"] == set_name}):
            info = next(r["info"] for r in records if r["set"] == set_name and r["novel_share"] == share)
            lines.append(f"### set `{set_name}`, novel share {share:g}\n")
            lines.append(f"Scan: {info['scan_novel_share']:.1%} of rows labelled novel, "
                         f"{info['scan_recall']:.0%} of the rule rows; overlap's weights give the rule rows "
                         f"{info['overlap_novel_weight_share']:.1%} of the total weight.\n")
            lines.append("| method | seeds | " + " | ".join(SHOWN) + " |")
            lines.append("|---|---|" + "---|" * len(SHOWN))
            for m in METHOD_ORDER:
                n = len(_values(records, set_name, share, m, SHOWN[0]))
                if n:
                    lines.append(f"| {m} | {n} | " + " | ".join(
                        _cell(_values(records, set_name, share, m, k)) for k in SHOWN) + " |")
            for m in METHOD_ORDER[2:]:
                if len(paired(records, set_name, share, m, SHOWN[0])):
                    lines.append(f"| {m} − uniform | | " + " | ".join(
                        _diff_cell(paired(records, set_name, share, m, k),
                                   _values(records, set_name, share, "uniform", k).mean() if k in RELATIVE else None)
                        for k in SHOWN) + " |")
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--log", default=str(HERE / "minority-runs.jsonl"))
    ap.add_argument("--json", default=str(HERE / "results.json"))
    ap.add_argument("--md", default=str(HERE / "results-minority.md"))
    ap.add_argument("--evidence", default=str(HERE / "finetune_evidence.json"))
    a = ap.parse_args(argv)
    records = load(Path(a.log))
    Path(a.json).write_text(json.dumps(flat(records), indent=1) + "\n")
    text = markdown(records)
    Path(a.md).write_text(text)
    if a.evidence:
        Path(a.evidence).write_text(json.dumps(evidence(records), indent=1) + "\n")
    print(text)
    return text


if __name__ == "__main__":
    main()
