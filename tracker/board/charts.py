"""The board summary's charts: status mixes as stacked bars, drawn on the server as SVG.

Built the way ``tracker.charts`` builds the progress chart: an ``<svg role="img">`` named by its
own ``<title>`` and ``<desc>``, presentation attributes only (the content security policy allows
no inline styles), every label escaped, and always shown beside a table of the same figures.
The same markup goes into the page and the PDF board pack, except for one thing: a tagged PDF
takes a chart's alternative text from its ``<title>`` alone (WeasyPrint reads no ``<desc>``), so
for the pack ``figures_in_title`` puts the description, every figure of the chart, in the title.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from tracker.charts import BLACK, FONT, WHITE
from tracker.domain.enums import DeliveryStatus

# GOV.UK Design System colours, matched to the status tags where they can be.
STATUS_COLOURS = {
    "off_track": "#d4351c",  # red
    "at_risk": "#f47738",  # orange: yellow on white would fail non-text contrast
    "on_track": "#00703c",  # green
    "completed": "#1d70b8",  # blue
    "not_started": "#b1b4b6",  # mid grey
    "discontinued": "#505a5f",  # dark grey
}
ORDER = ["off_track", "at_risk", "on_track", "completed", "not_started", "discontinued"]

WIDTH = 640
FONT_SIZE = 14
_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


def _label(status: str) -> str:
    return DeliveryStatus(status).label


def _open(
    chart_id: str, height: int, title: str, desc: str, *, figures_in_title: bool = False
) -> list[str]:
    if figures_in_title:
        # The PDF's Figure gets its /Alt from the title: the whole description goes there.
        return [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%"'
            f' role="img" aria-labelledby="{chart_id}-title" class="app-chart"'
            f' font-family="{escape(FONT)}" font-size="{FONT_SIZE}" fill="{BLACK}">',
            f'<title id="{chart_id}-title">{escape(title)}. {escape(desc)}</title>',
        ]
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%"'
        f' role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" class="app-chart"'
        f' font-family="{escape(FONT)}" font-size="{FONT_SIZE}" fill="{BLACK}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def _legend(y: int, statuses: Sequence[str]) -> list[str]:
    parts = []
    x = 0
    for status in statuses:
        label = _label(status)
        parts.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" fill="{STATUS_COLOURS[status]}"'
            f' stroke="{BLACK}" stroke-width="1"/>'
        )
        parts.append(f'<text x="{x + 20}" y="{y + 12}">{escape(label)}</text>')
        x += 28 + 8 * len(label)
    return parts


def _describe(rows: Sequence[tuple[str, Mapping[str, int]]], statuses: Sequence[str]) -> str:
    sentences = []
    for label, counts in rows:
        total = sum(counts.get(s, 0) for s in statuses)
        parts = [f"{counts.get(s, 0)} {_label(s).lower()}" for s in statuses if counts.get(s)]
        sentences.append(f"{label}: {total} in all" + (f", {', '.join(parts)}" if parts else ""))
    return "; ".join(sentences) + ". The table beside it gives the same figures."


def status_bars(
    rows: Sequence[tuple[str, Mapping[str, int]]],
    *,
    title: str,
    chart_id: str,
    statuses: Sequence[str] = ORDER,
    figures_in_title: bool = False,
) -> Markup:
    """One horizontal bar per row, split by status, each bar the share of its row's total."""
    chart_id = _SAFE_ID.sub("-", chart_id) or "chart"
    label_width = min(260, 16 + 8 * max((len(label) for label, _ in rows), default=4))
    bar_left = label_width
    bar_width = WIDTH - bar_left - 56
    row_height = 32
    top = 8
    height = top + row_height * max(1, len(rows)) + 48
    parts = _open(
        chart_id, height, title, _describe(rows, statuses), figures_in_title=figures_in_title
    )
    for index, (label, counts) in enumerate(rows):
        y = top + index * row_height
        total = sum(counts.get(s, 0) for s in statuses)
        parts.append(
            f'<text x="{bar_left - 8}" y="{y + 18}" text-anchor="end">'
            f"{escape(_shorten(label, label_width))}</text>"
        )
        x = float(bar_left)
        for status in statuses:
            count = counts.get(status, 0)
            if not count or not total:
                continue
            width = bar_width * count / total
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="24"'
                f' fill="{STATUS_COLOURS[status]}" stroke="{WHITE}" stroke-width="1"/>'
            )
            x += width
        if not total:
            parts.append(
                f'<rect x="{bar_left}" y="{y}" width="{bar_width}" height="24" fill="none"'
                f' stroke="{STATUS_COLOURS["not_started"]}" stroke-width="1"/>'
            )
        parts.append(f'<text x="{WIDTH - 48}" y="{y + 18}">{total}</text>')
    parts.extend(_legend(height - 30, [s for s in statuses if any(c.get(s) for _, c in rows)]))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def trend_columns(
    points: Sequence[tuple[str, Mapping[str, int]]],
    *,
    title: str,
    chart_id: str,
    statuses: Sequence[str] = ORDER,
    figures_in_title: bool = False,
) -> Markup:
    """One column per quarter (oldest first), split by status as shares of the whole."""
    chart_id = _SAFE_ID.sub("-", chart_id) or "chart"
    height = 300
    top, bottom, left = 16, 96, 48
    plot_height = height - top - bottom
    plot_width = WIDTH - left - 16
    parts = _open(
        chart_id, height, title, _describe(points, statuses), figures_in_title=figures_in_title
    )
    for share in (0, 50, 100):
        y = top + plot_height * (100 - share) / 100
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - 16}" y1="{y:.1f}" y2="{y:.1f}" stroke="#b1b4b6"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{y + 5:.1f}" text-anchor="end">{share}%</text>')
    band = plot_width / max(1, len(points))
    column = min(48.0, band * 0.6)
    for index, (label, counts) in enumerate(points):
        total = sum(counts.get(s, 0) for s in statuses)
        x = left + band * index + (band - column) / 2
        y = float(top + plot_height)
        for status in statuses:
            count = counts.get(status, 0)
            if not count or not total:
                continue
            h = plot_height * count / total
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{column:.1f}" height="{h:.1f}"'
                f' fill="{STATUS_COLOURS[status]}" stroke="{WHITE}" stroke-width="1"/>'
            )
        year, _, quarter = label.partition(" ")  # "2024/25 Q1": Q1 over 2024/25
        centre = x + column / 2
        parts.append(
            f'<text x="{centre:.1f}" y="{top + plot_height + 20}" text-anchor="middle">'
            f"{escape(quarter)}"
            f'<tspan x="{centre:.1f}" dy="16">{escape(year)}</tspan></text>'
        )
    parts.extend(_legend(height - 30, [s for s in statuses if any(c.get(s) for _, c in points)]))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def _shorten(label: str, width: int) -> str:
    limit = max(4, (width - 16) // 8)
    return label if len(label) <= limit else label[: limit - 1] + "…"
