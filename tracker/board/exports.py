"""The summary's figures as CSV and XLSX: one tidy table, read from the stored snapshot only.

Every row is one figure or one named item: its section, what it is about, the organisation and
priority it belongs to, a status, a count and any words (narratives, reasons). Cells that a
spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, tab or carriage return)
are prefixed with an apostrophe (OWASP: CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from openpyxl import Workbook

from tracker.board.views import RETURN_LABELS, reporting_label, status_label

HEADER = ["Quarter", "Section", "Item", "Organisation", "Priority", "Status", "Count", "Detail"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def rows(data: dict[str, Any]) -> Iterator[list[Any]]:
    """The table's rows (without the header), exceptions first as on the page."""
    quarter = data["period"]["label"]
    names = {p["code"]: p["name"] for p in data["priorities"]}
    headline = data["headline"]

    def row(section, item="", organisation="", priority="", status="", count="", detail=""):  # type: ignore[no-untyped-def]
        return [quarter, section, item, organisation, priority, status, count, detail]

    exceptions = data["exceptions"]
    for key, section in (
        ("off_track", "Off track"),
        ("at_risk", "At risk"),
        ("stalled", "Stalled"),
    ):
        for item in exceptions[key]:
            yield row(
                section,
                item["title"],
                item["organisation"],
                names.get(item["priority"], "") if item["priority"] else "",
                status_label(item["status"]),
                detail=item["narrative"] or "",
            )
    for org in exceptions["organisations"]:
        yield row(
            "Reporting",
            org["name"],
            org["name"],
            status=reporting_label(org["reporting_status"]),
            count=org["days_overdue"] or "",
            detail=f"This quarter's return: {RETURN_LABELS[org['return']].lower()}",
        )
    for change in exceptions["moved_goalposts"]:
        yield row(
            "Moved goalpost",
            change["title"],
            change["organisation"],
            detail=f"{change['field']}: {change['old'] or 'none'} to {change['new'] or 'none'}."
            f" Reason: {change['reason']}",
        )
    yield row("Headline", "Organisations expected to report", count=headline["organisations"])
    yield row("Headline", "Commitments", count=headline["commitments"])
    yield row("Headline", "Reported this quarter", count=headline["reported_this_quarter"])
    yield row("Headline", "Stalled", count=headline["stalled"])
    for status, count in headline["status_counts"].items():
        yield row("Status", "All commitments", status=status_label(status), count=count)
    for key, count in headline["returns"].items():
        label = RETURN_LABELS.get(key) or key.replace("_", " ").capitalize()
        yield row("Returns", label, count=count)
    smart = headline["smart"]
    yield row("SMART", "Fully SMART (5 of 5)", count=smart["smart"])
    for letter, count in smart["missing"].items():
        yield row("SMART", f"Missing {letter}", count=count)
    changes = data["changes"]
    if changes is not None:
        for move in changes["moves"]:
            yield row(
                "Change",
                f"{status_label(move['from'])} to {status_label(move['to'])}",
                count=move["count"],
            )
        for key, section in (
            ("newly_off_track", "Newly off track"),
            ("newly_completed", "Newly completed"),
        ):
            for item in changes[key]:
                yield row(
                    section, item["title"], item["organisation"], detail=item["narrative"] or ""
                )
    for priority in data["priorities"]:
        for status, count in priority["status_counts"].items():
            yield row(
                "Priority",
                priority["name"],
                priority=priority["name"],
                status=status_label(status),
                count=count,
            )
    for theme in data["themes"]:
        for key, label in (
            ("pledged_by", "Pledged by"),
            ("completed_by", "Completed by"),
            ("on_track", "On track"),
            ("at_risk", "At risk"),
            ("off_track", "Off track"),
        ):
            yield row(
                "Theme", theme["name"], status=label, count=theme[key], detail="organisations"
            )
    for grid_row in data["grid"]["rows"]:
        for code, counts in grid_row["cells"].items():
            for status, count in counts.items():
                yield row(
                    "Grid",
                    grid_row["organisation"],
                    grid_row["organisation"],
                    names.get(code, ""),
                    status_label(status),
                    count,
                )
    for point in data["trend"]:
        for status, count in point["status_counts"].items():
            yield row("Trend", point["label"], status=status_label(status), count=count)


def to_csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for line in rows(data):
        writer.writerow([safe_cell(value) for value in line])
    return out.getvalue()


def to_xlsx(data: dict[str, Any]) -> bytes:
    """The same rows in a workbook, one sheet per section."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    sheets: dict[str, Any] = {}
    for line in rows(data):
        section = line[1]
        sheet = sheets.get(section)
        if sheet is None:
            sheet = sheets[section] = workbook.create_sheet(section[:31])
            sheet.append(HEADER)
        sheet.append([safe_cell(value) for value in line])
    if not sheets:
        workbook.create_sheet("Summary").append(HEADER)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
