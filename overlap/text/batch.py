"""A batch of texts normalised, split into words and hashed once for every signal."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from overlap.text import kernels as lexical_kernels


@dataclass
class LexicalBatch:
    """Texts packed as one UTF-8 buffer with their words, hashed by ``lexical_kernels``.

    ``buf[offsets[d]:offsets[d+1]]`` is the normalised text ``d``; its words are
    ``word_offsets[d]:word_offsets[d+1]`` with absolute byte spans
    ``word_starts``/``word_ends``. N-gram hashes are computed on first use per n,
    and so is what a signal derives from the texts alone (``derived``), so the
    probes that pass over one corpus batch share it.
    """

    buf: np.ndarray
    offsets: np.ndarray
    word_hashes: np.ndarray
    word_starts: np.ndarray
    word_ends: np.ndarray
    word_offsets: np.ndarray
    _grams: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    _derived: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_texts(cls, texts: list[str]) -> "LexicalBatch":
        """Normalise, pack and tokenise ``texts``."""
        if sum(map(len, texts)) < 1 << 16:
            # Small inputs (evidence, one document at a time): one fused pass, one kernel call. On large ones its
            # arrays sized for the most words a text can hold cost more in page faults than the pass saves.
            return cls(*lexical_kernels.pack_tokenized(texts))
        buf, offsets, counts = lexical_kernels.pack_counted(texts)  # normalised and counted in one pass
        hashes, starts, ends, word_offsets = lexical_kernels.tokenize(buf, offsets, counts)
        return cls(buf, offsets, hashes, starts, ends, word_offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def take(self, rows: np.ndarray) -> "LexicalBatch":
        """The batch of texts ``rows`` (in that order, repeats allowed), without tokenising again.

        Equal to ``LexicalBatch.from_texts`` of those texts: bytes, words and
        their hashes are gathered, byte positions shifted to the new buffer.
        """
        rows = np.asarray(rows, dtype=np.int64)
        lo, hi = self.offsets[rows], self.offsets[rows + 1]
        offsets = np.concatenate([[0], np.cumsum(hi - lo)]).astype(self.offsets.dtype)
        buf = self.buf[_ranges(lo, hi)]
        wlo, whi = self.word_offsets[rows], self.word_offsets[rows + 1]
        word_offsets = np.concatenate([[0], np.cumsum(whi - wlo)]).astype(self.word_offsets.dtype)
        words = _ranges(wlo, whi)
        shift = np.repeat(offsets[:-1] - lo, whi - wlo).astype(self.word_starts.dtype)
        return LexicalBatch(buf, offsets, self.word_hashes[words], self.word_starts[words] + shift,
                            self.word_ends[words] + shift, word_offsets)

    def word_counts(self) -> np.ndarray:
        """Number of words of each text."""
        return np.diff(self.word_offsets)

    def grams(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(hashes, offsets)`` of the word n-grams of every text."""
        if n not in self._grams:
            self._grams[n] = lexical_kernels.ngrams(self.word_hashes, self.word_offsets, n)
        return self._grams[n]

    def derived(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """``make()``, computed on the first call with ``key`` and kept with the batch for the next."""
        if key not in self._derived:
            self._derived[key] = make()
        return self._derived[key]

    def text_bytes(self, d: int) -> bytes:
        """The normalised UTF-8 bytes of text ``d``."""
        return self.buf[self.offsets[d] : self.offsets[d + 1]].tobytes()

    def span_text(self, d: int, word_lo: int, word_hi: int) -> tuple[int, int, str]:
        """Byte span (relative to text ``d``) and text of its words ``word_lo:word_hi``."""
        base = self.word_offsets[d]
        start = int(self.word_starts[base + word_lo] - self.offsets[d])
        end = int(self.word_ends[base + word_hi - 1] - self.offsets[d])
        return start, end, self.text_bytes(d)[start:end].decode("utf-8", "replace")


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The positions ``lo[i]:hi[i]`` of every ``i``, concatenated."""
    lengths = hi - lo
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return (starts + np.arange(int(lengths.sum()))).astype(np.int64)
