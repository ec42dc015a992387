"""Throughput benchmark: overlap's lexical index build and scan, side by side with datasketch and rensa.

One run measures, on the same JSONL corpus (generated to ``--size``, or given
with ``--corpus``):

* ``overlap index build FILES --signals ngram,minhash``: the real command, in
  a subprocess, with its default process pool (one shard per file);
* rensa ``RMinHash`` and datasketch ``MinHash.bulk``, each in its own
  subprocess, timed end to end from the same files: parse the JSON, lower-case,
  split on white space, form word 5-grams, MinHash them with 128 permutations
  (one signature per document);
* overlap's MinHash alone through the Python API (the same work as the peers:
  one whole-document signature of word 5-grams, 128 permutations), one process
  and one thread, so per core it compares like with like;
* ``overlap scan`` of ``--scan-examples`` generated examples against the index
  of the bundled reference corpus (lexical signals);
* bytes of index per corpus word (token).

Each command runs under a small wrapper process that reports its wall time,
the peak resident memory of its largest process (``getrusage``
``RUSAGE_CHILDREN``) and the peak of the sum over all its processes (sampled
from /proc every 50 ms; the build runs a pool of workers at once). ::

    python benchmarks/throughput.py --size 200MB
    python benchmarks/throughput.py --corpus my-corpus/*.jsonl --work /data/bench

The index build does much more than the peers: MinHash of windows at three
sizes (not one signature per document) with their LSH bands sorted, the exact
8-gram index, and the documents' text stored in Parquet for evidence. Its
ratios are printed as they are; the MinHash-only line is the like-for-like one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import corpus as corpus_gen  # noqa: E402

SHINGLE = 5
NUM_PERM = 128
SEED = 1


# --- measuring one command ---------------------------------------------------------------------


def _tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (Linux /proc; 0 elsewhere)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * page
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def _measure_main(argv: list[str]) -> int:
    """Wrapper mode: run ``argv``, then print one JSON line with its wall time and memory peaks."""
    log = argv[0]
    cmd = argv[1:]
    peak = 0
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    print(json.dumps({
        "rc": proc.returncode,
        "wall_s": wall,
        "max_rss": usage.ru_maxrss * scale,
        "tree_rss": peak,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }))
    return 0


def measure(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run ``cmd`` under the wrapper; raise with its log if it fails."""
    wrapper = [sys.executable, str(Path(__file__).resolve()), "_measure", str(log), *cmd]
    done = subprocess.run(wrapper, capture_output=True, text=True, env=env, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed (exit {result['rc']}):\n{log.read_text()[-3000:]}")
    return result


# --- the peers and overlap's MinHash alone, each run as a child of the wrapper -----------------


def _shingles(text: str) -> list[str]:
    words = text.lower().split()
    if len(words) <= SHINGLE:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)]


def _iter_texts(files: list[str]):
    for path in files:
        with open(path, "rb") as handle:
            for line in handle:
                yield json.loads(line)["text"]


def _peer_main(argv: list[str]) -> int:
    """Peer mode: ``rensa|datasketch|overlap-minhash FILE...``; print documents and bytes done."""
    name, files = argv[0], argv[1:]
    docs = 0
    if name == "rensa":
        from rensa import RMinHash

        for text in _iter_texts(files):
            m = RMinHash(num_perm=NUM_PERM, seed=SEED)
            m.update(_shingles(text))
            m.digest()
            docs += 1
    elif name == "datasketch":
        from datasketch import MinHash

        batch: list[list[bytes]] = []
        for text in _iter_texts(files):
            batch.append([s.encode("utf-8") for s in _shingles(text)])
            if len(batch) == 1000:
                MinHash.bulk(batch, num_perm=NUM_PERM, seed=SEED)
                docs += len(batch)
                batch = []
        if batch:
            MinHash.bulk(batch, num_perm=NUM_PERM, seed=SEED)
            docs += len(batch)
    elif name == "overlap-minhash":
        from overlap import kernels
        from overlap.io import iter_corpus_batches
        from overlap.lexical import LexicalBatch
        from overlap.signals import minhash

        kernels.set_threads(1)
        params = {**minhash.default_params(), "shingle_n": SHINGLE, "num_perm": NUM_PERM, "minhash_seed": SEED}
        for batch in iter_corpus_batches(files, batch_size=2048):
            lexical = LexicalBatch.from_texts(batch.texts)
            minhash.query_signatures(lexical, params)
            docs += len(batch.texts)
    else:
        raise SystemExit(f"unknown peer {name}")
    print(json.dumps({"docs": docs}))
    return 0


