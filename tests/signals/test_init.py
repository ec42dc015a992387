"""The signal registry: a signal declared in one place reaches every part of overlap.

A toy signal (the share of a text's words that occur anywhere in the corpus) is
defined here, in this file only, and registered; an index is built with it, a
dataset scanned, summarised and reported, and the index's own calibration fits
it, with no other file touched.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from overlap.scoring import calibrate
from overlap.io import bundled as data
from overlap.scoring import score
from overlap.scoring import summary
from overlap import signals as registry
from overlap.pipeline.build import build_index
from overlap.io import Example
from overlap.report import write_report
from overlap.pipeline.scan import scan_examples
from overlap.signals.base import Signal, SignalResult

WORDS = "toy_words.npy"


def toy_params() -> dict:
    return {"toy_version": 1}


class ToyBuilder:
    """Collects the distinct word hashes of a shard."""

    def __init__(self, params: dict, writer, options: dict | None = None):
        self.writer = writer
        self.parts: list[np.ndarray] = []

    def add(self, batch, texts: list[str], doc_base: int) -> None:
        self.parts.append(np.unique(batch.word_hashes))

    def finish(self) -> dict[str, int]:
        words = np.unique(np.concatenate(self.parts)) if self.parts else np.zeros(0, dtype=np.uint64)
        self.writer.save_array(WORDS, words)
        return {"toy_words": len(words)}


class ToyReader:
    def __init__(self, shard, params: dict):
        self.words = shard.array(WORDS)

    def query(self, batch, prepared=None) -> np.ndarray:
        known = np.concatenate([[0.0], np.cumsum(np.isin(batch.word_hashes, self.words))])
        counts = batch.word_counts()
        sums = known[batch.word_offsets[1:]] - known[batch.word_offsets[:-1]]
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def toy_merge(partials: list[np.ndarray], batch, docs, params: dict) -> SignalResult:
    result = SignalResult.empty(len(batch))
    result.score = np.fmax.reduce(partials) if partials else result.score
    return result


TOY = Signal(
    name="toy", column="toy_vocabulary", evidence="toy", title="known words (toy)", short="toy",
    default_params=toy_params, Builder=ToyBuilder, Reader=ToyReader, merge=toy_merge,
)


@pytest.fixture
def toy_signal():
    registry.register(TOY)
    yield TOY
    registry.unregister(TOY.name)


def _news() -> list[dict]:
    path = next(p for p in data.reference_sources() if Path(p).name == "abc-news.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_a_registered_signal_reaches_scores_summary_report_and_calibration(toy_signal, tmp_path):
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in _news()))
    manifest = build_index([corpus], tmp_path / "idx", signals="ngram,toy", holdout_rate=0.12)
    assert manifest.signals == ["ngram", "toy"]
    assert manifest.params["toy_version"] == 1
    assert sum(s["counts"]["toy_words"] for s in manifest.shards) > 1000

    cal = manifest.calibration
    assert cal["status"] == "fitted"
    fitted = {tuple(m["signals"]): m for m in cal["models"]}
    assert set(fitted) == {("ngram_containment",), ("toy_vocabulary",), ("ngram_containment", "toy_vocabulary")}
    assert "toy_vocabulary" in fitted[("ngram_containment", "toy_vocabulary")]["features"]

    copy = next(d["text"] for d in _news() if not calibrate.held_out(d["id"], 0.12))
    examples = [
        Example(0, "copy", "", copy, copy, "news"),
        Example(1, "new", "", "Zyxxr qwopt blenj, vrask plomf.", "Zyxxr qwopt blenj, vrask plomf.", "made up"),
    ]
    scores = scan_examples(examples, tmp_path / "idx")
    assert scores["toy_vocabulary"].to_list() == [1.0, 0.0]
    assert {"toy_doc_id", "toy_doc_start", "toy_doc_end", "toy_match"} <= set(scores.columns)
    assert scores["label"].to_list() == ["familiar", "novel"]
    expected = score.familiarity({c: scores[c].to_numpy() for c in ("ngram_containment", "ngram_alignment",
                                                                   "toy_vocabulary")}, cal)
    assert np.allclose(scores["familiarity"].to_numpy(), expected)

    text = summary.render(scores, calibration=cal)
    assert "mean toy_vocabulary" in text
    page = write_report(scores, tmp_path / "report.html", calibration=cal).read_text()
    assert "known words (toy)" in page


def test_registering_refuses_a_taken_name_or_column(toy_signal):
    with pytest.raises(ValueError, match="toy"):
        registry.register(TOY)
    with pytest.raises(ValueError, match="ngram_containment"):
        registry.register(Signal(**{**TOY.__dict__, "name": "other", "column": "ngram_containment",
                                    "evidence": "other"}))
    with pytest.raises(ValueError, match="built in"):
        registry.unregister("ngram")


def test_every_signal_column_is_declared_once():
    columns = [c for s in registry.all_signals() for c in (*s.columns, s.evidence)]
    assert len(columns) == len(set(columns))
    assert registry.score_columns() == ("ngram_containment", "minhash_jaccard", "semantic_similarity")
    assert registry.owner("sqrt_ngram_alignment").name == "ngram"
    assert registry.lexical() == ["ngram", "minhash"]
