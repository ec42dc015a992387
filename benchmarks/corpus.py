"""Generate a realistic benchmark corpus of a given size as JSONL files.

Text is sampled from the bundled reference corpora (Wikipedia, ABC news, Python
docs): each document strings together a few runs of consecutive words taken
from random places in the bundled text, keeping its paragraph breaks, and then
replaces about one word in ten with a word drawn from the corpus' own word
frequencies (so Zipfian). That keeps the text's vocabulary, word lengths,
punctuation and Unicode as they are, while most word 5- and 8-grams are new, as
they would be in a real corpus much larger than the bundled one.

Deterministic for a given size, file count and seed. ::

    python benchmarks/corpus.py --size 200MB --files 4 --out /tmp/corpus-200mb
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "corpora" / "reference"
_TOKEN = re.compile(r"\n\n|[^\s]+")
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def parse_size(text: str) -> int:
    """``"200MB"`` -> 200_000_000 (decimal units; KiB/MiB/GiB binary)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 200MB or 1GB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _load_tokens(sources: list[Path]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Vocabulary, the bundled text as token ids, and each token's corpus frequency."""
    vocab: dict[str, int] = {}
    ids: list[int] = []
    for path in sources:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                text = json.loads(line).get("text", "")
                text = re.sub(r"\n\s*\n\s*", "\n\n", text)
                for tok in _TOKEN.findall(text):
                    ids.append(vocab.setdefault(tok, len(vocab)))
                ids.append(vocab.setdefault("\n\n", len(vocab)))
    stream = np.asarray(ids, dtype=np.int32)
    counts = np.bincount(stream, minlength=len(vocab)).astype(np.float64)
    words = list(vocab)
    return words, stream, counts


def generate(
    out: Path,
    size: int,
    files: int = 4,
    seed: int = 0,
    mean_words: int = 600,
    replace: float = 0.1,
    sources: list[Path] | None = None,
) -> list[Path]:
    """Write about ``size`` bytes of JSONL documents into ``files`` files under ``out``."""
    sources = sources or sorted(REFERENCE.glob("*.jsonl.gz"))
    words, stream, counts = _load_tokens(sources)
    breaks = np.array([w == "\n\n" for w in words])
    probs = np.where(breaks, 0.0, counts)
    probs /= probs.sum()
    cumulative = np.cumsum(probs)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    per_file = size // files
    paths = []
    doc = 0
    for number in range(files):
        path = out / f"part-{number:03d}.jsonl"
        written = 0
        with open(path, "w", encoding="utf-8") as handle:
            while written < per_file:
                lines = []
                for _ in range(256):
                    length = int(np.clip(rng.lognormal(np.log(mean_words), 0.8), 20, 20 * mean_words))
                    runs = max(1, length // 150)
                    starts = rng.integers(0, len(stream) - length, runs)
                    parts = np.concatenate([stream[s : s + (length + runs - 1) // runs] for s in starts])
                    swap = (rng.random(len(parts)) < replace) & ~breaks[parts]
                    parts[swap] = np.searchsorted(cumulative, rng.random(int(swap.sum())) * cumulative[-1])
                    text = " ".join([words[i] for i in parts.tolist()]).replace(" \n\n ", "\n\n").strip()
                    lines.append(json.dumps({"id": f"gen-{doc}", "text": text}, ensure_ascii=False))
                    doc += 1
                chunk = "\n".join(lines) + "\n"
                handle.write(chunk)
                written += len(chunk.encode("utf-8"))
        paths.append(path)
    return paths


def ensure_corpus(out: Path, size: int, files: int, seed: int = 0) -> list[Path]:
    """The corpus at ``out`` if one of this size, file count and seed is there, else a new one."""
    stamp = out / ".corpus-spec.json"  # hidden: index build skips it
    spec = {"size": size, "files": files, "seed": seed, "version": 1}
    paths = [out / f"part-{n:03d}.jsonl" for n in range(files)]
    if stamp.exists() and json.loads(stamp.read_text()) == spec and all(p.exists() for p in paths):
        return paths
    for old in out.glob("part-*.jsonl"):
        old.unlink()
    paths = generate(out, size, files, seed)
    stamp.write_text(json.dumps(spec))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=parse_size("100MB"), help="total bytes (e.g. 200MB, 2GB)")
    parser.add_argument("--files", type=int, default=4, help="number of JSONL files (>= 2 so shards build in parallel)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    paths = ensure_corpus(args.out, args.size, args.files, args.seed)
    total = sum(p.stat().st_size for p in paths)
    print(f"{len(paths)} files, {total / 1e6:.1f} MB in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
