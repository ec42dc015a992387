"""Plots as inline SVG strings, drawn in Python: no plotting library, no script.

Every plot uses the same colour for a label (:data:`COLOURS`), so familiar and
novel read the same way everywhere in the report. All text is escaped.
"""

from __future__ import annotations

import html
import math
from typing import Sequence

import numpy as np

from overlap.scoring.score import LABELS

COLOURS = {
    "familiar": "#e8590c",
    "borderline": "#f0b400",
    "novel": "#1c6fc9",
    "empty": "#b8bec6",
}
INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#e4e8ee"
BEFORE = "#9aa5b1"


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def fmt_num(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x / 1000:g}k" if x % 1000 == 0 else f"{x:,.0f}"
    return f"{x:g}"


def pct(x: float, digits: int = 1) -> str:
    if x != 0 and abs(x) < 0.001:
        return "<0.1%"
    return f"{x * 100:.{digits}f}%"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step + 1e-9)
    end = math.ceil(hi / step - 1e-9)
    return [round(k * step, 10) for k in range(start, end + 1)]


class Canvas:
    """An SVG being drawn: a list of elements and a size."""

    def __init__(self, width: int, height: int, label: str):
        self.width, self.height, self.label = width, height, label
        self.parts: list[str] = []

    def add(self, element: str) -> None:
        self.parts.append(element)

    def text(self, x: float, y: float, s: object, *, anchor: str = "start", size: float = 11,
             fill: str = MUTED, weight: str | None = None, extra: str = "") -> None:
        w = f' font-weight="{weight}"' if weight else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
                 f'fill="{fill}"{w}{extra}>{esc(s)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, width: float = 1,
             dash: str | None = None) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                 f'stroke-width="{width}"{d}/>')

    def rect(self, x: float, y: float, w: float, h: float, fill: str, tip: str | None = None,
             extra: str = "") -> None:
        if w <= 0 or h <= 0:
            return
        body = f"<title>{esc(tip)}</title>" if tip else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"{extra}>'
                 f"{body}</rect>" if body else
                 f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"{extra}/>')

    def render(self) -> str:
        return (f'<svg class="plot" viewBox="0 0 {self.width} {self.height}" width="{self.width}" '
                f'height="{self.height}" role="img" aria-label="{esc(self.label)}" '
                f'xmlns="http://www.w3.org/2000/svg">' + "".join(self.parts) + "</svg>")


def legend(canvas: Canvas, x: float, y: float, labels: Sequence[str], colours: dict[str, str] = COLOURS) -> None:
    """A row of colour keys starting at (x, y)."""
    for name in labels:
        canvas.rect(x, y - 8, 10, 10, colours[name], extra=' rx="2"')
        canvas.text(x + 14, y + 1, name, size=11, fill=INK)
        x += 22 + 6.5 * len(name)


class _YScale:
    """Linear, or log(1 + count) when counts span orders of magnitude."""

    def __init__(self, top: float, log: bool):
        self.log = log
        self.top = max(top, 1.0)
        self.max = math.log10(1 + self.top) if log else self.top
        if not log:
            self.ticks = nice_ticks(0, self.top, 4)
            self.max = max(self.ticks[-1], 1e-9)
        else:
            self.ticks = [0.0] + [10.0**k for k in range(0, int(math.ceil(math.log10(self.top))) + 1)]
            self.max = math.log10(1 + self.ticks[-1])

    def __call__(self, v: float) -> float:
        return (math.log10(1 + v) if self.log else v) / self.max


