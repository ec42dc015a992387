"""The compact n-gram index: the bucketed hash set and document groups, on the bundled corpus."""

from __future__ import annotations

import numpy as np

from overlap.io import bundled as data
from overlap.text import reference as ref
from overlap.pipeline.build import build_index
from overlap.text.batch import LexicalBatch
from overlap.pipeline.scan import scan_examples
from overlap.signals.ngram import hashtable
from overlap.signals.ngram import index as ngram
from overlap.io import Example


def _grams(texts: list[str]) -> np.ndarray:
    grams, _ = LexicalBatch.from_texts(texts).grams(8)
    return np.unique(grams)


def test_bucketed_set_finds_every_member_and_no_other_hash(tmp_path, reference_docs):
    texts = [d["text"] for d in reference_docs["wikipedia.jsonl.gz"]]
    members = _grams(texts[::2])
    others = np.setdiff1d(_grams(texts[1::2]), members)
    values = (np.arange(len(members)) % 65536).astype(np.uint16)
    writer = hashtable.BucketedWriter(tmp_path / "h.npy", tmp_path / "o.npy", tmp_path / "v.npy",
                                      len(members), np.uint16)
    for start in range(0, len(members), 10_000):  # as the merge of sorted runs hands them over
        writer.append(members[start : start + 10_000], values[start : start + 10_000])
    assert writer.close() == len(members)
    rems, offsets, stored = (np.load(tmp_path / f, mmap_mode="r", allow_pickle=False) for f in ("h.npy", "o.npy", "v.npy"))
    assert len(offsets) == (1 << hashtable.bucket_bits(len(members))) + 1
    np.testing.assert_array_equal(hashtable.lookup(offsets, rems, stored, members), values)
    assert len(others) > 100_000
    assert (hashtable.lookup(offsets, rems, stored, others) == -1).all()
    # 32 bits per hash, plus a bucket offset per 8 to 16 hashes.
    assert (rems.nbytes + offsets.nbytes) / len(members) < 4.5


def test_document_groups_cite_the_same_evidence_as_single_documents(tmp_path, monkeypatch, reference_docs):
    sources = [p for p in data.reference_sources() if p.name in ("abc-news.jsonl.gz", "pydoc-topics.jsonl.gz")]
    docs = reference_docs["abc-news.jsonl.gz"] + reference_docs["pydoc-topics.jsonl.gz"]
    rng = np.random.default_rng(3)
    examples = []
    for row, i in enumerate(rng.choice(len(docs), 40, replace=False)):
        words = docs[i]["text"].split()
        start = int(rng.integers(0, max(len(words) - 40, 1)))
        examples.append(Example(row=row, id=str(row), prompt="", response="",
                                text=" ".join(words[start : start + 40]), category=None))
    columns = ["ngram_containment", "ngram_doc_id", "ngram_doc_start", "ngram_doc_end", "ngram_match"]
    build_index(sources, tmp_path / "single", signals="ngram")
    single = scan_examples(examples, tmp_path / "single").select(columns)
    # As if uint16 held 8 groups: the 300 news articles fall in groups of 38 documents.
    monkeypatch.setattr(ngram, "DOC_GROUPS", 8)
    assert ngram.doc_group(300) == 38
    build_index(sources, tmp_path / "grouped", signals="ngram")
    grouped = scan_examples(examples, tmp_path / "grouped").select(columns)
    assert single["ngram_containment"].min() == 1.0
    assert grouped["ngram_containment"].equals(single["ngram_containment"])
    assert grouped["ngram_doc_id"].equals(single["ngram_doc_id"])
    by_id = {d["id"]: d["text"] for d in docs}
    for one, group in zip(single.iter_rows(named=True), grouped.iter_rows(named=True)):
        text = ref.normalize(by_id[group["ngram_doc_id"]])
        assert text[group["ngram_doc_start"] : group["ngram_doc_end"]] == group["ngram_match"]
        # A group also holds the run's n-grams whose first occurrence is an earlier document of
        # the group, so its cited run can be longer, never shorter.
        assert len(group["ngram_match"]) >= len(one["ngram_match"])
    assert np.load(tmp_path / "grouped" / "shard-00000" / ngram.DOCS).max() < 8
