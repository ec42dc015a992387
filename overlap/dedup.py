"""Near-duplicate groups inside a fine-tuning set, without transitive-closure mega-clusters.

Examples are visited in input order. Each one joins the group of the first
earlier *representative* whose estimated Jaccard with it reaches the threshold
(candidates from LSH bands), or becomes a representative itself. Membership is
always a direct match to the representative, so a chain a~b~c~d never glues
dissimilar ends together.
"""

from __future__ import annotations

import numpy as np

from overlap import kernels
from overlap.lexical import LexicalBatch
from overlap.signals import minhash


def duplicate_groups(batch: LexicalBatch, params: dict, threshold: float = 0.5) -> np.ndarray:
    """For each text, the position of its group's representative (itself if none)."""
    groups = np.arange(len(batch), dtype=np.int64)
    sigs, owner = minhash.query_signatures(batch, params)
    if len(sigs) == 0:
        return groups
    bands = kernels.band_hashes(sigs, params["bands"], params["rows"])
    buckets: dict[tuple[int, int], list[int]] = {}
    for i in range(len(sigs)):
        best, best_score = -1, threshold
        seen: set[int] = set()
        for j in range(bands.shape[0]):
            for rep in buckets.get((j, int(bands[j, i])), ()):
                if rep in seen:
                    continue
                seen.add(rep)
                score = float(np.mean(sigs[rep] == sigs[i]))
                if score >= best_score and (best < 0 or score > best_score or rep < best):
                    best, best_score = rep, score
        if best >= 0:
            groups[owner[i]] = owner[best]
        else:
            for j in range(bands.shape[0]):
                buckets.setdefault((j, int(bands[j, i])), []).append(i)
    return groups
