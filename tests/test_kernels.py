"""The compiled kernels against the plain reference (text.py, datasketch), and bounded-memory building.

* tokenising and n-gram hashing: identical to ``text.py`` on the bundled corpus
  and on generated Unicode text;
* MinHash: identical to datasketch's ``affine32`` MinHash fed the low 32 bits
  of our shingle hashes, for whole texts and for every window; estimates within
  the estimator's error of the exact Jaccard;
* band hashes and the radix sort: identical to their plain definitions
  (``np.argsort(kind="stable")`` for the sort);
* spilling: a shard built with a tiny memory budget (sorted runs spilled to
  disk and merged) is identical to one built in memory, and leaves no temp
  files behind.
"""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overlap import data, kernels
from overlap import text as ref
from overlap.build import build_index
from overlap.index.manifest import read_manifest
from overlap.lexical import LexicalBatch
from overlap.signals import minhash
from overlap.signals.runs import FENCE, BandRuns, FileRun, NpyStream, SortedRuns, merge_runs, stored_band

PARAMS = minhash.default_params()


def _bundled_texts(per_file: int = 12, max_chars: int = 6000) -> list[str]:
    """A deterministic sample of bundled documents (cut, so the plain reference stays quick)."""
    rng = random.Random(5)
    texts = []
    for path in data.reference_sources():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            docs = [json.loads(line)["text"] for line in handle]
        for text in rng.sample(docs, min(per_file, len(docs))):
            start = rng.randrange(max(1, len(text) - max_chars))
            texts.append(text[start : start + max_chars])
    return texts


BUNDLED = _bundled_texts()

# Letters, marks, numbers, separators, punctuation, symbols of any script, lone surrogates, and words.
_chars = st.one_of(
    st.characters(codec=None, exclude_categories=("Cs",)),
    st.sampled_from(list(" \n\t.,;-'\"ΣσςİIıßﬁ①Ⅻ\u0301\u0308\u200d\ud800\udfff")),
)
unicode_text = st.lists(
    st.one_of(st.text(alphabet=_chars, max_size=8), st.sampled_from(["a ", "the ", "Σίσυφος ", "x1 "])),
    max_size=12,
).map("".join)


def _check_lexical(texts: list[str]) -> LexicalBatch:
    batch = LexicalBatch.from_texts(texts)
    assert len(batch) == len(texts)
    for d, text in enumerate(texts):
        normalized = ref.normalize(text)
        assert batch.text_bytes(d) == ref.encode(normalized)
        lo, hi = batch.word_offsets[d], batch.word_offsets[d + 1]
        np.testing.assert_array_equal(batch.word_hashes[lo:hi], ref.word_hashes(text))
        spans = [(int(s), int(e)) for s, e in zip(batch.word_starts[lo:hi] - batch.offsets[d],
                                                   batch.word_ends[lo:hi] - batch.offsets[d])]
        assert spans == ref.word_spans(normalized)
        for n in (1, 5, 8):
            grams, offsets = batch.grams(n)
            np.testing.assert_array_equal(grams[offsets[d] : offsets[d + 1]], ref.text_ngrams(text, n))
    return batch


def test_tokenize_and_ngrams_match_reference_on_bundled_corpus():
    _check_lexical(BUNDLED)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(unicode_text, max_size=6))
def test_tokenize_and_ngrams_match_reference_on_unicode(texts):
    _check_lexical(texts)


def _datasketch(shingles: np.ndarray) -> np.ndarray:
    m = MinHash(num_perm=128, seed=1, scheme="affine32", hashfunc=lambda x: x)
    m.update_batch([int(h) & 0xFFFFFFFF for h in shingles])
    return m.hashvalues


