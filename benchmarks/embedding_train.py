#!/usr/bin/env python3
"""Train the static model's token rows by regression onto MiniLM's sentence vectors (tokenlearn-style).

The shipped static model (``overlap model distill``) embeds each vocabulary
token alone with MiniLM; a text's vector is the mean of those rows. That keeps
MiniLM's view of single words, not of sentences. Here the rows are trained so
that the static model's output for a passage (mean of its token rows, made
unit length, exactly as ``static_model.StaticModel.encode`` computes it) points
where MiniLM's normalised sentence vector of the same passage points (cosine
loss), starting from the shipped rows and pulled back toward them (L2), since
a few tens of thousands of passages are few against 30,522 x 256 parameters.

Two steps, both offline, CPU only::

    # texts and their MiniLM vectors (about 25 minutes on 2 cores; resumable)
    nice -n 19 python benchmarks/embedding_train.py collect --work /tmp/tl
    # train and write a static model folder (same format and size as the shipped one)
    nice -n 19 python benchmarks/embedding_train.py train --work /tmp/tl --out /tmp/tl/static-tl

``idf`` writes the term-similarity weights (``overlap/signals/embedding/term_idf.npy``)
from the same sampled texts and the bundled chunks (seconds; no MiniLM needed)::

    python benchmarks/embedding_train.py idf --work /tmp/tl

Training text (never the domain benchmark's /usr/share/info or /usr/share/man):

* the bundled reference corpus' 128-word chunks, whose MiniLM vectors ship in
  ``corpora/embeddings/`` (no embedding needed);
* random 20-100 word windows of the bundled reference corpus and 30-150 word windows of
  ``corpora/heldout``;
* paragraphs (20-150 words) of the Python 3.11 documentation sources
  (``/usr/share/doc/python3.11/html/_sources``, Debian ``python3.11-doc``), without the FAQ (the
  bundled fine-tuning sample's source);
* WordNet glosses (``/usr/share/wordnet/data.*``) and fortunes (``/usr/share/games/fortunes``);
* with ``--manpages N`` (none by default), paragraphs of the man pages (sections 1 and 8) of every
  package that no set of ``benchmarks/domain.py`` reads (``domain.SETS``: its manuals, positives,
  negatives and reference pages, and everything named git*), at most ``MAN_PER_PAGE`` per page and
  ``GCLOUD_PAGES`` of the 16,000 generated gcloud pages: the register of command-line reference
  text. Collected into a folder of their own and added to training with ``--extra``::

    nice -n 19 python benchmarks/embedding_train.py collect --work /tmp/tl-man --pydoc 0 --wordnet 0 \
        --fortunes 0 --windows 0 --manpages 12000
    nice -n 19 python benchmarks/embedding_train.py train --work /tmp/tl --extra /tmp/tl-man --out /tmp/tl/static-man

* with ``--nodejs N`` (none by default), paragraphs of the Node.js API reference
  (``/usr/share/doc/nodejs/api/*.md``, Debian ``nodejs-doc``), collected the same way.

Groups (a source file, a corpus document) are split 90/10 into train and held-out;
``train`` reports the held-out cosine to the teacher and the correlation of
pairwise similarities before and after.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PYDOC = Path("/usr/share/doc/python3.11/html/_sources")
NODEDOC = Path("/usr/share/doc/nodejs/api")
WORDNET = Path("/usr/share/wordnet")
FORTUNES = Path("/usr/share/games/fortunes")
MAN = Path("/usr/share/man")
MAN_PER_PAGE = 10
GCLOUD_PAGES = 600
BLOCK = 512  # texts embedded between two saves
HOLDOUT = 0.1


def _words(text: str) -> list[str]:
    return text.split()


def _windows(rng: random.Random, text: str, lo: int, hi: int, every: int) -> list[str]:
    words = _words(text)
    out = []
    pos = 0
    while pos + lo <= len(words):
        n = rng.randint(lo, hi)
        out.append(" ".join(words[pos : pos + n]))
        pos += n + every
    return out


def _jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


RST_NOISE = re.compile(r"^(\.\. |:[a-z]+:|={3,}|-{3,}|\*{3,}|~{3,}|\^{3,}|\s*>>>|\s*\.\.\.)")


def pydoc_paragraphs() -> list[tuple[str, str]]:
    """(group, paragraph) of the Python docs' reST sources: prose paragraphs of 20-150 words."""
    out = []
    if not PYDOC.is_dir():
        return out
    for path in sorted(PYDOC.rglob("*.rst.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for para in re.split(r"\n\s*\n", text):
            lines = [ln for ln in para.splitlines() if ln.strip() and not RST_NOISE.match(ln)]
            if not lines or para.startswith(("   ", "\t")):
                continue
            words = " ".join(ln.strip() for ln in lines).split()
            if 20 <= len(words) <= 150:
                out.append((f"pydoc:{path.relative_to(PYDOC)}", " ".join(words)))
    return out


def nodejs_paragraphs() -> list[tuple[str, str]]:
    """(group, paragraph) of the Node.js API reference's Markdown: prose paragraphs of 20-150 words."""
    out = []
    for path in sorted(NODEDOC.glob("*.md")) if NODEDOC.is_dir() else []:
        text = re.sub(r"```.*?```|<!--.*?-->", "", path.read_text(encoding="utf-8", errors="replace"), flags=re.S)
        for para in re.split(r"\n\s*\n", text):
            lines = [ln for ln in para.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "|", "[", ">"))]
            words = " ".join(ln.strip() for ln in lines).split()
            if 20 <= len(words) <= 150:
                out.append((f"nodejs:{path.name}", " ".join(words)))
    return out


