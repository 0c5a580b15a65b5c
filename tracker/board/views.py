"""What the summary page, the PDF pack and the exports show, read from a stored snapshot only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from tracker.board.charts import ORDER, status_bars, trend_columns
from tracker.domain.enums import DeliveryStatus, ReportingStatus
from tracker.domain.figures import CommitmentFigures
from tracker.domain.summary import PAGE_CUT
from tracker.models import BoardSummary

RETURN_LABELS = {
    "on_time": "On time",
    "late": "Late",
    "missing": "Missing",
    "not_yet_due": "Not yet due",
}


def status_label(status: str) -> str:
    return DeliveryStatus(status).label


def reporting_label(status: str) -> str:
    return ReportingStatus(status).label


@dataclass(frozen=True)
class SummaryView:
    """A stored summary with its names and charts, for any template to render."""

    summary: BoardSummary
    data: dict[str, Any]
    # The PDF pack: charts carry their figures in their titles, the tagged PDF's alt text.
    for_print: bool = False

    @property
    def label(self) -> str:
        return str(self.data["period"]["label"])

    @property
    def slug(self) -> str:
        return str(self.data["period"]["slug"])

    @property
    def pledges(self) -> CommitmentFigures | None:
        """What the commitment counts covered when built (None in summaries older than that)."""
        stored = self.data["headline"].get("pledges")
        return CommitmentFigures.from_dict(stored) if stored else None

    @property
    def statuses(self) -> list[str]:
        return ORDER

    @property
    def priority_names(self) -> dict[str, str]:
        return {p["code"]: p["name"] for p in self.data["priorities"]}

    @property
    def priority_chart(self) -> Markup:
        headline = self.data["headline"]
        rows = [("All commitments", headline["status_counts"])]
        rows += [(p["name"], p["status_counts"]) for p in self.data["priorities"]]
        return status_bars(
            rows,
            title=f"Commitments by status and priority, {self.label}",
            chart_id="priorities",
            figures_in_title=self.for_print,
        )

    @property
    def trend_chart(self) -> Markup:
        points = [(p["label"], p["status_counts"]) for p in self.data["trend"]]
        return trend_columns(
            points,
            title="Status of all commitments at the end of each quarter",
            chart_id="trend",
            figures_in_title=self.for_print,
        )


def view_of(summary: BoardSummary) -> SummaryView:
    return SummaryView(summary, summary.data)


class CutList(list[Any]):
    """The first items of a long list, knowing the whole list's length (``total``)."""

    def __init__(self, items: list[Any], total: int) -> None:
        super().__init__(items)
        self.total = total


def total(items: list[Any]) -> int:
    """How many items a list of the summary has, cut for the page or not."""
    return int(getattr(items, "total", len(items)))


def page_view_of(summary: BoardSummary) -> SummaryView:
    """The summary page's view: its stored page part (``domain.summary.page_part``), or the
    whole document for a summary built before page parts were kept."""
    page = summary.page
    if page is None:
        return view_of(summary)
    data = dict(page)
    for section, key in PAGE_CUT:
        part = data.get(section)
        if isinstance(part, dict) and isinstance(part.get(key), dict):
            cut = part[key]
            data[section] = {**part, key: CutList(cut["first"], cut["total"])}
    return SummaryView(summary, data)


def template_helpers() -> dict[str, Any]:
    """Names the summary templates use to turn stored codes into words."""
    return {"status_label": status_label, "reporting_status": ReportingStatus, "total": total}
