"""Stream mode's cited documents answer as a DocStore does, from memory."""

import pytest

from overlap.index.documents import DocStore
from overlap.signals.stream_docs import CitedDocs
from overlap.text import reference as ref
from overlap.text.batch import LexicalBatch


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


def test_a_cited_document_tokenises_as_its_text_alone_once():
    docs = CitedDocs()
    text = ref.normalize("The same words, tokenised once: évidence then exposure ½")
    docs.add(1, 3, "doc", ref.encode(text))
    got, alone = docs.lexical(1, 3), LexicalBatch.from_texts([text])
    assert docs.lexical(1, 3) is got
    for name in ("buf", "offsets", "word_hashes", "word_starts", "word_ends", "word_offsets"):
        assert (getattr(got, name) == getattr(alone, name)).all()
