"""Public corpus layouts: each description picks the document files of a download laid out like
the real one, and the readers find the text and id where it says."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from overlap.pipeline.build import build_index
from overlap.io import InputError, expand_sources, iter_corpus_batches
from overlap.io.corpus_layouts import (
    apply_corpus_layout,
    corpus_layout_names,
    layout_from_dict,
    layouts_dir,
    load_corpus_layout,
)

PUBLIC = ["c4", "dolma", "fineweb", "fineweb-edu", "redpajama-v1", "redpajama-v2", "slimpajama", "the-pile",
          "wikipedia"]
# Files of a download that are not documents (RedPajama-V2's parallel trees).
AUXILIARY = ("quality_signals/", "minhash/", "duplicates/")


def _get(record: dict, dotted: str):
    for part in dotted.split("."):
        record = record[part]
    return record


def _record(layout, n: int, where: str) -> dict:
    record: dict = {layout.text_field: f"document {n} from {where}: some words to index here"}
    if layout.id_field:
        record[layout.id_field] = f"{layout.name}-{where}-{n}"
    for name in layout.metadata_fields:
        head, _, rest = name.partition(".")
        record[head] = {rest: f"meta-{n}"} if rest else f"meta-{n}"
    return record


def _write(path: Path, records: list[dict]) -> None:
    """``records`` in the format the file name says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name
    if name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(records), path)
        return
    payload = "".join(json.dumps(r) + "\n" for r in records).encode()
    if name.endswith(".gz"):
        payload = gzip.compress(payload)
    elif name.endswith(".zst"):
        payload = zstandard.ZstdCompressor().compress(payload)
    path.write_bytes(payload)


def make_download(layout, root: Path) -> list[Path]:
    """A folder laid out like the corpus' published files; returns the document files in it."""
    documents = []
    for n, relative in enumerate(layout.repo_layout):
        path = root / relative
        if relative.startswith(AUXILIARY):
            _write(path, [{"id": f"aux-{n}", "signal": 0.5}])
            continue
        _write(path, [_record(layout, i, relative) for i in range(3)])
        documents.append(path)
    (root / "README.md").write_text("dataset card\n")
    (root / ".gitattributes").write_text("*.parquet filter=lfs\n")
    (root / "dataset_infos.json").write_text(json.dumps({"default": {"features": {}}}))
    return documents


def test_every_public_corpus_has_a_layout_and_a_readme():
    assert set(PUBLIC) <= set(corpus_layout_names())
    assert (layouts_dir() / "README.md").read_text().count("| `") >= len(PUBLIC)
    for name in corpus_layout_names():
        layout = load_corpus_layout(name)
        assert layout.name == name
        assert layout.repo_layout and layout.homepage and layout.compression and layout.notes
        assert any(not p.startswith(AUXILIARY) for p in layout.repo_layout)


@pytest.mark.parametrize("name", PUBLIC)
def test_layout_finds_the_documents_and_their_fields(tmp_path, name):
    layout = load_corpus_layout(name)
    documents = make_download(layout, tmp_path)
    files = layout.expand([tmp_path])
    assert sorted(files) == sorted(documents)
    assert files == sorted(files, key=lambda p: p.relative_to(tmp_path).as_posix())
    batches = list(iter_corpus_batches(files, text_field=layout.text_field, id_field=layout.id_field))
    ids = [i for b in batches for i in b.ids]
    texts = [t for b in batches for t in b.texts]
    assert len(texts) == 3 * len(documents)
    assert all(t.startswith("document ") for t in texts)
    if layout.id_field:
        assert ids[0] == f"{name}-{files[0].relative_to(tmp_path).as_posix()}-0"
    else:
        assert ids[0] == f"{files[0].name}:1"  # no id in the corpus: file name and line


def test_redpajama_v2_skips_quality_signals_minhash_and_duplicates(tmp_path):
    layout = load_corpus_layout("redpajama-v2")
    make_download(layout, tmp_path)
    files = [f.relative_to(tmp_path).as_posix() for f in layout.expand([tmp_path])]
    assert files == [f"documents/2023-06/0000/en_{b}.json.gz" for b in ("head", "middle", "tail")]
    # Plain folder expansion would read the signals and the stray JSON as documents.
    plain = [f.relative_to(tmp_path).as_posix() for f in expand_sources([tmp_path])]
    assert "dataset_infos.json" in plain and any("signals" in f for f in plain)


def test_globs_and_named_files(tmp_path):
    layout = load_corpus_layout("c4")
    make_download(layout, tmp_path)
    train = layout.expand([str(tmp_path / "en" / "c4-train.*.json.gz")])
    assert [f.name for f in train] == ["c4-train.00000-of-01024.json.gz"]
    named = tmp_path / "en" / "c4-validation.00000-of-00008.json.gz"
    assert layout.expand([named, named]) == [named]  # kept as named, once
    assert layout.expand([str(tmp_path / "**")]) == layout.expand([tmp_path])


