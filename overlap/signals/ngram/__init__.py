"""Exact word n-gram containment: the share of a text's n-grams found anywhere in the corpus.

``index`` builds and queries the bucketed hash set of an index (``hashtable``),
``stream`` probes corpus files past the dataset's n-grams in memory.
"""

from __future__ import annotations

from overlap.signals.base import Signal, StreamMode
from overlap.signals.ngram import counts as ngram_counts
from overlap.signals.ngram import stream
from overlap.signals.ngram.index import ALIGNMENT, Builder, NAME, Reader, default_params, merge

SIGNAL = Signal(
    name=NAME,
    column="ngram_containment",
    evidence="ngram",
    title="n-gram containment",
    short="n-gram",
    default_params=default_params,
    Builder=Builder,
    Reader=Reader,
    merge=merge,
    stream=StreamMode(stream.side, stream.Probe, stream.Merger),
    verbatim=True,
    lexical=True,
    measures=(ALIGNMENT,),
    # Exposure is reported beside the scores, not scored: a count of documents is no
    # [0, 1] signal, and no calibrated model reads it (see counts.py).
    details=(*ngram_counts.MEASURES, *ngram_counts.DETAILS),
    # The alignment and its square root separate heavily edited copies (alignment well
    # under 1 but not 0) better than containment; every word of a matched n-gram is
    # matched, so containment is the alignment's floor in tables written before it.
    inputs=(ALIGNMENT, f"sqrt_{ALIGNMENT}"),
    stands_in={ALIGNMENT: "ngram_containment"},
    compatibility_problems=ngram_counts.compatibility_problems,
    summarize=ngram_counts.summarize,
)
