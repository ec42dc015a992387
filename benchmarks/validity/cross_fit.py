"""Every corpus document is found, and index and stream mode agree (issue 22's done-when figures).

Usage::

    python benchmarks/validity/cross_fit.py --work /tmp/xfit [--corpus FILE...] [--signals ngram,minhash]

Builds an index of the corpus (default: the bundled reference corpus) with default settings, cuts an
80-word verbatim slice from each of 300 randomly chosen documents (of at least 80 words), and scans
them, plus the bundled sample dataset, in index mode and in stream mode (``--corpus``). Prints the share
of slices labelled familiar in each mode, the share among the slices cut from documents the
calibration held out, the label agreement between the modes and whether the lexical columns are equal.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from overlap.scoring import calibrate
from overlap.io import bundled as data
from overlap.pipeline.build import build_index
from overlap.io import Example, iter_corpus_batches
from overlap.io.layouts import read_dataset
from overlap.pipeline.scan import scan_examples
from overlap.pipeline.stream import scan_corpus

LEXICAL = ("ngram_containment", "ngram_alignment", "minhash_jaccard")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--corpus", nargs="*", default=None)
    parser.add_argument("--signals", default=None)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--novel", default=None,
                        help="JSONL of documents the corpus does not hold (e.g. gather.py's unseen.jsonl): 80-word "
                             "windows of up to N of them measure the share of novel text labelled familiar")
    args = parser.parse_args()
    corpus = [str(p) for p in (args.corpus or data.reference_sources())]
    args.work.mkdir(parents=True, exist_ok=True)
    docs = []
    for batch in iter_corpus_batches(corpus):
        docs += [(i, t) for i, t in zip(batch.ids, batch.texts) if len(t.split()) >= 80]
    rng = random.Random(0)
    chosen = rng.sample(docs, min(args.n, len(docs)))
    examples = []
    for k, (doc_id, text) in enumerate(chosen):
        words = text.split()
        start = rng.randrange(len(words) - 79)
        examples.append(Example(row=k, id=f"slice-{k}", prompt="", response="", text=" ".join(words[start:start + 80]),
                                category="slice"))
    index = args.work / "idx"
    started = time.monotonic()
    manifest = build_index(corpus, index, signals=args.signals)
    built = time.monotonic() - started
    # Slices of documents the calibration held out (single-fold plans): indexed afterwards, so familiar too.
    held_docs = [(i, t) for i, t in docs if not manifest.holdout_kfold
                 and calibrate.fold_of(i, manifest.holdout_rate, manifest.holdout_kfold)]
    held_chosen = rng.sample(held_docs, min(args.n, len(held_docs)))
    for k, (doc_id, text) in enumerate(held_chosen):
        words = text.split()
        start = rng.randrange(len(words) - 79)
        examples.append(Example(row=len(examples), id=f"held-{k}", prompt="", response="",
                                text=" ".join(words[start:start + 80]), category="held"))
    novel_texts = []
    if args.novel:
        for batch in iter_corpus_batches([args.novel]):
            novel_texts += [t for t in batch.texts if len(t.split()) >= 80]
        for k, text in enumerate(rng.sample(novel_texts, min(args.n, len(novel_texts)))):
            words = text.split()
            start = rng.randrange(len(words) - 79)
            examples.append(Example(row=len(examples), id=f"novel-{k}", prompt="", response="",
                                    text=" ".join(words[start:start + 80]), category="novel"))
    sample = read_dataset(data.sample_dataset())[0]
    examples += [Example(row=len(chosen) + i, id=f"sample-{e.id}", prompt=e.prompt, response=e.response, text=e.text,
                         category="sample") for i, e in enumerate(sample)]
    held = {doc_id for doc_id, _ in chosen if calibrate.fold_of(doc_id, manifest.holdout_rate, manifest.holdout_kfold)
            and not manifest.holdout_kfold}
    started = time.monotonic()
    indexed = scan_examples(examples, index)
    scanned = time.monotonic() - started
    fitted: dict = {}
    started = time.monotonic()
    streamed, _ = scan_corpus(examples, corpus, signals=args.signals, calibration_out=fitted)
    stream_s = time.monotonic() - started
    n = len(chosen)
    slices_i = indexed["label"][:n].to_numpy() == "familiar"
    slices_s = streamed["label"][:n].to_numpy() == "familiar"
    in_held = np.array([doc_id in held for doc_id, _ in chosen])

    lexical = [c for c in LEXICAL if c in indexed.columns]

    def share(frame, prefix, uncopied=False):
        part = frame.filter(frame["id"].str.starts_with(prefix))
        if uncopied and part.height:  # as benchmarks/validity/run.py: windows the corpus holds half of are copies
            part = part.filter(~calibrate.copied({c: part[c].to_numpy() for c in lexical}))
        return round(float((part["label"] == "familiar").mean()), 4) if part.height else None

    def by_span(frame, prefix):
        # Novel windows that are not copies, by the longest run of words they share with one corpus
        # document: how many of each are labelled familiar.
        part = frame.filter(frame["id"].str.starts_with(prefix))
        if not part.height or "ngram_longest_span" not in part.columns:
            return None
        part = part.filter(~calibrate.copied({c: part[c].to_numpy() for c in lexical}))
        span = part["ngram_longest_span"].fill_null(0).to_numpy()
        familiar = part["label"].to_numpy() == "familiar"
        out = {}
        for lo, hi in ((0, 8), (8, 13), (13, 20), (20, None)):
            inside = (span >= lo) & (span < (hi or np.inf))
            out[f"{lo}-{hi - 1}" if hi else f"{lo}+"] = f"{int(familiar[inside].sum())} of {int(inside.sum())}"
        return out

    def copies(frame, prefix):
        part = frame.filter(frame["id"].str.starts_with(prefix))
        return int(calibrate.copied({c: part[c].to_numpy() for c in lexical}).sum()) if part.height else 0

    result = {
        "corpus": corpus, "signals": manifest.signals, "documents": manifest.counts()["documents"],
        "held_out": manifest.counts().get("held_out", 0), "holdout_rate": manifest.holdout_rate,
        "holdout_kfold": manifest.holdout_kfold, "slices": n, "slices_from_held_out": int(in_held.sum()),
        "familiar_index": round(float(slices_i.mean()), 4), "familiar_stream": round(float(slices_s.mean()), 4),
        "familiar_index_held_out": round(float(slices_i[in_held].mean()), 4) if in_held.any() else None,
        "held_out_slices": len(held_chosen),
        "familiar_held_out_slices_index": share(indexed, "held-"),
        "familiar_held_out_slices_stream": share(streamed, "held-"),
        "novel_windows": min(args.n, len(novel_texts)),
        "novel_familiar_index": share(indexed, "novel-"),
        "novel_familiar_stream": share(streamed, "novel-"),
        "novel_windows_copied": copies(indexed, "novel-"),
        "novel_uncopied_familiar_index": share(indexed, "novel-", True),
        "novel_uncopied_familiar_stream": share(streamed, "novel-", True),
        "novel_uncopied_familiar_by_longest_shared_span_words": by_span(indexed, "novel-"),
        "card_false_familiar": manifest.calibration.get("card", {}).get("false_familiar"),
        "card_false_familiar_upper": manifest.calibration.get("card", {}).get("false_familiar_upper"),
        "card_fitted_false_familiar": manifest.calibration.get("card", {}).get("fitted_false_familiar"),
        "calibration": manifest.calibration.get("status"),
        "rows": len(examples),
        "label_agreement": round(float((indexed["label"] == streamed["label"]).mean()), 4),
        "lexical_equal": all(np.array_equal(indexed[c].to_numpy(), streamed[c].to_numpy(), equal_nan=True)
                             for c in lexical),
        "same_card": fitted.get("card") == manifest.calibration.get("card"),
        "card_auroc": manifest.calibration.get("card", {}).get("auroc"),
        "card_recall": manifest.calibration.get("card", {}).get("recall"),
        "seconds": {"build": round(built, 1), "index_scan": round(scanned, 1), "stream_scan": round(stream_s, 1)},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
