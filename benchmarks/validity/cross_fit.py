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

from overlap import calibrate, data
from overlap.build import build_index
from overlap.io import Example, iter_corpus_batches
from overlap.io.layouts import read_dataset
from overlap.scan import scan_examples
from overlap.stream import scan_corpus

LEXICAL = ("ngram_containment", "ngram_alignment", "minhash_jaccard")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--corpus", nargs="*", default=None)
    parser.add_argument("--signals", default=None)
    parser.add_argument("--n", type=int, default=300)
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
    sample = read_dataset(data.sample_dataset())[0]
    examples += [Example(row=len(chosen) + i, id=f"sample-{e.id}", prompt=e.prompt, response=e.response, text=e.text,
                         category="sample") for i, e in enumerate(sample)]
    index = args.work / "idx"
    started = time.monotonic()
    manifest = build_index(corpus, index, signals=args.signals)
    built = time.monotonic() - started
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
    result = {
        "corpus": corpus, "signals": manifest.signals, "documents": manifest.counts()["documents"],
        "held_out": manifest.counts().get("held_out", 0), "holdout_rate": manifest.holdout_rate,
        "holdout_kfold": manifest.holdout_kfold, "slices": n, "slices_from_held_out": int(in_held.sum()),
        "familiar_index": round(float(slices_i.mean()), 4), "familiar_stream": round(float(slices_s.mean()), 4),
        "familiar_index_held_out": round(float(slices_i[in_held].mean()), 4) if in_held.any() else None,
        "rows": len(examples),
        "label_agreement": round(float((indexed["label"] == streamed["label"]).mean()), 4),
        "lexical_equal": all(np.array_equal(indexed[c].to_numpy(), streamed[c].to_numpy(), equal_nan=True)
                             for c in lexical),
        "same_card": fitted.get("card") == manifest.calibration.get("card"),
        "card_auroc": manifest.calibration.get("card", {}).get("auroc"),
        "seconds": {"build": round(built, 1), "index_scan": round(scanned, 1), "stream_scan": round(stream_s, 1)},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
