"""A labelled domain benchmark the project never tuned on: manuals against man pages, each model side by side.

Reference corpus (``--set coreutils``, the default; ``gettext-gnupg`` is a second
set built the same way from other packages, and ``git`` a third, git's guides
against its command reference, see ``SETS``): the Texinfo manuals
(Debian ships them compiled in ``/usr/share/info``) of coreutils, grep, sed,
findutils, diffutils, gzip and bzip2, one document per manual node. Queries are paragraphs of the man pages
(``/usr/share/man/man1``, rendered by ``groff``), grouped to 30-160 words:

* positives: man pages of the programs those manuals document. Most GNU man
  pages are made from ``--help`` by help2man, written apart from the Texinfo
  manual, so they restate its content in other (shorter) words, with some
  sentences in common;
* negatives: man pages of a neighbouring domain the reference does not cover:
  other command-line tools (tar, ssh, wget, gpg, bc, ed, time, procps,
  util-linux, dpkg, apt, less, man-db, xz-utils, curl).

At most ``--per-page`` queries per man page, then as many negatives as
positives, sampled with ``--seed``. For each model (``--models``, default
``default,minilm``) it builds an index of the reference with the CLI (``overlap
index build``, the index's own held-out self-calibration included), scans the
queries with the CLI (no ``--model`` at scan time: the index names its model),
and prints AUROC of ``familiarity`` and ``semantic_similarity`` (all positives,
and the paraphrase-only positives: word 8-gram containment under 0.2), the
index's own held-out validity card, shuffled-word copies of positives labelled
``familiar_content``, and wall time of each command::

    python benchmarks/domain.py --work /tmp/domain
    python benchmarks/domain.py --set gettext-gnupg --work /tmp/domain2   # the second set (SETS)
    python benchmarks/domain.py --set git --work /tmp/domain3             # the third
    python benchmarks/domain.py --work /tmp/domain --models default,minilm,/path/to/static

Everything runs with ``OVERLAP_CACHE=WORK/cache``; rerunning in the same
``--work`` reuses the embedding cache (times are then not first-run times).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_default import run  # noqa: E402  (same timing harness as the default-path benchmark)

INFO = Path("/usr/share/info")
MAN1 = Path("/usr/share/man/man1")


@dataclass(frozen=True)
class DomainSet:
    """A reference (the Texinfo manuals indexed), positives (man pages of the programs they document)
    and negatives (man pages of a neighbouring domain they do not cover), each man page named by its
    Debian package (its section-1 pages)."""

    manuals: tuple[str, ...]
    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    reference_pages: tuple[str, ...] = ()  # packages whose man1 pages are indexed too, one document each
    guide_pages: tuple[str, ...] = ()  # positives from these pages (under /usr/share/man) as well
    guide_per_page: int = 3  # at most this many positives from each guide page


SETS = {
    "coreutils": DomainSet(
        manuals=("coreutils", "grep", "sed", "find", "diffutils", "gzip", "bzip2"),
        positives=("coreutils", "grep", "sed", "findutils", "diffutils", "gzip", "bzip2"),
        negatives=("tar", "openssh-client", "wget", "gpg", "bc", "ed", "time", "procps", "util-linux", "dpkg",
                   "apt", "less", "man-db", "xz-utils", "curl")),
    "gettext-gnupg": DomainSet(
        manuals=("gettext", "gnupg", "wget", "bc", "ed", "time"),
        positives=("gettext", "gettext-base", "gpg", "gpg-agent", "gpgsm", "gpgconf", "gpgv", "gnupg-utils",
                   "dirmngr", "wget", "ed", "bc", "time"),
        negatives=("coreutils", "grep", "sed", "findutils", "diffutils", "gzip", "bzip2", "tar", "openssh-client",
                   "procps", "util-linux", "dpkg", "apt", "less", "man-db", "xz-utils", "curl")),
    # Git's guides (FAQ, tutorials, workflows) against its command reference: the same facts told
    # as advice and walkthroughs rather than option lists. Added after every change it measures.
    "git": DomainSet(
        manuals=(), reference_pages=("git-man",), positives=(),
        guide_pages=tuple(f"man7/{page}.7.gz" for page in (
            "gitfaq", "giteveryday", "gittutorial", "gittutorial-2", "gitcore-tutorial", "gitworkflows",
            "gitcvs-migration", "gitcli", "gitsubmodules", "gitcredentials")),
        guide_per_page=25,
        negatives=("openssh-client", "gpg", "tar", "curl", "wget", "diffutils", "patch", "make", "less", "rsync",
                   "coreutils", "findutils", "grep", "sed", "dpkg", "apt", "xz-utils")),
}
SKIP_SECTIONS = {"NAME", "SYNOPSIS", "AUTHOR", "AUTHORS", "REPORTING BUGS", "COPYRIGHT", "SEE ALSO", "BUGS",
                 "HISTORY", "EXIT STATUS", "ENVIRONMENT", "FILES", "STANDARDS", "AVAILABILITY", "COLOPHON"}
PARAPHRASE_BELOW = 0.2  # ngram_containment under which a positive counts as restated, not copied


def info_documents(manuals: tuple[str, ...]) -> list[dict]:
    """One document per node of each reference manual (the node header line dropped)."""
    docs = []
    for manual in manuals:
        files = sorted(INFO.glob(f"{manual}.info*.gz"))
        for path in files:
            text = gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
            for n, node in enumerate(text.split("\x1f")):
                lines = node.strip("\n").splitlines()
                if not lines or not lines[0].startswith("File:"):
                    continue
                title = re.search(r"Node: ([^,]+)", lines[0])
                body = "\n".join(lines[1:]).strip()
                if len(body.split()) >= 20:
                    docs.append({"id": f"{path.name}/{title.group(1) if title else n}", "text": body})
    return docs


def reference_page_documents(packages: tuple[str, ...]) -> list[dict]:
    """One document per man1 page of each package (its rendered text, lines joined)."""
    return [{"id": page.name.removesuffix(".1.gz"), "text": text}
            for package in packages for page in man_pages(package)
            if len((text := " ".join(render(page).split())).split()) >= 20]


def man_pages(package: str) -> list[Path]:
    listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False).stdout
    return sorted({Path(p) for p in listed.split() if p.startswith(str(MAN1) + "/") and p.endswith(".1.gz")
                   and Path(p).is_file() and not Path(p).is_symlink()})


def render(page: Path) -> str:
    roff = gzip.open(page, "rb").read()
    done = subprocess.run(["groff", "-man", "-Tutf8", "-rLL=3000n", "-P", "-cbou"], input=roff,
                          capture_output=True, check=False)
    return done.stdout.decode("utf-8", "replace")


def page_queries(page: Path, low: int = 30, high: int = 160) -> list[str]:
    """Paragraphs of the page's content sections, consecutive ones joined to ``low``-``high`` words."""
    section, out, current = None, [], []
    paragraphs: list[tuple[str | None, str]] = []
    block: list[str] = []
    for line in render(page).splitlines()[1:]:
        if line and not line[0].isspace():
            if block:
                paragraphs.append((section, " ".join(block)))
                block = []
            section = line.strip().upper()
            continue
        if not line.strip():
            if block:
                paragraphs.append((section, " ".join(block)))
                block = []
            continue
        block.append(line.strip())
    if block:
        paragraphs.append((section, " ".join(block)))
    last = None
    for section, para in paragraphs:
        if section in SKIP_SECTIONS or section is None:
            continue
        if section != last and current:
            out.append(" ".join(current))
            current = []
        last = section
        current.append(para)
        if len(" ".join(current).split()) >= low:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return [" ".join(q.split()[:high]) for q in out if len(q.split()) >= low]


