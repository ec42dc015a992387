"""Familiarity by corpus source: each evidence names the corpus file it is in, and the summary counts by source."""

from __future__ import annotations

import gzip
import json

import pytest

from overlap import api
from overlap.io import bundled as data
from overlap.scoring import summary

FILES = ("abc-news.jsonl.gz", "pydoc-topics.jsonl.gz", "wikipedia.jsonl.gz")
COPIES = {"abc-news.jsonl.gz": 4, "pydoc-topics.jsonl.gz": 2, "wikipedia.jsonl.gz": 3}


@pytest.fixture(scope="module")
def sourced(tmp_path_factory):
    """Three corpus files cut from three bundled sources; examples copied from each; index and stream scores."""
    folder = tmp_path_factory.mktemp("sources")
    paths, examples, origin = [], [], []
    for name in FILES:
        with gzip.open(data.corpora_dir() / "reference" / name, "rt", encoding="utf-8") as handle:
            docs = [json.loads(line) for line in handle][:30]
        docs = [{"id": d["id"], "text": d["text"][:4000]} for d in docs]
        path = folder / name.replace(".gz", "")
        path.write_text("".join(json.dumps(d) + "\n" for d in docs))
        paths.append(path)
        for d in docs[: COPIES[name]]:
            examples.append(" ".join(d["text"].split()[:80]))
            origin.append(path.name)
    examples.append("Refactoring the telemetry pipeline, Mara decided every gauge needed a blue label today.")
    origin.append(None)
    dataset = folder / "dataset.jsonl"
    dataset.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(examples)))
    api.build_index(paths, folder / "idx", signals="ngram,minhash")
    indexed = api.scan(dataset, index=folder / "idx")
    streamed = api.scan(dataset, corpus=paths, signals="ngram,minhash")
    return origin, indexed, streamed


def test_evidence_names_the_corpus_file_it_is_in(sourced):
    origin, indexed, streamed = sourced
    for scores in (indexed, streamed):
        assert scores["ngram_source"].to_list() == origin
        assert scores["label"].to_list() == ["familiar"] * (len(origin) - 1) + ["novel"]
    assert indexed["minhash_source"].to_list() == streamed["minhash_source"].to_list()


def test_summary_breaks_familiarity_down_by_source(sourced):
    origin, indexed, streamed = sourced
    for scores in (indexed, streamed):
        table = summary.by_source(scores)
        counts = dict(zip(table["source"].to_list(), table["familiar"].to_list()))
        assert counts == {name.replace(".gz", ""): k for name, k in COPIES.items()}
        assert table["share"].sum() == pytest.approx(1.0)
        text = summary.render(scores)
        assert "familiar by corpus source" in text
        rows = {line.split()[0]: line.split()[1:3] for line in text.split("familiar by corpus source")[1].splitlines()
                if line.endswith(".jsonl") or ".jsonl " in line}
        assert rows["abc-news.jsonl"] == ["4", "44.4%"] and rows["wikipedia.jsonl"] == ["3", "33.3%"]


def test_report_shows_familiarity_by_source_and_exposure(sourced, tmp_path):
    origin, indexed, streamed = sourced
    out = tmp_path / "report.html"
    api.report(indexed, out)
    page = out.read_text()
    assert "By corpus source" in page and "pydoc-topics.jsonl" in page
    assert "in abc-news.jsonl" in page and "longest span" in page and "doc freq" in page