def histogram(counts: dict[str, np.ndarray], edges: np.ndarray, *, title: str, xlabel: str,
              markers: Sequence[tuple[float, str]] = (), width: int = 520, height: int = 250) -> str:
    """Stacked histogram of counts per label over the same bins, log-scaled when skewed.

    ``counts`` maps label -> counts per bin (len(edges) - 1); ``markers`` are
    dashed vertical lines (a threshold and its name).
    """
    canvas = Canvas(width, height, title)
    left, right, top, bottom = 48, 12, 30, 40
    pw, ph = width - left - right, height - top - bottom
    labels = [name for name in LABELS if name in counts and counts[name].sum() > 0]
    totals = sum((counts[name] for name in labels), np.zeros(len(edges) - 1))
    nonzero = totals[totals > 0]
    log = bool(len(nonzero) and nonzero.max() / max(nonzero.min(), 1) >= 30)
    scale = _YScale(float(totals.max()) if len(totals) else 1.0, log)
    x0, x1 = float(edges[0]), float(edges[-1])
    px = lambda v: left + (v - x0) / (x1 - x0) * pw
    py = lambda v: top + ph - scale(v) * ph
    for t in scale.ticks:
        canvas.line(left, py(t), left + pw, py(t))
        canvas.text(left - 6, py(t) + 4, fmt_num(t), anchor="end", size=10)
    for i in range(len(edges) - 1):
        base = 0.0
        bx, bw = px(edges[i]) + 0.5, px(edges[i + 1]) - px(edges[i]) - 1
        for name in labels:
            c = float(counts[name][i])
            if c <= 0:
                continue
            y_top, y_base = py(base + c), py(base)
            canvas.rect(bx, y_top, bw, y_base - y_top, COLOURS[name],
                        tip=f"{edges[i]:.2f}–{edges[i + 1]:.2f}: {int(c):,} {name}")
            base += c
    canvas.line(left, top + ph, left + pw, top + ph, stroke=MUTED)
    for t in nice_ticks(x0, x1, 5):
        canvas.line(px(t), top + ph, px(t), top + ph + 4, stroke=MUTED)
        canvas.text(px(t), top + ph + 16, f"{t:g}", anchor="middle", size=10)
    for value, name in markers:
        if x0 <= value <= x1:
            canvas.line(px(value), top - 4, px(value), top + ph, stroke=INK, dash="4 3")
            canvas.text(px(value) + 4, top + 6, name, size=10, fill=INK)
    canvas.text(left + pw / 2, height - 6, xlabel, anchor="middle", size=11)
    canvas.text(12, top + ph / 2, "examples" + (" (log scale)" if log else ""), anchor="middle", size=11,
                extra=f' transform="rotate(-90 12 {top + ph / 2:.1f})"')
    legend(canvas, left, 14, labels)
    return canvas.render()


def share_bars(rows: Sequence[tuple[str, dict[str, float], str]], *, title: str,
               order: Sequence[str] = LABELS, colours: dict[str, str] = COLOURS,
               width: int = 520, bar: int = 18, gap: int = 8, label_width: int = 150) -> str:
    """Horizontal 100% stacked bars, one per row: (name, {segment: share}, note at the right)."""
    top = 30
    height = top + len(rows) * (bar + gap) + 22
    canvas = Canvas(width, height, title)
    left, right = label_width, 64
    pw = width - left - right
    present = [k for k in order if any(r[1].get(k, 0) > 0 for r in rows)]
    legend(canvas, left, 14, present, colours)
    for i, (name, shares, note) in enumerate(rows):
        y = top + i * (bar + gap)
        shown = name if len(name) <= 22 else name[:21] + "…"
        canvas.text(left - 8, y + bar * 0.7, shown, anchor="end", size=11, fill=INK)
        total = sum(shares.get(k, 0.0) for k in order) or 1.0
        x = float(left)
        canvas.rect(left, y, pw, bar, "#f3f5f8")
        for key in order:
            share = shares.get(key, 0.0) / total
            if share <= 0:
                continue
            w = share * pw
            canvas.rect(x, y, w, bar, colours[key], tip=f"{name}: {pct(share)} {key}")
            if w > 34:
                canvas.text(x + w / 2, y + bar * 0.7, pct(share, 0), anchor="middle", size=10,
                            fill="#ffffff" if key != "borderline" and key != "empty" else INK)
            x += w
        canvas.text(left + pw + 6, y + bar * 0.7, note, size=10)
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        x = left + t * pw
        canvas.text(x, height - 6, pct(t, 0), anchor="middle", size=10)
    return canvas.render()


