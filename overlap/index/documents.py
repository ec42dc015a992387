"""The corpus documents of an index's shards: written with the shard, read back for evidence.

Each shard keeps its indexed documents in ``docs.parquet`` (``id``, ``text``,
``line``: the source line of a JSON-lines record), in row groups of exactly
``DOCS_ROW_GROUP`` documents, so document ``row`` of a shard is one row-group
read away. Signals number documents by their row here; evidence offsets are
character offsets into the normalised text (:func:`excerpt`).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DOCS_FILE = "docs.parquet"
DOCS_ROW_GROUP = 1024


class DocsWriter:
    """Writes ``docs.parquet`` in row groups of exactly DOCS_ROW_GROUP documents."""

    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("line", pa.int64())])

    def __init__(self, path: Path):
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.pending: dict[str, list] = {"id": [], "text": [], "line": []}

    def add(self, ids: list[str], texts: list[str], lines: list[int | None]) -> None:
        self.pending["id"] += ids
        self.pending["text"] += texts
        self.pending["line"] += lines
        while len(self.pending["id"]) >= DOCS_ROW_GROUP:
            self._flush(DOCS_ROW_GROUP)

    def _flush(self, count: int) -> None:
        chunk = {k: v[:count] for k, v in self.pending.items()}
        self.pending = {k: v[count:] for k, v in self.pending.items()}
        self.writer.write_table(pa.table(chunk, schema=self.schema), row_group_size=DOCS_ROW_GROUP)

    def close(self) -> None:
        if self.pending["id"]:
            self._flush(len(self.pending["id"]))
        self.writer.close()


class DocStore:
    """Corpus documents of an index's shards, fetched by (shard, row) for evidence."""

    def __init__(self, shard_folders: list[Path]):
        self.folders = shard_folders
        self._files: dict[int, pq.ParquetFile] = {}

    def _file(self, shard: int) -> pq.ParquetFile:
        if shard not in self._files:
            self._files[shard] = pq.ParquetFile(self.folders[shard] / DOCS_FILE)
        return self._files[shard]

    @functools.lru_cache(maxsize=64)
    def _group(self, shard: int, group: int) -> pa.Table:
        return self._file(shard).read_row_group(group, columns=["id", "text"])

    def documents(self, shard: int) -> int:
        """Number of documents in a shard."""
        return self._file(shard).metadata.num_rows

    def doc_id(self, shard: int, row: int) -> str:
        return self._group(shard, row // DOCS_ROW_GROUP)["id"][row % DOCS_ROW_GROUP].as_py()

    def text(self, shard: int, row: int) -> str:
        return self._group(shard, row // DOCS_ROW_GROUP)["text"][row % DOCS_ROW_GROUP].as_py()

    @functools.lru_cache(maxsize=256)
    def normalized(self, shard: int, row: int) -> bytes:
        """UTF-8 bytes of the normalised document, the space evidence offsets refer to."""
        from overlap.text import reference as ref

        return ref.encode(ref.normalize(self.text(shard, row)))

    @functools.lru_cache(maxsize=64)
    def lexical(self, shard: int, row: int):
        """The normalised document tokenised, for locating evidence in it."""
        from overlap.text.batch import LexicalBatch

        return LexicalBatch.from_texts([self.normalized(shard, row).decode("utf-8", "surrogatepass")])

    def excerpt(self, shard: int, row: int, byte_start: int, byte_end: int) -> tuple[int, int, str]:
        """Character offsets and text of a byte span of the normalised document."""
        return excerpt(self.normalized(shard, row), byte_start, byte_end)


def excerpt(data: bytes, byte_start: int, byte_end: int) -> tuple[int, int, str]:
    """Character offsets and text of the byte span ``[byte_start, byte_end)`` of normalised UTF-8 ``data``."""
    start = len(data[:byte_start].decode("utf-8", "replace"))
    piece = data[byte_start:byte_end].decode("utf-8", "replace")
    return start, start + len(piece), piece
