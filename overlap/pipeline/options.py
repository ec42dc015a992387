"""What a build or a scan is asked to do: one options object per command, built once at the front door.

The fields are the command line's options (``overlap index build``, ``overlap
scan``) with the same names and defaults; the pipeline reads them from here
instead of threading a dozen keyword parameters through every call. Where the
work runs is not an option but an :class:`overlap.engines.Engine`, passed beside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from overlap.io.layouts import MAX_TEXT_BYTES


@dataclass(frozen=True)
class ReadOptions:
    """How records are read: which fields, what to do with a bad one, how long a text may be."""

    text_field: str | None = None
    id_field: str | None = None
    on_error: str = "fail"
    max_text_bytes: int | None = MAX_TEXT_BYTES

    def __post_init__(self) -> None:
        if self.on_error not in ("fail", "skip"):
            raise ValueError(f"on_error must be 'fail' or 'skip', got {self.on_error!r}")


@dataclass(frozen=True)
class BuildOptions(ReadOptions):
    """``overlap index build``: which signals, how the corpus is laid out, sampling, hold-out, model.

    ``params`` overrides signal parameters (shingle sizes and the like);
    ``holdout_rate`` None picks the rate from the sources' size
    (``calibrate.holdout_rate_for``).
    """

    signals: str | list[str] | None = None
    corpus_layout: str | None = None
    resume: bool = False
    sample_rate: float = 1.0
    params: dict[str, Any] | None = None
    model: str | None = None
    holdout_rate: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.sample_rate <= 1.0:
            raise ValueError(f"sample rate must be in (0, 1], got {self.sample_rate}")
        if self.holdout_rate is not None and not 0.0 <= self.holdout_rate < 0.5:
            raise ValueError(f"holdout rate must be in [0, 0.5), got {self.holdout_rate}")

    def signal_options(self) -> dict[str, Any]:
        """What the signals are told beyond their parameters (the embedding model asked for)."""
        return {"model": self.model} if self.model else {}


@dataclass(frozen=True)
class ScanOptions(ReadOptions):
    """``overlap scan``: the model asked for, index checks, example signals (``lm``), stream-mode choices.

    ``signals`` and ``corpus_layout`` apply to stream mode (an index has its
    own signals); ``lm`` names a local causal LM (or ``"default"``) whose own
    view joins the scores, on ``lm_device``.
    """

    model: str | None = None
    verify: bool = True
    lm: str | None = None
    lm_device: str = "cpu"
    signals: str | list[str] | None = None
    corpus_layout: str | None = None

    def signal_options(self) -> dict[str, Any]:
        """What the signals are told beyond the index's parameters (the embedding model asked for)."""
        return {"model": self.model} if self.model else {}


def options_from(cls: type, options: Any, fields: dict[str, Any]) -> Any:
    """``options`` if given, else ``cls(**fields)``: the keyword shorthand of the Python API, in one place."""
    if options is None:
        return cls(**fields)
    if fields:
        raise TypeError(f"give either options or keyword fields ({', '.join(fields)}), not both")
    return options