def wordnet_glosses() -> list[tuple[str, str]]:
    out = []
    for pos in ("noun", "verb", "adj", "adv"):
        path = WORDNET / f"data.{pos}"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("  ") or " | " not in line:
                continue
            head, gloss = line.split(" | ", 1)
            words = head.split()
            lemma = words[4].replace("_", " ") if len(words) > 4 else ""
            gloss = gloss.strip()
            if len(gloss.split()) >= 4:
                out.append((f"wordnet:{lemma}", f"{lemma}: {gloss}" if lemma else gloss))
    return out


def fortunes() -> list[tuple[str, str]]:
    out = []
    if not FORTUNES.is_dir():
        return out
    for path in sorted(FORTUNES.iterdir()):
        if path.suffix or not path.is_file() or path.name.endswith(".dat"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for i, item in enumerate(text.split("\n%\n")):
            words = item.split()
            if 8 <= len(words) <= 150:
                out.append((f"fortune:{path.name}:{i // 20}", " ".join(words)))
    return out


def man_paragraphs(rng: random.Random) -> list[tuple[str, str]]:
    """(group, paragraph) of man pages in sections 1 and 8 of packages the domain benchmark never reads."""
    import subprocess

    import domain

    excluded = {package for s in domain.SETS.values()
                for package in s.positives + s.negatives + s.reference_pages + s.manuals}
    excluded_pages = set()
    for package in sorted(excluded):
        listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False).stdout
        excluded_pages |= {Path(p).name for p in listed.split() if p.startswith(str(MAN) + "/man")}
    pages = [p for section in ("man1", "man8") for p in sorted((MAN / section).glob("*.gz"))
             if p.is_file() and not p.is_symlink() and p.name not in excluded_pages
             and not p.name.startswith("git")]
    gcloud = [p for p in pages if p.name.startswith("gcloud")]
    pages = [p for p in pages if not p.name.startswith("gcloud")] + rng.sample(gcloud, min(GCLOUD_PAGES, len(gcloud)))
    out = []
    for page in pages:
        items = domain.page_queries(page, low=20, high=150)
        out += [(f"man:{page.name}", t) for t in rng.sample(items, min(MAN_PER_PAGE, len(items)))]
    return out


