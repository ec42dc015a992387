"""Stream mode of the MinHash signal: the dataset's signatures and LSH bands in memory, corpus windows probed past them.

A corpus file's windows are cut by :func:`overlap.signals.minhash.index.window_rows`,
in the row order its index shard would store them, and each window is scored
against the queries it shares an LSH band with, under the same rules as a
scan of that shard (b-bit signatures, at most ``MAX_CANDIDATES_PER_BAND``
windows per band and query, the best estimate winning and ties going to the
earlier row). Files then merge by max, ties to the earlier file, as index mode
merges shards. So values and evidence are those of index mode, except when two
different band hashes share their top 32 bits (about one chance in 4 billion
per comparison), which can reorder an index's candidates.

Only windows that can share an LSH band with a dataset text are hashed. A
table of the low 32 bits of the dataset's 5-gram hashes (the part of a shingle
MinHash uses) marks the corpus shingles the dataset holds. A shingle's permuted
value, ``a * fmix32(low 32 bits) + b mod 2**32`` with odd ``a``, is a bijection
of its low 32 bits, so a window's minimum for a permutation can equal a query's
only when it is at a marked shingle, and a window's band can equal a query's
band only when all its minima are. A window is hashed when some band's are
(``minhash_kernels.marked_bands`` tells without hashing the window): 0.7% of
the windows of generated text that shares much with its 10,000-example question
set, where 41% hold some marked shingle. Skipping the other windows changes
nothing except by hash chance: none of their 4-value bands equals a query's
band, and such a window is an LSH candidate in index mode only when two
different band hashes agree in the 32 bits an index keeps, probability
``2**-32`` per (window band, distinct query band value), about 7.5e-5 per
window for 10,000 queries x 32 bands. Such a chance candidate's estimate is
the chance agreement of b-bit values, at the default 8 bits and 128
permutations ``Binomial(128, 1/256)`` equal values:
0 with probability 0.61, below 0.03 with probability 0.9998. So the only
difference from index mode is that index mode may report a query whose true
best is below that (typically a novel text at 0) at a chance estimate of a
few hundredths where stream mode reports the true best, or, for a (band,
query) pair past ``MAX_CANDIDATES_PER_BAND`` candidates, a chance candidate
taking the place of a later one.

Evidence (the winning window's text) is cut from the batch while it is in
memory, so nothing of the corpus is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from overlap.signals import probe
from overlap.index.documents import excerpt
from overlap.index.sorting import unique_keys
from overlap.text.batch import LexicalBatch
from overlap.signals.minhash import index as minhash
from overlap.signals.minhash import kernels as minhash_kernels
from overlap.signals.base import FileBest, SignalResult
from overlap.signals.minhash.index import stored_band


@dataclass
class Side:
    """Whole-text signatures of the query texts (as an index stores them), which text each is, their bands and shingles."""

    sigs: np.ndarray
    owner: np.ndarray
    bands: probe.BandTable
    shingles: probe.KeyTable
    texts: int


SHINGLE_MASK = 0xFFFFFFFF


def shingle_keys(grams: np.ndarray) -> np.ndarray:
    """The part of each shingle hash MinHash sees: its low 32 bits."""
    return grams & np.uint64(SHINGLE_MASK)


def side(batch: LexicalBatch, params: dict, options: dict | None = None) -> Side:
    """Signatures and band table of the query texts, exactly as a scan computes them, and their shingle table."""
    sigs, owner = minhash.query_signatures(batch, params)
    qbands = stored_band(minhash_kernels.band_hashes(sigs, params["bands"], params["rows"]))
    shingles = probe.KeyTable.build(unique_keys(shingle_keys(batch.grams(params["shingle_n"])[0])))
    return Side(minhash.stored(sigs, params["signature_bits"]), owner, probe.BandTable.build(qbands), shingles,
                len(batch))


class Probe:
    """One corpus file's pass over its windows, row by row in index order."""

    def __init__(self, side: Side, params: dict, options: dict | None = None):
        self.side = side
        self.params = params
        self.perm = minhash_kernels.permutations(params["num_perm"], params["minhash_seed"])
        nsig = len(side.sigs)
        self.counts = np.zeros((params["bands"], nsig), dtype=np.int32)
        self.score = np.zeros(nsig)
        self.row = np.full(nsig, -1, dtype=np.int64)
        self.evidence = np.full((nsig, 3), -1, dtype=np.int64)  # document, byte start, byte end
        self.match: list[str | None] = [None] * nsig
        self.doc_id: list[str | None] = [None] * nsig
        self.rows = 0

    def add(self, batch: LexicalBatch, ids: list[str], doc_base: int) -> None:
        p = self.params
        changed = np.zeros(len(self.side.sigs), dtype=bool)
        hit = self.side.shingles.contains(batch.grams(p["shingle_n"])[0], SHINGLE_MASK)  # shingle_keys, fused
        for sigs, meta, numbers, count in minhash.hit_window_rows(batch, p, self.perm, hit):
            if len(sigs):
                wbands = stored_band(minhash_kernels.band_hashes(sigs, p["bands"], p["rows"]))
                best = probe.probe_windows(
                    self.side.bands, wbands, minhash.stored(sigs, p["signature_bits"]), self.side.sigs,
                    self.counts, minhash.MAX_CANDIDATES_PER_BAND, p["signature_bits"], self.score, self.row,
                    self.rows + numbers,
                )
                found = np.flatnonzero(best >= 0)
                self.evidence[found] = meta[best[found], :3]
                changed[found] = True
            self.rows += count
        for q in np.flatnonzero(changed).tolist():
            d, start, end = (int(v) for v in self.evidence[q])
            self.evidence[q, 0] = doc_base + d
            cs, ce, self.match[q] = excerpt(batch.text_bytes(d), start, end)
            self.evidence[q, 1:] = (cs, ce)
            self.doc_id[q] = ids[d]

    def finish(self) -> FileBest:
        n, owner = self.side.texts, self.side.owner
        part = FileBest(np.full(n, -1, dtype=np.int64), np.zeros(n), np.full(n, -1, dtype=np.int64),
                       np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64), [None] * n, [None] * n)
        part.row[owner], part.score[owner] = self.row, self.score
        part.doc[owner], part.start[owner], part.end[owner] = self.evidence.T
        for q, text in enumerate(owner.tolist()):
            part.match[text], part.doc_id[text] = self.match[q], self.doc_id[q]
        return part


class Merger:
    """Max over files in file order, ties to the earlier file (as index mode merges shards)."""

    def __init__(self, side: Side, params: dict):
        self.merged = SignalResult.empty(side.texts)
        self.merged.doc_ids = [None] * side.texts

    def add(self, number: int, part: FileBest) -> None:
        r = self.merged
        better = (part.row >= 0) & (part.score > np.nan_to_num(r.score, nan=-1.0))
        r.score[better] = part.score[better]
        r.shard[better] = number
        r.doc[better], r.start[better], r.end[better] = part.doc[better], part.start[better], part.end[better]
        for d in np.flatnonzero(better).tolist():
            r.match[d], r.doc_ids[d] = part.match[d], part.doc_id[d]

    def result(self, batch: LexicalBatch) -> SignalResult:
        """The merged result; texts with words but no candidate score 0, empty texts NaN."""
        r = self.merged
        has_words = batch.word_counts() > 0
        r.score[has_words & np.isnan(r.score)] = 0.0
        return r
