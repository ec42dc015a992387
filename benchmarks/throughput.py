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
* bytes of index per corpus word (token);
* the question a user asks, "which of these ``--question-examples`` examples
  overlap this corpus", answered four ways on the same files: ``overlap scan
  --corpus`` (stream mode, no index), ``overlap index build`` plus ``overlap
  scan --index``, and the peers' own pipelines (rensa, datasketch: a
  whole-document signature for every corpus document and every example, LSH
  at threshold 0.5, query). ``--planted`` of the examples are short passages
  (20-60 words) cut from long corpus documents; each row says how many of them
  it finds (and how many of the others it flags);
* stream mode's lexical kernels alone (text already in memory, one thread):
  MB of corpus text per CPU second, n-grams only and n-grams + MinHash;
  ``throughput.py _stream_file DATASET WARMUP FILE...`` times the whole
  per-file task (JSON included) the same way, for sizing a cluster.

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
        from overlap.engines.threads import set_threads
        from overlap.io import iter_corpus_batches
        from overlap.text.batch import LexicalBatch
        from overlap.signals.minhash import index as minhash

        set_threads(1)
        params = {**minhash.default_params(), "shingle_n": SHINGLE, "num_perm": NUM_PERM, "minhash_seed": SEED}
        for batch in iter_corpus_batches(files, batch_size=2048):
            lexical = LexicalBatch.from_texts(batch.texts)
            minhash.query_signatures(lexical, params)
            docs += len(batch.texts)
    else:
        raise SystemExit(f"unknown peer {name}")
    print(json.dumps({"docs": docs}))
    return 0


# --- the question: which examples overlap the corpus ----------------------------------------

LSH_THRESHOLD = 0.5


