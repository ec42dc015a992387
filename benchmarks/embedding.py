"""Embedding throughput: the full model against the static model distilled from it, in one run.

Embeds the same chunks of the bundled reference corpus (``chunk_words`` words
each, as the index cuts them) with the bundled MiniLM and with a static model
distilled from it (default: the one shipped in the package, ``overlap model
distill`` makes others), and prints chunks/s, words/s and the ratio. The
accuracy side is the validity benchmark run against an index built with each
model (see docs/static-model.md)::

    python benchmarks/embedding.py --chunks 2000
    python benchmarks/embedding.py --static /data/static-minilm --chunks 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

from overlap.io import bundled as data
from overlap.signals.embedding import models
from overlap.io.formats import iter_records
from overlap.signals.embedding.index import default_params


def chunks(count: int, words: int) -> list[str]:
    """The first ``count`` chunks of ``words`` words of the bundled corpus, file by file."""
    out: list[str] = []
    for path in data.reference_sources():
        for _, record in iter_records(path):
            if isinstance(record, dict):
                tokens = str(record.get("text", "")).split()
                out += [" ".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
            if len(out) >= count:
                return out[:count]
    return out


def rate(spec: str | None, texts: list[str]) -> tuple[float, float]:
    """(chunks/s, seconds) of encoding ``texts`` with a model, after a warm-up batch."""
    model = models.load_model(spec)
    models.encode(model, texts[:64])
    started = time.perf_counter()
    models.encode(model, texts)
    seconds = time.perf_counter() - started
    return len(texts) / seconds, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--static", default="default",
                        help="a static model folder (default: the one shipped in the package)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    words = default_params()["chunk_words"]
    texts = chunks(args.chunks, words)
    full_rate, full_s = rate("minilm", texts)
    static_rate, static_s = rate(args.static, texts)
    print(f"{len(texts)} chunks of {words} words, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print("| model | seconds | chunks/s | words/s |")
    print("|---|---:|---:|---:|")
    for name, r, s in (("all-MiniLM-L6-v2 (full)", full_rate, full_s), ("static, distilled", static_rate, static_s)):
        print(f"| {name} | {s:.2f} | {r:,.0f} | {r * words:,.0f} |")
    print(f"static / full: {static_rate / full_rate:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
