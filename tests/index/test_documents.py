"""The document store of an index (``overlap/index/documents.py``): written in fixed row groups, read by row."""

from __future__ import annotations

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap.text import reference as ref
from overlap.index.documents import DOCS_FILE, DOCS_ROW_GROUP, DocStore, DocsWriter, excerpt


def _write(folder, ids, texts, batch=700):
    folder.mkdir(parents=True, exist_ok=True)
    writer = DocsWriter(folder / DOCS_FILE)
    for lo in range(0, len(ids), batch):  # batches that do not line up with row groups
        writer.add(ids[lo:lo + batch], texts[lo:lo + batch], list(range(lo + 1, lo + 1 + len(ids[lo:lo + batch]))))
    writer.close()


def test_rows_are_read_back_across_row_groups_and_shards(tmp_path):
    n = 2 * DOCS_ROW_GROUP + 5
    ids = [f"doc-{i}" for i in range(n)]
    texts = [f"Text number {i}: Ünïcode ÉTÉ words" for i in range(n)]
    _write(tmp_path / "s0", ids, texts)
    _write(tmp_path / "s1", ["other"], ["A second shard."])
    meta = pq.ParquetFile(tmp_path / "s0" / DOCS_FILE).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [DOCS_ROW_GROUP, DOCS_ROW_GROUP, 5]
    store = DocStore([tmp_path / "s0", tmp_path / "s1"])
    assert store.documents(0) == n and store.documents(1) == 1
    for row in (0, DOCS_ROW_GROUP - 1, DOCS_ROW_GROUP, n - 1):
        assert store.doc_id(0, row) == ids[row]
        assert store.text(0, row) == texts[row]
        assert store.normalized(0, row) == ref.encode(ref.normalize(texts[row]))
    assert store.doc_id(1, 0) == "other"
    lines = pq.read_table(tmp_path / "s0" / DOCS_FILE, columns=["line"])["line"].to_pylist()
    assert lines == list(range(1, n + 1))


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=40), st.data())
def test_excerpt_maps_a_byte_span_to_character_offsets(text, data):
    encoded = text.encode("utf-8")
    cuts = [len(text[:i].encode("utf-8")) for i in range(len(text) + 1)]  # byte offsets of character boundaries
    lo = data.draw(st.sampled_from(cuts))
    hi = data.draw(st.sampled_from([c for c in cuts if c >= lo]))
    start, end, piece = excerpt(encoded, lo, hi)
    assert text[start:end] == piece == encoded[lo:hi].decode("utf-8")