def corpus_windows(rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for folder, lo, hi, skip in (("reference", 20, 100, 400), ("heldout", 30, 150, 60)):
        for path in sorted((ROOT / "corpora" / folder).glob("*.jsonl.gz")):
            for rec in _jsonl(path):
                for w in _windows(rng, rec["text"], lo, hi, skip):
                    out.append((f"{folder}:{path.name}:{rec.get('id')}", w))
    return out


def sample_texts(seed: int, sizes: dict[str, int]) -> list[tuple[str, str, str]]:
    """(source, group, text) to embed, each source sampled to its size, shuffled."""
    rng = random.Random(seed)
    pools = {"pydoc": pydoc_paragraphs(), "wordnet": wordnet_glosses(), "fortunes": fortunes(),
             "corpus-windows": corpus_windows(rng)}
    if sizes.get("manpages"):
        pools["manpages"] = man_paragraphs(rng)
    if sizes.get("nodejs"):
        pools["nodejs"] = nodejs_paragraphs()
    out = []
    for name, pool in pools.items():
        picked = rng.sample(pool, min(sizes[name], len(pool)))
        print(f"{name}: {len(pool)} texts, {len(picked)} sampled", flush=True)
        out += [(name, g, t) for g, t in picked]
    rng.shuffle(out)
    return out


def sampled_rows(args) -> list[dict]:
    """The sampled texts of ``WORK/texts.jsonl``, sampled and written there first if it is not."""
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    texts_file = work / "texts.jsonl"
    if not texts_file.exists():
        sizes = {"pydoc": args.pydoc, "wordnet": args.wordnet, "fortunes": args.fortunes,
                 "corpus-windows": args.windows, "manpages": args.manpages, "nodejs": args.nodejs}
        rows = sample_texts(args.seed, sizes)
        tmp = texts_file.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps({"source": s, "group": g, "text": t}) + "\n" for s, g, t in rows))
        tmp.rename(texts_file)
    return [json.loads(line) for line in texts_file.read_text().splitlines()]


def term_idf(args) -> None:
    """The term-similarity weights (``overlap/signals/embedding/term_idf.npy``) from the sampled texts
    and the bundled reference corpus' embedding chunks: ``1 + ln((1 + N) / (1 + df))`` per word piece,
    0 for pieces in ``STOPWORD_SHARE`` of the texts or more."""
    from overlap.signals.embedding import terms

    texts = [r["text"] for r in sampled_rows(args)] + bundled_chunks(with_vectors=False)[0]
    tokenizer = terms._tokenizer()
    vocab = tokenizer.get_vocab_size()
    df = np.zeros(vocab, dtype=np.int64)
    for lo in range(0, len(texts), 4096):
        for encoding in tokenizer.encode_batch([t.lower() for t in texts[lo : lo + 4096]], add_special_tokens=False):
            df[np.unique(np.asarray(encoding.ids, dtype=np.int64))] += 1
    n = len(texts)
    weights = (1.0 + np.log((1.0 + n) / (1.0 + df))).astype(np.float32)
    weights[df >= terms.STOPWORD_SHARE * n] = 0.0
    np.save(args.out, weights, allow_pickle=False)
    print(f"{n} texts, {int((df > 0).sum())} of {vocab} pieces seen, {int((weights == 0).sum())} stopwords; "
          f"wrote {args.out}", flush=True)


