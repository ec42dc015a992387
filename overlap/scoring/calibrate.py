"""Self-calibration of an index on its own corpus: the combined score and label fitted per index.

A signal's meaning moves with the corpus (a larger corpus gives every text a
closer semantic neighbour, boilerplate shares n-grams by chance), so a build
holds out documents by id hash, plants copies of the other documents with
``overlap.scoring.planting``, scores both against the corpus without the held-out ones
and fits, per subset of the index's signals, the logistic combination and the
label threshold (at most 4% of held-out windows called familiar, and fewer where
the held-out documents are few: the rate's one-sided 95% upper bound at most 5%,
``threshold_for``). The fit and
its measured validity (the *card*: AUROC per planted kind, false-familiar rate,
thresholds, measured out of fold so it is not the fit's own training score) go
into the manifest.

Calibration is cross-fitted: held-out documents are indexed too, each fold in
a shard part of its own (``shard-NNNNN-fF``) that the calibration's queries
leave out and every scan reads, so the index holds the whole corpus. A corpus
of ``MIN_SOURCE_BYTES`` or more holds out one fold (``holdout_rate_for``); a
smaller one is split into ``KFOLDS`` folds, each held out once against the
others. Stream mode (``overlap.stream``) gathers the same folds, samples and
planted copies from the files it reads and fits with the same code, so both
modes give the same labels. Only a corpus too small to fit on (fewer than
``MIN_HELDOUT_DOCS`` held-out or ``MIN_INDEXED_DOCS`` documents) keeps the
bundled ``calibration.json``, with the reason recorded.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import random
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow.parquet as pq

from overlap import signals as registry
from overlap.scoring import planting, score
from overlap.text import reference as ref

Query = Callable[[list[str], Any], dict[str, np.ndarray]]
"""Scores texts against an index as its manifest describes it: every scored column per text."""

HOLDOUT_SALT = b"overlap-holdout\0"
SAMPLE_SALT = b"overlap-sample\0"
KFOLDS = 5  # folds of a corpus under MIN_SOURCE_BYTES, each held out once
MAX_HOLDOUT_RATE = 0.05
HOLDOUT_TARGET_BYTES = 4 << 20  # of source files: enough held-out text at any corpus size
# Under this, every document is held out once (KFOLDS folds) instead of one 5% fold: the label
# threshold's margin (MAX_FALSE_FAMILIAR_UPPER) shrinks with the held-out documents, and a 5% fold
# of a 13 MB corpus (the bundled one) holds a few dozen usable ones, which cost 7 points of edit25
# recall; k folds query the same number of planted and held-out texts (benchmarks/validity/cross_fit.md).
MIN_SOURCE_BYTES = 16 << 20
MIN_HELDOUT_DOCS = 20
MIN_INDEXED_DOCS = 50
# Enough items that the card's estimates agree with an independent sample of the same
# population within 0.02: the false-familiar rate (about 4%) of 1,000 held-out windows
# has a standard error of 0.006, where 200 gave 0.014 (and two such samples differed by
# 0.03); 200 edited copies per kind keep the AUROC's within about 0.015.
PER_KIND = 200
HELDOUT_ITEMS = 1000
HELDOUT_IDS_KEPT = 200
INDEXED_SAMPLE = 2000  # documents planted copies are cut from, as many as benchmarks/validity draws
MAX_FALSE_FAMILIAR = 0.04
# The goal on novel text (issue 22): a threshold fitted on the windows of a few dozen or hundred
# documents lets its fitted 4% through give or take 1 to 3 points, so it is tightened until the
# rate's one-sided 95% upper bound (UPPER_Z, documents as clusters) is at most this: about 500
# documents bound 4% near it, the 150 of a 0.9 MB corpus's 5 folds need about 2.7%, the 37 of the
# bundled corpus's 5% fold under 1% (benchmarks/validity/cross_fit.md).
MAX_FALSE_FAMILIAR_UPPER = 0.05
VERBATIM_KINDS = ("whole", "window")  # planted verbatim copies: the threshold is never tightened above one
DUPLICATE_AT = 0.5  # containment or Jaccard above which a held-out document (or window of one) is a copy
SEED = 0
UPPER_Z = 1.645  # the card's upper bound on the false-familiar rate: one-sided 95%
C = 10.0  # inverse L2 strength of the logistic fit, as in benchmarks/validity/fit.py


def holdout_rate_for(source_bytes: int) -> float:
    """Share of documents to hold out of a first build over ``source_bytes`` of source files.

    0 below ``MIN_SOURCE_BYTES`` (too small to hold out from), else 5%, falling for
    large corpora so that about ``HOLDOUT_TARGET_BYTES`` of sources are held out.
    """
    if source_bytes < MIN_SOURCE_BYTES:
        return 0.0
    rate = min(MAX_HOLDOUT_RATE, HOLDOUT_TARGET_BYTES / source_bytes)
    digits = -math.floor(math.log10(rate)) + 1
    return math.floor(rate * 10**digits) / 10**digits


def holdout_plan(source_bytes: int, holdout_rate: float | None = None) -> tuple[float, int]:
    """``(rate, kfold)`` of a first build over ``source_bytes``: one fold held out at ``rate``
    (``holdout_rate`` if given, else ``holdout_rate_for``), or, for a corpus too small to spare
    a fold, ``KFOLDS`` folds each held out once (``kfold``). ``(0.0, 0)``: nothing held out."""
    if holdout_rate is not None:
        return holdout_rate, 0
    rate = holdout_rate_for(source_bytes)
    return (rate, 0) if rate > 0 else (0.0, KFOLDS)


def fold_of(doc_id: str, rate: float, kfold: int = 0) -> int:
    """The fold of document ``doc_id`` (a hash independent of ``--sample-rate``'s): 0 is the main
    part; with ``kfold`` folds 0 to ``kfold - 1`` by hash, else 1 for the ``rate`` held out."""
    if rate <= 0.0 and not kfold:
        return 0
    hashed = ref.word_hash(HOLDOUT_SALT + doc_id.encode("utf-8", "surrogatepass"))
    if kfold:
        return (hashed * kfold) >> 64
    return 1 if hashed < int(rate * 2**64) else 0


def heldout_folds(rate: float, kfold: int = 0) -> list[int]:
    """The folds calibration holds out in turn."""
    if kfold:
        return list(range(kfold))
    return [1] if rate > 0 else []


def held_out(doc_id: str, rate: float) -> bool:
    """Whether document ``doc_id`` is in the held-out fold at ``rate`` (it is indexed all the same)."""
    return fold_of(doc_id, rate) == 1


class Gatherer:
    """What calibration needs of a corpus, gathered in one pass over its documents in any order:
    the documents of each held-out fold, and per fold the ``INDEXED_SAMPLE`` documents of the
    smallest id hash (planted copies are cut from the sample of the other folds).

    ``doc`` is whatever locates a document (its text in stream mode, ``(shard, row)`` in an index);
    ``position`` (source file number, record line) breaks ties between documents that share an id, so
    the sample is the same whatever the order, and in both modes. Gatherers of parts of a corpus
    ``merge`` into the gatherer of all of it.
    """

    def __init__(self, folds: list[int]):
        self.held: dict[int, list[tuple[str, Any]]] = {f: [] for f in folds}
        self.heaps: dict[int, list[tuple[int, str, tuple[int, int], Any]]] = {}
        self.documents = 0

    def add(self, fold: int, doc_id: str, doc: Any, position: tuple[int, int]) -> None:
        self.documents += 1
        if fold in self.held:
            self.held[fold].append((doc_id, doc))
        key = -ref.word_hash(SAMPLE_SALT + doc_id.encode("utf-8", "surrogatepass"))
        self._offer(fold, (key, doc_id, (-position[0], -position[1]), doc))

    def _offer(self, fold: int, item: tuple[int, str, tuple[int, int], Any]) -> None:
        heap = self.heaps.setdefault(fold, [])
        if len(heap) < INDEXED_SAMPLE:
            heapq.heappush(heap, item)
        elif item[:3] > heap[0][:3]:
            heapq.heapreplace(heap, item)

    def merge(self, other: "Gatherer") -> None:
        """Take in what ``other`` gathered of the documents after this one's (its held-out ones follow)."""
        self.documents += other.documents
        for fold, docs in other.held.items():
            self.held.setdefault(fold, []).extend(docs)
        for fold, heap in other.heaps.items():
            for item in heap:
                self._offer(fold, item)

    def sample(self, fold: int) -> list[Any]:
        """The sampled documents outside ``fold``, by id hash."""
        pool = [item for f, heap in self.heaps.items() if f != fold for item in heap]
        pool.sort(key=lambda item: (-item[0], item[1], item[2]))
        return [item[3] for item in pool[:INDEXED_SAMPLE]]


# ---------------------------------------------------------------- fitting


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count half; NaN as 0)."""
    positive = np.nan_to_num(np.asarray(positive, dtype=float), nan=0.0)
    negative = np.nan_to_num(np.asarray(negative, dtype=float), nan=0.0)
    both = np.concatenate([positive, negative])
    order = both.argsort(kind="mergesort")
    sorted_values = both[order]
    # Average rank of each run of ties.
    starts = np.flatnonzero(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]))
    ends = np.concatenate([starts[1:], [len(both)]])
    ranks = np.empty(len(both))
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    wins = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(wins / (len(positive) * len(negative)))


def logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, c: float = C) -> tuple[np.ndarray, float]:
    """Weighted L2-regularised logistic regression (intercept unpenalised) by Newton's method.

    Minimises ``c * sum(weight * logloss) + |coef|^2 / 2``, the objective of
    scikit-learn's ``LogisticRegression(C=c)``.
    """
    design = np.column_stack([x, np.ones(len(x))])
    beta = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1])
    penalty[-1, -1] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-design @ beta))
        grad = c * design.T @ (weight * (p - y)) + penalty @ beta
        hess = c * (design.T * (weight * p * (1 - p))) @ design + penalty + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return beta[:-1], float(beta[-1])


def threshold_for(heldout_scores: np.ndarray, max_false: float = MAX_FALSE_FAMILIAR,
                  other_scores: np.ndarray | None = None, groups: np.ndarray | None = None,
                  max_upper: float = MAX_FALSE_FAMILIAR_UPPER, ceiling: float | None = None) -> float:
    """A score (4 decimals) with at most ``max_false`` of ``heldout_scores`` at or above it.

    Halfway between the highest held-out score that must stay below it and the next
    distinct score above that among held-out and ``other_scores`` (the planted ones;
    just above it where there is none): where held-out texts tie at the lowest score
    (no overlap at all), the cut falls in the gap above the tie, never on it.

    With ``groups`` (the document of each held-out score), fewer are let through, one at
    a time, until the share's one-sided 95% upper bound (``upper_bound``) is at most
    ``max_upper``: a threshold fitted on few documents keeps a margin for what they cannot
    tell, one fitted on many is left where it is. The tightening stops before the cut
    would reach ``ceiling`` (the lowest planted verbatim copy's score): a verbatim copy
    stays familiar, whatever the margin asks.
    """
    scores = np.asarray(heldout_scores, dtype=float)
    ordered = np.sort(scores)
    allowed = int(np.floor(max_false * len(ordered)))
    cut = _cut(ordered, allowed, other_scores)
    if groups is None:
        return cut
    while allowed > 0 and upper_bound(scores >= cut, groups) > max_upper:
        tighter = _cut(ordered, allowed - 1, other_scores)
        if ceiling is not None and tighter >= ceiling:
            break
        allowed, cut = allowed - 1, tighter
    return cut


def _cut(ordered: np.ndarray, allowed: int, other_scores: np.ndarray | None) -> float:
    """``threshold_for``'s cut over sorted held-out scores letting ``allowed`` of them through."""
    below = float(ordered[len(ordered) - allowed - 1])
    every = ordered if other_scores is None else np.concatenate([ordered, np.asarray(other_scores, dtype=float)])
    above = np.sort(every[every > below])
    if len(above):
        cut = (below + float(above[0])) / 2
        return max(math.floor(cut * 1e4) / 1e4, math.floor(below * 1e4 + 1) / 1e4)
    return math.floor(below * 1e4 + 1) / 1e4


def nonnegative_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, c: float = C) -> tuple[np.ndarray, float]:
    """``logistic`` with every coefficient at least 0, so more overlap never lowers a score.

    A feature whose fitted coefficient comes out negative (a collinear companion of a
    stronger one) is fixed at 0 and the rest refitted.
    """
    active = np.ones(x.shape[1], dtype=bool)
    while True:
        coefficients = np.zeros(x.shape[1])
        coefficients[active], intercept = logistic(x[:, active], y, weight, c)
        if (coefficients >= 0).all():
            return coefficients, intercept
        active &= coefficients > 0


