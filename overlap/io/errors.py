"""Errors for bad input records, and the record of a record skipped because of one."""

from __future__ import annotations

from dataclasses import dataclass


class InputError(Exception):
    """Bad input record. The message always names file, line (row for Parquet) and field.

    ``str(e)`` reads like
    ``data.jsonl, line 17, field 'messages': expected a list of {role, content}, got str``.
    ``raw`` is the offending line or record as text, when it is known.
    """

    def __init__(
        self,
        path: str,
        line: int | None,
        field: str | None,
        reason: str,
        raw: str | None = None,
    ) -> None:
        # All arguments go to Exception so the error pickles (process pools, Ray).
        super().__init__(path, line, field, reason, raw)
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = reason
        self.raw = raw

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            unit = "row" if self.path.endswith((".parquet", ".arrow")) else "line"
            parts.append(f"{unit} {self.line}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        return f"{', '.join(parts)}: {self.reason}"


def type_name(value: object) -> str:
    """Short name of a value's type for messages: ``str``, ``list``, ``null``..."""
    return "null" if value is None else type(value).__name__


@dataclass
class Reject:
    """A record skipped under ``on_error="skip"``; ``raw`` is the original line or record as text."""

    path: str
    line: int | None
    field: str | None
    reason: str
    raw: str

    @classmethod
    def from_error(cls, error: InputError, raw: str) -> Reject:
        """The reject for a record that raised ``error``; ``raw`` is used when the error has none."""
        return cls(
            error.path, error.line, error.field, error.reason, error.raw if error.raw is not None else raw
        )
