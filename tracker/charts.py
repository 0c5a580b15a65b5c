"""Charts drawn on the server as inline SVG: they need no JavaScript and print in the board pack.

Each chart is an ``<svg role="img">`` named by its own ``<title>`` and ``<desc>`` (through
``aria-labelledby``), drawn in GOV.UK Design System colours with presentation attributes only
(the content security policy allows no inline styles). Every chart goes on a page beside a
table of the same figures, for screen-reader users and anyone reading without CSS.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from markupsafe import Markup, escape

# GOV.UK Design System colours.
BLACK = "#0b0c0c"
BLUE = "#1d70b8"
GREEN = "#00703c"
DARK_GREY = "#505a5f"
MID_GREY = "#b1b4b6"
WHITE = "#ffffff"
FONT = '"GDS Transport", arial, sans-serif'

WIDTH = 640
HEIGHT = 320
TOP = 36
BOTTOM = 80  # room for two-line quarter labels and the legend
RIGHT = 16
FONT_SIZE = 14
_CHAR_WIDTH = 8  # a generous average width of a digit at FONT_SIZE, for the left margin

_QUARTER_LABEL = re.compile(r"^(?P<year>\d{4}/\d{2}) (?P<quarter>Q[1-4])$")
_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class ChartPoint:
    """One quarter's figure: its label (``2024/25 Q1``), value, and whether it was accepted."""

    label: str
    value: Decimal
    accepted: bool = True


def format_amount(value: Decimal | int | float, unit: str | None = None) -> str:
    """``1,234.5`` (no trailing zeros, thousands separated), followed by the unit if given."""
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    # "+ 0" turns -0 into 0; normalize() drops the Numeric(18, 4) column's trailing zeros.
    text = f"{number.normalize() + 0:,f}"
    return f"{text} {unit.strip()}" if unit and unit.strip() else text


def axis_ticks(low: Decimal, high: Decimal, *, count: int = 5) -> list[Decimal]:
    """Round-numbered ticks (steps of 1, 2, 2.5 or 5 × 10ⁿ) covering ``low``..``high``."""
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) / 10 if low else Decimal(1)
        low, high = low - pad, high + pad
    with localcontext() as context:
        context.prec = 40
        rough = (high - low) / max(1, count - 1)
        magnitude = Decimal(10) ** math.floor(math.log10(float(rough)))
        step = next(
            magnitude * factor
            for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
            if magnitude * factor >= rough
        )
        first = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
        last = (high / step).to_integral_value(rounding=ROUND_CEILING) * step
        ticks = []
        tick = first
        while tick <= last:
            ticks.append(tick.normalize() + 0)
            tick += step
    return ticks