def fit_model(columns: dict[str, np.ndarray], kinds: np.ndarray, max_false: float = MAX_FALSE_FAMILIAR,
              familiar: np.ndarray | None = None, groups: np.ndarray | None = None) -> dict:
    """One model of ``score``'s shape for the signal ``columns``: every kind weighted equally.

    ``familiar`` marks the positives (default: every kind but ``heldout``); the
    threshold lets ``max_false`` of the ``heldout`` items through, and with ``groups``
    (each item's source document) fewer where its upper bound asks (``threshold_for``).
    """
    names = score.feature_names(list(columns), columns)
    x = score.features(columns, names)
    if familiar is None:
        familiar = kinds != planting.HELDOUT
    _, inverse, counts = np.unique(kinds, return_inverse=True, return_counts=True)
    coefficients, intercept = nonnegative_logistic(x, familiar.astype(float), 1.0 / counts[inverse])
    coefficients, intercept = np.round(coefficients, 4), round(float(intercept), 4)
    z = x @ coefficients + intercept
    heldout = kinds == planting.HELDOUT
    if groups is None:
        threshold = threshold_for(z[heldout], max_false, z[~heldout])
    else:
        verbatim = np.isin(kinds, VERBATIM_KINDS)
        threshold = threshold_for(z[heldout], max_false, z[~heldout], groups[heldout],
                                  ceiling=float(z[verbatim].min()) if verbatim.any() else None)
    return {
        "signals": score.signal_columns(columns),
        "features": names,
        "coefficients": [float(c) for c in coefficients],
        "intercept": intercept,
        "threshold": threshold,
        "borderline": borderline_for(threshold, intercept),
    }


