"""Stream mode's cited documents answer as a DocStore does, from memory."""

import pytest

from overlap.index.documents import DocStore
from overlap.signals.stream_docs import CitedDocs
from overlap.text import reference as ref


def test_held_documents_come_back_by_file_and_row():
    docs = CitedDocs()
    assert isinstance(docs, DocStore)
    text = ref.normalize("Ünïcode Café, déjà vu")
    docs.add(2, 7, "doc-a", ref.encode(text))
    docs.add(0, 7, "doc-b", b"plain")
    assert docs.doc_id(2, 7) == "doc-a" and docs.doc_id(0, 7) == "doc-b"
    assert docs.text(2, 7) == text and docs.normalized(2, 7) == ref.encode(text)
    with pytest.raises(KeyError):
        docs.doc_id(1, 7)
