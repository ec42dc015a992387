"""Does reweighting teach a novel minority better at equal steps? Set 1: an invented rule.

For each novel share, the training set (``rule_set.build``) is labelled by ``overlap scan`` in a
separate process (so no numba kernel runs in the training process; with ``--lm`` the same scan also
scores every row with the base model), and the model is fine-tuned once per (seed, method), paired
by seed: the same initial weights, batch order, steps and learning rate; only the per-example loss
weights differ:

* ``uniform``: all 1;
* ``overlap``: ``overlap reweight`` defaults on the scan's labels;
* ``permuted``: the same weights randomly permuted over the rows (same spread, no information);
* ``oracle``: the same policy on the true labels (how each row was made);
* ``model``: the same policy on labels from the base model alone: the rows with the highest
  ``lm_loss`` are called novel, as many as the scan called novel.

Every finished run is appended to ``--log`` (JSONL) and skipped on a rerun with the same settings,
so an interrupted benchmark resumes. ``report.py`` turns the log into tables and results.json.
"""
from __future__ import annotations

import os

os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")  # before anything can import numba

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import rule_set  # noqa: E402


def _harness():
    """The fine-tune harness ``run.py`` beside this file, loaded under its own name: a plain
    ``import run`` would get whichever ``run`` module was imported first (benchmarks/validity has one)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("finetune_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["finetune_run"] = module
    spec.loader.exec_module(module)
    return module


_run = _harness()
batchify, encode, load_model, per_example_loss = _run.batchify, _run.encode, _run.load_model, _run.per_example_loss

from overlap.weights.reweight import compute_weights  # noqa: E402

METHODS = ("uniform", "overlap", "permuted", "oracle", "model")
SET_NAME = "rule"


def scan_scores(examples: list[rule_set.Example], path: Path, index: str | None, lm: str,
                threads: int) -> pl.DataFrame:
    """``overlap scan`` of ``examples`` (as user/assistant chats), run once in a subprocess and cached at ``path``."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        ds = path.with_suffix(".jsonl")
        ds.write_text("".join(json.dumps({"id": e.id, "messages": [
            {"role": "user", "content": e.prompt}, {"role": "assistant", "content": e.response}]}) + "\n"
            for e in examples))
        cmd = [sys.executable, "-m", "overlap.cli", "scan", str(ds), "--out", str(path), "--overwrite"]
        cmd += ["--index", index] if index else []
        cmd += ["--lm", lm]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads)}
        subprocess.run(cmd, check=True, stdout=sys.stderr, env=env)
    return pl.read_parquet(path)


def method_weights(scores: pl.DataFrame, examples: list[rule_set.Example], methods: list[str]) -> dict[str, np.ndarray]:
    """Per-row weights (mean 1) of every method but ``permuted``, which is drawn per seed."""
    assert scores["id"].cast(pl.Utf8).to_list() == [e.id for e in examples]

    def policy(labels: list[str]) -> np.ndarray:
        w = compute_weights(scores.with_columns(pl.Series("label", labels)))["weight"].to_numpy()
        return w / w.mean()

    scanned = scores["label"].to_list()
    out = {"uniform": np.ones(len(examples)), "overlap": policy(scanned),
           "oracle": policy([e.true_label for e in examples])}
    if "model" in methods:
        k = sum(lab == "novel" for lab in scanned)
        top = set(np.argsort(-scores["lm_loss"].to_numpy(), kind="stable")[:k].tolist())
        out["model"] = policy(["novel" if i in top else "familiar" for i in range(len(examples))])
    return out


