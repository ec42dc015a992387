"""A seeded sample of a JSONL corpus, by share of documents or up to a size in bytes.

Usage::

    python benchmarks/validity/sample.py /tmp/big/corpus.jsonl --out /tmp/big/corpus38r.jsonl --share 0.31
    python benchmarks/validity/sample.py /tmp/big/corpus38r.jsonl --out /tmp/big/small.jsonl --bytes 900000

``--share``: each line kept with that probability (seeded), in file order. ``--bytes``: lines drawn
in a seeded random order, each kept while the total stays within that many bytes, written in file order.
"""

from __future__ import annotations

import argparse
import random
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--out", required=True)
    parser.add_argument("--share", type=float, default=None)
    parser.add_argument("--bytes", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if (args.share is None) == (args.bytes is None):
        parser.error("give one of --share and --bytes")
    with open(args.source, "rb") as f:
        lines = f.readlines()
    rng = random.Random(args.seed)
    if args.share is not None:
        keep = [line for line in lines if rng.random() < args.share]
    else:
        order = list(range(len(lines)))
        rng.shuffle(order)
        chosen, total = [], 0
        for i in order:
            if total + len(lines[i]) <= args.bytes:
                chosen.append(i)
                total += len(lines[i])
        keep = [lines[i] for i in sorted(chosen)]
    with open(args.out, "wb") as f:
        f.writelines(keep)
    print(f"{len(keep)} of {len(lines)} documents, {sum(map(len, keep))} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
