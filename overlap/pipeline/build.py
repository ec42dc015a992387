"""Index build: stream corpus shards through every signal's builder into an index directory.

One input file is one shard. :func:`build_shard` is the per-shard unit of work
that engines run (in this process, a process pool or Ray), handed one
:class:`ShardTask`; :func:`build_index` orchestrates: which sources go to which
shard (skipping those a previous run finished, ``resume``, or that the index
already holds, incremental builds), running the shards on the engine, recording
them in the manifest, and calibrating. The files themselves are ``index/``'s:
the plan and manifest (``index/manifest.py``), shards, lock and leftovers
(``index/store.py``), the document store (``index/documents.py``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from overlap import __version__, signals as signal_registry
from overlap.engines import Engine
from overlap.pipeline.options import BuildOptions, options_from
from overlap.pipeline.scan import index_query
from overlap.scoring import calibrate
from overlap.io.progress import Progress
from overlap.text import reference as ref
from overlap.index.documents import DOCS_FILE, DocsWriter
from overlap.index.manifest import (
    FORMAT_VERSION,
    PLAN_FILE,
    IndexError_,
    Manifest,
    finish_build,
    param_differences,
    read_manifest,
    start_plan,
)
from overlap.index.store import ShardWriter, build_lock, file_digest, finished_shard, remove_leftovers
from overlap.io import bundled, iter_corpus_batches, expand_sources, write_rejects
from overlap.io.formats import format_of
from overlap.io.corpus_layouts import apply_corpus_layout
from overlap.io.layouts import MAX_TEXT_BYTES
from overlap.text.batch import LexicalBatch
from overlap.engines.threads import set_threads

REJECTS = "rejects.jsonl"
# Corpus documents per batch. Window rows are numbered batch by batch (see
# ``minhash.window_rows``), so stream mode reads corpus files in batches of the same size.
CORPUS_BATCH = 2048


def index_params(
    signal_names: list[str], overrides: dict[str, Any] | None = None, model: str | None = None
) -> dict[str, Any]:
    """Every parameter that affects the index files, for the chosen signals (and model)."""
    params: dict[str, Any] = {"lexical_version": ref.LEXICAL_VERSION}
    for name in signal_names:
        signal = signal_registry.get(name)
        params.update(signal.default_params())
        if model is not None and signal.model_params is not None:
            params.update(signal.model_params(model))
    for key, value in (overrides or {}).items():
        if key not in params:
            raise ValueError(f"unknown index parameter {key!r}")
        params[key] = value
    return params


def keep_document(doc_id: str, sample_rate: float) -> bool:
    """Deterministic sampling by document id: the same ids are kept on every engine."""
    if sample_rate >= 1.0:
        return True
    return ref.word_hash(doc_id.encode("utf-8", "surrogatepass")) < int(sample_rate * 2**64)


@dataclass(frozen=True)
class ShardTask:
    """What an engine hands :func:`build_shard`: shard ``number`` of the index at ``index_dir`` from ``source``.

    ``index_dir`` is absolute (Ray workers on other nodes do not share the
    driver's working directory). Tasks of one build share their ``params``,
    ``signal_names`` and ``options`` objects, which the Ray engine then puts into
    its object store once.
    """

    index_dir: str
    number: int
    source: str
    params: dict[str, Any]
    signal_names: list[str]
    text_field: str | None = None
    id_field: str | None = None
    on_error: str = "fail"
    sample_rate: float = 1.0
    batch_size: int = CORPUS_BATCH
    options: dict[str, Any] | None = None
    max_text_bytes: int | None = MAX_TEXT_BYTES
    holdout_rate: float = 0.0
    holdout_kfold: int = 0


class _Part:
    """The files of one fold of a shard: its signals' builders and document store."""

    def __init__(self, task: ShardTask, writer: ShardWriter):
        self.writer = writer
        self.builders = [signal_registry.get(name).Builder(task.params, writer, task.options or {})
                         for name in task.signal_names]
        self.docs = DocsWriter(writer.path(DOCS_FILE))
        self.n_docs = self.n_words = self.n_bytes = 0

    def add(self, ids: list[str], texts: list[str], lines: list[int]) -> LexicalBatch:
        lexical = LexicalBatch.from_texts(texts)
        for builder in self.builders:
            builder.add(lexical, texts, self.n_docs)
        self.docs.add(ids, texts, lines)
        self.n_docs += len(texts)
        self.n_words += int(lexical.word_offsets[-1])
        self.n_bytes += int(lexical.offsets[-1])
        return lexical

    def finish(self) -> dict[str, Any]:
        self.docs.close()
        counts = {"documents": self.n_docs, "words": self.n_words, "bytes": self.n_bytes}
        for builder in self.builders:
            counts.update(builder.finish())
        return counts


def part_suffix(fold: int) -> str:
    """Folder suffix of a shard's part holding calibration fold ``fold`` (``shard-NNNNN-fF``)."""
    return f"-f{fold}"


def build_shard(task: ShardTask) -> dict[str, Any]:
    """Build one shard of an index from one source file; return its manifest entry.

    Every document is indexed. Those of a held-out calibration fold
    (``calibrate.fold_of``) go to a part of the shard of their own
    (``shard-NNNNN-fF``, listed under the entry's ``parts``), which calibration
    leaves out of its queries and every scan reads.
    """
    number, source = task.number, task.source
    sample_rate = task.sample_rate
    index_dir = Path(task.index_dir)
    writers = [ShardWriter(index_dir, number)]
    try:
        parts: dict[int, _Part] = {0: _Part(task, writers[0])}
        rejects = []
        n_sampled_out = 0
        size = _text_size(Path(source))
        # A compressed source's size on disk says nothing of its text: count the text read, and say so.
        name = Path(source).name if size is not None else f"{Path(source).name}, text uncompressed"
        progress = Progress(f"shard {number} ({name})", size, "MB", scale=1e6)
        for batch in iter_corpus_batches(
            [source], text_field=task.text_field, id_field=task.id_field, batch_size=task.batch_size,
            on_error=task.on_error, max_text_bytes=task.max_text_bytes,
        ):
            rejects += batch.rejects
            keep = [i for i, doc_id in enumerate(batch.ids) if keep_document(doc_id, sample_rate)]
            n_sampled_out += len(batch.ids) - len(keep)
            for fold, rows in split_folds(batch.ids, keep, task.holdout_rate, task.holdout_kfold):
                if fold not in parts:
                    writers.append(ShardWriter(index_dir, number, part_suffix(fold)))
                    parts[fold] = _Part(task, writers[-1])
                lexical = parts[fold].add([batch.ids[i] for i in rows], [batch.texts[i] for i in rows],
                                          [batch.lines[i] for i in rows])
                progress.update(int(lexical.offsets[-1]))
        source_info = {"path": str(source), **source_digest(Path(source))}
        entries = []
        for fold in sorted(f for f in parts if f):
            counts = parts[fold].finish()
            counts["held_out"] = counts["documents"]
            entries.append(parts[fold].writer.commit({"number": number, "fold": fold, "source": source_info,
                                                      "counts": counts}))
        counts = {**parts[0].finish(), "rejected": len(rejects)}
        if n_sampled_out:
            counts["sampled_out"] = n_sampled_out
        if rejects:
            write_rejects(rejects, writers[0].path(REJECTS))
        entry = writers[0].commit({"number": number, "source": source_info, "counts": counts, "parts": entries})
        progress.close()
        return entry
    except BaseException:
        for writer in writers:
            writer.abort()
        raise


def split_folds(ids: list[str], keep: list[int], rate: float, kfold: int) -> list[tuple[int, list[int]]]:
    """The rows ``keep`` of a batch by calibration fold, in fold order (main part first), each nonempty.

    Index building and stream mode split every batch the same way, so the parts'
    documents and their order agree between the modes.
    """
    folds: dict[int, list[int]] = {}
    for i in keep:
        folds.setdefault(calibrate.fold_of(ids[i], rate, kfold), []).append(i)
    return sorted(folds.items())


def _text_size(path: Path) -> int | None:
    """About how many bytes of text a source holds: its size when stored uncompressed, else unknown.

    JSON and CSV also hold field names and escapes, so this slightly
    overstates the text; progress then shows a little under the true share.
    """
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*.txt") if f.is_file()) or None
    fmt = format_of(path)
    if fmt is None or fmt.endswith((".gz", ".zst")) or fmt == ".parquet":
        return None
    return path.stat().st_size


def source_digest(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a source file, or of a folder of text files (over its sorted files)."""
    if not path.is_dir():
        return {"bytes": path.stat().st_size, "sha256": file_digest(path)}
    files = sorted(p for p in path.rglob("*") if p.is_file())
    combined = hashlib.sha256()
    for file in files:
        combined.update(f"{file.relative_to(path)}\0{file_digest(file)}\n".encode())
    return {"bytes": sum(f.stat().st_size for f in files), "sha256": combined.hexdigest()}


def _source_bytes(path: Path) -> int:
    """Size on disk of a source file or folder."""
    if not path.is_dir():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def refuse_foreign_folder(out: Path) -> None:
    """Refuse to build into a non-empty folder that holds no index (its files would mix with the index's)."""
    if not out.is_dir() or (out / "manifest.json").exists() or (out / PLAN_FILE).exists():
        return
    foreign = sorted(p.name for p in out.iterdir()
                     if not p.name.startswith(("shard-", ".tmp-", ".lock")))
    if foreign:
        raise IndexError_(
            f"{out}: not empty and not an overlap index (holds {', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); choose an empty or new folder for --out"
        )


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def build_index(
    sources: Iterable[str | Path],
    out: str | Path,
    options: BuildOptions | None = None,
    *,
    engine: Engine | str = "local",
    progress: Callable[[str], None] | None = None,
    **fields: Any,
) -> Manifest:
    """Build (or add to, or resume) the index at ``out`` from corpus ``sources``.

    An existing complete index is extended with the sources it does not hold yet,
    provided its parameters match. A directory holding an interrupted build is
    refused unless ``resume`` is set, in which case shards already finished are
    kept and the rest built, giving the same index as an uninterrupted run.

    ``corpus_layout`` names a public corpus layout (``fineweb``, ``c4``,
    ``the-pile``, ... see ``corpora/layouts/``) or a layout ``.json`` file: folder
    sources then yield only that corpus' document files, and its text and id
    fields apply where ``text_field`` / ``id_field`` are not given.

    A first build holds out ``holdout_rate`` of the documents (default
    ``calibrate.holdout_plan`` for the sources' size: one fold, or k folds of a
    small corpus) and every build refits the index's calibration on them
    (``overlap.scoring.calibrate``); held-out documents are indexed all the same, in
    shard parts calibration leaves out. Additions keep the plan. A source whose
    content changed since it was indexed replaces its old shard.

    ``options`` (or its fields as keywords) are the command line's; ``engine``
    runs the shards (one process per core by default). ``progress`` gets a
    message per shard built, the calibration's messages, and one saying so when
    there was nothing to build.
    """
    options = options_from(BuildOptions, options, fields)
    engine = Engine.of(engine)
    # A corpus layout picks the document files and the fields where the options name none.
    sources, text_field, id_field = apply_corpus_layout(options.corpus_layout, sources, options.text_field,
                                                        options.id_field)
    files = [str(p) for p in expand_sources(sources)]
    shown, out = out, Path(out)
    refuse_foreign_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    with build_lock(out):
        remove_leftovers(out)
        existing = read_manifest(out) if (out / "manifest.json").exists() else None
        replaced: list[dict[str, Any]] = []
        if existing is not None:
            names = existing.signals if options.signals is None else signal_registry.parse(options.signals)
            wanted = index_params(names, options.params, options.model)
            diffs = param_differences(existing.params, wanted)
            if diffs or names != existing.signals:
                raise IndexError_(
                    f"{out}: cannot add to this index with different settings: "
                    + "; ".join(diffs or [f"signals: index has {existing.signals}, asked for {names}"])
                )
            known = {s["source"]["sha256"] for s in existing.shards}
            digests = {f: source_digest(Path(f))["sha256"] for f in files}
            files = [f for f in files if digests[f] not in known]
            # A source whose content changed since it was indexed replaces its old shard (and parts).
            changed = {f for f in files if any(s["source"]["path"] == f for s in existing.shards)}
            replaced = [s for s in existing.shards if s["source"]["path"] in changed]
            for path in sorted(changed):
                if progress:
                    progress(f"{path}: changed since it was indexed; its new content replaces its old shard")
            first = max((s["number"] for s in existing.shards), default=-1) + 1
            manifest = existing
            manifest.shards = [s for s in existing.shards if s["source"]["path"] not in changed]
            manifest.sources = [s for s in existing.sources if s["path"] not in changed]
            for source in manifest.sources:
                if not Path(source["path"]).exists() and progress:
                    progress(f"{source['path']}: indexed before but no longer exists; its documents stay in "
                             "the index (build a new index without it to drop them)")
            rate, kfold = existing.holdout_rate, existing.holdout_kfold
        else:
            names = signal_registry.parse(options.signals)
            wanted = index_params(names, options.params, options.model)
            first = 0
            rate, kfold = calibrate.holdout_plan(sum(_source_bytes(Path(f)) for f in files), options.holdout_rate)
            manifest = Manifest(params=wanted, signals=names, created=_now(), sample_rate=options.sample_rate,
                                holdout_rate=rate, holdout_kfold=kfold)
        plan = {"params": wanted, "signals": names, "sources": files, "first": first,
                "sample_rate": options.sample_rate, "holdout_rate": rate, "holdout_kfold": kfold}
        start_plan(out, plan, options.resume)
        specs = list(enumerate(files, start=first))
        entries: dict[int, dict[str, Any]] = {}
        todo = []
        signal_options = options.signal_options() or None
        for number, source in specs:
            done = finished_shard(out, number) if options.resume else None
            if (done is not None and done["source"]["path"] == source
                    and done["source"]["sha256"] == source_digest(Path(source))["sha256"]):
                entries[number] = done
            else:
                todo.append(ShardTask(
                    index_dir=str(out.resolve()), number=number, source=source, params=wanted, signal_names=names,
                    text_field=text_field, id_field=id_field, on_error=options.on_error,
                    sample_rate=options.sample_rate, batch_size=CORPUS_BATCH, options=signal_options,
                    max_text_bytes=options.max_text_bytes, holdout_rate=rate, holdout_kfold=kfold,
                ))
        runner = engine.start(set_threads)
        for entry in runner.map(build_shard, todo):
            entries[entry["number"]] = entry
            if progress:
                held = sum(p["counts"]["documents"] for p in entry.get("parts", []))
                progress(f"shard {entry['number']}: {entry['counts']['documents'] + held} documents "
                         f"from {Path(entry['source']['path']).name}"
                         + (f" ({held} of them in held-out calibration folds)" if held and not kfold else ""))
        for number, _ in specs:
            parts = entries[number].pop("parts", [])
            manifest.shards = manifest.shards + [entries[number], *parts]
        manifest.sources = manifest.sources + [entries[n]["source"] for n, _ in specs]
        manifest.updated = _now()
        manifest.overlap_version = __version__
        manifest.builds = manifest.builds + [
            {"at": manifest.updated, "engine": engine.kind, "shards": [n for n, _ in specs],
             "sample_rate": options.sample_rate, "corpus_layout": options.corpus_layout,
             "text_field": text_field, "id_field": id_field}
        ]
        manifest.complete = True
        if specs or not manifest.calibration:
            # Each fold's query is a few hundred texts: in this process (a scan's default), not a fresh pool
            # of workers per fold; the files were checksummed as they were written.
            calibration_engine = replace(engine, workers=None)
            manifest.calibration = calibrate.calibrate_index(
                out, manifest, query=index_query(out, engine=calibration_engine, options=signal_options, verify=False),
                progress=progress,
            )
            if progress:
                progress(calibrate.holdout_line(manifest))
        finish_build(out, manifest)
        for shard in replaced:
            shutil.rmtree(out / shard["name"], ignore_errors=True)
    if not todo and progress:
        progress(f"nothing to add: every source is already in {shown}")
    return manifest


def default_index_dir() -> Path:
    """Where the index of the bundled corpus is built on first use.

    The name carries the overlap version and a digest of the bundled files and of
    every signal's default parameters (a model's digest among them), so an upgrade,
    a changed corpus or a new default model gets a fresh index instead of a stale one.
    """
    digest = hashlib.sha256(json.dumps(index_params(signal_registry.names()), sort_keys=True).encode())
    for path in bundled.reference_sources():
        digest.update(path.name.encode())
        digest.update(str(path.stat().st_size).encode())
    return bundled.cache_dir() / f"bundled-index-{__version__}-v{FORMAT_VERSION}-{digest.hexdigest()[:12]}"
