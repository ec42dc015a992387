"""Progress of long steps: a plain line on stderr every few seconds with counts, rate and time left.

Lines, not a redrawn bar, so a log file or a CI console (stderr not a terminal)
shows the same thing a terminal does. A step shorter than the interval prints
nothing; a longer one ends with a line of its total and rate. ``set_quiet``
(the CLI's ``--quiet``) silences every step, in this process and in the worker
processes it starts later (the switch is the ``OVERLAP_QUIET`` environment
variable, which spawned workers inherit). A step that blocks without counting
(one shard's query, writing a file) runs inside ``ticking()``, which prints the
line every interval all the same, so no step is silent for long.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Callable, Iterator, TextIO

INTERVAL = 3.0
INTERVAL_ENV = "OVERLAP_PROGRESS_SECONDS"  # seconds between lines, overriding INTERVAL
QUIET_ENV = "OVERLAP_QUIET"


def set_quiet(quiet: bool) -> None:
    """Silence (or restore) progress lines in this process and the workers it starts from now on."""
    if quiet:
        os.environ[QUIET_ENV] = "1"
    else:
        os.environ.pop(QUIET_ENV, None)


def is_quiet() -> bool:
    """Whether progress lines are silenced."""
    return os.environ.get(QUIET_ENV, "") not in ("", "0")


def say(message: str) -> None:
    """One line of progress on stderr, unless quiet."""
    if not is_quiet():
        print(message, file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Progress:
    """Counts work done on a step and reports it at most every ``interval`` seconds.

    ``total`` may be None when unknown (no share or time left is shown then).
    ``scale`` divides counts for display (1e6 with ``unit="MB"`` for bytes).
    ``interval`` defaults to ``OVERLAP_PROGRESS_SECONDS`` or 3 seconds.
    ``clock`` and ``stream`` are there for tests; the defaults are the monotonic
    clock and stderr at the time of each line.
    """

    def __init__(
        self, what: str, total: float | None = None, unit: str = "items", *, scale: float = 1.0,
        interval: float | None = None, clock: Callable[[], float] = time.monotonic, stream: TextIO | None = None,
    ):
        self.what = what
        self.total = total
        self.unit = unit
        self.scale = scale
        self.interval = float(os.environ.get(INTERVAL_ENV, INTERVAL)) if interval is None else interval
        self.clock = clock
        self.stream = stream
        self.done = 0.0
        self.started = clock()
        self.last = self.started
        self.lines = 0
        self.quiet = is_quiet()
        self._lock = threading.RLock()

    def update(self, n: float = 1) -> None:
        """Count ``n`` more units done; print a line if the interval has passed since the last one."""
        self.done += n
        self._tick()

    def _tick(self) -> None:
        with self._lock:
            now = self.clock()
            if now - self.last >= self.interval:
                self.last = now
                self._emit(self.line(now))

    @contextlib.contextmanager
    def ticking(self) -> Iterator["Progress"]:
        """Inside, a line every interval even while nothing is counted (a step blocked on one long call)."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(max(self.interval / 4, 0.01)):
                self._tick()

        thread = threading.Thread(target=run, name=f"progress: {self.what}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()

    def close(self) -> None:
        """End the step: a final line with the total and rate, if the step printed anything or took long."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        now = self.clock()
        if self.lines or now - self.started >= self.interval:
            elapsed = now - self.started
            rate = f" ({self._amount(self.done / elapsed)} {self.unit}/s)" if elapsed > 0 else ""
            self._emit(f"{self.what}: {self._amount(self.done)} {self.unit} in {_duration(elapsed)}{rate}")

    def line(self, now: float) -> str:
        """The progress line at time ``now``: done (of total), rate, time left."""
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.what}: {self._amount(self.done)}"]
        if self.total:
            parts[0] += f"/{self._amount(self.total)} {self.unit} ({min(100.0, 100 * self.done / self.total):.0f}%)"
        else:
            parts[0] += f" {self.unit}"
        parts.append(f"{self._amount(rate)} {self.unit}/s")
        if self.total and rate > 0:
            parts.append(f"{_duration(max(0.0, self.total - self.done) / rate)} left")
        else:
            parts.append(f"{_duration(elapsed)} elapsed")
        return ", ".join(parts)

    def _amount(self, value: float) -> str:
        value /= self.scale
        if 0 < abs(value) < 0.1:  # a slow rate is slow, not 0.0: two significant digits
            return f"{value:.2g}"
        if self.scale != 1 or (value < 100 and value != int(value)):
            return f"{value:,.1f}"
        return f"{value:,.0f}"

    def _emit(self, text: str) -> None:
        self.lines += 1
        if not self.quiet:
            print(text, file=self.stream or sys.stderr, flush=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