def borderline_for(threshold: float, floor: float) -> float:
    """Where the borderline band starts: ``BORDERLINE_BELOW`` under the threshold, but above
    ``floor`` (the score of a text with no overlap at all), which is always novel."""
    return round(max(threshold - score.BORDERLINE_BELOW, (floor + threshold) / 2), 4)


def clustered_rate(hits: np.ndarray, groups: np.ndarray | None) -> tuple[float, float]:
    """The share of ``hits`` and its standard error, items of one ``groups`` value (windows of one
    document) counted as one cluster: windows of a document rise and fall together, so the
    error of a rate over a few dozen documents is that of a few dozen draws, not of its windows."""
    hits = np.asarray(hits, dtype=float)
    n = len(hits)
    if n == 0:
        return float("nan"), float("nan")
    rate = float(hits.mean())
    if groups is None:
        groups = np.arange(n)
    _, inverse = np.unique(groups, return_inverse=True)
    sums = np.bincount(inverse, weights=hits)
    sizes = np.bincount(inverse)
    clusters = len(sizes)
    if clusters < 2:
        return rate, float("nan")
    variance = clusters / (clusters - 1) * float(((sums - rate * sizes) ** 2).sum()) / n**2
    # No less than the binomial error of one draw per cluster, at a rate of at least one cluster's
    # worth: a rate of 0 measured on a few dozen documents is not certain.
    least = max(rate, 1.0 / (clusters + 1))
    return rate, max(math.sqrt(variance), math.sqrt(least * (1 - least) / clusters))


