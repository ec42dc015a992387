"""Self-calibration of an index on its own corpus: the combined score and label fitted per index.

A signal's meaning moves with the corpus (a larger corpus gives every text a
closer semantic neighbour, boilerplate shares n-grams by chance), so a build
holds out a deterministic sample of documents by id hash (never indexed, kept
in each shard's ``holdout.parquet``), plants copies of indexed documents with
``overlap.scoring.planting``, scores both against the new index and fits, per subset of
the index's signals, the logistic combination and the label threshold (at most
4% of held-out windows called familiar). The fit and its measured validity
(the *card*: AUROC per planted kind, false-familiar rate, thresholds, measured
out of fold so it is not the fit's own training score) go into the manifest.

A corpus too small to hold out from keeps the bundled ``calibration.json``:
under ``MIN_SOURCE_BYTES`` of sources nothing is held out, and with fewer than
``MIN_HELDOUT_DOCS`` held-out or ``MIN_INDEXED_DOCS`` indexed documents the fit
is skipped, each time with the reason recorded.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from overlap.scoring import planting
from overlap.scoring import score
from overlap import signals as registry
from overlap.text import reference as ref

Query = Callable[[list[str], Any], dict[str, np.ndarray]]
"""Scores texts against an index as its manifest describes it: every scored column per text."""

HOLDOUT_FILE = "holdout.parquet"
HOLDOUT_SALT = b"overlap-holdout\0"
MAX_HOLDOUT_RATE = 0.05
HOLDOUT_TARGET_BYTES = 4 << 20  # of source files: enough held-out text at any corpus size
MIN_SOURCE_BYTES = 1 << 20
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
DUPLICATE_AT = 0.5  # containment or Jaccard above which a held-out document (or window of one) is a copy
SEED = 0
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


def held_out(doc_id: str, rate: float) -> bool:
    """Whether document ``doc_id`` is held out (a hash independent of ``--sample-rate``'s)."""
    if rate <= 0.0:
        return False
    return ref.word_hash(HOLDOUT_SALT + doc_id.encode("utf-8", "surrogatepass")) < int(rate * 2**64)


def write_holdout(path: Path, ids: list[str], texts: list[str]) -> None:
    """The held-out documents of one shard, for calibration (and refits when sources are added)."""
    pq.write_table(pa.table({"id": ids, "text": texts}, schema=pa.schema([("id", pa.string()), ("text", pa.string())])),
                   path, compression="zstd")


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
                  other_scores: np.ndarray | None = None) -> float:
    """A score (4 decimals) with at most ``max_false`` of ``heldout_scores`` at or above it.

    Halfway between the highest held-out score that must stay below it and the next
    distinct score above that among held-out and ``other_scores`` (the planted ones;
    just above it where there is none): where held-out texts tie at the lowest score
    (no overlap at all), the cut falls in the gap above the tie, never on it.
    """
    ordered = np.sort(np.asarray(heldout_scores, dtype=float))
    allowed = int(np.floor(max_false * len(ordered)))
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
              familiar: np.ndarray | None = None) -> dict:
    """One model of ``score``'s shape for the signal ``columns``: every kind weighted equally.

    ``familiar`` marks the positives (default: every kind but ``heldout``); the
    threshold lets ``max_false`` of the ``heldout`` items through.
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
    threshold = threshold_for(z[heldout], max_false, z[~heldout])
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


def _card(columns: dict[str, np.ndarray], kinds: np.ndarray, folds: np.ndarray) -> dict[str, Any]:
    """Validity of the full model measured out of fold: fit on one fold, score the other."""
    margin = np.full(len(kinds), np.nan)
    content_over = np.zeros(len(kinds), dtype=bool)
    semantic = columns.get(score.content_column())
    for fold in (0, 1):
        train, test = folds != fold, folds == fold
        model = fit_model({n: v[train] for n, v in columns.items()}, kinds[train])
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
    card["false_familiar"] = round(float((margin[heldout] >= 0).mean()), 4)
    if semantic is not None:
        card["false_familiar_content"] = round(float(content_over[heldout].mean()), 4)
    return card


def fit(columns: dict[str, np.ndarray], kinds: np.ndarray, folds: np.ndarray) -> dict[str, Any]:
    """The calibration of one index from its planted and held-out items' signal columns.

    ``columns`` maps signals' scored columns to values per item, ``kinds``
    gives each item's planted kind or ``heldout``, ``folds`` (0/1, by source
    document) splits the items for the out-of-fold card. Returns what the manifest
    stores: a model per subset of signals, the ``familiar_content`` threshold on
    semantic similarity, and the card.
    """
    columns = {n: np.nan_to_num(np.asarray(v, dtype=float), nan=0.0) for n, v in columns.items()
               if n in registry.scored_columns()}
    names = score.signal_columns(columns)
    models = [fit_model(subset_columns(columns, subset), kinds)
              for size in range(1, len(names) + 1)
              for subset in itertools.combinations(names, size)]
    card = _card(columns, kinds, folds)
    card["threshold"] = models[-1]["threshold"]
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


def _read_all(folders: list[Path], filename: str) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    texts: list[str] = []
    for folder in folders:
        if (folder / filename).exists():
            table = pq.read_table(folder / filename, columns=["id", "text"])
            ids += table["id"].to_pylist()
            texts += table["text"].to_pylist()
    return ids, texts


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


def calibrate_index(
    index_dir: str | Path,
    manifest: Any,
    *,
    query: Query,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Fit the calibration of a complete index (its manifest as built) on its own corpus.

    ``query`` scores texts against this index (the build passes the scan's).
    """
    index_dir = Path(index_dir)
    if manifest.holdout_rate <= 0.0:
        return fallback(
            f"corpus too small to hold out from (under {MIN_SOURCE_BYTES >> 20} MiB of sources at the "
            "first build); the bundled calibration applies"
        )
    folders = [index_dir / s["name"] for s in manifest.shards]
    heldout_ids, heldout = _read_all(folders, HOLDOUT_FILE)
    indexed_count = manifest.counts().get("documents", 0)
    if len(heldout) < MIN_HELDOUT_DOCS or indexed_count < MIN_INDEXED_DOCS:
        return fallback(
            f"{len(heldout)} held-out and {indexed_count} indexed documents, fewer than the "
            f"{MIN_HELDOUT_DOCS} and {MIN_INDEXED_DOCS} a fit needs; the bundled calibration applies"
        )
    heldout_ids, heldout, duplicates = unduplicated(query, manifest, heldout_ids, heldout)
    if len(heldout) < MIN_HELDOUT_DOCS:
        return fallback(
            f"{len(heldout)} held-out documents that do not duplicate indexed ones ({duplicates} do), fewer "
            f"than the {MIN_HELDOUT_DOCS} a fit needs; the bundled calibration applies"
        )
    indexed = sample_indexed(folders, [s["counts"]["documents"] for s in manifest.shards], INDEXED_SAMPLE, SEED)
    try:
        items = labelled_items(indexed, heldout, PER_KIND, HELDOUT_ITEMS, SEED)
    except ValueError as exc:
        return fallback(f"{exc}; the bundled calibration applies")
    if progress:
        progress(f"calibrating on {len(items)} planted and held-out texts")
    columns = query([i.text for i in items], manifest)
    kinds = np.array([i.kind for i in items])
    folds = np.array([i.source % 2 for i in items])
    keep = ~((kinds == planting.HELDOUT) & copied(columns))
    columns = {n: np.asarray(v)[keep] for n, v in columns.items()}
    out = fit(columns, kinds[keep], folds[keep])
    out["heldout"] = {"rate": manifest.holdout_rate, "documents": len(heldout), "duplicates": duplicates,
                      "copied_windows": int((~keep).sum()), "ids": heldout_ids[:HELDOUT_IDS_KEPT]}
    kinds = kinds[keep]
    out["items"] = {k: int((kinds == k).sum()) for k in (*planting.PLANTED_KINDS, planting.HELDOUT)}
    out["seed"] = SEED
    return out


