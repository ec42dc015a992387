"""Does reweighting teach a novel minority better at equal steps? Set 1: an invented rule (``rule_set``);
set 2: invented facts beside facts the base model knows (``facts_set``).

For each (set, novel share, data draw), the training set is labelled by ``overlap scan`` in a separate
process (so no numba kernel runs in the training process; with ``--lm`` the same scan also scores every
row with the base model). The scan is cached beside the index identity it ran against and redone when
the index changed, so the labels are always those of the code and index that ship; the identity is in
every log record. The model is fine-tuned once per (set, share, seed, method), paired by seed: the same
initial weights, batch order, steps and learning rate; only the per-example loss weights differ:

* ``uniform``: all 1;
* ``overlap``: ``overlap reweight`` defaults on the scan's labels;
* ``permuted``: the same weights randomly permuted over the rows (same spread, no information);
* ``oracle``: the same policy on the true labels (how each row was made);
* ``model``: the same policy on labels from the base model alone: the rows with the highest
  response-only loss (``lm_loss_no_prompt``) are called novel, as many as the scan called novel;
* ``zlib``: likewise on ``lm_zlib`` (loss over zlib-compressed size).

``--checkpoints 30,60,120,240`` trains once per run to the last step and evaluates at each listed
step. ``--fresh-draw`` draws a new data set per seed (seed ``s`` uses draw ``s + 1``). Every finished
run is appended to ``--log`` (JSONL) and skipped on a rerun with the same settings, so an interrupted
benchmark resumes. ``report.py`` turns the log into tables and results.json; ``grid.sh`` is the grid
the issue asks for.
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

import facts_set  # noqa: E402
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

METHODS = ("uniform", "overlap", "permuted", "oracle", "model", "zlib")
SETS = ("rule", "facts")
SET_NAME = "rule"
# the base-model score each label-free baseline ranks rows by (highest = novel); logged in every record
BASELINE_SCORE = {"model": "lm_loss_no_prompt", "zlib": "lm_zlib"}


def index_identity(index: str | None) -> dict[str, str]:
    """The index a scan runs against: its folder and the SHA-256 of its manifest (which lists every
    shard's size and hash, the build parameters and the calibration), so any rebuild changes it."""
    import hashlib

    if index:
        path = Path(index)
    else:  # in a subprocess: building the bundled index on first use runs numba kernels
        path = Path(subprocess.run([sys.executable, "-c", "from overlap import api; print(api.default_index())"],
                                   check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    manifest = (path / "manifest.json").read_bytes()
    return {"path": str(path), "manifest_sha256": hashlib.sha256(manifest).hexdigest()}


def scan_scores(examples: list[rule_set.Example], path: Path, index: str | None, lm: str,
                threads: int, identity: dict | None = None) -> pl.DataFrame:
    """``overlap scan`` of ``examples`` (as user/assistant chats), run in a subprocess and cached at ``path``
    with the index identity beside it (``path.index.json``); a cached scan of another index, of other
    rows or without a recorded identity is redone."""
    identity = identity or index_identity(index)
    stamp = path.with_suffix(".index.json")
    rows = [e.id for e in examples]
    fresh = (path.exists() and stamp.exists() and json.loads(stamp.read_text()) == identity
             and pl.read_parquet(path, columns=["id"])["id"].cast(pl.Utf8).to_list() == rows)
    if not fresh:
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
        stamp.write_text(json.dumps(identity) + "\n")
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
    k = sum(lab == "novel" for lab in scanned)
    for method, column in BASELINE_SCORE.items():
        if method in methods:
            top = set(np.argsort(-scores[column].to_numpy(), kind="stable")[:k].tolist())
            out[method] = policy(["novel" if i in top else "familiar" for i in range(len(examples))])
    return out


def content_mask(tok, example: rule_set.Example, labels: list[int]) -> list[bool]:
    """Per label position: whether it is a content token of the response (``example.content``, by the
    tokenizer's character offsets) rather than format (the rest, the end of sequence) or prompt.

    A response token is content when its characters overlap a content span; the label positions are
    the response's tokens in order (as ``run.encode`` lays them out), so the mask lines up with them."""
    n_prompt = next((i for i, x in enumerate(labels) if x != -100), len(labels))
    n_resp = len(labels) - n_prompt
    spans = example.content
    if spans is None:  # every response token is content, the end of sequence format
        kinds = [True] * len(tok(example.response, add_special_tokens=False)["input_ids"])
    else:
        enc = tok(example.response, add_special_tokens=False, return_offsets_mapping=True)
        kinds = [any(a < e and s < b for s, e in spans) for a, b in enc["offset_mapping"]]
    kinds = (kinds + [False] * n_resp)[:n_resp]  # the end of sequence (and nothing else) is past them
    return [False] * n_prompt + kinds


@torch.no_grad()
def evaluate(model, items: list[tuple], pad: int, bs: int, device: str) -> dict[str, object]:
    """Answer loss, exact match (every answer token the greedy choice, the end of sequence included:
    under teacher forcing that is greedy decoding producing the answer), per-token correctness, and the
    same split into content and format tokens (``items``: ``(ids, labels, content mask)``)."""
    model.eval()
    losses, exact, correct, c_exact = [], [], [], []
    tok_nll, tok_hit, tok_content = [], [], []
    for s in range(0, len(items), bs):
        chunk = items[s:s + bs]
        ids, lab, att = (t.to(device) for t in batchify([(i, lb) for i, lb, *_ in chunk], pad))
        content = torch.zeros_like(lab, dtype=torch.bool)
        for k, it in enumerate(chunk):
            if len(it) > 2:
                content[k, :len(it[2])] = torch.tensor(it[2], dtype=torch.bool)
        logits = model(input_ids=ids, attention_mask=att).logits[:, :-1].float()
        tgt, content = lab[:, 1:], content[:, 1:]
        mask = tgt != -100
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt.clamp(min=0), reduction="none")
        hit = (logits.argmax(-1) == tgt) | ~mask
        losses += ((nll * mask).sum(1) / mask.sum(1).clamp(min=1)).tolist()
        exact += hit.all(1).tolist()
        has_content = (content & mask).any(1)
        c_exact += [bool(h) for h, c in zip((hit | ~content).all(1).tolist(), has_content.tolist()) if c]
        correct += hit[mask].tolist()
        tok_nll += nll[mask].tolist()
        tok_hit += hit[mask].tolist()
        tok_content += content[mask].tolist()
    model.train()
    nll_a, hit_a, cont_a = np.array(tok_nll), np.array(tok_hit, dtype=bool), np.array(tok_content, dtype=bool)

    def mean(x):
        return float(x.mean()) if len(x) else float("nan")
    return {"loss": float(np.mean(losses)), "exact": float(np.mean(exact)), "correct": np.array(correct),
            "content_exact": mean(np.array(c_exact, dtype=float)), "content_acc": mean(hit_a[cont_a]),
            "content_loss": mean(nll_a[cont_a]), "format_loss": mean(nll_a[~cont_a]),
            "content_token_share": mean(cont_a)}


SPLIT = ("heldout_novel", "trained_novel", "known")  # groups whose content/format split is logged


def metrics(model, groups: dict[str, list], base: dict[str, dict] | None, pad: int, bs: int,
            device: str) -> tuple[dict[str, float], dict[str, dict]]:
    """The logged metrics of a model, and its raw evaluations (kept for the base model's retention)."""
    ev = {g: evaluate(model, items, pad, bs, device) for g, items in groups.items() if items}
    out = {}
    for g, r in ev.items():
        out[f"{g}_loss"] = r["loss"]
        out[f"{g}_exact"] = r["exact"]
        if g in SPLIT:
            for k in ("content_exact", "content_acc", "content_loss", "format_loss", "content_token_share"):
                out[f"{g}_{k}"] = r[k]
        if g in ("familiar", "general", "known"):
            ref = base[g]["correct"] if base else r["correct"]
            out[f"{g}_retention"] = float(r["correct"][ref].mean()) if ref.any() else float("nan")
    return out, ev


def train(model, params, items, weights, order, a, checkpoints=(), at_checkpoint=None) -> None:
    """``len(order) // a.batch`` AdamW steps of batch ``a.batch`` over ``order``; loss = mean(weight x
    response loss); ``at_checkpoint(step)`` after each step listed in ``checkpoints``."""
    opt = torch.optim.AdamW(params, lr=a.lr)
    model.train()
    for step in range(len(order) // a.batch):
        b = order[step * a.batch:(step + 1) * a.batch]
        ids, lb, att = (t.to(a.device) for t in batchify([items[i][:2] for i in b], a.pad))
        loss = (per_example_loss(model, ids, lb, att) * torch.tensor(weights[b], dtype=torch.float32,
                                                                     device=a.device)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if at_checkpoint and step + 1 in checkpoints:
            at_checkpoint(step + 1)


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


def _key(r: dict) -> tuple:
    return (r["set"], r["novel_share"], r["method"], r["seed"], json.dumps(r["settings"], sort_keys=True))


def _reusable(r: dict) -> bool:
    """Whether a logged run still measures what its method means now: ``model`` runs logged before it
    ranked rows by the response-only loss ranked them by whole-text ``lm_loss``, a weaker baseline."""
    return r["method"] not in BASELINE_SCORE or r.get("info", {}).get("baseline_score", {}).get(r["method"]) \
        == BASELINE_SCORE[r["method"]]


def _done(log: Path | None) -> dict[tuple, dict]:
    if not log or not log.exists():
        return {}
    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return {_key(r): r for r in recs if _reusable(r)}


@torch.no_grad()
def knows(model, tok, device: str, bs: int = 16) -> "callable":
    """The base model's own greedy check (SliCK): which questions it answers right with a 2-shot prompt,
    every content token of the answer the greedy choice."""
    def check(examples: list[rule_set.Example]) -> list[bool]:
        model.eval()
        out = []
        for s in range(0, len(examples), bs):
            items = []
            for e in examples[s:s + bs]:
                p = tok(facts_set.FEW_SHOT + e.prompt + "\n", add_special_tokens=False)["input_ids"]
                r = tok(e.response, add_special_tokens=False)["input_ids"]
                lab = [-100] * len(p) + r
                items.append((p + r, lab, content_mask(tok, e, lab)))
            pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
            ids, lab, att = (t.to(device) for t in batchify([i[:2] for i in items], pad))
            pred = model(input_ids=ids, attention_mask=att).logits[:, :-1].argmax(-1)
            for k, (_, lb, cm) in enumerate(items):
                pos = [j - 1 for j, c in enumerate(cm) if c]
                out.append(bool(pos) and all(int(pred[k, j]) == lb[j + 1] for j in pos))
        model.train()
        return out
    return check


def build_set(name: str, share: float, a, draw: int, known=None):
    if name == "rule":
        return rule_set.build(share, a.n_train, a.n_eval, a.n_general, draw=draw)
    return facts_set.build(share, a.n_train, a.n_eval, a.n_general, known, a.known_share, draw=draw)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default", help="the fine-tuned model (default: bundled SmolLM2-135M)")
    ap.add_argument("--lm", default="default", help="model scoring rows for the `model` method (as scan --lm)")
    ap.add_argument("--index", default=None, help="index to scan against (default: the bundled corpus)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--sets", default="rule", help=f"comma-separated sets, of {SETS}")
    ap.add_argument("--shares", default="0.2", help="comma-separated novel shares")
    ap.add_argument("--methods", default="uniform,overlap,permuted,oracle")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30, help="training steps (the last checkpoint, if given)")
    ap.add_argument("--checkpoints", default="", help="comma-separated steps to evaluate at, e.g. 30,60,120,240")
    ap.add_argument("--fresh-draw", action="store_true", help="a fresh data draw per seed (seed s: draw s + 1)")
    ap.add_argument("--known-share", type=float, default=0.1, help="facts set: share of known facts trained")
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
    sets = [s for s in a.sets.split(",") if s]
    unknown = (set(methods) - set(METHODS)) | (set(sets) - set(SETS))
    if unknown:
        ap.error(f"unknown methods or sets {sorted(unknown)}; choose from {METHODS} and {SETS}")
    checkpoints = sorted({int(c) for c in a.checkpoints.split(",") if c})
    if checkpoints:
        a.steps = checkpoints[-1]
    log = Path(a.log) if a.log else None
    settings = {k: getattr(a, k) for k in ("model", "steps", "lr", "batch", "max_len", "n_train", "n_eval",
                                           "n_general", "train_layers")}
    # options added with the grid are logged only when used, so the first runs' records still match
    settings.update({k: v for k, v in (("checkpoints", checkpoints), ("fresh_draw", a.fresh_draw)) if v})
    if "facts" in sets:
        settings["known_share"] = a.known_share
    key_settings = json.dumps(settings, sort_keys=True)
    done = _done(log)
    records = []
    model = tok = init = known = identity = None
    for set_name in sets:
        # facts settings carry known_share; rule records keep the settings the first runs logged
        set_settings = settings if set_name == "facts" else {k: v for k, v in settings.items() if k != "known_share"}
        set_key = json.dumps(set_settings, sort_keys=True)
        for share in [float(s) for s in a.shares.split(",")]:
            draws = list(range(a.seeds)) if a.fresh_draw else [None]
            for draw_seed in draws:
                seeds = [draw_seed] if a.fresh_draw else list(range(a.seeds))
                draw = draw_seed + 1 if a.fresh_draw else 0
                base_seeds = seeds if a.fresh_draw else [0]
                todo = [(s, m) for s, m in [(s, "base") for s in base_seeds] + [(s, m) for s in seeds for m in methods]
                        if (set_name, share, m, s, set_key) not in done]
                mine = [r for k, r in done.items() if k[0] == set_name and k[1] == share and k[3] in seeds
                        and k[4] == set_key]
                if not todo:
                    records += mine
                    continue
                if model is None:
                    model, tok = load_model(a.model, a.device)
                    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    known = knows(model, tok, a.device)
                    identity = index_identity(a.index)
                a.pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
                model.load_state_dict(init)
                rs = build_set(set_name, share, a, draw, known)
                tag = f"{set_name}-{share:g}-{a.n_train}" + (f"-draw{draw}" if draw else "")
                if set_name == "facts":
                    tag += f"-known{a.known_share:g}"
                scores = scan_scores(rs.train, Path(a.work) / f"{tag}.parquet", a.index, a.lm, a.threads, identity)
                weights = method_weights(scores, rs.train, methods)

                def enc(e):
                    ids, lab = encode(tok, e.prompt, e.response, a.max_len)
                    return ids, lab, content_mask(tok, e, lab)
                items = [enc(e) for e in rs.train]
                gen = []
                for t in rs.general:
                    ids = tok(t, add_special_tokens=False)["input_ids"][:a.max_len]
                    gen.append((ids, [-100] + ids[1:]))
                groups = {"heldout_novel": [enc(e) for e in rs.heldout_novel],
                          "trained_novel": [items[i] for i, e in enumerate(rs.train) if e.true_label == "novel"],
                          "familiar": [enc(e) for e in rs.heldout_familiar], "general": gen}
                if set_name == "facts":
                    groups["known"] = [enc(e) for e in rs.known]
                base_metrics, base_eval = metrics(model, groups, None, a.pad, a.batch, a.device)
                scan_novel = float((scores["label"] == "novel").mean())
                is_novel = np.array([e.true_label == "novel" for e in rs.train])
                info = {"scan_novel_share": scan_novel,
                        "scan_recall": float(np.mean([lab == "novel" for lab, e in zip(scores["label"], rs.train)
                                                      if e.true_label == "novel"])) if is_novel.any() else float("nan"),
                        "overlap_novel_weight_share": float(weights["overlap"][is_novel].sum() / len(rs.train)),
                        "novel_weight_share": {m: float(w[is_novel].sum() / len(rs.train)) for m, w in weights.items()},
                        "baseline_score": {m: BASELINE_SCORE[m] for m in methods if m in BASELINE_SCORE},
                        "index": identity, "draw": draw,
                        "groups": {g: len(v) for g, v in groups.items()}}
                if set_name == "facts":
                    info.update(known_candidates=rs.n_known_candidates,
                                known_trained=sum(e.id.startswith("known/") for e in rs.train))
                print(f"{set_name} share {share:g} draw {draw}: train {len(rs.train)}, scan novel share "
                      f"{scan_novel:.3f}, {json.dumps(info)}", file=sys.stderr)
                finished = {(k[3], k[2]): r for k, r in done.items()
                            if k[0] == set_name and k[1] == share and k[4] == set_key}
                for seed, method in todo:
                    twin = next((m for m in ("uniform", "overlap", "oracle")
                                 if m != method and m in weights and method in weights
                                 and np.array_equal(weights[m], weights[method]) and (seed, m) in finished), None)
                    by_step = {}
                    if method == "base":
                        rec_metrics, seconds = base_metrics, 0.0
                    elif twin:  # identical weights, init and batches: the same run, not repeated
                        rec_metrics, seconds = finished[(seed, twin)]["metrics"], 0.0
                        by_step = finished[(seed, twin)].get("by_step", {})
                    else:
                        w = (np.random.default_rng(1000 + seed).permutation(weights["overlap"]) if method == "permuted"
                             else weights[method])
                        model.load_state_dict(init)
                        torch.manual_seed(seed)
                        started = time.monotonic()

                        def at(step):
                            by_step[str(step)] = metrics(model, groups, base_eval, a.pad, a.batch, a.device)[0]
                        train(model, trainable(model, a.train_layers), items, w,
                              batch_order(len(items), a.steps, a.batch, seed), a, checkpoints, at)
                        seconds = time.monotonic() - started
                        rec_metrics = by_step[str(a.steps)] if checkpoints else \
                            metrics(model, groups, base_eval, a.pad, a.batch, a.device)[0]
                    rec = {"set": set_name, "novel_share": share, "method": method, "seed": seed,
                           "settings": set_settings, "metrics": rec_metrics, "info": info,
                           "train_seconds": round(seconds, 1), "same_run_as": twin}
                    if checkpoints and method != "base":
                        rec["by_step"] = by_step
                    finished[(seed, method)] = rec
                    records.append(rec)
                    if log:
                        with log.open("a") as fh:
                            fh.write(json.dumps(rec) + "\n")
                    print(f"{set_name} share {share:g} seed {seed} {method} ({seconds:.0f}s): "
                          + ", ".join(f"{k} {v:.4f}" for k, v in rec_metrics.items()), file=sys.stderr)
                records += mine
    return records


if __name__ == "__main__":
    main()