def upper_bound(hits: np.ndarray, groups: np.ndarray | None) -> float:
    """The one-sided 95% upper bound on the share of ``hits`` (``clustered_rate``'s rate plus
    ``UPPER_Z`` standard errors, at most 1; the rate itself where the error is unknown)."""
    rate, se = clustered_rate(hits, groups)
    return rate if math.isnan(se) else min(1.0, rate + UPPER_Z * se)


def _card(columns: dict[str, np.ndarray], kinds: np.ndarray, folds: np.ndarray,
          groups: np.ndarray | None = None, max_false: float = MAX_FALSE_FAMILIAR) -> dict[str, Any]:
    """Validity of the full model measured out of fold: fit on one fold, score the other.

    Each half's threshold lets ``max_false`` of its held-out items through (``fit`` passes
    the share the full model's threshold lets through, so the card measures that operating
    point). ``groups`` (the held-out document of each item) gives the false-familiar rate's
    standard error and upper bound, windows of one document counted together."""
    margin = np.full(len(kinds), np.nan)
    content_over = np.zeros(len(kinds), dtype=bool)
    semantic = columns.get(score.content_column())
    for fold in (0, 1):
        train, test = folds != fold, folds == fold
        model = fit_model({n: v[train] for n, v in columns.items()}, kinds[train], max_false)
        z, _ = score.linear_score({n: v[test] for n, v in columns.items()}, {"models": [model]})
        margin[test] = z - model["threshold"]
        if semantic is not None:
            cut = threshold_for(semantic[train][kinds[train] == planting.HELDOUT])
            content_over[test] = semantic[test] >= cut
    heldout = kinds == planting.HELDOUT
    card: dict[str, Any] = {"auroc": {}, "recall": {}}
    for kind in planting.PLANTED_KINDS:
        part = kinds == kind
        if part.any():
            card["auroc"][kind] = round(auroc(margin[part], margin[heldout]), 4)
            card["recall"][kind] = round(float((margin[part] >= 0).mean()), 4)
    rate, se = clustered_rate(margin[heldout] >= 0, None if groups is None else groups[heldout])
    card["false_familiar"] = round(rate, 4)
    if not math.isnan(se):
        card["false_familiar_se"] = round(se, 4)
        card["false_familiar_upper"] = round(min(1.0, rate + UPPER_Z * se), 4)
        card["heldout_documents"] = int(len(np.unique(groups[heldout]))) if groups is not None else None
    if semantic is not None:
        card["false_familiar_content"] = round(float(content_over[heldout].mean()), 4)
    return card


