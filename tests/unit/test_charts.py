"""Server-drawn SVG charts: well-formed, accessible, escaped, and scaled to fit their figures."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from tracker.charts import (
    BOTTOM,
    HEIGHT,
    TOP,
    ChartPoint,
    axis_ticks,
    describe,
    format_amount,
    progress_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def points(*values: int | str, accepted: bool = True) -> list[ChartPoint]:
    return [
        ChartPoint(f"2024/25 Q{n % 4 + 1}", Decimal(str(v)), accepted) for n, v in enumerate(values)
    ]


def circles(svg: ET.Element) -> list[ET.Element]:
    # The legend's circles sit below the plot; the data points sit inside it.
    return [c for c in svg.iter(f"{SVG}circle") if float(c.get("cy")) <= HEIGHT - BOTTOM]


def ys(svg: ET.Element) -> list[float]:
    return [float(c.get("cy")) for c in circles(svg)]


def reference_line_y(svg: ET.Element, colour: str) -> float:
    lines = [line for line in svg.iter(f"{SVG}line") if line.get("stroke") == colour]
    assert len(lines) == 1, colour
    return float(lines[0].get("y1"))


def test_it_is_well_formed_and_names_itself_for_screen_readers():
    svg = parse(progress_chart(points(10, 20), target=Decimal(40), chart_id="homes"))
    assert svg.tag == f"{SVG}svg"
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "homes-title homes-desc"
    assert svg.find(f"{SVG}title").get("id") == "homes-title"
    assert svg.find(f"{SVG}desc").get("id") == "homes-desc"
    assert svg.find(f"{SVG}title").text == "Progress towards the target"
    assert "2024/25 Q1 to 2024/25 Q2" in svg.find(f"{SVG}desc").text
    assert svg.find(f".//{SVG}script") is None
    assert all("style" not in element.attrib for element in svg.iter())  # CSP: no inline styles


def test_labels_and_ids_are_escaped():
    markup = progress_chart(
        [ChartPoint('<script>"x"</script> & Q1', Decimal(1))],
        target=Decimal(2),
        unit="<b>homes</b>",
        title="Trees & <hedges>",
        chart_id='"><script>',
    )
    svg = parse(markup)
    assert "<script>" not in markup and "<b>" not in markup
    assert svg.find(f"{SVG}title").text == "Trees & <hedges>"
    texts = " ".join("".join(t.itertext()) for t in svg.iter(f"{SVG}text"))
    assert '<script>"x"</script> & Q1' in texts
    assert "Target: 2 <b>homes</b>" in texts
    assert svg.get("aria-labelledby") == "---script--title ---script--desc"


def test_higher_values_are_drawn_higher_up():
    svg = parse(progress_chart(points(10, 20, 30), target=Decimal(40), baseline=Decimal(0)))
    first, second, third = ys(svg)
    assert first > second > third  # SVG's y grows downwards
    assert reference_line_y(svg, "#00703c") < third  # the target is above every figure
    assert reference_line_y(svg, "#505a5f") > first  # the baseline below


def test_a_decreasing_target_sits_below_the_baseline():
    svg = parse(progress_chart(points(900, 750), target=Decimal(500), baseline=Decimal(1000)))
    target, baseline = reference_line_y(svg, "#00703c"), reference_line_y(svg, "#505a5f")
    assert baseline < min(ys(svg)) and max(ys(svg)) < target
    for y in (target, baseline, *ys(svg)):
        assert TOP <= y <= HEIGHT - BOTTOM


def test_values_beyond_the_target_stay_inside_the_plot():
    svg = parse(progress_chart(points(50, 120, 180), target=Decimal(100)))
    assert min(ys(svg)) < reference_line_y(svg, "#00703c")
    for y in ys(svg):
        assert TOP <= y <= HEIGHT - BOTTOM


def test_a_single_point_is_centred_with_no_line():
    svg = parse(progress_chart(points(5), target=Decimal(5)))
    (point,) = circles(svg)
    assert svg.find(f"{SVG}polyline") is None
    assert TOP < float(point.get("cy")) < HEIGHT - BOTTOM
    assert float(point.get("cx")) > 200


def test_zero_and_negative_values():
    svg = parse(progress_chart(points(-5, 0, "-2.5"), target=Decimal(0), baseline=Decimal(-10)))
    low, zero, middle = ys(svg)
    assert low > middle > zero
    assert reference_line_y(svg, "#00703c") == pytest.approx(zero)
    labels = {t.text for t in svg.iter(f"{SVG}text")}
    assert "-10" in labels and "0" in labels


def test_everything_zero_still_draws():
    svg = parse(progress_chart(points(0, 0), target=Decimal(0)))
    assert len(circles(svg)) == 2
    for y in ys(svg):
        assert TOP < y < HEIGHT - BOTTOM


def test_huge_and_tiny_values():
    huge = parse(progress_chart(points("999999999999.9999"), target=Decimal(10) ** 11))
    assert len(circles(huge)) == 1
    tiny = parse(progress_chart(points("0.0001", "0.0003"), target=Decimal("0.0004")))
    assert ys(tiny)[0] > ys(tiny)[1]


def test_points_not_yet_accepted_are_hollow_and_explained():
    chart = [*points(10), ChartPoint("2024/25 Q2", Decimal(20), accepted=False)]
    svg = parse(progress_chart(chart, target=Decimal(40)))
    accepted, waiting = circles(svg)
    assert accepted.get("fill") == "#1d70b8" and waiting.get("fill") == "#ffffff"
    assert "not yet accepted" in svg.find(f"{SVG}desc").text
    assert "Not yet accepted" in {t.text for t in svg.iter(f"{SVG}text")}


def test_quarter_labels_are_split_over_two_lines():
    svg = parse(progress_chart(points(1, 2), target=Decimal(3)))
    labels = [
        "".join(t.itertext()) for t in svg.iter(f"{SVG}text") if t.find(f"{SVG}tspan") is not None
    ]
    assert labels == ["Q12024/25", "Q22024/25"]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        ("0", "400", ["0", "100", "200", "300", "400"]),
        ("100", "1000", ["0", "250", "500", "750", "1000"]),
        ("-3.5", "0", ["-4", "-3", "-2", "-1", "0"]),
        ("5", "5", ["4.5", "4.75", "5", "5.25", "5.5"]),
        ("0", "0", ["-1", "-0.5", "0", "0.5", "1"]),
    ],
)
def test_axis_ticks_are_round_numbers_covering_the_range(low, high, expected):
    assert [str(t) for t in axis_ticks(Decimal(low), Decimal(high))] == expected


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (Decimal("400.0000"), None, "400"),
        (Decimal("1234567.5"), "homes", "1,234,567.5 homes"),
        (Decimal("-0.0000"), None, "0"),
        (Decimal("1E+3"), " t ", "1,000 t"),
        (2.5, "", "2.5"),
    ],
)
def test_format_amount(value, unit, text):
    assert format_amount(value, unit) == text


def test_describe_without_points():
    assert describe([], target=Decimal(10), unit="trees") == (
        "No progress figures yet, against a target of 10 trees."
    )