# --- datasets and the bundled index ------------------------------------------------------------


def scan_dataset(path: Path, count: int, seed: int = 0) -> Path:
    """``count`` distinct chat examples: a third cut from the bundled corpus, a third edited, a third new."""
    import numpy as np

    words, stream, freq = corpus_gen._load_tokens(sorted((ROOT / "corpora" / "reference").glob("*.jsonl.gz")))
    breaks = np.array([w == "\n\n" for w in words])
    probs = np.where(breaks, 0.0, freq)
    cumulative = np.cumsum(probs / probs.sum())
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            length = int(rng.integers(20, 200))
            kind = i % 3
            if kind == 2:
                ids = np.searchsorted(cumulative, rng.random(length) * cumulative[-1])
            else:
                start = int(rng.integers(0, len(stream) - length))
                ids = stream[start : start + length].copy()
                if kind == 1:
                    swap = (rng.random(length) < 0.1) & ~breaks[ids]
                    ids[swap] = np.searchsorted(cumulative, rng.random(int(swap.sum())) * cumulative[-1])
            answer = " ".join(words[j] for j in ids.tolist()).replace(" \n\n ", "\n\n").strip()
            record = {
                "id": f"bench-{i}",
                "messages": [
                    {"role": "user", "content": f"Question {i}: tell me about {words[int(ids[0])]}."},
                    {"role": "assistant", "content": answer},
                ],
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def overlap_command() -> list[str]:
    """The ``overlap`` console script of this Python, else the module."""
    script = Path(sys.executable).parent / "overlap"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "overlap.cli"]


def _readable_index(path: Path) -> bool:
    """True when ``path`` holds a complete index this overlap can read (not one of an older format)."""
    from overlap.index.manifest import IndexError_, read_manifest

    try:
        read_manifest(path)
    except (IndexError_, OSError, ValueError):
        return False
    return True


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- the run -----------------------------------------------------------------------------------


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _row(name: str, result: dict, mb: float, docs: int) -> dict:
    return {
        "name": name,
        "wall_s": result["wall_s"],
        "mb_s": mb / result["wall_s"],
        "docs_s": docs / result["wall_s"],
        "max_rss": result["max_rss"],
        "tree_rss": result["tree_rss"],
    }