def _check_minhash(texts: list[str], params: dict = PARAMS) -> None:
    batch = LexicalBatch.from_texts(texts)
    shingles, offsets = batch.grams(params["shingle_n"])
    block = params["block_shingles"]
    # Whole texts (the scan side).
    sigs, doc = minhash.query_signatures(batch, params)
    assert list(doc) == [d for d in range(len(texts)) if offsets[d + 1] > offsets[d]]
    for row, d in enumerate(doc):
        np.testing.assert_array_equal(sigs[row], _datasketch(shingles[offsets[d] : offsets[d + 1]]))
    # Every window of every size (the index side): the MinHash of exactly its shingles.
    for size in minhash.window_blocks(params):
        sigs, doc, first, last = minhash.signatures(batch, params, size)
        for row in range(len(sigs)):
            d = doc[row]
            lo = offsets[d] + first[row] * block
            hi = min(offsets[d] + last[row] * block, offsets[d + 1])
            np.testing.assert_array_equal(sigs[row], _datasketch(shingles[lo:hi]))
        # Each text's windows start a step apart and together cover all its blocks.
        step = max(int(size * params["window_step"]), 1)
        for d in np.unique(doc):
            starts, ends = first[doc == d], last[doc == d]
            blocks = -(-(offsets[d + 1] - offsets[d]) // block)
            assert starts[0] == 0 and ends[-1] == blocks
            if size:
                np.testing.assert_array_equal(starts, np.arange(len(starts)) * step)


def test_minhash_matches_datasketch_on_bundled_corpus():
    _check_minhash(BUNDLED[::3])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "Ωμέγα", "x1", "na\u0308ive"]),
                         max_size=120).map(" ".join), max_size=4),
       st.sampled_from([(1, 1, [1, 2, 0], 0.5), (2, 16, [32, 128, 0], 1.0), (5, 16, [32, 128, 0], 0.5),
                        (3, 7, [7, 21], 1.0), (2, 4, [16], 0.25)]))
def test_minhash_windows_match_datasketch(texts, shape):
    n, block, windows, step = shape
    _check_minhash(texts, {**PARAMS, "shingle_n": n, "block_shingles": block, "window_shingles": windows,
                           "window_step": step})


def test_index_windows_leave_out_whole_text_windows_that_repeat_a_window():
    batch = LexicalBatch.from_texts(BUNDLED[::3])
    shingles, offsets = batch.grams(PARAMS["shingle_n"])
    a, b = kernels.permutations(PARAMS["num_perm"], PARAMS["minhash_seed"])
    minima, block_offsets = kernels.block_minima(shingles, offsets, a, b, PARAMS["block_shingles"])
    assert PARAMS["window_shingles"][-1] == 0
    *sized, (whole_sigs, whole_doc, _, whole_last) = minhash.index_windows(minima, block_offsets, PARAMS)
    blocks = np.diff(block_offsets)
    longer = np.flatnonzero(blocks > max(minhash.window_blocks(PARAMS)))
    assert 0 < len(longer) < np.count_nonzero(blocks)
    np.testing.assert_array_equal(whole_doc, longer)
    np.testing.assert_array_equal(whole_last, blocks[longer])
    # Every text with a shingle still has a window, and a short text's one window is all of it.
    sigs, doc, first, last = sized[-1]
    assert set(doc.tolist()) == set(np.flatnonzero(blocks).tolist())
    short = np.isin(doc, np.flatnonzero((blocks > 0) & (blocks <= max(minhash.window_blocks(PARAMS)))))
    assert (first[short] == 0).all() and (last[short] == blocks[doc[short]]).all()


def test_minhash_estimates_are_within_estimator_error_of_exact_jaccard():
    rng = random.Random(11)
    vocab = [f"w{i}" for i in range(3000)]
    failures = []
    for trial in range(60):
        base = [rng.choice(vocab) for _ in range(rng.randrange(60, 400))]
        edited = list(base)
        rate = rng.choice([0.0, 0.02, 0.05, 0.1, 0.2, 0.4])
        for i in range(len(edited)):
            if rng.random() < rate:
                edited[i] = rng.choice(vocab)
        batch = LexicalBatch.from_texts([" ".join(base), " ".join(edited)])
        shingles, offsets = batch.grams(5)
        a, b = set(shingles[: offsets[1]].tolist()), set(shingles[offsets[1] :].tolist())
        exact = len(a & b) / len(a | b)
        sigs, _ = minhash.query_signatures(batch, PARAMS)
        estimate = float(np.mean(sigs[0] == sigs[1]))
        sigma = np.sqrt(exact * (1 - exact) / 128)
        if abs(estimate - exact) > 4.5 * sigma + 1 / 128:
            failures.append((trial, exact, estimate))
    assert not failures


