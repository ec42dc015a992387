"""Fine-tune a small causal LM three ways (uniform / overlap weights / permuted weights) and compare.

See README.md. Writes a Markdown table to --out (default benchmarks/finetune/results.md).
"""
from __future__ import annotations

import argparse, gzip, hashlib, json, random, sys, tempfile
from pathlib import Path

import numpy as np
import polars as pl
import torch

from overlap.io import bundled as data
from overlap.weights.reweight import ReweightConfig, compute_weights

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _pr(row):
    msgs = row.get("messages")
    if msgs:
        p = "\n".join(m["content"] for m in msgs if m["role"] != "assistant")
        r = "\n".join(m["content"] for m in msgs if m["role"] == "assistant")
        return p, r
    if "response" in row:
        return row.get("prompt", ""), row["response"]
    return row.get("instruction", "") + "\n" + row.get("input", ""), row.get("output", row.get("text", ""))


def _passages(files, n, words=80, seed=0):
    out = []
    for f in files:
        with gzip.open(f, "rt") as fh:
            for line in fh:
                t = json.loads(line).get("text", "")
                w = t.split()
                if len(w) >= words + 10:
                    out.append(" ".join(w[:words]))
    random.Random(seed).shuffle(out)
    return out[:n]


def build_examples(n_ref):
    rows = []
    for line in (ROOT / "corpora/finetune/sample.jsonl").read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            p, resp = _pr(r)
            rows.append({"id": str(r["id"]), "prompt": p, "response": resp})
    for i, t in enumerate(_passages(data.reference_sources(), n_ref)):
        w = t.split()
        rows.append({"id": f"ref/{i:04d}", "prompt": "Continue the passage: " + " ".join(w[:12]),
                     "response": " ".join(w[12:])})
    return rows


def heldout_split(i):
    return int(hashlib.sha256(i.encode()).hexdigest(), 16) % 4 == 0  # 25% held out, seed independent


