"""The registry of signals: one module each, declared once by its ``SIGNAL`` (see ``signals/base.py``).

A new signal is a module ending with ``SIGNAL = Signal(...)`` and a line in
``MODULES``; scan, score, summary, report, calibration and the benchmarks
iterate over the registry. A signal defined elsewhere (a plug-in, a test) joins
with :func:`register`.
"""

from __future__ import annotations

import importlib
from typing import Any

from overlap.signals.base import ExampleSignal, Signal

# Registration order is the canonical order of columns, models and tables.
MODULES = (
    "overlap.signals.ngram",
    "overlap.signals.minhash",
    "overlap.signals.embedding",
)
# Signals measured on the examples by a model, asked for by name (``--lm``); no index.
EXAMPLE_MODULES = {
    "lm": "overlap.signals.lm",
}

_registry: dict[str, Signal] = {}


def _load() -> dict[str, Signal]:
    if not _registry:
        for path in MODULES:
            signal = importlib.import_module(path).SIGNAL
            _registry.setdefault(signal.name, signal)
    return _registry


def register(signal: Signal) -> Signal:
    """Add ``signal`` after the registered ones (a name or column already taken is refused)."""
    registry = _load()
    taken = {s.name for s in registry.values()} | {c for s in registry.values() for c in (*s.columns, s.evidence)}
    clash = {signal.name, *signal.columns, signal.evidence} & taken
    if clash:
        raise ValueError(f"signal {signal.name!r}: {', '.join(sorted(clash))} already registered")
    registry[signal.name] = signal
    return signal


def unregister(name: str) -> None:
    """Remove a signal added with :func:`register` (the built-in ones stay)."""
    if name in {importlib.import_module(p).SIGNAL.name for p in MODULES}:
        raise ValueError(f"signal {name!r} is built in")
    _load().pop(name, None)


def example_signal(name: str) -> ExampleSignal:
    """The declaration of example signal ``name`` (imported on first use: the LM pulls in torch)."""
    if name not in EXAMPLE_MODULES:
        raise ValueError(f"unknown example signal {name!r}; choose from {', '.join(EXAMPLE_MODULES)}")
    return importlib.import_module(EXAMPLE_MODULES[name]).SIGNAL


def requested_example_signals(scan_options: Any) -> list[tuple[ExampleSignal, dict]]:
    """The example signals a scan's options ask for, each with its run options (imported only then)."""
    out = []
    for path in EXAMPLE_MODULES.values():
        signal = importlib.import_module(path).SIGNAL
        if (run_options := signal.requested(scan_options)) is not None:
            out.append((signal, run_options))
    return out


def all_signals() -> list[Signal]:
    """Every registered signal, in canonical order."""
    return list(_load().values())


def names() -> list[str]:
    """Every registered signal's name, in canonical order."""
    return list(_load())


def get(name: str) -> Signal:
    """The declaration of signal ``name``."""
    registry = _load()
    if name not in registry:
        raise ValueError(f"unknown signal {name!r}; choose from {', '.join(registry)}")
    return registry[name]


def score_columns() -> tuple[str, ...]:
    """Every signal's score column, in canonical order."""
    return tuple(s.column for s in _load().values())


def scored_columns() -> tuple[str, ...]:
    """Every column a signal writes for scoring: scores and what they measure, in canonical order."""
    return tuple(c for s in _load().values() for c in s.columns)


def owner(column: str) -> Signal:
    """The signal a scored column or model input (``sqrt_<column>``, a stand-in) belongs to."""
    base = column.removeprefix("sqrt_")
    for signal in _load().values():
        if base in signal.columns or base in signal.stands_in.values() or base in signal.model_inputs:
            return signal
    raise ValueError(f"no registered signal scores {column!r}")


def with_role(role: str) -> Signal | None:
    """The first registered signal that declares ``role`` (a flag or a part such as ``duplicate_groups``)."""
    return next((s for s in _load().values() if getattr(s, role)), None)


def lexical() -> list[str]:
    """The signals that work from words alone."""
    return [s.name for s in _load().values() if s.lexical]


def parse(spec: str | list[str] | None) -> list[str]:
    """Signal names from a comma list (``None``: every signal), in canonical order."""
    registry = _load()
    if spec is None:
        return list(registry)
    wanted = spec.split(",") if isinstance(spec, str) else list(spec)
    wanted = [n.strip() for n in wanted if n.strip()]
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise ValueError(f"unknown signal {unknown[0]!r}; choose from {', '.join(registry)}")
    return [n for n in registry if n in wanted]
