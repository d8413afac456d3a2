"""Charts as inline SVG made on the server: no script, no chart library, nothing from the internet.

Every label is escaped; the numbers are also in a table beside each chart
(and as CSV), so the pictures are a reading aid, not the only record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from web.pages.figures import number

WIDTH = 640
BAR_HEIGHT = 22
LABEL_WIDTH = 170


Format = Callable[[float], str]


def bar_chart(items: Sequence[tuple[str, float]], title: str, fmt: Format = number) -> Markup:
    """Horizontal bars, one per (label, value), longest first as given; ``fmt`` writes the values."""
    items = list(items)[:15]
    height = max(1, len(items)) * BAR_HEIGHT + 10
    top = max((v for _, v in items), default=0) or 1
    span = WIDTH - LABEL_WIDTH - 130  # room for the value, an amount with its currency
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        y = 5 + i * BAR_HEIGHT
        length = max(1.0, span * value / top) if value else 0
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(label or "(none)")}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{BAR_HEIGHT - 6}"></rect>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 15}">{escape(fmt(value))}</text>'
        )
    if not items:
        parts.append(f'<text x="{WIDTH / 2}" y="20" text-anchor="middle">no data in this range</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    points: Sequence[tuple[str, float]], title: str, fmt: Format = number, forecast: Sequence[float] = ()
) -> Markup:
    """A line over labelled points (dates or weeks); ``forecast`` continues it dashed."""
    values = [v for _, v in points] + list(forecast)
    height, left, bottom, right = 220, 110, 30, 20  # left: room for the top value, with its currency
    if not values:
        return Markup(
            f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} 40" width="100%" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title><text x="{WIDTH / 2}" y="24" text-anchor="middle">'
            f"no data in this range</text></svg>"
        )
    top = max(values) or 1
    n = len(values)
    step = (WIDTH - left - right) / max(1, n - 1)

    def xy(i: int, v: float) -> str:
        return f"{left + i * step:.1f},{height - bottom - (height - bottom - 10) * v / top:.1f}"

    actual = " ".join(xy(i, v) for i, (_, v) in enumerate(points))
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{left}" y1="{height - bottom}" x2="{WIDTH - right}" y2="{height - bottom}"></line>',
        f'<text x="{left - 6}" y="14" text-anchor="end">{escape(fmt(top))}</text>',
        f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">0</text>',
    ]
    if points:
        parts.append(f'<polyline class="series" points="{actual}"></polyline>')
        # A dot per point: a single day is a dot, not an invisible line.
        for i, (label, value) in enumerate(points):
            x, y = xy(i, value).split(",")
            parts.append(
                f'<circle class="point" cx="{x}" cy="{y}" r="3"><title>{escape(label)}: '
                f"{escape(fmt(value))}</title></circle>"
            )
        parts.append(f'<text x="{left}" y="{height - 8}">{escape(points[0][0])}</text>')
        if len(points) > 1:
            parts.append(
                f'<text x="{left + (len(points) - 1) * step:.1f}" y="{height - 8}" text-anchor="end">'
                f"{escape(points[-1][0])}</text>"
            )
    if forecast:
        start = len(points) - 1 if points else 0
        joined = ([xy(start, points[-1][1])] if points else []) + [xy(start + 1 + i, v) for i, v in enumerate(forecast)]
        parts.append(f'<polyline class="series forecast" points="{" ".join(joined)}"></polyline>')
    parts.append("</svg>")
    return Markup("".join(parts))