def score(rows, scores_file, workdir):
    if scores_file:
        return pl.read_parquet(scores_file) if str(scores_file).endswith(".parquet") else pl.read_ndjson(scores_file)
    from overlap.api import scan
    from overlap.pipeline.build import build_index
    ds = Path(workdir) / "ds.jsonl"
    ds.write_text("".join(json.dumps({"id": r["id"], "messages": [
        {"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["response"]}]}) + "\n"
        for r in rows))
    idx = Path(workdir) / "index"
    build_index(data.reference_sources(), idx, signals="ngram,minhash")
    return scan(ds, index=idx)


def encode(tok, prompt, response, max_len):
    p = tok(prompt + "\n", add_special_tokens=False)["input_ids"]
    r = tok(response, add_special_tokens=False)["input_ids"]
    if tok.eos_token_id is not None:
        r = r + [tok.eos_token_id]
    p = p[-max(0, max_len // 2 if len(r) > max_len // 2 else max_len - len(r)):] if p else p
    ids = (p + r)[:max_len]
    labels = ([-100] * len(p) + r)[:max_len]
    return ids, labels


def batchify(items, pad):
    L = max(len(i) for i, _ in items)
    ids = torch.full((len(items), L), pad, dtype=torch.long)
    lab = torch.full((len(items), L), -100, dtype=torch.long)
    att = torch.zeros((len(items), L), dtype=torch.long)
    for k, (i, l) in enumerate(items):
        ids[k, :len(i)] = torch.tensor(i); lab[k, :len(l)] = torch.tensor(l); att[k, :len(i)] = 1
    return ids, lab, att


def per_example_loss(model, ids, lab, att):
    logits = model(input_ids=ids, attention_mask=att).logits[:, :-1].float()
    tgt = lab[:, 1:]
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt.clamp(min=0), reduction="none")
    mask = (tgt != -100).float()
    return (nll * mask).sum(1) / mask.sum(1).clamp(min=1)


@torch.no_grad()
def eval_loss(model, items, pad, bs):
    model.eval()
    out = []
    for s in range(0, len(items), bs):
        out += per_example_loss(model, *batchify(items[s:s + bs], pad)).tolist()
    model.train()
    return float(np.mean(out)) if out else float("nan")


def load_model(spec, device):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    if spec in (None, "default"):
        from overlap.signals.lm import model as lm
        loaded = lm.load("default", device=device)
        return loaded.model.float(), loaded.tokenizer
    return AutoModelForCausalLM.from_pretrained(spec).to(device).float(), AutoTokenizer.from_pretrained(spec)


def _logged_settings(settings):
    """Settings as logged: the reweighting options only when not the defaults (older logs have none)."""
    out = dict(settings)
    if out.get("familiar_floor") == ReweightConfig().familiar_floor:
        del out["familiar_floor"]
    if out.get("strategy") == "target" and out.get("no_dedup") is False:
        del out["strategy"], out["no_dedup"]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="default")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--n-ref", type=int, default=150)
    ap.add_argument("--n-general", type=int, default=32)
    ap.add_argument("--train-layers", type=int, default=0, help="train only the last N layers (+norm/head); 0 = all")
    ap.add_argument("--max-eval", type=int, default=0, help="cap each held-out group at N examples (0 = all)")
    ap.add_argument("--scores", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results.md"))
    ap.add_argument("--log", default=None,
                    help="JSONL of finished (seed, method) runs; runs already in it with the same settings are "
                         "reused, so an interrupted benchmark resumes where it stopped")
    ap.add_argument("--strategy", choices=["target", "familiarity"], default="target",
                    help="overlap's reweighting strategy (as `overlap reweight --strategy`)")
    ap.add_argument("--no-dedup", action="store_true",
                    help="do not share weight within near-duplicate groups (as `overlap reweight --no-dedup`)")
    ap.add_argument("--familiar-floor", type=float, default=ReweightConfig().familiar_floor,
                    help="share of the weight familiar rows keep at least (as `overlap reweight --familiar-floor`)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    rows = build_examples(a.n_ref)
    with tempfile.TemporaryDirectory() as tmp:
        sc = score(rows, a.scores, tmp)
    sc = compute_weights(sc, ReweightConfig(strategy=a.strategy, dedup=not a.no_dedup,
                                            familiar_floor=a.familiar_floor))
    lab = dict(zip(sc["id"].cast(pl.Utf8), sc["label"]))
    wt = dict(zip(sc["id"].cast(pl.Utf8), sc["weight"]))
    # near-duplicate groups of the whole set (dup_group: row of each example's representative)
    group_size = sc.group_by("dup_group").len()
    size = dict(zip(group_size["dup_group"], group_size["len"]))
    in_group = dict(zip(sc["id"].cast(pl.Utf8), [size[g] > 1 for g in sc["dup_group"]]))
    rows = [r for r in rows if r["id"] in lab and lab[r["id"]] != "empty"]
    train = [r for r in rows if not heldout_split(r["id"])]
    held = [r for r in rows if heldout_split(r["id"])]
    # renormalise train weights to mean 1
    w = np.array([wt[r["id"]] for r in train], dtype=float); w = w / w.mean()
    general = _passages(sorted((ROOT / "corpora/heldout").glob("*.jsonl.gz")), a.n_general, seed=7)

    base, tok = load_model(a.model, a.device)
    pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    enc = lambda r: encode(tok, r["prompt"], r["response"], a.max_len)
    tr_items = [enc(r) for r in train]
    novel = [r for r in held if lab[r["id"]] == "novel"]
    gen = []
    for t in general:
        ids = tok(t, add_special_tokens=False)["input_ids"][:a.max_len]
        gen.append((ids, [-100] + ids[1:]))
    cap = (lambda items: items[:a.max_eval]) if a.max_eval else (lambda items: items)
    groups = {
        "held-out novel": cap([enc(r) for r in novel]),
        "novel, unique": cap([enc(r) for r in novel if not in_group[r["id"]]]),
        "novel, near-duplicate": cap([enc(r) for r in novel if in_group[r["id"]]]),
        "held-out familiar(+borderline)": cap([enc(r) for r in held if lab[r["id"]] != "novel"]),
        "general (forgetting)": gen,
    }
    init = {k: v.detach().clone() for k, v in base.state_dict().items()}
    print(f"train {len(train)} (familiar+borderline {sum(lab[r['id']] != 'novel' for r in train)}, "
          f"in near-duplicate groups {sum(in_group[r['id']] for r in train)}); "
          + ", ".join(f"{k} {len(v)}" for k, v in groups.items()), file=sys.stderr)

    settings = {k: v for k, v in vars(a).items()
                if k not in ("out", "log", "threads", "seeds", "device", "strategy", "no_dedup", "familiar_floor")}
    settings["groups"] = list(groups)
    # uniform runs do not depend on the reweighting options, so their log records serve every strategy
    weighting = {"strategy": a.strategy, "no_dedup": a.no_dedup, "familiar_floor": a.familiar_floor}
    run_settings = {"uniform": settings, "overlap": {**settings, **weighting}, "permuted": {**settings, **weighting}}
    done = {}
    if a.log and Path(a.log).exists():
        for line in Path(a.log).read_text().splitlines():
            rec = json.loads(line)
            if rec["settings"] == _logged_settings(run_settings[rec["method"]]):
                done[(rec["seed"], rec["method"])] = tuple(rec["losses"])
    results = {m: [] for m in ("uniform", "overlap", "permuted")}
    for seed in range(a.seeds):
        for method in results:
            if (seed, method) in done:
                results[method].append(done[(seed, method)])
                continue
            base.load_state_dict(init)
            model = base
            params = list(model.parameters())
            if a.train_layers:
                for p in params: p.requires_grad_(False)
                layers = model.model.layers[-a.train_layers:]
                train_p = [p for l in layers for p in l.parameters()] + list(model.model.norm.parameters())
                for p in train_p: p.requires_grad_(True)
                params = train_p
            else:
                for p in params: p.requires_grad_(True)
            if method == "uniform":
                ww = np.ones(len(train))
            elif method == "overlap":
                ww = w
            else:
                ww = np.random.default_rng(1000 + seed).permutation(w)
            torch.manual_seed(seed)
            rng = np.random.default_rng(seed)
            opt = torch.optim.AdamW([p for p in params if p.requires_grad], lr=a.lr)
            model.train()
            order = []
            for step in range(a.steps):
                if len(order) < a.batch:
                    order += list(rng.permutation(len(train)))
                b, order = order[:a.batch], order[a.batch:]
                ids, lb, att = batchify([tr_items[i] for i in b], pad)
                l = per_example_loss(model, ids.to(a.device), lb.to(a.device), att.to(a.device))
                loss = (l * torch.tensor(ww[b], dtype=l.dtype, device=l.device)).mean()
                opt.zero_grad(); loss.backward(); opt.step()
            r = tuple(eval_loss(model, items, pad, a.batch) for items in groups.values())
            results[method].append(r)
            if a.log:
                with open(a.log, "a") as fh:
                    fh.write(json.dumps({"settings": _logged_settings(run_settings[method]), "seed": seed,
                                         "method": method, "losses": r}) + "\n")
            print(f"seed {seed} {method}: " + ", ".join(f"{k} {v:.4f}" for k, v in zip(groups, r)), file=sys.stderr)
    base.load_state_dict(init)
    r0 = tuple(eval_loss(base, items, pad, a.batch) for items in groups.values())

    def cell(vals):
        v = np.array(vals, dtype=float)
        return f"{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0:.4f}"
    k = len(groups)
    lines = [f"Weights: `overlap reweight --strategy {a.strategy}{' --no-dedup' if a.no_dedup else ''} "
             f"--familiar-floor {a.familiar_floor:g}`. "
             f"Model `{a.model}`, {a.steps} steps, batch {a.batch}, lr {a.lr}, max {a.max_len} tokens, "
             f"{a.seeds} seeds; train {len(train)}; " + ", ".join(f"{n} {len(v)}" for n, v in groups.items())
             + ". Mean response loss (nats/token), lower is better.", "",
             "| method | " + " | ".join(groups) + " |",
             "|---|" + "---|" * k,
             "| base (no fine-tune) | " + " | ".join(f"{v:.4f}" for v in r0) + " |"]
    for m, v in results.items():
        lines.append(f"| {m} | " + " | ".join(cell([x[i] for x in v]) for i in range(k)) + " |")
    # Seeds share the batch order across methods, so the per-seed difference is the sharper comparison.
    for m in ("overlap", "permuted"):
        lines.append(f"| {m} − uniform (paired by seed) | " + " | ".join(
            cell([x[i] - u[i] for x, u in zip(results[m], results["uniform"])]) for i in range(k)) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    Path(a.out).write_text(table)
    return table


if __name__ == "__main__":
    main()
