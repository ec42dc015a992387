"""Compiled batch versions of ``text.py``: pack, tokenise and hash n-grams, giving identical results.

A batch is a list of texts packed like an Arrow string column: one ``uint8``
buffer of UTF-8 bytes and ``int64`` offsets (``n + 1`` of them). Every kernel
walks whole batches in numba-compiled code, in parallel over documents, so no
Python runs per word or per shingle. Outputs are flat arrays plus offsets, the
same packing again. Small inputs (one document, when evidence is located) run
a serial build of the same function, which is faster than waking threads
(``threads.batch_kernel``).

Also here: :func:`aligned_words`, how many of a text's words an n-gram match
covers once aligned with its best document (the n-gram signal's evidence).
"""

from __future__ import annotations

import functools
import os
import unicodedata

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, prange, types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from overlap.text import reference as ref
from overlap.engines.threads import batch_kernel  # sets numba's threading layer before any kernel runs

_FNV_OFFSET = np.uint64(ref.FNV_OFFSET)
_FNV_PRIME = np.uint64(ref.FNV_PRIME)
_SEED = np.uint64(ref.NGRAM_SEED)


def pack(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Normalise and pack texts into (UTF-8 buffer, offsets)."""
    buf, offsets, _ = pack_counted(texts)
    return buf, offsets


def pack_counted(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalise and pack texts: ``(UTF-8 buffer, offsets, words per text)``.

    The raw texts are packed as UTF-8 and normalised in compiled code
    (:func:`normalize_packed`), their words counted in the same pass.
    """
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return normalize_packed(buf, offsets, lambda d: texts[d])


def normalize_packed(raw: np.ndarray, offsets: np.ndarray, text_of=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The normalised form (``text.normalize``, UTF-8) of packed raw UTF-8 texts: ``(buf, offsets, word counts)``.

    One compiled pass lower-cases every code point through :func:`lower_tables` and
    counts the words. A text holding a compatibility character (``…``, ``½``,
    ``²``: the table's expansions) is redone by a compiled pass that writes the
    expansions; one holding a code point the table cannot map alone (-1: ``Σ``,
    combining marks, lone surrogates, bytes that are not UTF-8) is normalised by
    the Python reference (``text_of(d)`` gives its ``str``; by default it is
    decoded from ``raw``).
    """
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    out = np.empty_like(raw)
    lower, exp_offsets, exp_bytes = lower_tables()
    words = ref.word_char_table()
    flags, counts = _lower_count(raw, offsets, lower, exp_offsets, exp_bytes, words, out)
    rows = np.flatnonzero(flags)
    if not len(rows):
        return out, offsets, counts
    if text_of is None:
        text_of = lambda d: raw[offsets[d] : offsets[d + 1]].tobytes().decode("utf-8", "surrogatepass")  # noqa: E731
    pieces: list[np.ndarray] = []
    lengths = np.diff(offsets)
    at = 0
    for d in rows.tolist():
        pieces.append(out[offsets[at] : offsets[d]])
        if flags[d] == 2:
            fixed = _expand(raw[offsets[d] : offsets[d + 1]], lower, exp_offsets, exp_bytes)
        else:
            fixed = np.frombuffer(ref.encode(ref.normalize(text_of(d))), dtype=np.uint8)
        pieces.append(fixed)
        lengths[d] = len(fixed)
        counts[d] = _count_words(fixed, 0, len(fixed), words)
        at = d + 1
    pieces.append(out[offsets[at] :])
    new_offsets = np.zeros_like(offsets)
    np.cumsum(lengths, out=new_offsets[1:])
    return np.concatenate(pieces), new_offsets, counts


def pack_tokenized(texts: list[str]):
    """Normalise, pack, split and hash ``texts`` in one compiled pass over their UTF-8 bytes (one thread).

    Returns ``(buf, offsets, hashes, starts, ends, word_offsets)``, equal to
    :func:`pack` then :func:`tokenize`. A quick scan first finds the texts the
    lower table cannot map code point by code point (:func:`lower_tables`); those
    are normalised beforehand (their expansions in compiled code, the rest by the
    reference) and then only split and hashed; every other text is lower-cased,
    split and hashed in the same pass, ASCII bytes on a fast path.
    """
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    raw = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    lower, exp_offsets, exp_bytes = lower_tables()
    flags = _prescan(raw, offsets, lower)
    done = flags != 0
    if done.any():
        pieces: list[np.ndarray] = []
        lengths = np.diff(offsets)
        at = 0
        for d in np.flatnonzero(done).tolist():
            pieces.append(raw[offsets[at] : offsets[d]])
            if flags[d] == 2:
                fixed = _expand(raw[offsets[d] : offsets[d + 1]], lower, exp_offsets, exp_bytes)
            else:
                fixed = np.frombuffer(ref.encode(ref.normalize(texts[d])), dtype=np.uint8)
            pieces.append(fixed)
            lengths[d] = len(fixed)
            at = d + 1
        pieces.append(raw[offsets[at] :])
        raw = np.concatenate(pieces)
        offsets = np.zeros_like(offsets)
        np.cumsum(lengths, out=offsets[1:])
    n = len(texts)
    cap = len(raw) // 2 + n + 1  # a word takes a byte and a separator: at most (length + 1) // 2 a text
    out = np.empty_like(raw)
    hashes = np.empty(cap, dtype=np.uint64)
    starts = np.empty(cap, dtype=np.int64)
    ends = np.empty(cap, dtype=np.int64)
    word_offsets = np.empty(n + 1, dtype=np.int64)
    _lower_split_hash(raw, offsets, done, lower, ref.word_char_table(), out, hashes, starts, ends, word_offsets)
    total = word_offsets[n]
    return out, offsets, hashes[:total], starts[:total], ends[:total], word_offsets


@njit(cache=True, nogil=True)
def _prescan(raw, offsets, lower):
    """Per text: 0 when the lower table maps each of its code points, 2 when it holds an expansion, 1 when the
    reference must normalise it (a code point the table does not map, bytes that are not UTF-8)."""
    n = offsets.shape[0] - 1
    flags = np.zeros(n, dtype=np.int8)
    for d in range(n):
        i = offsets[d]
        end = offsets[d + 1]
        while i < end:
            if raw[i] < 0x80:
                i += 1
                continue
            if _width_at(raw, i, end) == 0:
                flags[d] = 1
                break
            cp, width = _decode(raw, i)
            m = lower[cp]
            if m == -1:
                flags[d] = 1
                break
            if m < -1:
                flags[d] = 2
            i += width
    return flags


@njit(cache=True, nogil=True)
def _lower_split_hash(raw, offsets, done, lower, table, out, hashes, starts, ends, word_offsets):
    """Lower-case (unless ``done``), split and hash every text: ``_lower_count`` and ``_fill_words`` in one pass."""
    n = offsets.shape[0] - 1
    k = 0
    for d in range(n):
        word_offsets[d] = k
        i = offsets[d]
        end = offsets[d + 1]
        keep = done[d]
        inword = False
        h = _FNV_OFFSET
        while i < end:
            c = raw[i]
            if c < 0x80:
                if c >= 65 and c <= 90 and not keep:
                    c += 32
                out[i] = c
                if table[c]:
                    if not inword:
                        inword = True
                        h = _FNV_OFFSET
                        starts[k] = i
                    h = (h ^ np.uint64(c)) * _FNV_PRIME
                elif inword:
                    inword = False
                    hashes[k] = mix64(h)
                    ends[k] = i
                    k += 1
                i += 1
                continue
            cp, width = _decode(raw, i)
            m = cp if keep else lower[cp]
            _put(out, i, m, width)
            if table[m]:
                if not inword:
                    inword = True
                    h = _FNV_OFFSET
                    starts[k] = i
                for j in range(i, i + width):
                    h ^= np.uint64(out[j])
                    h *= _FNV_PRIME
            elif inword:
                inword = False
                hashes[k] = mix64(h)
                ends[k] = i
                k += 1
            i += width
        if inword:
            hashes[k] = mix64(h)
            ends[k] = end
            k += 1
    word_offsets[n] = k


LOWER_TABLE_VERSION = 2


def lower_table() -> np.ndarray:
    """The int32 code point table of :func:`lower_tables`."""
    return lower_tables()[0]


@functools.cache
def lower_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(table, expansion offsets, expansion bytes)``: ``text.normalize`` one code point at a time.

    ``table[cp] >= 0`` is the lower-cased code point when the character is its own
    NFKC form, starts no reordering (combining class 0), never composes with the
    character before it (not the second part of any canonical decomposition, not a
    Hangul vowel or final jamo), lower-cases to one code point of the same UTF-8
    length and is not ``Σ`` (whose lower case depends on its neighbours). A text
    made only of such characters is already NFKC (the Unicode quick check), so its
    normal form is the table applied to each code point.

    ``table[cp] = -2 - e``: a compatibility character (``…``, ``½``, ``ﬁ``) that is
    not a combining mark, whose decomposition starts with a starter that composes
    with nothing before it, and whose NFKC form is made of characters of the first
    kind: it normalises to ``exp_bytes[exp_offsets[e]:exp_offsets[e + 1]]`` (the
    lower-cased NFKC form, UTF-8) wherever it stands among such characters (nothing
    before it can compose with its decomposition's starter, nothing after it with
    its last character, none of them reorders). Everything else is -1 (the text
    takes the Python reference). Built once per Unicode version (a few seconds)
    and kept in the cache folder.
    """
    from overlap.io.bundled import cache_dir

    path = cache_dir() / f"nfkc-lower-unicode-{unicodedata.unidata_version}-v{LOWER_TABLE_VERSION}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            table, exp_offsets, exp_bytes = data["table"], data["exp_offsets"], data["exp_bytes"]
        if table.dtype == np.int32 and table.shape == (0x110000,) and exp_offsets.dtype == np.int64 \
                and exp_bytes.dtype == np.uint8:
            return table, exp_offsets, exp_bytes
    except (OSError, ValueError, KeyError):
        pass
    table, exp_offsets, exp_bytes = _build_lower_tables()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
        np.savez(temp, table=table, exp_offsets=exp_offsets, exp_bytes=exp_bytes)
        os.replace(temp, path)
    except OSError:
        pass
    return table, exp_offsets, exp_bytes


def _utf8_width(cp: int) -> int:
    return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4


def _build_lower_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    trailers = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V and T jamo
    for cp in range(0x110000):
        parts = unicodedata.decomposition(chr(cp)).split()
        if len(parts) >= 2 and not parts[0].startswith("<"):
            trailers.update(int(p, 16) for p in parts[1:])
    table = np.full(0x110000, -1, dtype=np.int32)
    rest = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000 or cp == 0x03A3 or cp in trailers:
            continue
        char = chr(cp)
        if unicodedata.combining(char):
            continue
        if unicodedata.normalize("NFKC", char) != char:
            rest.append(cp)
            continue
        lower = char.lower()
        if len(lower) == 1 and _utf8_width(ord(lower)) == _utf8_width(cp):
            table[cp] = ord(lower)
    expansions: list[bytes] = []
    for cp in rest:
        char = chr(cp)
        first = unicodedata.normalize("NFKD", char)[:1]
        form = unicodedata.normalize("NFKC", char)
        if not first or unicodedata.combining(first) or ord(first) in trailers:
            continue
        if not form or any(table[ord(c)] < 0 for c in form):
            continue
        table[cp] = -2 - len(expansions)
        expansions.append("".join(chr(table[ord(c)]) for c in form).encode("utf-8"))
    exp_offsets = np.zeros(len(expansions) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in expansions], out=exp_offsets[1:])
    return table, exp_offsets, np.frombuffer(b"".join(expansions), dtype=np.uint8).copy()


@njit(inline="always")
def _put(out, i, m, width):
    if width == 1:
        out[i] = m
    elif width == 2:
        out[i] = 0xC0 | (m >> 6)
        out[i + 1] = 0x80 | (m & 0x3F)
    elif width == 3:
        out[i] = 0xE0 | (m >> 12)
        out[i + 1] = 0x80 | ((m >> 6) & 0x3F)
        out[i + 2] = 0x80 | (m & 0x3F)
    else:
        out[i] = 0xF0 | (m >> 18)
        out[i + 1] = 0x80 | ((m >> 12) & 0x3F)
        out[i + 2] = 0x80 | ((m >> 6) & 0x3F)
        out[i + 3] = 0x80 | (m & 0x3F)


@njit(inline="always")
def _width_at(raw, i, end):
    """Width of the UTF-8 sequence starting at byte i, 0 when it is not a whole one (left to the reference)."""
    c = raw[i]
    if c < 0x80:
        return 1
    if c < 0xC2 or c > 0xF4:
        return 0
    width = 2 if c < 0xE0 else (3 if c < 0xF0 else 4)
    if i + width > end:
        return 0
    for j in range(i + 1, i + width):
        if raw[j] & 0xC0 != 0x80:
            return 0
    return width


@intrinsic
def _load8(typingctx, buf, i):
    """The 8 bytes ``buf[i:i + 8]`` as one little-endian uint64 (an unaligned load; no bounds check)."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        word = builder.bitcast(builder.gep(data, [args[1]]), llvm_ir.IntType(64).as_pointer())
        return builder.load(word, align=1)

    return types.uint64(buf, i), codegen


_BYTES = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)


@intrinsic
def _store8(typingctx, buf, i, value):
    """Write the uint64 ``value`` to the 8 bytes ``buf[i:i + 8]``, little-endian (unaligned; no bounds check)."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        word = builder.bitcast(builder.gep(data, [args[1]]), llvm_ir.IntType(64).as_pointer())
        builder.store(args[2], word, align=1)
        return context.get_dummy_value()

    return types.none(buf, i, types.uint64), codegen


@njit(inline="always")
def _ascii_in_range(x, lo, hi):
    """The high bit of each byte of ``x`` (8 ASCII bytes) set where ``lo <= byte <= hi``.

    Two additions whose high bits cross at ``lo`` and past ``hi``; an ASCII
    byte never carries into the next.
    """
    return (x + _BYTES * np.uint64(0x80 - lo)) & ~(x + _BYTES * np.uint64(0x7F - hi)) & _HIGH


@njit(inline="always")
def _ascii_word_bits(x):
    """The high bit of each byte of ``x`` (8 ASCII bytes) set where it is a word character: a letter or a digit."""
    folded = x | (_BYTES * np.uint64(0x20))  # upper- to lower-case letters; nothing else lands on a-z
    return _ascii_in_range(folded, 0x61, 0x7A) | _ascii_in_range(x, 0x30, 0x39)


@njit(inline="always")
def _fnv_bytes(h, x, n):
    """FNV-1a of ``h`` continued over the low ``n`` bytes of ``x`` (``0 <= n <= 8``), without a branch on ``n``."""
    for j in range(8):
        step = (h ^ ((x >> np.uint64(8 * j)) & np.uint64(0xFF))) * _FNV_PRIME
        h ^= (h ^ step) & (np.uint64(0) - np.uint64(j < n))
    return h


@batch_kernel(lambda raw, offsets, lower, exp_offsets, exp_bytes, words, out: raw.shape[0], 1 << 18)
def _lower_count(raw, offsets, lower, exp_offsets, exp_bytes, words, out):
    """Lower-case each text into ``out`` through ``lower`` and count its words.

    ``flags[d]``: 0 done; 2 holds an expansion (redo it with :func:`_expand`;
    its count is then redone too); 1 holds an unmapped code point (the reference).
    """
    n = offsets.shape[0] - 1
    flags = np.zeros(n, dtype=np.int8)
    counts = np.zeros(n, dtype=np.int64)
    for d in prange(n):
        i = offsets[d]
        end = offsets[d + 1]
        count = 0
        inword = False
        while i < end:
            if end - i >= 8:  # eight ASCII bytes at once, without a branch per byte or per word
                x = _load8(raw, i)
                if not x & _HIGH:
                    _store8(out, i, x | (_ascii_in_range(x, 0x41, 0x5A) >> np.uint64(2)))
                    bits = _ascii_word_bits(x)
                    began = bits & ~((bits << np.uint64(8)) | np.uint64(0x80 if inword else 0))
                    count += np.int64(((began >> np.uint64(7)) * _BYTES) >> np.uint64(56))
                    inword = bits >> np.uint64(63) != 0
                    i += 8
                    continue
            c = raw[i]
            if c < 0x80:
                if c >= 65 and c <= 90:
                    c += 32
                out[i] = c
                if words[c]:
                    if not inword:
                        count += 1
                        inword = True
                else:
                    inword = False
                i += 1
                continue
            if _width_at(raw, i, end) == 0:
                flags[d] = 1
                break
            cp, width = _decode(raw, i)
            m = lower[cp]
            if m < 0:
                if m == -1:
                    flags[d] = 1
                    break
                flags[d] = 2  # an expansion: look on for a code point only the reference maps
                i += width
                continue
            _put(out, i, m, width)
            if words[m]:
                if not inword:
                    count += 1
                    inword = True
            else:
                inword = False
            i += width
        counts[d] = count
    return flags, counts


@njit(cache=True, nogil=True)
def _expand_into(raw, lower, exp_offsets, exp_bytes, out):
    """Normalise one text of mapped and expanded code points into ``out`` (only measure it when ``out`` is empty)."""
    write = out.shape[0] > 0
    i = 0
    k = 0
    end = raw.shape[0]
    while i < end:
        cp, width = _decode(raw, i)
        m = lower[cp]
        if m >= 0:
            if write:
                _put(out, k, m, width)
            k += width
        else:
            e = -2 - m
            for j in range(exp_offsets[e], exp_offsets[e + 1]):
                if write:
                    out[k] = exp_bytes[j]
                k += 1
        i += width
    return k


def _expand(raw: np.ndarray, lower: np.ndarray, exp_offsets: np.ndarray, exp_bytes: np.ndarray) -> np.ndarray:
    size = _expand_into(raw, lower, exp_offsets, exp_bytes, np.empty(0, dtype=np.uint8))
    out = np.empty(size, dtype=np.uint8)
    if size:
        _expand_into(raw, lower, exp_offsets, exp_bytes, out)
    return out


@njit(inline="always")
def mix64(x):
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@njit(inline="always")
def _decode(buf, i):
    """Code point starting at byte i and its width (input is valid UTF-8)."""
    c = np.int64(buf[i])
    if c < 0x80:
        return c, 1
    if c < 0xE0:
        return ((c & 0x1F) << 6) | (np.int64(buf[i + 1]) & 0x3F), 2
    if c < 0xF0:
        return (
            ((c & 0x0F) << 12) | ((np.int64(buf[i + 1]) & 0x3F) << 6) | (np.int64(buf[i + 2]) & 0x3F),
            3,
        )
    return (
        ((c & 0x07) << 18)
        | ((np.int64(buf[i + 1]) & 0x3F) << 12)
        | ((np.int64(buf[i + 2]) & 0x3F) << 6)
        | (np.int64(buf[i + 3]) & 0x3F),
        4,
    )


@njit(cache=True, nogil=True)
def _count_words(buf, start, end, table):
    count = 0
    inword = False
    i = start
    while i < end:
        c = buf[i]
        if c < 0x80:  # ASCII: one byte, one code point
            word = table[c]
            i += 1
        else:
            cp, width = _decode(buf, i)
            word = table[cp]
            i += width
        if word:
            if not inword:
                count += 1
                inword = True
        else:
            inword = False
    return count


@njit(cache=True, nogil=True)
def _fill_words(buf, start, end, table, hashes, starts, ends, out):
    """Hash and place the words of ``buf[start:end]`` from slot ``out`` on (``word_spans`` and ``word_hash``).

    Eight ASCII bytes at a time: their word characters are found in one word
    of arithmetic (:func:`_ascii_word_bits`), a separator run is skipped and a
    word's bytes hashed without a branch per byte, so a word costs about one
    mispredicted branch instead of two. Windows holding a byte >= 0x80, and the
    last bytes of a text, go one code point at a time.
    """
    inword = False
    h = _FNV_OFFSET
    i = start
    k = out
    while i < end:
        if end - i >= 8:
            x = _load8(buf, i)
            if not x & _HIGH:
                bits = _ascii_word_bits(x)
                if not inword:
                    if not bits:
                        i += 8
                        continue
                    skip = np.int64(trailing_zeros(bits) >> 3)
                    i += skip
                    x >>= np.uint64(8 * skip)
                    bits >>= np.uint64(8 * skip)
                    inword = True
                    h = _FNV_OFFSET
                    starts[k] = i
                    room = 8 - skip
                else:
                    room = 8
                # bytes shifted in are 0, not word characters, so a word runs at most to the room it has
                length = min(np.int64(trailing_zeros(~bits & _HIGH) >> 3), room)
                h = _fnv_bytes(h, x, length)
                i += length
                if length < room:
                    inword = False
                    hashes[k] = mix64(h)
                    ends[k] = i
                    k += 1
                continue
        c = buf[i]
        if c < 0x80:
            word = table[c]
            width = 1
        else:
            cp, width = _decode(buf, i)
            word = table[cp]
        if word:
            if not inword:
                inword = True
                h = _FNV_OFFSET
                starts[k] = i
            for j in range(i, i + width):
                h = (h ^ np.uint64(buf[j])) * _FNV_PRIME
        elif inword:
            inword = False
            hashes[k] = mix64(h)
            ends[k] = i
            k += 1
        i += width
    if inword:
        hashes[k] = mix64(h)
        ends[k] = end


@batch_kernel(lambda buf, offsets, table: buf.shape[0], 1 << 18)
def _tokenize(buf, offsets, table):
    n = offsets.shape[0] - 1
    counts = np.zeros(n, dtype=np.int64)
    for d in prange(n):
        counts[d] = _count_words(buf, offsets[d], offsets[d + 1], table)
    word_offsets = np.zeros(n + 1, dtype=np.int64)
    for d in range(n):
        word_offsets[d + 1] = word_offsets[d] + counts[d]
    total = word_offsets[n]
    hashes = np.empty(total, dtype=np.uint64)
    starts = np.empty(total, dtype=np.int64)
    ends = np.empty(total, dtype=np.int64)
    for d in prange(n):
        _fill_words(buf, offsets[d], offsets[d + 1], table, hashes, starts, ends, word_offsets[d])
    return hashes, starts, ends, word_offsets


@batch_kernel(lambda buf, offsets, table, counts: buf.shape[0], 1 << 18)
def _tokenize_counted(buf, offsets, table, counts):
    n = offsets.shape[0] - 1
    word_offsets = np.zeros(n + 1, dtype=np.int64)
    for d in range(n):
        word_offsets[d + 1] = word_offsets[d] + counts[d]
    total = word_offsets[n]
    hashes = np.empty(total, dtype=np.uint64)
    starts = np.empty(total, dtype=np.int64)
    ends = np.empty(total, dtype=np.int64)
    for d in prange(n):
        _fill_words(buf, offsets[d], offsets[d + 1], table, hashes, starts, ends, word_offsets[d])
    return hashes, starts, ends, word_offsets


def tokenize(buf: np.ndarray, offsets: np.ndarray, counts: np.ndarray | None = None):
    """Word hashes and byte spans of every packed text.

    Returns ``(hashes, starts, ends, word_offsets)``: words of text ``d`` are
    ``word_offsets[d]:word_offsets[d+1]``; spans are absolute offsets into ``buf``.
    ``counts`` (words per text, as :func:`pack_counted` gives them) saves a pass.
    """
    if counts is not None:
        return _tokenize_counted(buf, offsets, ref.word_char_table(), counts)
    return _tokenize(buf, offsets, ref.word_char_table())


@batch_kernel(lambda word_hashes, word_offsets, n: word_hashes.shape[0] * n, 1 << 18)
def ngrams(word_hashes, word_offsets, n):
    """Word n-gram hashes per text (see ``text.ngram_hashes``), packed with offsets."""
    ndocs = word_offsets.shape[0] - 1
    gram_offsets = np.zeros(ndocs + 1, dtype=np.int64)
    for d in range(ndocs):
        k = word_offsets[d + 1] - word_offsets[d]
        g = 0
        if k >= n:
            g = k - n + 1
        elif k > 0:
            g = 1
        gram_offsets[d + 1] = gram_offsets[d] + g
    out = np.empty(gram_offsets[ndocs], dtype=np.uint64)
    for d in prange(ndocs):
        w0 = word_offsets[d]
        g0 = gram_offsets[d]
        count = gram_offsets[d + 1] - g0
        width = min(word_offsets[d + 1] - w0, n)
        # Word by word over all of a text's n-grams at once: each step is the same mix over a contiguous run of
        # independent chains, a loop the compiler turns into vector instructions.
        grams = out[g0 : g0 + count]
        grams[:] = _SEED ^ np.uint64(width)
        for j in range(width):
            words = word_hashes[w0 + j : w0 + j + count]
            for i in range(count):
                grams[i] = mix64(grams[i] ^ words[i])
    return out, gram_offsets


@njit(cache=True)
def _aligned_words(words, doc_words, anchor_at, anchor_doc_at, matched_at, n):
    covered = np.zeros(words.shape[0], dtype=np.bool_)
    for i in matched_at:
        covered[i : i + n] = True
    count = 0
    k = 0  # the last anchor at or before j (the first one while there is none)
    m = anchor_at.shape[0]
    for j in range(words.shape[0]):
        while k + 1 < m and anchor_at[k + 1] <= j:
            k += 1
        for a in (k, min(k + 1, m - 1)):  # the anchors on either side of j
            if m and not covered[j]:
                q = j + anchor_doc_at[a] - anchor_at[a]
                if 0 <= q < doc_words.shape[0] and doc_words[q] == words[j]:
                    covered[j] = True
        if covered[j]:
            count += 1
    return count


def aligned_words(words: np.ndarray, doc_words: np.ndarray, anchor_at: np.ndarray, anchor_doc_at: np.ndarray,
                  matched_at: np.ndarray, n: int) -> int:
    """How many of a text's ``words`` are matched: inside a matched n-gram or equal to their aligned word.

    ``matched_at`` are the start positions of the text's n-grams found in the corpus
    (in any document). ``anchor_at`` (sorted) and ``anchor_doc_at`` are the word
    positions of the n-grams it shares with its best document, in the text and in
    that document; each text word aligns through the anchor before or after it (a
    replaced word keeps the alignment; past an insertion or deletion the next anchor
    carries the shifted one).
    """
    return int(_aligned_words(np.asarray(words, dtype=np.uint64), np.asarray(doc_words, dtype=np.uint64),
                              np.asarray(anchor_at, dtype=np.int64), np.asarray(anchor_doc_at, dtype=np.int64),
                              np.asarray(matched_at, dtype=np.int64), n))