def fit(columns: dict[str, np.ndarray], kinds: np.ndarray, folds: np.ndarray,
        groups: np.ndarray | None = None) -> dict[str, Any]:
    """The calibration of one index from its planted and held-out items' signal columns.

    ``columns`` maps signals' scored columns to values per item, ``kinds``
    gives each item's planted kind or ``heldout``, ``folds`` (0/1, by source
    document) splits the items for the out-of-fold card, ``groups`` (optional) names each
    item's source document for the card's uncertainty. Returns what the manifest
    stores: a model per subset of signals, the ``familiar_content`` threshold on
    semantic similarity, and the card.
    """
    columns = {n: np.nan_to_num(np.asarray(v, dtype=float), nan=0.0) for n, v in columns.items()
               if n in registry.scored_columns()}
    names = score.signal_columns(columns)
    models = [fit_model(subset_columns(columns, subset), kinds, groups=groups)
              for size in range(1, len(names) + 1)
              for subset in itertools.combinations(names, size)]
    z, _ = score.linear_score(columns, {"models": [models[-1]]})
    heldout = kinds == planting.HELDOUT
    share = float((z[heldout] >= models[-1]["threshold"]).mean())
    card = _card(columns, kinds, folds, groups, share)
    card["threshold"] = models[-1]["threshold"]
    card["fitted_false_familiar"] = round(share, 4)
    out: dict[str, Any] = {"status": "fitted", "models": models, "card": card}
    if score.content_column() in columns:
        out["content_threshold"] = threshold_for(columns[score.content_column()][kinds == planting.HELDOUT])
        card["content_threshold"] = out["content_threshold"]
    return out