@torch.no_grad()
def evaluate(model, items: list[tuple[list[int], list[int]]], pad: int, bs: int, device: str) -> dict[str, object]:
    """Mean answer loss, exact-match rate (every answer token the greedy choice) and per-token correctness."""
    model.eval()
    losses, exact, correct = [], [], []
    for s in range(0, len(items), bs):
        ids, lab, att = (t.to(device) for t in batchify(items[s:s + bs], pad))
        logits = model(input_ids=ids, attention_mask=att).logits[:, :-1].float()
        tgt = lab[:, 1:]
        mask = tgt != -100
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt.clamp(min=0), reduction="none")
        hit = (logits.argmax(-1) == tgt) | ~mask
        losses += ((nll * mask).sum(1) / mask.sum(1).clamp(min=1)).tolist()
        exact += hit.all(1).tolist()
        correct += hit[mask].tolist()
    model.train()
    return {"loss": float(np.mean(losses)), "exact": float(np.mean(exact)), "correct": np.array(correct)}


def metrics(model, groups: dict[str, list], base: dict[str, dict] | None, pad: int, bs: int,
            device: str) -> tuple[dict[str, float], dict[str, dict]]:
    """The logged metrics of a model, and its raw evaluations (kept for the base model's retention)."""
    ev = {g: evaluate(model, items, pad, bs, device) for g, items in groups.items()}
    out = {}
    for g, r in ev.items():
        out[f"{g}_loss"] = r["loss"]
        out[f"{g}_exact"] = r["exact"]
        if g in ("familiar", "general"):
            ref = base[g]["correct"] if base else r["correct"]
            out[f"{g}_retention"] = float(r["correct"][ref].mean()) if ref.any() else float("nan")
    return out, ev


