"""The kernels stream mode adds: hashing only the MinHash windows that hold a dataset shingle, and packing.

Each is held to the plain computation it replaces: windows cut from a subset
of block minima equal the same windows of the full computation, and packing
equals ``text.py``'s normalisation.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from overlap import data, lexical_kernels, probe
from overlap import text as ref
from overlap.index.sorting import unique_keys
from overlap.lexical import LexicalBatch
from overlap.signals import minhash, minhash_kernels, minhash_stream

from conftest import load_docs

PARAMS = {**minhash.default_params(), "ngram_n": 8}


def _corpus_batch() -> LexicalBatch:
    docs = load_docs(data.reference_sources()[0])[:300]
    return LexicalBatch.from_texts([d["text"] for d in docs] + ["", "two words"])


def test_hit_windows_are_the_full_windows_they_select():
    batch = _corpus_batch()
    perm = minhash_kernels.permutations(PARAMS["num_perm"], PARAMS["minhash_seed"])
    shingles, _ = batch.grams(PARAMS["shingle_n"])
    rng = np.random.default_rng(0)
    hit = rng.random(len(shingles)) < 0.002
    full = list(minhash.window_rows(batch, PARAMS, perm))
    part = list(minhash.hit_window_rows(batch, PARAMS, perm, hit))
    assert len(full) == len(part)
    kept = 0
    for (sigs, meta), (some, some_meta, numbers, count) in zip(full, part):
        assert count == len(sigs)
        np.testing.assert_array_equal(some, sigs[numbers])
        np.testing.assert_array_equal(some_meta, meta[numbers])
        kept += len(numbers)
    # The selected windows are exactly those holding a marked shingle.
    _, offsets = batch.grams(PARAMS["shingle_n"])
    block = PARAMS["block_shingles"]
    expected = 0
    minima, block_offsets = minhash_kernels.block_minima(shingles, offsets, *perm, block)
    for _, doc, first, last in minhash.index_windows(minima, block_offsets, PARAMS):
        for d, lo, hi in zip(doc, first, last):
            expected += bool(hit[offsets[d] + lo * block : offsets[d] + min(hi * block, offsets[d + 1] - offsets[d])].any())
    assert 0 < kept == expected < sum(len(s) for s, _ in full)


def test_a_window_without_shared_shingles_shares_no_minimum():
    """The equality argument: distinct low 32 bits never give equal permuted minima."""
    rng = np.random.default_rng(1)
    perm = minhash_kernels.permutations(128, 1)
    values = rng.choice(1 << 32, size=400, replace=False).astype(np.uint64) | (rng.integers(0, 1 << 31, 400).astype(np.uint64) << np.uint64(32))
    a, b = values[:200], values[200:]
    for lo in range(0, 200, 20):
        qa, _ = minhash_kernels.block_minima(a[lo : lo + 20], np.array([0, 20]), *perm, 20)
        wb, _ = minhash_kernels.block_minima(b[lo : lo + 20], np.array([0, 20]), *perm, 20)
        assert not (qa == wb).any()
    # Equal low 32 bits (different high bits) are the same shingle to MinHash.
    twin = (a[:20] & np.uint64(0xFFFFFFFF)) | np.uint64(7 << 40)
    qa, _ = minhash_kernels.block_minima(a[:20], np.array([0, 20]), *perm, 20)
    tw, _ = minhash_kernels.block_minima(twin, np.array([0, 20]), *perm, 20)
    np.testing.assert_array_equal(qa, tw)
    assert (minhash_stream.shingle_keys(twin) == minhash_stream.shingle_keys(a[:20])).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1 << 62), max_size=300, unique=True), st.lists(st.integers(0, 1 << 62), max_size=300))
def test_key_table_contains_exactly_its_keys(keys, queries):
    table = probe.KeyTable.build(np.array(keys, dtype=np.uint64))
    asked = np.array(queries + keys[:50], dtype=np.uint64)
    np.testing.assert_array_equal(table.contains(asked), np.isin(asked, np.array(keys, dtype=np.uint64)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet=st.characters(max_codepoint=127), max_size=60), st.text(max_size=60)),
                max_size=8))
def test_pack_equals_the_reference_normalisation(texts):
    buf, offsets = lexical_kernels.pack(texts)
    for d, t in enumerate(texts):
        assert buf[offsets[d] : offsets[d + 1]].tobytes() == ref.encode(ref.normalize(t))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=6))
def test_serial_and_parallel_builds_of_a_kernel_agree(texts):
    buf, offsets = lexical_kernels.pack(texts)
    table = ref.word_char_table()
    tokenize = lexical_kernels._tokenize
    for got, want in zip(tokenize.serial(buf, offsets, table), tokenize.compiled(buf, offsets, table)):
        np.testing.assert_array_equal(got, want)


def test_unique_keys_is_np_unique():
    rng = np.random.default_rng(2)
    keys = rng.integers(0, 1000, 5000).astype(np.uint64)
    np.testing.assert_array_equal(unique_keys(keys), np.unique(keys))
    assert len(unique_keys(np.zeros(0, dtype=np.uint64))) == 0
