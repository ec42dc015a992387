"""The MinHash signal's declaration: lexical, the dataset's near-duplicate groups, a stream mode from its package."""

from overlap import signals as registry
from overlap.signals import minhash
from overlap.signals.minhash import dedup, index, stream


def test_declaration():
    signal = minhash.SIGNAL
    assert registry.get("minhash") is signal and signal.name == index.NAME == "minhash"
    assert signal.column == "minhash_jaccard" and signal.lexical and not signal.content
    assert signal.duplicate_groups is dedup.duplicate_groups
    assert (signal.Builder, signal.Reader, signal.merge) == (index.Builder, index.Reader, index.merge)
    assert (signal.stream.side, signal.stream.Probe, signal.stream.Merger) == (stream.side, stream.Probe, stream.Merger)
    assert signal.default_params() == index.default_params()