def question_dataset(files: list[str], path: Path, count: int, planted: int, seed: int = 0) -> dict[str, str]:
    """``count`` plain-text examples: ``planted`` passages cut from corpus documents, the rest new text.

    Returns ``example id -> corpus document id`` of the planted ones. New
    examples are words drawn from the bundled corpus' word frequencies, so they
    share vocabulary but (almost) no 5-grams with the corpus.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    lines = [line for f in files for line in open(f, "rb") if line.strip()]
    long_docs = [d for d in (json.loads(lines[i]) for i in rng.choice(len(lines), min(len(lines), 4 * planted), replace=False))
                 if len(d["text"].split()) >= 400][:planted]
    words, _, freq = corpus_gen._load_tokens(sorted((ROOT / "corpora" / "reference").glob("*.jsonl.gz")))
    probs = np.where(np.array([w == "\n\n" for w in words]), 0.0, freq)
    cumulative = np.cumsum(probs / probs.sum())
    sources: dict[str, str] = {}
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(count):
            length = int(rng.integers(20, 61))
            if i < len(long_docs):
                doc = long_docs[i]
                tokens = doc["text"].split()
                start = int(rng.integers(0, len(tokens) - length))
                text = " ".join(tokens[start : start + length])
                sources[f"q-{i}"] = doc["id"]
            else:
                ids = np.searchsorted(cumulative, rng.random(length) * cumulative[-1])
                text = " ".join(words[j] for j in ids.tolist())
            handle.write(json.dumps({"id": f"q-{i}", "text": text}, ensure_ascii=False) + "\n")
    return sources


def _pipeline_main(argv: list[str]) -> int:
    """Peer pipeline mode: ``rensa|datasketch RESULT DATASET FILE...``: signature every document, LSH, query."""
    name, result_path, dataset, files = argv[0], argv[1], argv[2], argv[3:]
    examples = [json.loads(line) for line in open(dataset, encoding="utf-8")]
    hits: dict[str, list[str]] = {}
    if name == "rensa":
        from rensa import RMinHash, RMinHashLSH

        lsh = RMinHashLSH(LSH_THRESHOLD, NUM_PERM, 32)
        keys: list[str] = []
        for path in files:
            with open(path, "rb") as handle:
                for line in handle:
                    record = json.loads(line)
                    m = RMinHash(num_perm=NUM_PERM, seed=SEED)
                    m.update(_shingles(record["text"]))
                    lsh.insert(len(keys), m)
                    keys.append(record["id"])
        for e in examples:
            m = RMinHash(num_perm=NUM_PERM, seed=SEED)
            m.update(_shingles(e["text"]))
            hits[e["id"]] = [keys[k] for k in lsh.query(m)]
    elif name == "datasketch":
        from datasketch import MinHash, MinHashLSH

        lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        for path in files:
            batch: list[dict] = []
            with open(path, "rb") as handle:
                for line in handle:
                    batch.append(json.loads(line))
                    if len(batch) == 1000:
                        _datasketch_insert(lsh, batch, MinHash)
                        batch = []
            _datasketch_insert(lsh, batch, MinHash)
        signatures = MinHash.bulk([[s.encode() for s in _shingles(e["text"])] for e in examples],
                                  num_perm=NUM_PERM, seed=SEED)
        for e, m in zip(examples, signatures):
            hits[e["id"]] = list(lsh.query(m))
    else:
        raise SystemExit(f"unknown pipeline {name}")
    Path(result_path).write_text(json.dumps(hits))
    return 0


def _datasketch_insert(lsh, batch: list[dict], minhash_cls) -> None:
    if not batch:
        return
    signatures = minhash_cls.bulk([[s.encode() for s in _shingles(r["text"])] for r in batch],
                                  num_perm=NUM_PERM, seed=SEED)
    with lsh.insertion_session() as session:
        for record, m in zip(batch, signatures):
            session.insert(record["id"], m, check_duplication=False)


KERNEL_PASSES = 3  # passes over the files per rate: one pass over 40 MB is a third of a CPU second, too noisy


def _kernel_main(argv: list[str]) -> int:
    """Stream-kernel mode: ``DATASET FILE...``; stream mode's lexical probes on in-memory text, one thread.

    Rates are MB of corpus text per CPU second of this process (normalise,
    split, hash, probe), so they are per core and not inflated or deflated by
    other jobs sharing the machine.
    """
    dataset, files = argv[0], argv[1:]
    from overlap.engines.threads import set_threads
    from overlap.pipeline.build import CORPUS_BATCH, index_params
    from overlap.io import iter_corpus_batches
    from overlap.text.batch import LexicalBatch
    from overlap import signals as registry
    from overlap.pipeline.stream import stream_mode

    set_threads(1)
    texts = [json.loads(line)["text"] for line in open(dataset, encoding="utf-8")]
    names = registry.lexical()
    params = index_params(names)
    query = LexicalBatch.from_texts(texts)
    sides = {name: stream_mode(name).side(query, params) for name in names}
    batches = [b.texts for b in iter_corpus_batches(files, batch_size=CORPUS_BATCH)]
    # A whole batch, so that the kernels large inputs take (not only the small-input path) are loaded
    # before the clock starts.
    warm = LexicalBatch.from_texts(batches[0])
    for name in names:
        stream_mode(name).Probe(sides[name], params).add(warm, ["w"] * len(batches[0]), 0)
    rates = {}
    for chosen in (names[:1], names):
        label = "+".join(chosen)
        probes = [stream_mode(name).Probe(sides[name], params) for name in chosen]
        size, start, docs = 0, time.process_time(), 0
        for texts_batch in batches * KERNEL_PASSES:
            lexical = LexicalBatch.from_texts(texts_batch)
            for probe in probes:
                probe.add(lexical, [str(i) for i in range(len(texts_batch))], docs)
            docs += len(texts_batch)
            size += int(lexical.offsets[-1])
        rates[label] = size / 1e6 / (time.process_time() - start)  # CPU seconds: per core, whatever the load
    print(json.dumps(rates))
    return 0


def _stream_file_main(argv: list[str]) -> int:
    """Per-file mode: ``DATASET WARMUP FILE...``; stream mode's whole per-file task, one thread, after a warm-up file.

    Times :func:`overlap.pipeline.stream.stream_file` (read the JSONL, normalise, split,
    hash, probe both lexical signals, keep evidence) on each FILE in this
    process, as a worker runs it once started: the steady-state rate per core
    that sizing a cluster needs, in wall seconds and in CPU seconds.
    """
    dataset, warmup, files = argv[0], argv[1], argv[2:]
    from overlap.engines.threads import set_threads
    from overlap.pipeline.build import index_params
    from overlap.text.batch import LexicalBatch
    from overlap import signals as registry
    from overlap.pipeline.stream import FileTask, stream_file, stream_mode

    set_threads(1)
    texts = [json.loads(line)["text"] for line in open(dataset, encoding="utf-8")]
    names = registry.lexical()
    params = index_params(names)
    query = LexicalBatch.from_texts(texts)
    sides = {name: stream_mode(name).side(query, params) for name in names}
    stream_file(FileTask(number=0, source=warmup, params=params, names=tuple(names), sides=sides))
    for number, path in enumerate(files, 1):
        wall, cpu = time.perf_counter(), time.process_time()
        stream_file(FileTask(number=number, source=path, params=params, names=tuple(names), sides=sides))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        mb = Path(path).stat().st_size / 1e6
        print(json.dumps({"file": path, "mb": round(mb, 2), "wall_mb_s": round(mb / wall, 2),
                          "cpu_mb_s": round(mb / cpu, 2)}))
    return 0


def _found(hits: dict[str, list[str]], sources: dict[str, str]) -> tuple[int, int]:
    """(planted examples whose source document came back, other examples with any hit)."""
    found = sum(1 for q, doc in sources.items() if doc in hits.get(q, []))
    flagged = sum(1 for q, h in hits.items() if q not in sources and h)
    return found, flagged


def _overlap_found(scores_path: Path, sources: dict[str, str]) -> tuple[int, int]:
    """Planted examples overlap cites the source document of (n-gram or MinHash), and others it calls familiar."""
    import polars as pl

    from overlap import signals as registry

    lexical = [registry.get(name) for name in registry.lexical()]
    table = pl.read_parquet(scores_path)
    hits = {}
    for row in table.iter_rows(named=True):
        hits[row["id"]] = [row[f"{s.evidence}_doc_id"] for s in lexical if (row.get(s.column) or 0) >= 0.5]
    return _found(hits, sources)


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


def _question(args, files: list[str], work: Path, logs: Path, index: Path, build_s: float, mb: float) -> dict:
    """Answer "which examples overlap this corpus" with stream mode, index + scan, and the peers' pipelines."""
    dataset = work / f"question-{args.question_examples}.jsonl"
    sources = question_dataset(files, dataset, args.question_examples, args.planted)
    workers = ["--workers", str(args.workers)] if args.workers else []
    answers: dict[str, dict] = {}
    out = work / "question-stream.parquet"
    corpus = [a for f in files for a in ("--corpus", f)]
    result = measure([*overlap_command(), "scan", str(dataset), *corpus, "--signals", "ngram,minhash",
                      "--out", str(out), "--overwrite", *workers], logs / "question-stream.log")
    answers["overlap stream mode (scan --corpus)"] = {"wall_s": result["wall_s"], "rss": result["tree_rss"],
                                                      "found": _overlap_found(out, sources)}
    out = work / "question-index.parquet"
    result = measure([*overlap_command(), "scan", str(dataset), "--index", str(index), "--out", str(out),
                      "--overwrite", *workers], logs / "question-index-scan.log")
    answers["overlap index build + scan"] = {"wall_s": build_s + result["wall_s"], "rss": result["tree_rss"],
                                             "found": _overlap_found(out, sources)}
    me = [sys.executable, str(Path(__file__).resolve()), "_pipeline"]
    for peer in [p for p in args.peers.split(",") if p]:
        hits = work / f"question-{peer}.json"
        result = measure([*me, peer, str(hits), str(dataset), *files], logs / f"question-{peer}.log")
        answers[f"{peer} pipeline (doc signatures, LSH, query)"] = {
            "wall_s": result["wall_s"], "rss": result["tree_rss"],
            "found": _found(json.loads(hits.read_text()), sources)}
    kernel = subprocess.run([sys.executable, str(Path(__file__).resolve()), "_kernel", str(dataset), *files],
                            capture_output=True, text=True, check=True)
    return {"answers": answers, "planted": len(sources), "kernel": json.loads(kernel.stdout.strip().splitlines()[-1])}


