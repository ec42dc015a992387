"""The corpus documents stream mode cites, held in memory in place of an index's ``docs.parquet``."""

from __future__ import annotations

import functools

from overlap.index.documents import DocStore
from overlap.text.batch import LexicalBatch

LEXICAL_KEPT = 4096


class CitedDocs(DocStore):
    """``(file number, document row) -> (id, normalised UTF-8 text)`` of the documents evidence cites.

    The same interface as :class:`DocStore`, so index mode's evidence code
    (locating a run of n-grams in a document, cutting an excerpt) runs on it
    unchanged.
    """

    def __init__(self) -> None:
        super().__init__([])
        self.held: dict[tuple[int, int], tuple[str, bytes]] = {}
        # The cited documents tokenised, more of them than an index's store keeps: evidence, then exposure,
        # visit the same documents in turn (a cache per store, freed with it).
        self.lexical = functools.lru_cache(maxsize=LEXICAL_KEPT)(self._tokenised)

    def add(self, shard: int, row: int, doc_id: str, normalized: bytes) -> None:
        self.held[(shard, row)] = (doc_id, normalized)

    def doc_id(self, shard: int, row: int) -> str:
        return self.held[(shard, row)][0]

    def text(self, shard: int, row: int) -> str:
        return self.held[(shard, row)][1].decode("utf-8", "surrogatepass")

    def normalized(self, shard: int, row: int) -> bytes:
        return self.held[(shard, row)][1]

    def _tokenised(self, shard: int, row: int) -> LexicalBatch:
        return LexicalBatch.from_texts([self.text(shard, row)])
