"""Exposure in the n-gram signal: document counts per n-gram and the longest matched span, on real bundled text.

Passages of held-out Wikipedia articles are planted in k documents of a corpus of
real news and Wikipedia text; each example's ``ngram_doc_freq`` must be k (exact,
below the count's saturation), in index and stream mode alike, and every exposure
column must equal a plain Python reference built from word tuples.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict

import numpy as np
import pytest

from overlap import api
from overlap.io import bundled as data
from overlap.text import reference as ref
from overlap.signals.ngram import counts as ngram_counts

N = 8
PLANTED = {1: 0, 2: 1, 3: 2, 7: 3}  # k documents -> which held-out passage
SATURATED = 300  # a short passage planted in this many documents reads as the saturation


def _docs(path, count, chars):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle][:count]
    return [{"id": d["id"], "text": d["text"][:chars]} for d in docs]


def _words(text, start, count):
    return " ".join(text.split()[start : start + count])


def _plant(text, passage, rng):
    """``passage`` inserted at a word boundary of ``text``."""
    words = text.split()
    cut = rng.randrange(len(words) + 1)
    return " ".join(words[:cut] + passage.split() + words[cut:])


@pytest.fixture(scope="module")
def exposure(tmp_path_factory):
    """Two corpus files of real text with planted passages; the examples; index and stream scores."""
    folder = tmp_path_factory.mktemp("exposure")
    rng = random.Random(26)
    news = _docs(data.corpora_dir() / "reference" / "abc-news.jsonl.gz", 300, 1500)
    wiki = _docs(data.corpora_dir() / "reference" / "wikipedia.jsonl.gz", 40, 3000)
    unseen = _docs(data.corpora_dir() / "heldout" / "wikipedia.jsonl.gz", 8, 20000)
    passages = [_words(unseen[i]["text"], 200, 60) for i in range(len(PLANTED))]
    short = _words(unseen[5]["text"], 400, 12)
    files = [wiki[:20] + news[:150], wiki[20:] + news[150:]]
    # Plant passage k in k documents spread over both files; one of them holds it twice (still one document).
    for k, which in PLANTED.items():
        targets = rng.sample(range(len(files[0]) + len(files[1])), k)
        for i, t in enumerate(targets):
            f, j = (0, t) if t < len(files[0]) else (1, t - len(files[0]))
            text = _plant(files[f][j]["text"], passages[which], rng)
            if i == 0:
                text = _plant(text, passages[which], rng)
            files[f][j] = {**files[f][j], "text": text}
    news_ids = {d["id"] for d in news}
    for d in [d for f in files for d in f if d["id"] in news_ids][:SATURATED]:
        d["text"] = _plant(d["text"], short, rng)
    paths = []
    for number, docs in enumerate(files):
        path = folder / f"corpus-{number}.jsonl"
        path.write_text("".join(json.dumps(d) + "\n" for d in docs))
        paths.append(path)
    examples = [
        *passages,
        short,
        # Real text in pieces: a window of a corpus document, unseen words, a planted passage's end.
        " ".join([_words(wiki[3]["text"], 50, 30), _words(unseen[6]["text"], 100, 15), passages[2][-150:]]),
        " ".join([_words(news[10]["text"], 5, 14), _words(unseen[7]["text"], 10, 20), _words(wiki[30]["text"], 80, 40)]),
        _words(unseen[4]["text"], 300, 50),  # unseen
        "too short",
        "",
    ]
    dataset = folder / "dataset.jsonl"
    dataset.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(examples)))
    api.build_index(paths, folder / "idx", signals="ngram")
    indexed = api.scan(dataset, index=folder / "idx")
    streamed = api.scan(dataset, corpus=paths, signals="ngram")
    corpus = [d for f in files for d in f]
    return examples, corpus, indexed, streamed


def _reference(examples, corpus):
    """Per example, from word n-gram tuples: median and max documents per matched n-gram, longest span."""
    holders = defaultdict(set)
    for number, d in enumerate(corpus):
        for gram in _grams(ref.words(d["text"])):
            holders[gram].add(number)
    out = []
    for text in examples:
        words = ref.words(text)
        grams = _grams(words)
        if not grams:
            out.append((None, None, None, -1, -1))
            continue
        counts = [min(len(holders.get(g, ())), ngram_counts.SATURATION) for g in grams]
        matched = [c for c in counts if c]
        best, start, run = 0, 0, 0
        for i, c in enumerate(counts):
            run = run + 1 if c else 0
            if run > best:
                best, start = run, i - run + 1
        span = (start, min(start + best - 1 + N, len(words))) if best else (-1, -1)
        out.append((float(np.median(matched)) if matched else 0.0, float(max(matched, default=0)),
                    float(span[1] - span[0]) if best else 0.0, *span))
    return out


def _grams(words):
    if not words:
        return []
    if len(words) < N:
        return [tuple(words)]
    return [tuple(words[i : i + N]) for i in range(len(words) - N + 1)]


def test_a_passage_in_k_documents_shows_k_in_both_modes(exposure):
    examples, _, indexed, streamed = exposure
    for scores in (indexed, streamed):
        freq = scores["ngram_doc_freq"].to_list()
        assert freq[: len(PLANTED)] == [float(k) for k in PLANTED]
        assert freq[len(PLANTED)] == ngram_counts.SATURATION  # planted in 300 documents: saturated
        assert scores["ngram_containment"][: len(PLANTED)].to_list() == [1.0] * len(PLANTED)
        assert freq[-3] == 0.0 and scores["ngram_longest_span"][-3] == 0.0  # unseen
        assert freq[-1] is None and scores["ngram_longest_span"][-1] is None  # no words


def test_exposure_columns_match_the_plain_reference(exposure):
    examples, corpus, indexed, streamed = exposure
    expected = _reference(examples, corpus)
    for scores in (indexed, streamed):
        got = list(zip(*(scores[c].to_list() for c in (
            "ngram_doc_freq", "ngram_doc_freq_max", "ngram_longest_span")), ))
        assert got == [e[:3] for e in expected]
        has = [e[0] is not None and e[2] > 0 for e in expected]
        starts = [s if h else -1 for s, h in zip(scores["ngram_span_start"].to_list(), has)]
        ends = [s if h else -1 for s, h in zip(scores["ngram_span_end"].to_list(), has)]
        assert starts == [e[3] for e in expected] and ends == [e[4] for e in expected]


def test_the_longest_span_is_found_in_its_document(exposure):
    examples, corpus, indexed, streamed = exposure
    texts = {d["id"]: ref.normalize(d["text"]) for d in corpus}
    for scores in (indexed, streamed):
        located = 0
        for i, row in enumerate(scores.iter_rows(named=True)):
            if not row["ngram_longest_span"]:
                assert row["ngram_span_doc_id"] is None
                continue
            span = " ".join(ref.words(examples[i])[row["ngram_span_start"] : row["ngram_span_end"]])
            cited = texts[row["ngram_span_doc_id"]][row["ngram_span_doc_start"] : row["ngram_span_doc_end"]]
            cited = " ".join(ref.words(cited))
            assert len(cited.split()) >= N and cited in span
            located += cited == span
        # The passage planted in 3 documents was cut in its first one by the 300 plants of the short one,
        # and an index keeps only the first document of each n-gram: there the longest piece is cited.
        assert located == sum(1 for v in scores["ngram_longest_span"].to_list() if v) - 1
    cols = ["ngram_span_doc_id", "ngram_span_doc_start", "ngram_span_doc_end", "ngram_span_start", "ngram_span_end"]
    assert indexed.select(cols).equals(streamed.select(cols))


def test_an_index_without_counts_is_refused(exposure, tmp_path):
    from overlap.index.manifest import IndexError_
    from overlap.pipeline.scan import check_compatible
    from overlap.index.manifest import read_manifest

    examples, *_ = exposure
    folder = tmp_path
    (folder / "c.jsonl").write_text(json.dumps({"id": "a", "text": examples[0]}) + "\n")
    api.build_index([folder / "c.jsonl"], folder / "idx", signals="ngram")
    manifest = read_manifest(folder / "idx")
    manifest.params.pop(ngram_counts.PARAM)
    with pytest.raises(IndexError_, match="ngram_counts.*rebuild"):
        check_compatible(manifest, folder / "idx")



def test_doc_counter_equals_a_plain_count_however_the_pairs_are_cut():
    """Sorted (hash, document) pairs cut into blocks anywhere (a hash may span blocks, as a spilled merge emits it)."""
    rng = np.random.default_rng(26)
    keys = np.sort(rng.integers(0, 40, 3000).astype(np.uint64))
    docs = np.zeros(len(keys), dtype=np.uint32)
    for k in np.unique(keys):
        at = keys == k
        docs[at] = np.sort(rng.integers(0, 30, int(at.sum())))
    expected = {int(k): (int(docs[keys == k].min()), len(set(docs[keys == k].tolist()))) for k in np.unique(keys)}
    for _ in range(20):
        got = {}
        counter = ngram_counts.DocCounter(lambda h, f, c: got.update(
            {int(a): (int(b), int(n)) for a, b, n in zip(h, f, c)}))
        cuts = np.sort(rng.choice(np.arange(1, len(keys)), int(rng.integers(0, 60)), replace=False))
        for a, b in zip([0, *cuts], [*cuts, len(keys)]):
            counter.add(keys[a:b], docs[a:b])
        counter.finish()
        assert got == expected


def test_counts_survive_spilled_runs(exposure, tmp_path, monkeypatch):
    """A build spilling many small sorted runs stores the same counts as one held in memory."""
    examples, corpus, indexed, _ = exposure
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in corpus))
    api.build_index([path], tmp_path / "whole", signals="ngram", holdout_rate=0.0)  # one shard, no fold parts
    monkeypatch.setenv("OVERLAP_SPILL_BYTES", str(1 << 16))
    api.build_index([path], tmp_path / "spilled", signals="ngram", holdout_rate=0.0)
    for name in ("ngram_hashes.npy", "ngram_docs.npy", ngram_counts.COUNTS):
        a, b = (np.load(next((tmp_path / f).rglob(name))) for f in ("whole", "spilled"))
        assert np.array_equal(a, b), name
    assert np.load(next((tmp_path / "whole").rglob(ngram_counts.COUNTS))).max() == ngram_counts.SATURATION