def queries(packages: tuple[str, ...], per_page: int, rng: random.Random,
            pages: tuple[Path, ...] = ()) -> list[dict]:
    """At most ``per_page`` queries from each man1 page of ``packages``, and of each page in ``pages``."""
    out = []
    listed = [(package, page) for package in packages for page in man_pages(package)]
    for package, page in listed + [(page.parent.name, page) for page in pages]:
        items = page_queries(page)
        for n, text in enumerate(rng.sample(items, min(per_page, len(items)))):
            name = page.name.removesuffix(".gz").rsplit(".", 1)[0]  # gitfaq.7.gz, rename.ul.1.gz
            out.append({"id": f"{name}/{n}", "text": text, "package": package})
    return out


def write_inputs(work: Path, domain: DomainSet, per_page: int, seed: int) -> tuple[Path, Path, int]:
    rng = random.Random(seed)
    reference = work / "reference.jsonl"
    docs = info_documents(domain.manuals) + reference_page_documents(domain.reference_pages)
    reference.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    pos = queries(domain.positives, per_page, rng) + \
        queries((), domain.guide_per_page, rng, tuple(MAN1.parent / page for page in domain.guide_pages))
    neg = queries(domain.negatives, per_page, rng)
    n = min(len(pos), len(neg))
    records = [{**q, "label": 1} for q in rng.sample(pos, n)] + [{**q, "label": 0} for q in rng.sample(neg, n)]
    # Shuffled-word copies of the positives: the same bag of words, no sentence left.
    for q in records[:n]:
        words = q["text"].split()
        rng.shuffle(words)
        records.append({**q, "id": q["id"] + "/shuffled", "text": " ".join(words), "label": -1})
    dataset = work / "queries.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    words = sum(len(d["text"].split()) for d in docs)
    return reference, dataset, words


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    from overlap.scoring.calibrate import auroc as _auroc

    return float(_auroc(np.nan_to_num(pos, nan=0.0), np.nan_to_num(neg, nan=0.0)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--models", default="default,minilm")
    parser.add_argument("--set", choices=sorted(SETS), default="coreutils",
                        help="which manuals and man pages (see SETS)")
    parser.add_argument("--per-page", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    reference, dataset, words = write_inputs(work, SETS[args.set], args.per_page, args.seed)
    labels = pl.read_ndjson(dataset)["label"].to_numpy()
    env = {**os.environ, "OVERLAP_CACHE": str(work / "cache")}
    overlap = [sys.executable, "-m", "overlap.cli"]
    from overlap import api
    from overlap.scoring import calibrate

    rows = []
    for spec in args.models.split(","):
        tag = re.sub(r"[^A-Za-z0-9]+", "-", spec).strip("-")
        index = work / f"index-{tag}"
        build = run(overlap + ["index", "build", str(reference), "--out", str(index), "--model", spec], env) \
            if not (index / "manifest.json").exists() else (float("nan"), 0.0, "")
        out = work / f"scores-{tag}.parquet"
        # A bundled model's index names its model; a model folder (a candidate) is passed again.
        again = ["--model", spec] if Path(spec).is_dir() else []
        scan = run(overlap + ["scan", str(dataset), "--index", str(index), "--out", str(out), "--overwrite"] + again, env)
        scores = pl.read_parquet(out)
        pos, neg, shuf = labels == 1, labels == 0, labels == -1
        para = pos & (scores["ngram_containment"].fill_null(0).to_numpy() < PARAPHRASE_BELOW)
        fam = scores["familiarity"].fill_null(np.nan).to_numpy()
        sem = scores["semantic_similarity"].fill_null(np.nan).to_numpy()
        content = scores["familiar_content"].fill_null(False).to_numpy()
        card = api.index_info(index).calibration or {}
        rows.append({
            "model": spec, "build_s": build[0], "scan_s": scan[0],
            "fam": auroc(fam[pos], fam[neg]), "sem": auroc(sem[pos], sem[neg]),
            "fam_para": auroc(fam[para], fam[neg]), "sem_para": auroc(sem[para], sem[neg]),
            "content_pos": content[pos].mean(), "content_neg": content[neg].mean(),
            "content_shuffled": content[shuf].mean(), "familiar_shuffled": (scores["label"].to_numpy()[shuf] == "familiar").mean(),
            "card": "; ".join(calibrate.card_lines(card)[2:]),
        })
    print(f"reference: {words:,} words of reference; queries: {int(pos.sum())} positives "
          f"({int(para.sum())} paraphrase-only, 8-gram containment < {PARAPHRASE_BELOW}), {int(neg.sum())} negatives, "
          f"{int(shuf.sum())} shuffled positives")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    print("| model | familiarity AUROC | semantic AUROC | familiarity AUROC, paraphrase-only | "
          "semantic AUROC, paraphrase-only | familiar_content pos / neg / shuffled | shuffled labelled familiar "
          "| build s | scan s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['fam']:.3f} | {r['sem']:.3f} | {r['fam_para']:.3f} | {r['sem_para']:.3f} | "
              f"{r['content_pos']:.1%} / {r['content_neg']:.1%} / {r['content_shuffled']:.1%} | "
              f"{r['familiar_shuffled']:.1%} | {r['build_s']:.1f} | {r['scan_s']:.1f} |")
    for r in rows:
        print(f"index card, {r['model']}: {r['card']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
