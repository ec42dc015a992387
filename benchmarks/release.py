"""Release step: copy what the benchmarks measured into the package, where it ships.

The benchmarks write their outputs beside themselves, never into ``overlap/``:

    benchmarks/validity/calibration.json       (benchmarks/validity/fit.py)
        -> overlap/scoring/calibration.json    the fallback calibration of corpora too small to fit their own
    benchmarks/finetune/finetune_evidence.json (benchmarks/finetune/report.py)
        -> overlap/weights/finetune_evidence.json   what `overlap reweight` quotes

Usage::

    python benchmarks/release.py            # copy them (refuses if any benchmark output is missing)
    python benchmarks/release.py --check    # exit 1 if a shipped copy differs from its benchmark output

Nothing else changes the shipped files, so a release is a reviewed diff of them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# benchmark output -> shipped copy, both relative to the repository root
RELEASED = {
    "benchmarks/validity/calibration.json": "overlap/scoring/calibration.json",
    "benchmarks/finetune/finetune_evidence.json": "overlap/weights/finetune_evidence.json",
}


def differing(root: Path = ROOT) -> list[str]:
    """The shipped copies that are missing or differ from their benchmark outputs (one line each)."""
    lines = []
    for source, shipped in RELEASED.items():
        src, dst = root / source, root / shipped
        if not src.is_file():
            lines.append(f"{source}: missing (run its benchmark first)")
        elif not dst.is_file():
            lines.append(f"{shipped}: missing (run benchmarks/release.py)")
        elif src.read_bytes() != dst.read_bytes():
            lines.append(f"{shipped} differs from {source}")
    return lines


def release(root: Path = ROOT) -> list[str]:
    """Copy every benchmark output over its shipped copy; refuse, copying nothing, if one is missing."""
    missing = [source for source in RELEASED if not (root / source).is_file()]
    if missing:
        raise FileNotFoundError(f"benchmark output missing, nothing copied: {', '.join(missing)}")
    copied = []
    for source, shipped in RELEASED.items():
        if (root / shipped).is_file() and (root / shipped).read_bytes() == (root / source).read_bytes():
            continue
        shutil.copyfile(root / source, root / shipped)
        copied.append(f"{source} -> {shipped}")
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only say whether the shipped copies equal the benchmark outputs")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        lines = differing(args.root)
        for line in lines:
            print(line)
        if not lines:
            print("shipped copies equal the benchmark outputs")
        return 1 if lines else 0
    try:
        copied = release(args.root)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in copied:
        print(f"copied {line}")
    if not copied:
        print("nothing to copy: the shipped copies already equal the benchmark outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