@pytest.mark.parametrize("bits", [8, 16, 32])
def test_stored_b_bit_signatures_estimate_exact_jaccard_through_lsh(bits):
    """The index keeps b bits of each minimum; the LSH lookup's corrected estimate tracks exact Jaccard."""
    rng = random.Random(12)
    vocab = [f"w{i}" for i in range(3000)]
    bases, edits = [], []
    for _ in range(60):
        base = [rng.choice(vocab) for _ in range(rng.randrange(60, 400))]
        rate = rng.choice([0.0, 0.02, 0.05, 0.1])
        bases.append(" ".join(base))
        edits.append(" ".join(rng.choice(vocab) if rng.random() < rate else w for w in base))
    params = {**PARAMS, "signature_bits": bits}
    index_sigs, _ = minhash.query_signatures(LexicalBatch.from_texts(bases), params)
    query_sigs, _ = minhash.query_signatures(LexicalBatch.from_texts(edits), params)
    bands = kernels.band_hashes(index_sigs, params["bands"], params["rows"])
    sorted_bands, order = zip(*(kernels.sorted_pairs(bands[j], np.arange(len(bases), dtype=np.uint32))
                                for j in range(params["bands"])))
    best, estimate = kernels.best_candidates(
        stored_band(kernels.band_hashes(query_sigs, params["bands"], params["rows"])),
        minhash.stored(query_sigs, bits), stored_band(np.stack(sorted_bands)), np.stack(order),
        minhash.stored(index_sigs, bits), 64, bits)
    chance = 0.0 if bits == 32 else 2.0 ** -bits
    for q, (base, edit) in enumerate(zip(bases, edits)):
        a = set(LexicalBatch.from_texts([base]).grams(5)[0].tolist())
        b = set(LexicalBatch.from_texts([edit]).grams(5)[0].tolist())
        exact = len(a & b) / len(a | b)
        if exact == 1.0:
            assert (best[q], estimate[q]) == (q, 1.0)
        elif exact > 0.5:
            hit = exact + (1 - exact) * chance
            sigma = np.sqrt(hit * (1 - hit) / 128) / (1 - chance)
            assert best[q] == q and abs(estimate[q] - exact) <= 4.5 * sigma + 1 / 128


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 300), st.sampled_from([(32, 4), (16, 8), (1, 128), (3, 5)]), st.integers(0, 2**31))
def test_band_hashes_match_definition(n, shape, seed):
    bands, rows = shape
    sigs = np.random.default_rng(seed).integers(0, 2**32, (n, bands * rows), dtype=np.uint64).astype(np.uint32)
    out = kernels.band_hashes(sigs, bands, rows)
    assert out.shape == (bands, n)
    for i in range(min(n, 20)):
        for j in range(bands):
            h = ref.NGRAM_SEED ^ j
            for r in range(rows):
                h = ref.mix64(h ^ int(sigs[i, j * rows + r]))
            assert int(out[j, i]) == h


def _reference_sort(keys, values, unique):
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    if unique:
        keep = np.ones(len(keys), dtype=bool)
        keep[1:] = keys[1:] != keys[:-1]
        keys, values = keys[keep], values[keep]
    return keys, values


def _key_arrays():
    rng = np.random.default_rng(3)
    random_keys = rng.integers(0, 2**64, 300_000, dtype=np.uint64)
    random_keys[1::4] = random_keys[0::4][: len(random_keys[1::4])]  # many repeats
    return [
        np.zeros(0, np.uint64),
        np.array([5], np.uint64),
        random_keys,
        rng.integers(0, 2**64, 1000, dtype=np.uint64),
        np.full(50_000, 2**63 + 1, np.uint64),  # one key only
        rng.integers(0, 50, 100_000).astype(np.uint64),  # small keys: all in the first buckets
        (rng.integers(0, 2**12, 100_000).astype(np.uint64) << np.uint64(44)),  # few distinct top bits
    ]


