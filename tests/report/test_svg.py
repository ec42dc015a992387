"""The report's plot helpers: number formats, escaping, tick values that cover the range."""

from hypothesis import given
from hypothesis import strategies as st

from overlap.report import svg


def test_formats_by_hand():
    assert [svg.fmt_num(x) for x in (0, 3, 2.5, 1000, 12000, 1234)] == ["0", "3", "2.5", "1k", "12k", "1,234"]
    assert [svg.pct(x) for x in (0, 0.0005, 0.25, 1)] == ["0.0%", "<0.1%", "25.0%", "100.0%"]
    assert svg.pct(0.123456, 2) == "12.35%"
    assert svg.esc('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"
    assert svg.nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.nice_ticks(3, 3) == [3]


@given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6), st.integers(1, 10))
def test_ticks_cover_the_range_evenly(lo, width, count):
    hi = lo + width
    ticks = svg.nice_ticks(lo, hi, count)
    assert ticks[0] <= lo + 1e-6 * width and ticks[-1] >= hi - 1e-6 * width
    steps = {round(b - a, 6) for a, b in zip(ticks, ticks[1:])}
    assert len(ticks) >= 2 and max(steps) - min(steps) <= 1e-6 * max(1, max(steps)) + 1e-9


def test_canvas_renders_escaped_svg():
    canvas = svg.Canvas(100, 50, "a <label>")
    canvas.text(1, 2, "x & y")
    page = canvas.render()
    assert page.startswith("<svg") and page.rstrip().endswith("</svg>")
    assert "x &amp; y" in page and "<label>" not in page
