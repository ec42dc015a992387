"""Near-duplicate groups inside a fine-tuning set, without transitive-closure mega-clusters.

Examples are visited in input order. Each one joins the group of the first
earlier *representative* whose estimated Jaccard with it reaches the threshold
(candidates from LSH bands), or becomes a representative itself. Membership is
always a direct match to the representative, so a chain a~b~c~d never glues
dissimilar ends together.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from overlap.text.batch import LexicalBatch
from overlap.signals.minhash import index as minhash
from overlap.signals.minhash import kernels as minhash_kernels


def duplicate_groups(batch: LexicalBatch, params: dict, threshold: float = 0.5) -> np.ndarray:
    """For each text, the position of its group's representative (itself if none)."""
    groups = np.arange(len(batch), dtype=np.int64)
    sigs, owner = minhash.query_signatures(batch, params)
    if len(sigs) == 0:
        return groups
    bands = minhash_kernels.band_hashes(sigs, params["bands"], params["rows"])
    best = _representatives(np.ascontiguousarray(bands), sigs, float(threshold))
    joined = best >= 0
    groups[owner[joined]] = owner[best[joined]]
    return groups


@njit(cache=True)
def _representatives(bands, sigs, threshold):
    """For each signature in order, the representative it joins (-1: it becomes one).

    A representative ``r`` is a candidate of signature ``i`` when they agree
    on a whole band; ``i`` joins the candidate with the highest share of equal
    minima, at least ``threshold``, ties to the earliest. Each band's
    representatives sit in an open-addressing table of their band hashes,
    chained by ``following`` (one list per distinct band value).
    """
    nbands, n = bands.shape
    nperm = sigs.shape[1]
    size = 1
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    keys = np.zeros((nbands, size), dtype=np.uint64)
    heads = np.full((nbands, size), -1, dtype=np.int64)
    following = np.full((nbands, n), -1, dtype=np.int64)
    seen = np.full(n, -1, dtype=np.int64)
    best = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        choice = -1
        choice_score = threshold
        for j in range(nbands):
            s = _slot(keys[j], heads[j], bands[j, i], mask)
            rep = heads[j, s]
            while rep >= 0:
                if seen[rep] != i:
                    seen[rep] = i
                    same = 0
                    for p in range(nperm):
                        if sigs[rep, p] == sigs[i, p]:
                            same += 1
                    score = same / nperm
                    if score >= choice_score and (choice < 0 or score > choice_score or rep < choice):
                        choice = rep
                        choice_score = score
                rep = following[j, rep]
        best[i] = choice
        if choice < 0:
            for j in range(nbands):
                s = _slot(keys[j], heads[j], bands[j, i], mask)
                if heads[j, s] < 0:
                    keys[j, s] = bands[j, i]
                following[j, i] = heads[j, s]
                heads[j, s] = i
    return best


@njit(inline="always")
def _slot(keys, heads, key, mask):
    """The slot of ``key`` in an open-addressing table (its own, or the empty one where it would go)."""
    s = (key ^ (key >> np.uint64(29))) & mask
    while heads[s] >= 0 and keys[s] != key:
        s = (s + np.uint64(1)) & mask
    return s