@pytest.mark.parametrize("unique", [False, True])
def test_sort_pairs_is_a_stable_argsort(unique):
    for keys in _key_arrays():
        values = np.arange(len(keys), dtype=np.uint32)
        got = kernels.sorted_pairs(keys, values, unique)
        want = _reference_sort(keys, values, unique)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**64 - 1, 2**63]), max_size=400),
       st.booleans())
def test_sort_pairs_on_generated_keys(raw, unique):
    keys = np.array(raw, dtype=np.uint64)
    values = np.arange(len(keys), dtype=np.int64)
    got = kernels.sorted_pairs(keys, values, unique)
    want = _reference_sort(keys, values, unique)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40) | st.integers(0, 2**64 - 1), max_size=60), max_size=9), st.booleans())
def test_merge_sorted_segments_is_a_stable_sort(segments, unique):
    parts = [np.sort(np.array(seg, dtype=np.uint64)) for seg in segments]
    keys = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    values = np.arange(len(keys), dtype=np.uint32)
    bounds = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    want = _reference_sort(keys, values, unique)
    k, v = keys.copy(), values.copy()
    count = kernels.merge_sorted(k, v, bounds, np.empty_like(k), np.empty_like(v), unique)
    np.testing.assert_array_equal(k[:count], want[0])
    np.testing.assert_array_equal(v[:count], want[1])


@pytest.mark.parametrize("unique", [False, True])
@pytest.mark.parametrize("budget", [1 << 16, 1 << 20, 1 << 30])
def test_sorted_runs_spilled_or_not_give_the_same_arrays(tmp_path, unique, budget):
    rng = np.random.default_rng(7)
    chunks = []
    for size in (5000, 40_000, 1, 0, 30_000, 12_345):
        keys = rng.integers(0, 2**64, size, dtype=np.uint64)
        keys[::3] = 2**63  # a key repeated across every run
        keys[1::5] = rng.integers(0, 200, len(keys[1::5])).astype(np.uint64)  # and clustered keys
        chunks.append(keys)
    runs = SortedRuns(tmp_path / "spill", np.uint32, unique=unique, budget=budget)
    base = 0
    for keys in chunks:
        runs.add(keys, np.arange(base, base + len(keys), dtype=np.uint32))
        base += len(keys)
    spilled = budget < (1 << 30)
    blocks = []
    runs.drain(lambda k, v: blocks.append((k.copy(), v.copy())))
    all_keys = np.concatenate(chunks)
    want = _reference_sort(all_keys, np.arange(len(all_keys), dtype=np.uint32), unique)
    got_keys = np.concatenate([k for k, _ in blocks])
    got_values = np.concatenate([v for _, v in blocks])
    np.testing.assert_array_equal(got_keys, want[0])
    np.testing.assert_array_equal(got_values, want[1])
    assert got_values.dtype == np.uint32
    assert not (tmp_path / "spill").exists()
    assert spilled or not runs.spilled


def test_file_run_positions_and_reads_match_the_arrays(tmp_path):
    rng = np.random.default_rng(2)
    keys = np.sort(rng.integers(0, 2**64, 3 * FENCE + 17, dtype=np.uint64))
    keys[FENCE - 2 : FENCE + 3] = keys[FENCE - 2]  # a run of equal keys across a fence
    values = rng.integers(0, 2**32, len(keys), dtype=np.uint64).astype(np.uint32)
    np.save(tmp_path / "k.npy", keys)
    np.save(tmp_path / "v.npy", values)
    run = FileRun(tmp_path / "k.npy", tmp_path / "v.npy", keys[::FENCE].copy())
    probes = [0, 1, 2**64 - 1, 2**64, *keys[::97].tolist(), *(keys[::89] + np.uint64(1)).tolist()]
    for bound in probes:
        want = len(keys) if bound >= 2**64 else int(np.searchsorted(keys, np.uint64(bound)))
        assert run.position(int(bound)) == want
    k, v = np.empty(100, np.uint64), np.empty(100, np.uint32)
    run.read_into(FENCE - 50, FENCE + 50, k, v)
    np.testing.assert_array_equal(k, keys[FENCE - 50 : FENCE + 50])
    np.testing.assert_array_equal(v, values[FENCE - 50 : FENCE + 50])
    run.close()


