"""Normalise text, split it into words and hash word n-grams: the plain reference.

Everything lexical in overlap is defined here, one word at a time, in plain
Python. ``lexical_kernels.py`` computes the same values over whole batches in
compiled code; the tests hold the two to identical output. Change a definition
here and bump :data:`LEXICAL_VERSION`, since the hashes stored in every index
depend on it.

Definitions:

* **normalise**: Unicode NFKC, then ``str.lower``.
* **word**: a maximal run of characters whose Unicode category is a letter (L*),
  number (N*) or mark (M*) in the normalised text. Everything else separates.
* **word hash**: FNV-1a 64 over the word's UTF-8 bytes, then the splitmix64
  finaliser (FNV alone mixes its high bits poorly).
* **n-gram hash**: ``h = SEED ^ k``, then ``h = mix(h ^ w)`` for each of the
  ``k`` word hashes ``w`` in order. A text with fewer than ``n`` words (but at
  least one) has exactly one n-gram: all of its words, hashed the same way with
  ``k`` equal to its word count. So a short text still has a real signature that
  only matches the same short text, never an empty one shared by all short texts.
"""

from __future__ import annotations

import functools
import os
import unicodedata

import numpy as np

LEXICAL_VERSION = "nfkc-lower/LNM-words/fnv1a64-splitmix64/v1"

MASK64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
NGRAM_SEED = 0x9E3779B97F4A7C15


def normalize(text: str) -> str:
    """Return ``text`` in NFKC form, lower-cased."""
    return unicodedata.normalize("NFKC", text).lower()


def is_word_char(char: str) -> bool:
    """True when ``char`` is a letter, number or combining mark."""
    return unicodedata.category(char)[0] in "LNM"


@functools.cache
def word_char_table() -> np.ndarray:
    """A uint8 table over all code points: 1 where :func:`is_word_char` holds.

    Building it asks ``unicodedata`` about 1.1 million code points (about two
    seconds of Python, paid by every process that runs a kernel), so it is kept
    in the cache folder (``overlap.io.bundled.cache_dir``) per Unicode version and
    loaded from there; a missing, unreadable or malformed file is rebuilt.
    """
    from overlap.io.bundled import cache_dir

    path = cache_dir() / f"word-chars-unicode-{unicodedata.unidata_version}.npy"
    try:
        table = np.load(path, allow_pickle=False)
        if table.dtype == np.uint8 and table.shape == (0x110000,):
            return table
    except (OSError, ValueError):
        pass
    table = np.fromiter(
        (is_word_char(chr(cp)) for cp in range(0x110000)), dtype=np.uint8, count=0x110000
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(temp, "wb") as handle:
            np.save(handle, table, allow_pickle=False)
        os.replace(temp, path)
    except OSError:
        pass
    return table


def encode(text: str) -> bytes:
    """UTF-8 bytes of ``text``; lone surrogates pass through so no input is refused."""
    return text.encode("utf-8", "surrogatepass")


def word_spans(normalized: str) -> list[tuple[int, int]]:
    """Byte spans ``(start, end)`` of the words of an already normalised text."""
    spans: list[tuple[int, int]] = []
    pos = 0
    start = -1
    for char in normalized:
        width = len(encode(char))
        if is_word_char(char):
            if start < 0:
                start = pos
        elif start >= 0:
            spans.append((start, pos))
            start = -1
        pos += width
    if start >= 0:
        spans.append((start, pos))
    return spans


def words(text: str) -> list[str]:
    """The words of ``text`` after normalisation."""
    normalized = normalize(text)
    data = encode(normalized)
    return [data[s:e].decode("utf-8", "surrogatepass") for s, e in word_spans(normalized)]


def canonical(text: str) -> str:
    """The words of ``text`` joined by single spaces: the form evidence is compared in."""
    return " ".join(words(text))


def mix64(x: int) -> int:
    """The splitmix64 finaliser: a bijection on 64-bit integers."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    x ^= x >> 31
    return x


def word_hash(word: bytes) -> int:
    """64-bit hash of one word's UTF-8 bytes."""
    h = FNV_OFFSET
    for byte in word:
        h ^= byte
        h = (h * FNV_PRIME) & MASK64
    return mix64(h)


def word_hashes(text: str) -> np.ndarray:
    """uint64 hashes of the words of ``text``, in order."""
    data = encode(normalize(text))
    return np.array(
        [word_hash(data[s:e]) for s, e in word_spans(data.decode("utf-8", "surrogatepass"))],
        dtype=np.uint64,
    )


def combine(hashes: list[int]) -> int:
    """Hash of a sequence of word hashes (one n-gram)."""
    h = NGRAM_SEED ^ len(hashes)
    for w in hashes:
        h = mix64(h ^ w)
    return h


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """uint64 hashes of the word n-grams of a text, given its word hashes.

    Position ``i`` holds the n-gram starting at word ``i``. A text with
    ``0 < k < n`` words has the single n-gram of all its words.
    """
    values = [int(v) for v in hashes]
    k = len(values)
    if k == 0:
        return np.zeros(0, dtype=np.uint64)
    if k < n:
        return np.array([combine(values)], dtype=np.uint64)
    return np.array([combine(values[i : i + n]) for i in range(k - n + 1)], dtype=np.uint64)


def text_ngrams(text: str, n: int) -> np.ndarray:
    """Word n-gram hashes of a raw text."""
    return ngram_hashes(word_hashes(text), n)