def collect(args) -> None:
    import torch

    from overlap.signals.embedding import models

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    texts = [r["text"] for r in sampled_rows(args)]
    model = models.load_model("minilm")
    started = time.monotonic()
    done_tokens = 0
    for b, lo in enumerate(range(0, len(texts), BLOCK)):
        out = work / f"teacher-{b:04d}.npy"
        if out.exists():
            continue
        vectors = models.encode(model, texts[lo : lo + BLOCK])
        np.save(work / f"teacher-{b:04d}.tmp.npy", vectors.astype(np.float16))
        os.replace(work / f"teacher-{b:04d}.tmp.npy", out)
        done_tokens += sum(len(t.split()) for t in texts[lo : lo + BLOCK])
        el = time.monotonic() - started
        print(f"{lo + BLOCK}/{len(texts)} texts, {done_tokens / el:.0f} words/s, {el:.0f} s, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)


def bundled_chunks(with_vectors: bool = True) -> tuple[list[str], list[str], np.ndarray | None]:
    """Texts, groups and shipped MiniLM vectors of the bundled reference corpus' embedding chunks
    (every chunk and no vectors when not ``with_vectors``)."""
    from overlap.io import bundled as data
    from overlap.io import iter_corpus_batches
    from overlap.signals.embedding import index as embedding
    from overlap.signals.embedding.cache import EmbeddingCache, cache_subdir, text_keys
    from overlap.text.batch import LexicalBatch

    params = embedding.model_params("minilm")
    sha, dim = params["embedding_model_sha256"], params["embedding_dim"]
    texts, groups = [], []
    for source in data.reference_sources():
        n = 0
        for batch in iter_corpus_batches([str(source)], batch_size=2048):
            lexical = LexicalBatch.from_texts(batch.texts)
            doc, start, end = embedding.chunk_spans(lexical, params["chunk_words"])
            texts += embedding.chunk_texts(lexical, doc, start, end)
            groups += [f"bundled:{source.name}:{n + int(d)}" for d in doc]
            n += len(batch.texts)
    if not with_vectors:
        return texts, groups, None
    shipped = data.corpora_dir() / "embeddings" / cache_subdir(sha)
    cache = EmbeddingCache(Path("/nonexistent-overlap-cache"), dim, readonly=[shipped])
    vectors, found = cache.get(text_keys(sha, texts))
    keep = np.flatnonzero(found)
    return [texts[i] for i in keep], [groups[i] for i in keep], np.asarray(vectors, np.float32)[keep]


def load_set(work: Path, bundled: bool) -> tuple[list[str], list[str], list[str], np.ndarray]:
    rows = [json.loads(line) for line in (work / "texts.jsonl").read_text().splitlines()]
    parts = sorted(work.glob("teacher-[0-9][0-9][0-9][0-9].npy"))
    vectors = np.concatenate([np.load(p) for p in parts]).astype(np.float32) if parts else np.zeros((0, 384), np.float32)
    rows = rows[: len(vectors)]
    # The Python FAQ is the bundled fine-tuning sample's source: never trained on.
    faq = np.array([r["group"].startswith("pydoc:faq/") for r in rows], dtype=bool)
    rows = [r for r, f in zip(rows, faq) if not f]
    vectors = vectors[~faq] if len(faq) else vectors
    texts = [r["text"] for r in rows]
    groups = [r["group"] for r in rows]
    sources = [r["source"] for r in rows]
    if bundled:
        t, g, v = bundled_chunks()
        texts += t
        groups += g
        sources += ["bundled-chunks"] * len(t)
        vectors = np.concatenate([vectors, v])
    return texts, groups, sources, vectors


def tokenize(tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    enc = tokenizer.encode_batch(texts, add_special_tokens=False)
    counts = np.array([len(e.ids) for e in enc], dtype=np.int64)
    offsets = np.zeros(len(enc) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    ids = np.fromiter((i for e in enc for i in e.ids), dtype=np.int64, count=int(offsets[-1]))
    return ids, offsets


def train(args) -> None:
    import torch
    import torch.nn.functional as F

    from overlap.signals.embedding import models
    from overlap.signals.embedding.static_model import StaticModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    work = Path(args.work)
    base = models.resolve_model_path(args.init)
    student = StaticModel(base)
    texts, groups, sources, teacher = load_set(work, not args.no_bundled)
    for extra in args.extra:
        more = load_set(Path(extra), False)
        texts, groups, sources = texts + more[0], groups + more[1], sources + more[2]
        teacher = np.concatenate([teacher, more[3]])
    keep = [i for i, t in enumerate(texts) if t.strip()]
    texts = [texts[i] for i in keep]
    groups = [groups[i] for i in keep]
    sources = [sources[i] for i in keep]
    teacher = teacher[keep]
    held = np.array([zlib.crc32(g.encode()) % 1000 < HOLDOUT * 1000 for g in groups])
    counts = {}
    for s, h in zip(sources, held):
        counts.setdefault(s, [0, 0])[int(h)] += 1
    print("texts (train / held-out):", {s: tuple(c) for s, c in counts.items()}, flush=True)

    ids, offsets = tokenize(student.tokenizer, texts)
    teacher /= np.linalg.norm(teacher, axis=1, keepdims=True)
    # Targets in the student's 256 dimensions: the teacher vectors' top principal axes (uncentred,
    # so cosines are kept up to the little variance dropped), fitted on the training texts.
    _, sv, axes = np.linalg.svd(teacher[~held].astype(np.float64), full_matrices=False)
    dims = student.dim
    kept = float((sv[:dims] ** 2).sum() / (sv ** 2).sum())
    target = teacher @ axes[:dims].T.astype(np.float32)
    target /= np.linalg.norm(target, axis=1, keepdims=True)
    print(f"teacher energy kept in {dims} dims: {kept:.4f}", flush=True)

    w0 = torch.from_numpy(student.weights.copy())
    ids_t = torch.from_numpy(ids)
    offs_t = torch.from_numpy(offsets)

    def bags(w, rows):
        idx = [ids_t[offs_t[r] : offs_t[r + 1]] for r in rows]
        lens = torch.tensor([len(x) for x in idx])
        flat = torch.cat(idx)
        starts = torch.zeros(len(rows), dtype=torch.long)
        starts[1:] = torch.cumsum(lens, 0)[:-1]
        return F.embedding_bag(flat, w, starts, mode="mean")

    all_rows = np.arange(len(texts))
    tr, ho = all_rows[~held], all_rows[held]
    # Rotate the shipped rows onto the target axes (orthogonal Procrustes: cosines between
    # texts unchanged), so training starts from exactly the shipped model's judgements.
    with torch.no_grad():
        s0 = F.normalize(bags(w0, tr.tolist()), dim=1).double().numpy()
    u, _, vt = np.linalg.svd(s0.T @ target[tr].astype(np.float64))
    rot = torch.from_numpy((u @ vt).astype(np.float32))
    init = w0 @ rot
    w = torch.nn.Parameter(init.clone())
    opt = torch.optim.Adam([w], lr=args.lr)
    tgt = torch.from_numpy(target)
    teach = torch.from_numpy(teacher)

    def evaluate(weights, rows, n_pairs=200000):
        with torch.no_grad():
            s = F.normalize(torch.cat([bags(weights, rows[i : i + 4096].tolist()) for i in range(0, len(rows), 4096)]), dim=1)
        cos = float((s * tgt[rows]).sum(1).mean())
        g = torch.Generator().manual_seed(0)
        a = torch.randint(len(rows), (n_pairs,), generator=g)
        b = torch.randint(len(rows), (n_pairs,), generator=g)
        ss = (s[a] * s[b]).sum(1).numpy()
        tt = (teach[rows][a] * teach[rows][b]).sum(1).numpy()
        return cos, float(np.corrcoef(ss, tt)[0, 1])

    c, r = evaluate(init, ho)
    print(f"held-out before: cosine to teacher {c:.4f}, pairwise-similarity correlation {r:.4f}", flush=True)
    scale = float(init.pow(2).sum(1).mean())
    rng = np.random.default_rng(args.seed)
    step = 0
    started = time.monotonic()
    history = []
    for epoch in range(args.epochs):
        order = rng.permutation(tr)
        for lo in range(0, len(order), args.batch):
            rows = order[lo : lo + args.batch]
            out = F.normalize(bags(w, rows.tolist()), dim=1)
            loss = 1 - (out * tgt[rows]).sum(1).mean()
            reg = args.reg * (w - init).pow(2).sum(1).mean() / scale
            opt.zero_grad()
            (loss + reg).backward()
            opt.step()
            step += 1
        c, r = evaluate(w.detach(), ho)
        history.append((epoch + 1, c, r))
        print(f"epoch {epoch + 1}: train loss {float(loss.detach()):.4f} reg {float(reg.detach()):.5f}; held-out cosine {c:.4f}, "
              f"pairwise correlation {r:.4f}; {time.monotonic() - started:.0f} s, load {os.getloadavg()[0]:.1f}",
              flush=True)
    final = w.detach()
    src = np.array(sources)
    for name in sorted(set(sources)):
        rows_s = ho[src[ho] == name]
        if len(rows_s) > 20:
            (b0, r0), (b1, r1) = evaluate(init, rows_s, 50000), evaluate(final, rows_s, 50000)
            print(f"  held-out {name} ({len(rows_s)}): cosine {b0:.4f} -> {b1:.4f}, pairwise correlation {r0:.4f} -> {r1:.4f}",
                  flush=True)
    write_model(Path(args.out), base, final.numpy(), args, history, len(tr), len(ho), counts)


def write_model(out: Path, base: Path, weights: np.ndarray, args, history, n_train, n_held, counts) -> None:
    import shutil

    from safetensors.numpy import save_file

    from overlap.signals.embedding.static_model import WEIGHT_KEY, WEIGHTS

    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    save_file({WEIGHT_KEY: np.ascontiguousarray(weights.astype(np.float16))}, str(out / WEIGHTS))
    meta = json.loads((out / "overlap-distill.json").read_text()) if (out / "overlap-distill.json").exists() else {}
    meta.update({
        "method": "token embeddings by the teacher, PCA, SIF weights; then trained on sentences: mean of token rows "
                  "regressed onto the teacher's normalised sentence vectors (cosine loss, L2 toward the start), "
                  "benchmarks/embedding_train.py",
        "train": {"epochs": args.epochs, "lr": args.lr, "reg": args.reg, "batch": args.batch, "seed": args.seed,
                  "texts_train": n_train, "texts_held_out": n_held, "sources": counts,
                  "held_out_cosine_pairwise_correlation": history[-1][1:] if history else None},
    })
    (out / "overlap-distill.json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {out}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sampling = argparse.ArgumentParser(add_help=False)
    sampling.add_argument("--work", required=True)
    sampling.add_argument("--seed", type=int, default=0)
    sampling.add_argument("--pydoc", type=int, default=7000)
    sampling.add_argument("--wordnet", type=int, default=4000)
    sampling.add_argument("--fortunes", type=int, default=3000)
    sampling.add_argument("--windows", type=int, default=4000)
    sampling.add_argument("--manpages", type=int, default=0)
    sampling.add_argument("--nodejs", type=int, default=0)
    c = sub.add_parser("collect", parents=[sampling], help="sample texts and embed them with MiniLM")
    c.add_argument("--threads", type=int, default=2)
    i = sub.add_parser("idf", parents=[sampling], help="count word pieces over the sampled texts and write the term weights")
    i.add_argument("--out", default=str(ROOT / "overlap" / "signals" / "embedding" / "term_idf.npy"))
    t = sub.add_parser("train", help="train the static rows and write a model folder")
    t.add_argument("--work", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--init", default="default", help="static model to start from (default: the shipped one)")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--reg", type=float, default=0.1)
    t.add_argument("--batch", type=int, default=256)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--no-bundled", action="store_true", help="leave out the bundled chunks' shipped MiniLM vectors")
    t.add_argument("--extra", nargs="*", default=[], help="more collected folders (texts and vectors) to train on")
    args = parser.parse_args()
    {"collect": collect, "idf": term_idf, "train": train}[args.cmd](args)


if __name__ == "__main__":
    main()