def subset_columns(columns: dict[str, np.ndarray], signals: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The columns a model of ``signals`` (score columns) reads: those and what each signal measures."""
    keep = {c for column in signals for c in registry.owner(column).columns}
    return {n: v for n, v in columns.items() if n in keep}


def fallback(reason: str) -> dict[str, Any]:
    """The record of an index that keeps the bundled calibration, and why."""
    return {"status": "fallback", "reason": reason}


# ---------------------------------------------------------------- an index's own items


def copied(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Per text, whether the corpus holds it as a copy: at least ``DUPLICATE_AT`` of its n-grams
    found (containment), of its words matched in one document (``ngram_alignment``), or MinHash Jaccard.

    A held-out window cut from a part of its document that the corpus repeats, verbatim
    or lightly edited (a stock options section shared by a family of manual pages with
    other command names, a licence), is familiar text, rightly labelled so: it is set
    aside from the novel reference as whole copied documents are, by calibration and
    ``benchmarks/validity`` alike.
    """
    lexical = [np.nan_to_num(np.asarray(columns[c], dtype=float), nan=0.0)
               for name in registry.lexical() for c in registry.get(name).columns if c in columns]
    if not lexical:
        return np.zeros(len(next(iter(columns.values()))), dtype=bool)
    return np.max(np.column_stack(lexical), axis=1) >= DUPLICATE_AT


def labelled_items(indexed: list[str], heldout: list[str], per_kind: int, n_heldout: int, seed: int
                   ) -> list[planting.Planted]:
    """Planted copies of ``indexed`` documents and windows of ``heldout`` ones."""
    return planting.plant(indexed, per_kind, seed) + planting.heldout_windows(heldout, n_heldout, seed + 1)


@dataclasses.dataclass
class FoldItems:
    """What calibration scores for one held-out fold, against the corpus without that fold."""

    fold: int
    heldout_ids: list[str]
    heldout: list[str]  # the fold's documents: queried on the lexical signals to set copies aside
    items: list[planting.Planted]  # planted copies of other folds' documents, windows of this fold's


def fold_items(fold: int, heldout_ids: list[str], heldout: list[str], indexed: list[str], n_folds: int
               ) -> FoldItems:
    """Fold ``fold``'s share of the planted and held-out items (raises ``ValueError`` if none can be cut)."""
    per_kind = math.ceil(PER_KIND / n_folds)
    n_heldout = math.ceil(HELDOUT_ITEMS / n_folds)
    return FoldItems(fold, heldout_ids, heldout, labelled_items(indexed, heldout, per_kind, n_heldout, SEED + 2 * fold))


def too_small(documents: int, heldout: int) -> dict[str, Any] | None:
    """The fallback record of a corpus too small to fit on, or None."""
    if heldout < MIN_HELDOUT_DOCS or documents < MIN_INDEXED_DOCS:
        return fallback(
            f"corpus too small to hold anything out from: {documents} documents ({heldout} held out), fewer than "
            f"the {MIN_INDEXED_DOCS} ({MIN_HELDOUT_DOCS} held out) a fit needs; the bundled calibration applies"
        )
    return None


def fit_folds(parts: list[tuple[FoldItems, dict[str, np.ndarray], dict[str, np.ndarray]]], rate: float,
              kfold: int) -> dict[str, Any]:
    """The calibration from every fold's items and their signal columns (the same in both modes).

    ``parts`` holds per fold its items, the lexical columns of its held-out documents
    (those the rest of the corpus holds half of count as copies, not as held-out
    documents) and the columns of its items. Held-out windows the rest of the corpus
    holds half of are set aside as copies, window by window, the rule
    ``benchmarks/validity`` measures novel text by: a window of a document that
    repeats others elsewhere is still novel text where it is not itself a copy
    (dropping every window of such documents left the easy ones and let twice the
    fitted share of novel text through on a small corpus, benchmarks/validity/cross_fit.md).
    """
    names = sorted(set.intersection(*(set(c) for _, _, c in parts)))
    columns: dict[str, list[np.ndarray]] = {n: [] for n in names}
    kinds: list[np.ndarray] = []
    folds: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    keep_ids: list[str] = []
    documents = duplicates = 0
    for number, (fi, doc_columns, item_columns) in enumerate(parts):
        dup = copied(doc_columns) if doc_columns else np.zeros(len(fi.heldout), dtype=bool)
        documents += int((~dup).sum())
        duplicates += int(dup.sum())
        keep_ids += [i for i, d in zip(fi.heldout_ids, dup) if not d]
        for n in names:
            columns[n].append(np.asarray(item_columns[n], dtype=float))
        kinds.append(np.array([i.kind for i in fi.items]))
        folds.append(np.array([i.source % 2 for i in fi.items]))
        # The document each held-out window was cut from (planted items: one group per kind and fold).
        groups.append(np.array([f"{number}:{i.source}" if i.kind == planting.HELDOUT else f"{number}:{i.kind}"
                                for i in fi.items]))
    if documents < MIN_HELDOUT_DOCS:
        return fallback(
            f"{documents} held-out documents that do not duplicate others ({duplicates} do), fewer "
            f"than the {MIN_HELDOUT_DOCS} a fit needs; the bundled calibration applies"
        )
    joined = {n: np.concatenate(v) for n, v in columns.items()}
    all_kinds, all_folds, all_groups = np.concatenate(kinds), np.concatenate(folds), np.concatenate(groups)
    keep = ~((all_kinds == planting.HELDOUT) & copied(joined))
    out = fit({n: v[keep] for n, v in joined.items()}, all_kinds[keep], all_folds[keep], all_groups[keep])
    out["heldout"] = {"rate": rate, "kfold": kfold, "documents": documents, "duplicates": duplicates,
                      "copied_windows": int((~keep).sum()), "ids": keep_ids[:HELDOUT_IDS_KEPT], "indexed": True}
    out["items"] = {k: int((all_kinds[keep] == k).sum()) for k in (*planting.PLANTED_KINDS, planting.HELDOUT)}
    out["seed"] = SEED
    return out


def sample_indexed(folders: list[Path], doc_counts: list[int], n: int, seed: int) -> list[str]:
    """Texts of ``n`` indexed documents drawn at random over all shards (reading only their row groups)."""
    from overlap.index.documents import DocStore

    total = sum(doc_counts)
    rng = random.Random(seed)
    picks = sorted(rng.sample(range(total), min(n, total)))
    bounds = np.cumsum([0] + list(doc_counts))
    store = DocStore(folders)
    out = []
    for pick in picks:
        shard = int(np.searchsorted(bounds, pick, side="right") - 1)
        out.append(store.text(shard, pick - int(bounds[shard])))
    rng.shuffle(out)
    return out


def unduplicated(query: Query, manifest: Any, ids: list[str], texts: list[str]
                  ) -> tuple[list[str], list[str], int]:
    """The held-out documents that are not copies of indexed ones, and how many were.

    A held-out document whose words the corpus already holds (another page quoting it
    whole, a mirrored article) is familiar, rightly; it cannot stand for unseen text.
    """
    lexical = [n for n in manifest.signals if n in registry.lexical()]
    if not lexical:
        return ids, texts, 0
    keep = ~copied(query(texts, dataclasses.replace(manifest, signals=lexical)))
    return ([i for i, k in zip(ids, keep) if k], [t for t, k in zip(texts, keep) if k], int((~keep).sum()))


def calibrate_index(
    index_dir: str | Path,
    manifest: Any,
    *,
    query: Query,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit the calibration of a complete index (its manifest as built) on its own corpus.

    Each held-out fold is scored, through ``query`` (the build passes the scan's),
    against the index without that fold's shard parts (every scan reads them all).
    """
    from overlap.index.documents import DOCS_FILE, DocStore

    index_dir = Path(index_dir)
    kfold = getattr(manifest, "holdout_kfold", 0)
    folds = heldout_folds(manifest.holdout_rate, kfold)
    if not folds:
        return fallback("nothing held out (holdout rate 0); the bundled calibration applies")
    gatherer = Gatherer(folds)
    for position, shard in enumerate(manifest.shards):
        docs = pq.read_table(index_dir / shard["name"] / DOCS_FILE, columns=["id", "line"]).to_pydict()
        for row, (doc_id, line) in enumerate(zip(docs["id"], docs["line"])):
            where = (shard["number"], -1 if line is None else line)
            gatherer.add(shard.get("fold", 0), doc_id, (position, row), where)
    held = sum(len(v) for v in gatherer.held.values())
    small = too_small(gatherer.documents, held)
    if small:
        return small
    store = DocStore([index_dir / s["name"] for s in manifest.shards])
    lexical = [n for n in manifest.signals if n in registry.lexical()]
    parts = []
    for fold in folds:
        heldout_ids = [i for i, _ in gatherer.held[fold]]
        heldout = [store.text(*r) for _, r in gatherer.held[fold]]
        indexed = [store.text(*r) for r in gatherer.sample(fold)]
        try:
            fi = fold_items(fold, heldout_ids, heldout, indexed, len(folds))
        except ValueError as exc:
            return fallback(f"{exc}; the bundled calibration applies")
        rest = dataclasses.replace(manifest, shards=[s for s in manifest.shards if s.get("fold", 0) != fold])
        if progress:
            progress(f"calibrating: fold {fold} ({len(heldout)} documents held out) against the other "
                     f"{gatherer.documents - len(heldout)}, {len(fi.items)} planted and held-out texts")
        doc_columns: dict[str, np.ndarray] = {}
        if lexical:
            doc_columns = query(heldout, dataclasses.replace(rest, signals=lexical))
        parts.append((fi, doc_columns, query([i.text for i in fi.items], rest)))
    return fit_folds(parts, manifest.holdout_rate, kfold)


# ---------------------------------------------------------------- reading the card


def holdout_line(manifest: Any) -> str:
    """What a build held out to calibrate, and that it indexed it all the same."""
    counts = manifest.counts()
    held, total = counts.get("held_out", 0), counts.get("documents", 0)
    status = manifest.calibration.get("status")
    fitted = "fitted the calibration on them" if status == "fitted" else "kept the bundled calibration"
    if manifest.holdout_kfold:
        return (f"calibration: held out each of {manifest.holdout_kfold} folds of the {total} documents in turn, "
                f"{fitted}, and indexed every document")
    if not held:
        return f"calibration: nothing held out; {fitted}; all {total} documents indexed"
    return (f"calibration: held out {held} of {total} documents, {fitted}, then indexed them with the rest "
            f"(the index holds all {total})")


def fitted_to(card: dict[str, Any]) -> str:
    """What the threshold was fitted to let through of the held-out text, in words."""
    if "fitted_false_familiar" not in card:  # a card fitted before the upper bound's margin
        return f"the threshold is fitted to at most {MAX_FALSE_FAMILIAR:.0%}"
    return (f"the threshold is fitted to {card['fitted_false_familiar']:.1%}: at most {MAX_FALSE_FAMILIAR:.0%}, "
            f"less where the held-out documents are too few to bound it under {MAX_FALSE_FAMILIAR_UPPER:.0%} at 95%")


def card_lines(calibration: dict[str, Any]) -> list[str]:
    """The validity card as plain lines for a terminal (the report renders the same numbers)."""
    if not calibration:
        return ["validity: not calibrated on this corpus (index built before self-calibration); "
                "labels use the bundled calibration"]
    if calibration.get("status") != "fitted":
        return [f"validity: bundled calibration ({calibration.get('reason', 'no fit')})"]
    card = calibration["card"]
    held = calibration.get("heldout", {})
    how = (f"{held.get('kfold')} folds, each held out once" if held.get("kfold")
           else f"rate {held.get('rate')}")
    indexed = ", all indexed afterwards" if held.get("indexed") else ""
    lines = [
        f"validity (fitted on this corpus: {held.get('documents')} held-out documents, {how}{indexed}; "
        f"{held.get('duplicates', 0)} more that copy other documents; {held.get('copied_windows', 0)} of their "
        f"windows set aside as copies, the rest stand for novel text; measured out of fold):",
        "  planted kind   AUROC vs held-out   labelled familiar",
    ]
    for kind in (k for k in planting.PLANTED_KINDS if k in card["auroc"]):
        lines.append(f"  {kind:<13}  {card['auroc'][kind]:>17.3f}   {card['recall'][kind]:>17.1%}")
    bound = (f", at most {card['false_familiar_upper']:.1%} at 95% over its {card['heldout_documents']} documents"
             if card.get("false_familiar_upper") is not None and card.get("heldout_documents") else "")
    lines.append(f"  held-out text labelled familiar: {card['false_familiar']:.1%}{bound} "
                 f"({fitted_to(card)}); labelled familiar at familiarity >= "
                 f"{score.FAMILIAR_AT} (the fitted cut, {card['threshold']} on the signals' combined scale)")
    if "content_threshold" in card:
        lines.append(f"  familiar_content: {score.content_column()} >= {card['content_threshold']}; held-out text "
                     f"over it: {card['false_familiar_content']:.1%}")
    return lines