def dumbbell(rows: Sequence[tuple[str, float, float]], *, title: str, width: int = 520,
             label_width: int = 150, step: int = 24) -> str:
    """Share before (grey dot) and after (coloured dot) per row, joined by a line."""
    top = 30
    height = top + len(rows) * step + 26
    canvas = Canvas(width, height, title)
    left, right = label_width, 110
    pw = width - left - right
    hi = max([max(b, a) for _, b, a in rows] + [1e-9])
    ticks = nice_ticks(0, hi, 4)
    hi = ticks[-1] or 1.0
    px = lambda v: left + v / hi * pw
    for t in ticks:
        canvas.line(px(t), top - 6, px(t), top + len(rows) * step - 6)
        canvas.text(px(t), height - 8, pct(t, 0), anchor="middle", size=10)
    canvas.add(f'<circle cx="{left + 5}" cy="10" r="5" fill="{BEFORE}"/>')
    canvas.text(left + 14, 14, "before", fill=INK)
    canvas.add(f'<circle cx="{left + 70}" cy="10" r="5" fill="{COLOURS["novel"]}"/>')
    canvas.text(left + 79, 14, "after reweighting", fill=INK)
    for i, (name, before, after) in enumerate(rows):
        y = top + i * step + 4
        shown = name if len(name) <= 22 else name[:21] + "…"
        canvas.text(left - 8, y + 4, shown, anchor="end", size=11, fill=INK)
        canvas.line(px(before), y, px(after), y, stroke="#c5ccd5", width=3)
        canvas.add(f'<circle cx="{px(before):.1f}" cy="{y}" r="5" fill="{BEFORE}">'
                   f"<title>{esc(name)}: {pct(before)} before</title></circle>")
        canvas.add(f'<circle cx="{px(after):.1f}" cy="{y}" r="5" fill="{COLOURS["novel"]}">'
                   f"<title>{esc(name)}: {pct(after)} after</title></circle>")
        canvas.text(max(px(before), px(after)) + 9, y + 4, f"{pct(before, 1)} → {pct(after, 1)}", size=10)
    return canvas.render()


def scatter(x: np.ndarray, y: np.ndarray, labels: Sequence[str], tips: Sequence[str], *, title: str,
            width: int = 520, height: int = 400) -> str:
    """2-D map of examples, one dot each, coloured by label (familiar drawn last, on top)."""
    canvas = Canvas(width, height, title)
    pad, top = 14, 28
    pw, ph = width - 2 * pad, height - top - pad
    canvas.rect(pad, top, pw, ph, "#fafbfc", extra=f' stroke="{GRID}"')
    present = [k for k in LABELS if k in set(labels)]
    legend(canvas, pad, 14, present)
    if len(x):
        xlo, xhi = float(np.min(x)), float(np.max(x))
        ylo, yhi = float(np.min(y)), float(np.max(y))
        xs = (xhi - xlo) or 1.0
        ys = (yhi - ylo) or 1.0
        # empty and novel first, familiar last: the rarer familiar dots stay visible on top
        rank = {name: -i for i, name in enumerate(LABELS)}
        order = sorted(range(len(x)), key=lambda i: rank.get(labels[i], 0))
        for i in order:
            cx = pad + 6 + (float(x[i]) - xlo) / xs * (pw - 12)
            cy = top + 6 + (1 - (float(y[i]) - ylo) / ys) * (ph - 12)
            colour = COLOURS.get(labels[i], MUTED)
            canvas.add(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{colour}" fill-opacity="0.75">'
                       f"<title>{esc(tips[i])}</title></circle>")
    return canvas.render()
