"""Scale benchmark: index-build (and scan) throughput per worker, local and Ray engines,
projected to 1 TB and 10 TB corpora on N workers so a cluster can be sized.

Usage::

    python benchmarks/scale/run.py                       # 200 MB generated corpus, 1 and 2 workers
    python benchmarks/scale/run.py --size 1GB --files 8 --workers 1,2,4 --engines local,ray

Each (engine, workers) configuration runs in a fresh process pinned to
``workers`` cores (``sched_setaffinity``, and ``NUMBA_NUM_THREADS=workers``), so
"per worker" means per core: the local engine runs one process per worker with
one kernel thread each, the Ray engine a local Ray of ``workers`` CPUs with one
CPU per task. Ray's start-up is timed apart and left out of the throughput (a
cluster is started once, not per build); its workers are warmed with a one-file
build first. The corpus is ``benchmarks/corpus.py``'s generated text (bundled
vocabulary, mostly new n-grams, as in a real corpus much larger than the
bundled one), as uncompressed JSON lines; the index-size ratio is also measured
on the bundled corpus itself.

Writes ``results.json`` and ``results.md`` next to this file (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from corpus import ensure_corpus, parse_size  # noqa: E402

TB = 10**12
CLUSTER_SIZES = (1, 8, 32, 128, 512)
CORPUS_SIZES = (1 * TB, 10 * TB)


# --- one configuration, in its own process -------------------------------------------------


def tree_cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, its finished children and its live descendants.

    Ray's workers are descendants of the driver (through the raylet), so a local
    Ray's work is counted; needs psutil (a Ray dependency) for live descendants.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + done.ru_utime + done.ru_stime
    try:
        import psutil
    except ImportError:
        return total
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total



def run_one(engine: str, workers: int, corpus: Path, work: Path, signals: str, dataset: Path) -> dict:
    """Build (and scan with) an index of ``corpus`` on ``engine`` with ``workers`` cores."""
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:workers]))
    from overlap.engines import Engine
    from overlap.pipeline import build
    from overlap.pipeline import scan
    from overlap.io import read_dataset

    result: dict = {"engine": engine, "workers": workers, "load_before": os.getloadavg()[0]}
    if engine == "ray":
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        result["ray_start_s"] = time.perf_counter() - started
    # Warm up (imports, compiled-kernel cache, Ray workers) on 2% of one file per worker.
    warm = work / "warm"
    files = sorted(corpus.glob("part-*.jsonl"))[:workers]
    started = time.perf_counter()
    build.build_index(files, warm, signals=signals, engine=Engine(engine, workers), sample_rate=0.02)
    result["warmup_s"] = time.perf_counter() - started
    shutil.rmtree(warm)
    out = work / "idx"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = tree_cpu_seconds()
    started = time.perf_counter()
    manifest = build.build_index([corpus], out, signals=signals, engine=Engine(engine, workers))
    result["build_s"] = time.perf_counter() - started
    result["build_cpu_s"] = tree_cpu_seconds() - cpu
    result["driver_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["driver_rss_before_mb"] = rss_before / 1024
    counts = manifest.counts()
    result["documents"] = counts["documents"]
    result["text_bytes"] = counts["bytes"]
    result["input_bytes"] = sum(s["bytes"] for s in manifest.sources)
    result["shards"] = len(manifest.shards)
    result["index_bytes"] = sum(i["bytes"] for s in manifest.shards for i in s["files"].values())
    by_file: dict[str, int] = {}
    for shard in manifest.shards:
        for name, info in shard["files"].items():
            by_file[name] = by_file.get(name, 0) + info["bytes"]
    result["index_bytes_by_file"] = by_file
    result["shard_sha256"] = {f"{s['name']}/{f}": i["sha256"] for s in manifest.shards for f, i in s["files"].items()}
    examples, _ = read_dataset(dataset)
    started = time.perf_counter()
    scores = scan.scan_examples(examples, out, engine=Engine(engine, workers))
    result["scan_s"] = time.perf_counter() - started
    result["scan_examples"] = scores.height
    started = time.perf_counter()
    scan.scan_examples(examples, out, engine=Engine(engine, workers), verify=False)
    result["scan_noverify_s"] = time.perf_counter() - started
    result["scan_digest"] = str(scores.hash_rows().sum())
    return result


def bundled_ratio(work: Path, signals: str) -> dict:
    """Index bytes per text byte on the bundled reference corpus."""
    from overlap.engines import Engine
    from overlap.pipeline import build
    from overlap.io import bundled as data

    manifest = build.build_index(data.reference_sources(), work / "bundled", signals=signals,
                                 engine=Engine(workers=1))
    index_bytes = sum(i["bytes"] for s in manifest.shards for i in s["files"].values())
    return {"text_bytes": manifest.counts()["bytes"], "index_bytes": index_bytes,
            "input_bytes": sum(s["bytes"] for s in manifest.sources)}


# --- projection -------------------------------------------------------------------------------


def project(runs: list[dict], ratio: float, storage_gbps: float) -> dict:
    """Projected build time and index size for 1 TB and 10 TB of text on N workers.

    ``r_cpu``: text bytes per CPU-second, the median over the runs (the same code
    runs on every engine). ``r_wall``: bytes per second per worker of each engine's
    widest run here, bounded by this machine's disk, for a conservative column.
    """
    cpu_rates = sorted(r["text_bytes"] / r["build_cpu_s"] for r in runs)
    r_cpu = cpu_rates[len(cpu_rates) // 2]
    engines = {}
    for engine in sorted({r["engine"] for r in runs}):
        mine = {r["workers"]: r for r in runs if r["engine"] == engine}
        widest = mine[max(mine)]
        engines[engine] = widest["text_bytes"] / widest["build_s"] / widest["workers"]
    rows = []
    for size in CORPUS_SIZES:
        for n in CLUSTER_SIZES:
            compute_s = size / (r_cpu * n)
            storage_s = size * (1 + ratio) / (storage_gbps * 1e9)
            row = {"corpus_tb": size / TB, "workers": n, "compute_h": compute_s / 3600,
                   "storage_floor_h": storage_s / 3600, "hours": max(compute_s, storage_s) / 3600,
                   "index_tb": size * ratio / TB}
            for engine, r_wall in engines.items():
                row[f"{engine}_wall_rate_h"] = max(size / (r_wall * n), storage_s) / 3600
            rows.append(row)
    return {"r_cpu_mb_s": r_cpu / 1e6, "r_wall_mb_s": {e: r / 1e6 for e, r in engines.items()}, "rows": rows}


def render(report: dict) -> str:
    runs, proj = report["runs"], report["projection"]
    lines = ["# Scale benchmark results", "",
             f"Machine: {report['machine']}; its disk writes {report['disk_mb_s']:.0f} MB/s with fsync. "
             f"Corpus: {report['corpus_mb']:.0f} MB of generated text in {report['files']} JSONL files "
             f"(`benchmarks/corpus.py`), signals `{report['signals']}`. Scan: the bundled fine-tuning sample "
             f"({runs[0]['scan_examples']} examples) against the index built.", "",
             "| engine | workers | build s | MB/s | MB/s per worker | CPU s | MB per CPU-s | scan s | "
             "scan s, no checksums | Ray start s | warm-up s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        rate = r["text_bytes"] / r["build_s"] / 1e6
        lines.append(f"| {r['engine']} | {r['workers']} | {r['build_s']:.1f} | {rate:.2f} | "
                     f"{rate / r['workers']:.2f} | {r['build_cpu_s']:.1f} | "
                     f"{r['text_bytes'] / r['build_cpu_s'] / 1e6:.2f} | {r['scan_s']:.1f} | "
                     f"{r['scan_noverify_s']:.1f} | {r.get('ray_start_s', 0):.1f} | {r['warmup_s']:.1f} |")
    same = len({json.dumps(r["shard_sha256"], sort_keys=True) for r in runs}) == 1
    same_scan = len({r["scan_digest"] for r in runs}) == 1
    ratio = report["index_ratio"]
    lines += ["", "MB are of document text (UTF-8). CPU s counts the driver, its children and a local Ray's "
              "processes.", "",
              f"Every configuration built byte-identical shards: **{same}**; identical scan results: "
              f"**{same_scan}**.", "",
              f"Index size: **{ratio:.1f} bytes per byte of text** on the generated corpus "
              f"({report['bundled_ratio']:.1f} on the bundled corpus). By file, per byte of text: "
              + ", ".join(f"`{k}` {v:.2f}" for k, v in sorted(report["ratio_by_file"].items(),
                                                              key=lambda kv: -kv[1])) + ".", "",
              "## Sizing a cluster", "",
              "```",
              "time(S, N)  = max( S / (N * r) ,  S * (1 + k) / B )",
              "index(S)    = S * k",
              "  S  corpus size in bytes of document text (UTF-8, the index's counts.bytes)",
              "  N  workers (CPU cores, one shard each at a time)",
              f"  r  build throughput of one worker: {proj['r_cpu_mb_s']:.2f} MB of text per CPU-second, "
              "measured here",
              f"  k  index bytes per text byte: {ratio:.1f}, measured here",
              f"  B  aggregate bandwidth of the shared storage: {report['storage_gbps']:g} GB/s assumed "
              "(--storage-gbps)",
              "```", "",
              "Assumptions: linear scaling with workers (shards are independent; at least N input files so "
              "every worker has one); a worker is CPU-bound at r when storage keeps up; the corpus is read "
              "and the index written once through shared storage of aggregate bandwidth B (input counted "
              "at its text size; compressed input is read faster but costs decompression CPU that r, "
              "measured on plain JSONL, leaves out); each worker holds one shard's hashes in memory "
              f"(peak {report['peak_rss_mb']:.0f} MB here for {report['shard_mb']:.0f} MB shards), so keep "
              "input files at a few GB; Ray's per-task overhead is small next to a shard. The "
              "\"at this machine's rate\" columns use the per-worker wall-clock throughput of each "
              "engine's widest run here instead of r. Wall-clock time here includes per-build start-up "
              "(the local engine starts a fresh process pool per build: see the warm-up column), the local "
              "disk, and whatever else ran on this small machine (load average before each run: "
              + ", ".join(f"{r['engine']} x{r['workers']} {r['load_before']:.1f}" for r in runs)
              + "), so those columns are a pessimistic bound; CPU-seconds, and so r, are not inflated by "
              "other load.", "",
              "| corpus | workers | compute h | storage floor h | projected h | "
              + " | ".join(f"at this machine's rate, {e} h" for e in proj["r_wall_mb_s"]) + " | index TB |",
              "|---|---|---|---|---|" + "---|" * len(proj["r_wall_mb_s"]) + "---|"]
    for row in proj["rows"]:
        walls = " | ".join(f"{row[f'{e}_wall_rate_h']:.1f}" for e in proj["r_wall_mb_s"])
        lines.append(f"| {row['corpus_tb']:g} TB | {row['workers']} | {row['compute_h']:.1f} | "
                     f"{row['storage_floor_h']:.1f} | {row['hours']:.1f} | {walls} | {row['index_tb']:.0f} |")
    return "\n".join(lines) + "\n"


def disk_write_mb_s(folder: Path, size: int = 256 * 2**20) -> float:
    """Sequential write speed of ``folder``'s disk with fsync, MB/s."""
    path = folder / "disk-probe"
    block = os.urandom(2**20)
    started = time.perf_counter()
    with open(path, "wb") as handle:
        for _ in range(size // len(block)):
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    elapsed = time.perf_counter() - started
    path.unlink()
    return size / elapsed / 1e6


# --- driver ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=parse_size("200MB"), help="generated corpus size")
    parser.add_argument("--files", type=int, default=4, help="corpus files (= shards); a multiple of the workers")
    parser.add_argument("--workers", default="1,2", help="comma list of worker counts")
    parser.add_argument("--engines", default="local,ray", help="comma list of engines")
    parser.add_argument("--signals", default="ngram,minhash")
    parser.add_argument("--storage-gbps", type=float, default=2.0, help="assumed shared-storage bandwidth, GB/s")
    parser.add_argument("--corpus", type=Path, default=Path(tempfile.gettempdir()) / "overlap-scale-corpus")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--one", nargs=2, metavar=("ENGINE", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    dataset = ROOT / "corpora" / "finetune" / "sample.jsonl"

    if args.one:
        result = run_one(args.one[0], int(args.one[1]), args.corpus, args.work, args.signals, dataset)
        print(json.dumps(result))
        return 0

    ensure_corpus(args.corpus, args.size, args.files)
    runs = []
    with tempfile.TemporaryDirectory(prefix="overlap-scale-") as tmp:
        for engine in args.engines.split(","):
            for workers in [int(w) for w in args.workers.split(",")]:
                work = Path(tmp) / f"{engine}-{workers}"
                work.mkdir()
                env = {**os.environ, "NUMBA_NUM_THREADS": str(workers), "RAY_USAGE_STATS_ENABLED": "0"}
                cmd = [sys.executable, __file__, "--one", engine, str(workers), "--corpus", str(args.corpus),
                       "--work", str(work), "--signals", args.signals]
                done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if done.returncode:
                    sys.stderr.write(done.stderr)
                    return done.returncode
                run = json.loads(done.stdout.strip().splitlines()[-1])
                runs.append(run)
                print(f"{engine} x{workers}: build {run['build_s']:.1f}s "
                      f"({run['text_bytes'] / run['build_s'] / 1e6:.2f} MB/s), scan {run['scan_s']:.1f}s",
                      file=sys.stderr)
                shutil.rmtree(work)
        bundled = bundled_ratio(Path(tmp), args.signals)
        disk = disk_write_mb_s(Path(tmp))
    first = runs[0]
    ratio = first["index_bytes"] / first["text_bytes"]
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "disk_mb_s": disk, "shard_mb": first["text_bytes"] / first["shards"] / 1e6,
        "peak_rss_mb": max(r["driver_peak_rss_mb"] for r in runs if r["workers"] == 1 and r["engine"] == "local")
        if any(r["workers"] == 1 and r["engine"] == "local" for r in runs) else float("nan"),
        "corpus_mb": first["text_bytes"] / 1e6, "files": args.files, "signals": args.signals,
        "storage_gbps": args.storage_gbps, "index_ratio": ratio,
        "ratio_by_file": {k: v / first["text_bytes"] for k, v in first["index_bytes_by_file"].items()},
        "bundled_ratio": bundled["index_bytes"] / bundled["text_bytes"], "bundled": bundled,
        "runs": runs,
    }
    report["projection"] = project(runs, ratio, args.storage_gbps)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "results.md").write_text(render(report))
    print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
