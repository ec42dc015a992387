"""What every signal shares: its declaration (``Signal``) and the results it hands to scoring.

A signal module (``ngram``, ``minhash``, ``embedding``) ends with one ``SIGNAL =
Signal(...)`` naming its columns and its parts, all of the same small shape:

* ``default_params() -> dict`` (every parameter that affects its files);
* ``Builder(params, writer, options)`` with ``add(batch, texts, doc_base)`` and ``finish() -> counts``;
* ``Reader(shard, params)`` with ``query(batch, prepared) -> partial`` (plain numpy arrays);
* ``merge(partials, batch, docs, params) -> SignalResult`` combining per-shard partials
  (max or union) and attaching the evidence of the winning shard, cut from ``docs``
  (the index's document store, ``index/documents.py``);
* optionally ``prepare(batch, params, options)`` (work done once in the driver before
  the shards are asked, such as embedding the queries),
  ``compatibility_problems(params, options)`` (why an index cannot be scanned as asked)
  and ``model_params(model)`` (its parameters when built with ``--model``);
* ``stream``: its stream mode, a :class:`StreamMode` (``side``, ``Probe``, ``Merger``).

Roles the rest of the pipeline needs one signal for are declared, never
spelled as names: ``content`` (``familiar_content`` reads its score: meaning,
whatever the words), ``verbatim`` (its score is the share of text copied word
for word, which the report's reading quotes), ``duplicate_groups`` (groups
near-duplicate examples of a dataset) and ``map_points`` (places texts on the
report's 2-D map from what ``prepare`` made of them).

A signal that needs no index (the base LM) is an ``ExampleSignal``: its columns,
a ``run`` over the examples on an engine, and how it combines with the rest.

``overlap.signals`` registers the declarations; everything else (scan, score,
summary, report, calibration, benchmarks) iterates over the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np


@dataclass(frozen=True)
class StreamMode:
    """A signal's stream mode: the dataset's side in memory, one probe per corpus file, one merger.

    ``side(batch, params, options)`` builds the dataset's tables once;
    ``Probe(side, params, options)`` reads one corpus file, batch by batch
    (``add(batch, ids, doc_base)``), and ``finish()`` returns its partial;
    ``Merger(side, params)`` takes every file's partial in file order
    (``add(file_number, partial)``) and ``result(batch)`` gives a
    :class:`SignalResult` with ``doc_ids``; an optional ``scored(batch)`` gives only
    what calibration reads of it (scores and features), where that is cheaper.
    ``prepared(side)`` is what the side
    prepared of the texts, handed to the scores table as ``prepare``'s result is
    in index mode (None: nothing).
    """

    side: Callable[..., Any]
    Probe: Callable[..., Any]
    Merger: Callable[..., Any]
    prepared: Callable[[Any], Any] | None = None


def no_problems(params: dict, options: dict) -> list[str]:
    """The default compatibility check: an index built with this signal can always be scanned."""
    return []


@dataclass(frozen=True)
class Signal:
    """One signal, declared once: its columns, its names for people, and the parts that compute it.

    ``column`` is its score in [0, 1] in the scores table and ``evidence`` the
    prefix of its evidence columns (``<evidence>_doc_id``, ``_doc_start``,
    ``_doc_end``, ``_match``). ``measures`` are further per-text columns its
    results carry (``SignalResult.features``, numbers); ``details`` are per-text
    evidence columns that are not scored (``SignalResult.details``: offsets, a
    document id); ``inputs`` are what the calibrated
    model reads of it (default: ``column``), where ``sqrt_<c>`` is the square root
    of column ``c`` and ``mean(<a>,<b>)`` the mean of those of columns ``a`` and ``b`` with a value; ``stands_in`` maps a measured column to the column read in its
    place from a table written before it was measured. ``lexical`` signals work
    from words alone (no model) and are the ones that decide whether a text is a
    copy of a corpus document. ``summarize(scores)`` gives lines of its own for the
    terminal summary (a polars scores table in; none where its columns are absent).
    """

    name: str
    column: str
    evidence: str
    title: str
    short: str
    default_params: Callable[[], dict]
    Builder: Callable[..., Any]
    Reader: Callable[..., Any]
    merge: Callable[..., "SignalResult"]
    stream: StreamMode | None = None
    lexical: bool = False
    content: bool = False
    verbatim: bool = False
    duplicate_groups: Callable[..., np.ndarray] | None = None
    map_points: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None
    measures: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    stands_in: Mapping[str, str] = field(default_factory=dict)
    prepare: Callable[..., Any] | None = None
    compatibility_problems: Callable[[dict, dict], list[str]] = no_problems
    model_params: Callable[[str | None], dict] | None = None
    summarize: Callable[[Any], list[str]] | None = None

    @property
    def model_inputs(self) -> tuple[str, ...]:
        """What the calibrated model reads of this signal."""
        return self.inputs or (self.column,)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every scored column this signal writes: its score and what it measures."""
        return (self.column, *self.measures)


@dataclass(frozen=True)
class ExampleSignal:
    """A signal measured on the examples themselves by a model, with no index (the base LM).

    ``requested(scan_options)`` says whether a scan asked for it: its run
    options, or None. ``run(examples, run_options, engine=..., progress=...)``
    returns its ``columns`` (one row per example, input order); ``column`` is its
    familiarity in [0, 1] and ``combine(familiarity, values)`` how that enters
    the combined familiarity.
    """

    name: str
    column: str
    columns: tuple[str, ...]
    requested: Callable[[Any], dict | None]
    run: Callable[..., Any]
    combine: Callable[[Any, Any], Any]


@dataclass
class SignalResult:
    """Per query text: a score and the evidence behind it.

    ``score`` is NaN where the signal has nothing to say (an empty text).
    ``shard``/``doc`` are -1 where nothing matched; ``start``/``end`` are
    character offsets of ``match`` in the normalised corpus document.
    ``features`` holds further per-text values a signal measures on the way
    (column name -> array), scored beside ``score`` (see ``score.FEATURES``);
    ``details`` further evidence columns (column name -> array or list), written
    to the scores table but not scored. ``doc_ids`` and ``sources`` name each
    text's evidence document and the corpus file it is in (None: no match), set
    once the documents are known (by the scan's or the stream's merge).
    """

    score: np.ndarray
    shard: np.ndarray
    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    match: list[str | None]
    features: dict[str, np.ndarray] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    doc_ids: list[str | None] = field(default_factory=list)
    sources: list[str | None] = field(default_factory=list)

    @classmethod
    def empty(cls, n: int) -> "SignalResult":
        return cls(
            np.full(n, np.nan),
            np.full(n, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            np.full(n, -1, dtype=np.int64),
            [None] * n,
        )


@dataclass
class FileBest:
    """Stream mode: per query text, one corpus file's best match (row -1: none) and its evidence."""

    row: np.ndarray
    score: np.ndarray
    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    match: list[str | None]
    doc_id: list[str | None]