def test_merge_runs_streams_a_key_repeated_beyond_capacity():
    runs = [(np.full(100, 9, np.uint64), np.arange(100, dtype=np.uint32)),
            (np.array([1, 9, 9, 20], np.uint64), np.arange(100, 104, dtype=np.uint32))]
    out_k, out_v = [], []
    merge_runs(runs, lambda k, v: (out_k.append(k.copy()), out_v.append(v.copy())), False, 16)
    keys, values = np.concatenate(out_k), np.concatenate(out_v)
    want = _reference_sort(np.concatenate([r[0] for r in runs]), np.concatenate([r[1] for r in runs]), False)
    np.testing.assert_array_equal(keys, want[0])
    np.testing.assert_array_equal(values, want[1])


@pytest.mark.parametrize("budget", [1 << 16, 1 << 30])
def test_band_runs_are_a_stable_argsort_per_band(tmp_path, budget):
    rng = np.random.default_rng(1)
    blocks = [rng.integers(0, 2**64, (8, w), dtype=np.uint64) for w in (3000, 0, 7000, 1, 2500)]
    blocks[2][:, ::7] = 12345  # repeated band values
    runs = BandRuns(tmp_path / "spill", 8, budget)
    for block in blocks:
        runs.add(block)
    assert runs.finish(tmp_path / "b.npy", tmp_path / "r.npy") == 12501
    allb = np.concatenate(blocks, axis=1)
    order = np.argsort(allb, axis=1, kind="stable")
    stored = np.load(tmp_path / "b.npy")
    assert stored.dtype == np.uint32
    np.testing.assert_array_equal(stored, stored_band(np.take_along_axis(allb, order, axis=1)))
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), order.astype(np.uint32))
    assert not (tmp_path / "spill").exists()


def test_npy_stream_writes_a_loadable_array(tmp_path):
    stream = NpyStream(tmp_path / "a.npy", np.uint32, (3,))
    parts = [np.arange(12, dtype=np.uint32).reshape(4, 3), np.zeros((0, 3), np.uint32), np.ones((2, 3), np.uint32)]
    for part in parts:
        stream.append(part)
    assert stream.close() == 6
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy", allow_pickle=False), np.concatenate(parts))
    assert np.load(tmp_path / "a.npy", mmap_mode="r").shape == (6, 3)
    empty = NpyStream(tmp_path / "e.npy", np.int64, (4,))
    assert empty.close() == 0
    assert np.load(tmp_path / "e.npy").shape == (0, 4)


def test_a_shard_built_in_small_pieces_is_identical_and_leaves_no_temp_files(tmp_path, monkeypatch):
    sources = [p for p in data.reference_sources() if p.name in ("abc-news.jsonl.gz", "pydoc-topics.jsonl.gz")]
    build_index(sources, tmp_path / "memory", signals="ngram,minhash")
    monkeypatch.setenv("OVERLAP_SPILL_BYTES", str(1 << 17))
    monkeypatch.setattr(minhash, "CHUNK_SHINGLES", 500)  # block minima a few documents at a time
    build_index(sources, tmp_path / "spilled", signals="ngram,minhash")
    a, b = read_manifest(tmp_path / "memory"), read_manifest(tmp_path / "spilled")
    for sa, sb in zip(a.shards, b.shards):
        assert sa["counts"] == sb["counts"]
        assert {f: i["sha256"] for f, i in sa["files"].items()} == {f: i["sha256"] for f, i in sb["files"].items()}
        folder = tmp_path / "spilled" / sb["name"]
        assert sorted(p.name for p in folder.iterdir()) == sorted([*sb["files"], "shard.json"])
    assert not list((tmp_path / "spilled").glob(".tmp-*"))
