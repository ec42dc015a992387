"""The default commands on data the package has never seen: scan 1,000 examples, build 10 MB.

Text comes from two Debian packages outside the bundled corpus (see
/work/shared/SOURCES.md): WordNet glosses (``wordnet-base``) and fortune
cookies (``fortunes``). The dataset is 1,000 Alpaca-style records (half "what
does WORD mean?" with its gloss, half a fortune as the answer to a request);
the corpus is 10 MB of JSONL documents (WordNet synsets, 40 per document, then
fortunes, 20 per document). Each command runs as a user would run it, with a
fresh cache (nothing embedded before) and the default signals and model::

    python benchmarks/fast_default.py --work /tmp/fast-default

It prints wall time and the peak RSS of the largest process of each command
(``ru_maxrss`` of the children; the build's pool workers are separate
processes, each counted on its own).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

WORDNET = Path("/usr/share/wordnet")
FORTUNES = Path("/usr/share/games/fortunes")


def wordnet_synsets() -> list[tuple[str, str]]:
    """(words, gloss) of every WordNet synset, in file order."""
    out = []
    for part in ("noun", "verb", "adj", "adv"):
        for line in (WORDNET / f"data.{part}").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("  ") or " | " not in line:
                continue
            fields, gloss = line.split(" | ", 1)
            parts = fields.split()
            count = int(parts[3], 16)
            words = [parts[4 + 2 * i].replace("_", " ") for i in range(count)]
            out.append((", ".join(words), gloss.strip()))
    return out


def fortunes() -> list[str]:
    """Every fortune cookie of the plain-text fortune files, in file order."""
    out = []
    for path in sorted(FORTUNES.iterdir()):
        if path.suffix or path.is_symlink() or not path.is_file():
            continue
        for item in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            item = item.strip()
            if len(item.split()) >= 5:
                out.append(item)
    return out


def write_inputs(work: Path, corpus_bytes: int, examples: int, seed: int) -> tuple[Path, Path]:
    """The dataset (JSONL, Alpaca) and the corpus (JSONL documents of about ``corpus_bytes`` of text)."""
    synsets, sayings = wordnet_synsets(), fortunes()
    rng = random.Random(seed)
    records = [{"instruction": f"What does \"{words.split(', ')[0]}\" mean?", "input": "", "output": gloss}
               for words, gloss in rng.sample(synsets, examples // 2)]
    records += [{"instruction": "Tell me something worth remembering.", "input": "", "output": text}
                for text in rng.sample(sayings, examples - examples // 2)]
    dataset = work / "dataset.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    corpus = work / "corpus.jsonl"
    written = 0
    with corpus.open("w", encoding="utf-8") as handle:
        groups = [("wordnet", [f"{w}: {g}" for w, g in synsets], 40), ("fortunes", sayings, 20)]
        for name, items, per_doc in groups:
            for n in range(0, len(items), per_doc):
                text = "\n".join(items[n : n + per_doc])
                if written + len(text.encode()) > corpus_bytes:
                    return dataset, corpus
                handle.write(json.dumps({"id": f"{name}/{n // per_doc}", "text": text}) + "\n")
                written += len(text.encode())
    return dataset, corpus


def run(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB of the largest child so far, stderr) of one command."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak, done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="folder for the inputs, outputs and a fresh cache")
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--corpus-mb", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    dataset, corpus = write_inputs(work, int(args.corpus_mb * 1e6), args.examples, args.seed)
    env = {**os.environ, "OVERLAP_CACHE": str(work / "cache")}
    overlap = [sys.executable, "-m", "overlap.cli"]
    # The bundled index is built once beforehand: a user's first scan pays for it once, not per scan.
    first = run(overlap + ["scan", str(dataset), "--out", str(work / "warmup.parquet"), "--overwrite"], env)
    scan = run(overlap + ["scan", str(dataset), "--out", str(work / "scores.parquet"), "--overwrite"], env)
    build = run(overlap + ["index", "build", str(corpus), "--out", str(work / "index")], env)
    text_mb = sum(len(json.loads(line)["text"].encode()) for line in corpus.open(encoding="utf-8")) / 1e6
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.1f} at the end")
    print(f"first scan (builds the bundled index, {args.examples} examples): {first[0]:.1f} s")
    print(f"scan of {args.examples} new examples against the bundled index: {scan[0]:.1f} s")
    print(f"index build of {text_mb:.1f} MB of new text (default signals): {build[0]:.1f} s")
    print(f"peak RSS of the largest process over all runs: {max(first[1], scan[1], build[1]):.0f} MiB")
    progress_lines = [line for line in build[2].splitlines() if re.search(r" left$| in \d", line)]
    print(f"build progress lines on stderr: {len(progress_lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