def _print_question(question: dict, args, mb: float) -> None:
    answers = question["answers"]
    print(f"\nWhich of {args.question_examples} examples overlap this {mb:.0f} MB corpus? "
          f"({question['planted']} are 20-60-word passages cut from corpus documents of 400+ words)")
    headers = ["pipeline", "wall s", "corpus MB/s", "planted found", "others flagged", "peak RSS"]
    lines = [[name, f"{a['wall_s']:.1f}", f"{mb / a['wall_s']:.2f}", f"{a['found'][0]} of {question['planted']}",
              str(a["found"][1]), f"{a['rss'] / 2**20:.0f} MiB"] for name, a in answers.items()]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(fmt(headers))
    for line in lines:
        print(fmt(line))
    stream = answers["overlap stream mode (scan --corpus)"]["wall_s"]
    for name, target in (("rensa", 5), ("datasketch", 50)):
        key = next((k for k in answers if k.startswith(name)), None)
        if key:
            ratio = answers[key]["wall_s"] / stream
            print(f"stream mode vs {name} pipeline: {ratio:.1f}x faster (target >= {target}x: "
                  f"{'met' if ratio >= target else 'NOT met'})")
    cores = os.cpu_count() or 1
    print(f"stream mode end to end: {mb / stream / cores:.1f} MB/s per core of JSONL ({cores} cores)")
    kernel = question["kernel"]
    print(f"stream mode lexical kernels on in-memory text, 1 thread, per CPU second: n-grams {kernel['ngram']:.1f} MB/s, "
          f"n-grams + MinHash {kernel['ngram+minhash']:.1f} MB/s (target >= 100 MB/s per core)")


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
    parser.add_argument("--question-examples", type=int, default=10_000,
                        help="examples of the 'which overlap this corpus' question (0: skip it)")
    parser.add_argument("--planted", type=int, default=1_000, help="of which passages cut from corpus documents")
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
        question = None
        if args.question_examples:
            question = _question(args, files, work, logs, index, rows["build"]["wall_s"], mb)
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

        if question:
            _print_question(question, args, mb)
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
    if len(sys.argv) > 1 and sys.argv[1] == "_pipeline":
        sys.exit(_pipeline_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "_kernel":
        sys.exit(_kernel_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "_stream_file":
        sys.exit(_stream_file_main(sys.argv[2:]))
    sys.exit(main())
