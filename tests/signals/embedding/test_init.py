"""The embedding signal's declaration: the content signal, not lexical, its stream side from its package."""

from overlap import signals as registry
from overlap.signals import embedding
from overlap.signals.embedding import index, stream


def test_declaration():
    signal = embedding.SIGNAL
    assert registry.get("embedding") is signal and signal.name == index.NAME
    assert signal.column == "semantic_similarity" and signal.content and not signal.lexical
    assert registry.with_role("content") is signal
    assert signal.prepare is index.prepare and signal.model_params is index.model_params
    assert signal.map_points is index.map_points and signal.compatibility_problems is index.compatibility_problems
    assert signal.stream.prepared is stream.prepared and signal.stream.Probe is stream.Probe
    assert signal.name not in registry.lexical()