def progress_chart(
    points: Sequence[ChartPoint],
    *,
    target: Decimal,
    baseline: Decimal | None = None,
    unit: str | None = None,
    title: str = "Progress towards the target",
    chart_id: str = "progress-chart",
) -> Markup:
    """A line chart of the progress value per quarter (oldest first) against the target line.

    The baseline, when known, is drawn too. Points from returns not yet accepted are hollow.
    """
    chart_id = _SAFE_ID.sub("-", chart_id) or "chart"
    values = [p.value for p in points] + [target] + ([baseline] if baseline is not None else [])
    ticks = axis_ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]
    left = 16 + _CHAR_WIDTH * max(len(format_amount(t)) for t in ticks)
    plot_width = WIDTH - left - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM

    def y(value: Decimal) -> float:
        return TOP + float((high - value) / (high - low)) * plot_height

    def x(index: int) -> float:
        # Each quarter sits in the middle of its own band, so one point is centred.
        return left + (index + 0.5) * plot_width / max(1, len(points))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%"'
        f' role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" class="app-chart"'
        f' font-family="{escape(FONT)}" font-size="{FONT_SIZE}" fill="{BLACK}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">'
        f"{escape(describe(points, target=target, baseline=baseline, unit=unit))}</desc>",
    ]

    # Grid and y-axis labels.
    for tick in ticks:
        ty = y(tick)
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"'
            f' stroke="{MID_GREY}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 8}" y="{ty + 5:.1f}" text-anchor="end">'
            f"{escape(format_amount(tick))}</text>"
        )

    # Baseline and target lines, each labelled on the side away from the other.
    target_above = baseline is None or target >= baseline
    if baseline is not None:
        parts.extend(
            _reference_line(
                y(baseline),
                left,
                f"Baseline: {format_amount(baseline, unit)}",
                colour=DARK_GREY,
                dash="4 4",
                label_above=not target_above,
            )
        )
    parts.extend(
        _reference_line(
            y(target),
            left,
            f"Target: {format_amount(target, unit)}",
            colour=GREEN,
            dash="8 4",
            label_above=target_above,
        )
    )

    # The progress line and its points.
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{BLUE}" stroke-width="3"'
            ' stroke-linejoin="round"/>'
        )
    for i, point in enumerate(points):
        fill = BLUE if point.accepted else WHITE
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(point.value):.1f}" r="5" fill="{fill}"'
            f' stroke="{BLUE}" stroke-width="3"/>'
        )

    # Quarter labels: "Q1" over "2024/25" so eight quarters fit.
    label_y = TOP + plot_height + 20
    for i, point in enumerate(points):
        match = _QUARTER_LABEL.match(point.label)
        if match:
            parts.append(
                f'<text x="{x(i):.1f}" y="{label_y}" text-anchor="middle">'
                f"{escape(match['quarter'])}"
                f'<tspan x="{x(i):.1f}" dy="16">{escape(match["year"])}</tspan></text>'
            )
        else:
            parts.append(
                f'<text x="{x(i):.1f}" y="{label_y}" text-anchor="middle">'
                f"{escape(point.label)}</text>"
            )

    parts.extend(_legend(any(not p.accepted for p in points), left))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def describe(
    points: Sequence[ChartPoint],
    *,
    target: Decimal,
    baseline: Decimal | None = None,
    unit: str | None = None,
) -> str:
    """The chart in one or two sentences, for its ``<desc>``."""
    against = f"against a target of {format_amount(target, unit)}"
    if baseline is not None:
        against += f" from a baseline of {format_amount(baseline, unit)}"
    if not points:
        return f"No progress figures yet, {against}."
    span = points[0].label if len(points) == 1 else f"{points[0].label} to {points[-1].label}"
    latest = points[-1]
    text = (
        f"Progress figure each quarter, {span}, {against}. "
        f"Latest: {format_amount(latest.value, unit)} in {latest.label}."
    )
    if any(not p.accepted for p in points):
        text += " Hollow points are from returns not yet accepted."
    return text + " The table below gives the same figures."


def _reference_line(
    line_y: float, left: int, label: str, *, colour: str, dash: str, label_above: bool
) -> list[str]:
    # Below the plot's floor the label would sit on the quarter labels: put it above instead.
    if not label_above and line_y + 18 > HEIGHT - BOTTOM:
        label_above = True
    text_y = line_y - 7 if label_above else line_y + 18
    return [
        f'<line x1="{left}" x2="{WIDTH - RIGHT}" y1="{line_y:.1f}" y2="{line_y:.1f}"'
        f' stroke="{colour}" stroke-width="3" stroke-dasharray="{dash}"/>',
        f'<text x="{WIDTH - RIGHT}" y="{text_y:.1f}" text-anchor="end" fill="{colour}"'
        f' font-weight="bold">{escape(label)}</text>',
    ]


def _legend(has_unaccepted: bool, left: int) -> list[str]:
    legend_y = HEIGHT - 12
    parts = [
        f'<line x1="{left}" x2="{left + 24}" y1="{legend_y - 5}" y2="{legend_y - 5}"'
        f' stroke="{BLUE}" stroke-width="3"/>',
        f'<circle cx="{left + 12}" cy="{legend_y - 5}" r="5" fill="{BLUE}"'
        f' stroke="{BLUE}" stroke-width="3"/>',
        f'<text x="{left + 32}" y="{legend_y}">Progress</text>',
    ]
    if has_unaccepted:
        parts += [
            f'<circle cx="{left + 212}" cy="{legend_y - 5}" r="5" fill="{WHITE}"'
            f' stroke="{BLUE}" stroke-width="3"/>',
            f'<text x="{left + 224}" y="{legend_y}">Not yet accepted</text>',
        ]
    return parts