def _print_table(rows: list[dict]) -> None:
    headers = ["run", "wall s", "MB/s", "docs/s", "peak RSS, largest process", "peak RSS, all processes"]
    lines = [[r["name"], f"{r['wall_s']:.1f}", f"{r['mb_s']:.2f}", f"{r['docs_s']:.0f}",
              f"{r['max_rss'] / 2**20:.0f} MiB", f"{r['tree_rss'] / 2**20:.0f} MiB"] for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(fmt(headers))
    for line in lines:
        print(fmt(line))


def _ratio(label: str, ours: dict | None, theirs: dict | None, target: float | None) -> None:
    if ours is None or theirs is None:
        return
    value = ours["mb_s"] / theirs["mb_s"]
    goal = f"  (target >= {target:g}x: {'met' if value >= target else 'NOT met'})" if target else ""
    print(f"ratio {label}: {value:.2f}x{goal}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=corpus_gen.parse_size, default=corpus_gen.parse_size("200MB"),
                        help="size of the generated corpus (default 200MB)")
    parser.add_argument("--files", type=int, default=4, help="files of the generated corpus (one shard each)")
    parser.add_argument("--corpus", nargs="+", default=None, help="use these JSONL files (a 'text' field) instead")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temp folder, removed)")
    parser.add_argument("--workers", type=int, default=None, help="overlap --workers (default: all cores)")
    parser.add_argument("--peers", default="rensa,datasketch", help="comma list of peers to run ('' for none)")
    parser.add_argument("--no-minhash-api", action="store_true", help="skip overlap's MinHash-only run")
    parser.add_argument("--scan-examples", type=int, default=10_000, help="examples to scan (0: skip the scan)")
    parser.add_argument("--scan-index", type=Path, default=None,
                        help="an index of the bundled corpus to scan against (default: build one in --work)")
    parser.add_argument("--keep", action="store_true", help="keep the built indexes in --work")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="overlap-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    try:
        if args.corpus:
            files = [str(Path(f)) for f in args.corpus]
        else:
            folder = work / f"corpus-{args.size}-{args.files}"
            print(f"generating a {args.size / 1e6:.0f} MB corpus in {folder} ...", file=sys.stderr)
            files = [str(p) for p in corpus_gen.ensure_corpus(folder, args.size, args.files)]
        mb = sum(Path(f).stat().st_size for f in files) / 1e6
        docs = sum(1 for f in files for line in open(f, "rb") if line.strip())
        print(f"corpus: {len(files)} files, {mb:.1f} MB of JSONL, {docs} documents")
        print(f"machine: {os.cpu_count()} cores; overlap --workers {args.workers or os.cpu_count()}; "
              f"load average before: {_load()}")
        print()

        rows: dict[str, dict] = {}
        index = work / "index"
        shutil.rmtree(index, ignore_errors=True)
        cmd = [*overlap_command(), "index", "build", *files, "--out", str(index), "--signals", "ngram,minhash"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        result = measure(cmd, logs / "build.log")
        rows["build"] = _row("overlap index build (CLI)", result, mb, docs)
        manifest = json.loads((index / "manifest.json").read_text())
        words = sum(s["counts"]["words"] for s in manifest["shards"])
        index_bytes = directory_bytes(index)
        if not args.keep:
            shutil.rmtree(index, ignore_errors=True)

        me = [sys.executable, str(Path(__file__).resolve()), "_peer"]
        if not args.no_minhash_api:
            result = measure([*me, "overlap-minhash", *files], logs / "overlap-minhash.log")
            rows["api"] = _row("overlap MinHash only (API, 1 thread)", result, mb, docs)
        for peer in [p for p in args.peers.split(",") if p]:
            result = measure([*me, peer, *files], logs / f"{peer}.log")
            rows[peer] = _row(f"{peer} (1 process)", result, mb, docs)

        print("Throughput on the same JSONL files (MB of JSONL per second of wall time, whole process):")
        _print_table(list(rows.values()))
        print()
        print("overlap index build does more than the peers: MinHash of windows at 3 sizes with sorted LSH bands,")
        print("plus the exact 8-gram index and the stored text (docs.parquet); the peers make one signature per")
        print("document. 'MinHash only' is overlap doing the peers' work (whole-document 5-gram MinHash, 128 perms).")
        _ratio("index build / rensa", rows.get("build"), rows.get("rensa"), 3)
        _ratio("index build / datasketch", rows.get("build"), rows.get("datasketch"), 30)
        _ratio("MinHash only, 1 thread / rensa", rows.get("api"), rows.get("rensa"), None)
        _ratio("MinHash only, 1 thread / datasketch", rows.get("api"), rows.get("datasketch"), None)
        print(f"index: {index_bytes / 1e6:.1f} MB for {words} corpus words: "
              f"{index_bytes / max(words, 1):.1f} bytes per token ({index_bytes / (mb * 1e6):.2f} bytes per corpus byte)")

        if args.scan_examples:
            bundled = args.scan_index or work / "bundled-index"
            if not _readable_index(bundled):
                shutil.rmtree(bundled, ignore_errors=True)
                sources = sorted(str(p) for p in (ROOT / "corpora" / "reference").glob("*.jsonl.gz"))
                measure([*overlap_command(), "index", "build", *sources, "--out", str(bundled),
                         "--signals", "ngram,minhash"], logs / "bundled-build.log")
            dataset = scan_dataset(work / f"scan-{args.scan_examples}.jsonl", args.scan_examples)
            out = work / "scores.parquet"
            cmd = [*overlap_command(), "scan", str(dataset), "--index", str(bundled), "--out", str(out), "--overwrite"]
            if args.workers:
                cmd += ["--workers", str(args.workers)]
            result = measure(cmd, logs / "scan.log")
            print(f"scan: {args.scan_examples} examples against the bundled index (ngram,minhash) in "
                  f"{result['wall_s']:.1f} s: {args.scan_examples / result['wall_s']:.0f} examples/s, "
                  f"peak RSS {result['tree_rss'] / 2**20:.0f} MiB (target: 10,000 in under 20 s)")
        print(f"load average after: {_load()} (other work on the machine slows every row alike)")
    finally:
        if args.work is None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_measure":
        sys.exit(_measure_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "_peer":
        sys.exit(_peer_main(sys.argv[2:]))
    sys.exit(main())