# ---------------------------------------------------------------- reading the card


def card_lines(calibration: dict[str, Any]) -> list[str]:
    """The validity card as plain lines for a terminal (the report renders the same numbers)."""
    if not calibration:
        return ["validity: not calibrated on this corpus (index built before self-calibration); "
                "labels use the bundled calibration"]
    if calibration.get("status") != "fitted":
        return [f"validity: bundled calibration ({calibration.get('reason', 'no fit')})"]
    card = calibration["card"]
    held = calibration.get("heldout", {})
    lines = [
        f"validity (fitted on this corpus: {held.get('documents')} held-out documents, rate {held.get('rate')}, "
        f"{held.get('duplicates', 0)} more set aside as copies of indexed ones, and "
        f"{held.get('copied_windows', 0)} of their windows; measured out of fold):",
        "  planted kind   AUROC vs held-out   labelled familiar",
    ]
    for kind in (k for k in planting.PLANTED_KINDS if k in card["auroc"]):
        lines.append(f"  {kind:<13}  {card['auroc'][kind]:>17.3f}   {card['recall'][kind]:>17.1%}")
    lines.append(f"  held-out text labelled familiar: {card['false_familiar']:.1%} "
                 f"(fitted to at most {MAX_FALSE_FAMILIAR:.0%}); label threshold {card['threshold']}")
    if "content_threshold" in card:
        lines.append(f"  familiar_content: {score.content_column()} >= {card['content_threshold']}; held-out text "
                     f"over it: {card['false_familiar_content']:.1%}")
    return lines