def train(model, params, items, weights, order, a) -> None:
    """``a.steps`` AdamW steps of batch ``a.batch`` over ``order``; loss = mean(weight x response loss)."""
    opt = torch.optim.AdamW(params, lr=a.lr)
    model.train()
    for step in range(a.steps):
        b = order[step * a.batch:(step + 1) * a.batch]
        ids, lb, att = (t.to(a.device) for t in batchify([items[i] for i in b], a.pad))
        loss = (per_example_loss(model, ids, lb, att) * torch.tensor(weights[b], dtype=torch.float32,
                                                                     device=a.device)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def trainable(model, layers: int) -> list:
    """Freeze all but the last ``layers`` transformer blocks and the final norm (0: train everything)."""
    params = list(model.parameters())
    for p in params:
        p.requires_grad_(layers == 0)
    if layers == 0:
        return params
    chosen = [p for block in model.model.layers[-layers:] for p in block.parameters()]
    chosen += list(model.model.norm.parameters())
    for p in chosen:
        p.requires_grad_(True)
    return chosen


def batch_order(n: int, steps: int, batch: int, seed: int) -> np.ndarray:
    """The seed's batch order (whole epochs of permutations), shared by every method."""
    rng = np.random.default_rng(seed)
    need = steps * batch
    return np.concatenate([rng.permutation(n) for _ in range(-(-need // n))])[:need]


def _done(log: Path | None) -> dict[tuple, dict]:
    if not log or not log.exists():
        return {}
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return {(r["set"], r["novel_share"], r["method"], r["seed"], json.dumps(r["settings"], sort_keys=True)): r
            for r in recs}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default", help="the fine-tuned model (default: bundled SmolLM2-135M)")
    ap.add_argument("--lm", default="default", help="model scoring rows for the `model` method (as scan --lm)")
    ap.add_argument("--index", default=None, help="index to scan against (default: the bundled corpus)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--shares", default="0.2", help="comma-separated novel shares")
    ap.add_argument("--methods", default="uniform,overlap,permuted,oracle")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-len", type=int, default=48)
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--n-eval", type=int, default=32)
    ap.add_argument("--n-general", type=int, default=24)
    ap.add_argument("--train-layers", type=int, default=6, help="train only the last N blocks (+ final norm); 0 = all")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", default=str(HERE / "minority"), help="folder for the scanned sets")
    ap.add_argument("--log", default=str(HERE / "minority-runs.jsonl"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    methods = [m for m in a.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        ap.error(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    log = Path(a.log) if a.log else None
    settings = {k: getattr(a, k) for k in ("model", "steps", "lr", "batch", "max_len", "n_train", "n_eval",
                                           "n_general", "train_layers")}
    key_settings = json.dumps(settings, sort_keys=True)
    done = _done(log)
    records = []
    model = tok = init = None
    for share in [float(s) for s in a.shares.split(",")]:
        rs = rule_set.build(share, a.n_train, a.n_eval, a.n_general)
        todo = [(seed, m) for seed, m in [(0, "base")] + [(s, m) for s in range(a.seeds) for m in methods]
                if (SET_NAME, share, m, seed, key_settings) not in done]
        if not todo:
            records += [r for k, r in done.items() if k[0] == SET_NAME and k[1] == share]
            continue
        scores = scan_scores(rs.train, Path(a.work) / f"{SET_NAME}-{share:g}-{a.n_train}.parquet", a.index, a.lm,
                             a.threads)
        weights = method_weights(scores, rs.train, methods)
        if model is None:
            model, tok = load_model(a.model, a.device)
            init = {k: v.detach().clone() for k, v in model.state_dict().items()}
        a.pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        enc = lambda e: encode(tok, e.prompt, e.response, a.max_len)  # noqa: E731
        items = [enc(e) for e in rs.train]
        gen = []
        for t in rs.general:
            ids = tok(t, add_special_tokens=False)["input_ids"][:a.max_len]
            gen.append((ids, [-100] + ids[1:]))
        groups = {"heldout_novel": [enc(e) for e in rs.heldout_novel],
                  "trained_novel": [items[i] for i, e in enumerate(rs.train) if e.true_label == "novel"],
                  "familiar": [enc(e) for e in rs.heldout_familiar], "general": gen}
        model.load_state_dict(init)
        base_metrics, base_eval = metrics(model, groups, None, a.pad, a.batch, a.device)
        scan_novel = float((scores["label"] == "novel").mean())
        info = {"scan_novel_share": scan_novel,
                "scan_recall": float(np.mean([lab == "novel" for lab, e in zip(scores["label"], rs.train)
                                              if e.true_label == "novel"])) if share else float("nan"),
                "overlap_novel_weight_share": float(weights["overlap"][[e.true_label == "novel" for e in rs.train]].sum()
                                                    / len(rs.train))}
        print(f"share {share:g}: train {len(rs.train)}, scan novel share {scan_novel:.3f}, "
              f"{json.dumps(info)}", file=sys.stderr)
        finished = {(k[3], k[2]): r["metrics"] for k, r in done.items()
                    if k[0] == SET_NAME and k[1] == share and k[4] == key_settings}
        for seed, method in todo:
            twin = next((m for m in ("uniform", "overlap", "oracle")
                         if m != method and m in weights and method in weights
                         and np.array_equal(weights[m], weights[method]) and (seed, m) in finished), None)
            if method == "base":
                rec_metrics, seconds = base_metrics, 0.0
            elif twin:  # identical weights, init and batches: the same run, not repeated
                rec_metrics, seconds = finished[(seed, twin)], 0.0
            else:
                w = (np.random.default_rng(1000 + seed).permutation(weights["overlap"]) if method == "permuted"
                     else weights[method])
                model.load_state_dict(init)
                torch.manual_seed(seed)
                started = time.monotonic()
                train(model, trainable(model, a.train_layers), items, w,
                      batch_order(len(items), a.steps, a.batch, seed), a)
                seconds = time.monotonic() - started
                rec_metrics, _ = metrics(model, groups, base_eval, a.pad, a.batch, a.device)
            finished[(seed, method)] = rec_metrics
            rec = {"set": SET_NAME, "novel_share": share, "method": method, "seed": seed, "settings": settings,
                   "metrics": rec_metrics, "info": info, "train_seconds": round(seconds, 1), "same_run_as": twin}
            records.append(rec)
            if log:
                with log.open("a") as fh:
                    fh.write(json.dumps(rec) + "\n")
            print(f"share {share:g} seed {seed} {method} ({seconds:.0f}s): "
                  + ", ".join(f"{k} {v:.4f}" for k, v in rec_metrics.items()), file=sys.stderr)
        records += [r for k, r in done.items() if k[0] == SET_NAME and k[1] == share]
    return records


if __name__ == "__main__":
    main()