def test_a_folder_without_layout_files_is_refused_clearly(tmp_path):
    make_download(load_corpus_layout("c4"), tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no fineweb document files in this directory \(files \*\.parquet"):
        load_corpus_layout("fineweb").expand([tmp_path])
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_corpus_layout("fineweb").expand([tmp_path / "missing"])


def test_the_wrong_layout_names_the_missing_field(tmp_path):
    layout = load_corpus_layout("redpajama-v2")
    path = tmp_path / "documents" / "2023-06" / "0000" / "en_head.json.gz"
    _write(path, [{"text": "a C4 style record", "url": "https://example.org"}])
    with pytest.raises(InputError, match=r"line 1, field 'raw_content': missing; fields present: 'text', 'url'"):
        list(iter_corpus_batches(layout.expand([tmp_path]), text_field=layout.text_field, id_field=layout.id_field))


def test_unknown_and_malformed_layouts(tmp_path):
    with pytest.raises(ValueError, match="unknown corpus layout 'fineweeb'; choose from c4, dolma, fineweb"):
        load_corpus_layout("fineweeb")
    assert load_corpus_layout("RedPajama_V2").name == "redpajama-v2"
    with pytest.raises(ValueError, match="lacks 'text_field'"):
        layout_from_dict({"name": "x", "include": ["*.parquet"], "id_field": None})
    with pytest.raises(ValueError, match="does not end in a supported suffix"):
        layout_from_dict({"name": "x", "include": ["*.arrow"], "text_field": "text", "id_field": None})
    with pytest.raises(ValueError, match="unknown corpus layout key"):
        layout_from_dict({"name": "x", "include": ["*.parquet"], "text_field": "t", "id_field": None, "idfield": 1})


def test_a_layout_file_of_ones_own(tmp_path):
    custom = tmp_path / "mine.json"
    custom.write_text(json.dumps({"name": "mine", "include": ["shard-*.jsonl.zst"], "exclude": ["*tmp*"],
                                  "text_field": "body", "id_field": "key"}))
    corpus = tmp_path / "corpus"
    _write(corpus / "shard-0.jsonl.zst", [{"key": "k0", "body": "hello there world"}])
    _write(corpus / "tmp" / "shard-1.jsonl.zst", [{"key": "k1", "body": "not this one"}])
    files, text_field, id_field = apply_corpus_layout(str(custom), [corpus])
    assert files == [str(corpus / "shard-0.jsonl.zst")] and (text_field, id_field) == ("body", "key")


def test_fields_given_by_the_caller_win(tmp_path):
    make_download(load_corpus_layout("wikipedia"), tmp_path)
    files, text_field, id_field = apply_corpus_layout("wikipedia", [tmp_path], id_field="url")
    assert (text_field, id_field) == ("text", "url") and len(files) == 2
    assert apply_corpus_layout(None, [tmp_path], "t", None) == ([str(tmp_path)], "t", None)


def test_an_index_built_through_a_layout_keeps_the_corpus_ids(tmp_path):
    layout = load_corpus_layout("dolma")
    make_download(layout, tmp_path / "dolma")
    files, text_field, id_field = apply_corpus_layout("dolma", [tmp_path / "dolma"])
    manifest = build_index(files, tmp_path / "idx", signals="ngram", text_field=text_field, id_field=id_field)
    assert len({s["number"] for s in manifest.shards}) == len(files) == 3
    ids = [i for s in manifest.shards if s["number"] == 0  # the shard and its calibration folds' parts
           for i in pq.read_table(tmp_path / "idx" / s["name"] / "docs.parquet").column("id").to_pylist()]
    assert sorted(ids) == [f"dolma-data/v1_7/books-0000.json.gz-{i}" for i in range(3)]


# --- the command line (active once `overlap index build` has --corpus-layout) ------------------


def _cli_has_layouts() -> bool:
    from overlap.cli import index

    return "layouts" in index.commands


needs_cli = pytest.mark.skipif(not _cli_has_layouts(), reason="overlap index build has no --corpus-layout yet")


@needs_cli
def test_cli_builds_a_download_through_its_layout(tmp_path):
    from click.testing import CliRunner

    from overlap.cli import main
    from overlap.index.manifest import read_manifest

    layout = load_corpus_layout("redpajama-v2")
    make_download(layout, tmp_path / "rpv2")
    out = tmp_path / "idx"
    args = ["index", "build", str(tmp_path / "rpv2"), "--corpus-layout", "redpajama-v2", "--signals", "ngram",
            "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    assert [Path(s["path"]).name for s in manifest.sources] == ["en_head.json.gz", "en_middle.json.gz",
                                                                 "en_tail.json.gz"]
    assert manifest.builds[-1]["corpus_layout"] == "redpajama-v2"
    ids = [i for s in manifest.shards if s["number"] == 0  # the shard and its calibration folds' parts
           for i in pq.read_table(out / s["name"] / "docs.parquet").column("id").to_pylist()]
    assert "redpajama-v2-documents/2023-06/0000/en_head.json.gz-0" in ids  # the layout's id field (url)
    # Without the layout the signal files and the stray JSON are read as documents, and fail.
    plain = CliRunner().invoke(main, args[:3] + ["--signals", "ngram", "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 1 and plain.output.startswith("error: ")


@needs_cli
def test_cli_lists_and_describes_layouts():
    from click.testing import CliRunner

    from overlap.cli import main

    listing = CliRunner().invoke(main, ["index", "layouts"])
    assert listing.exit_code == 0
    for name in PUBLIC:
        assert f"\n{name}: " in "\n" + listing.output
    one = CliRunner().invoke(main, ["index", "layouts", "the-pile"])
    assert "meta.pile_set_name" in one.output and "notes:" in one.output
    bad = CliRunner().invoke(main, ["index", "layouts", "nope"])
    assert bad.exit_code == 1 and "unknown corpus layout 'nope'" in bad.output
