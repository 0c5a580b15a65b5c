"""The Place Board's quarterly summary: aggregate rows shaped into one frozen document.

DESIGN.md ("Board summary", "A board pack that leads with exceptions") and issue 7. The
database does the counting (``tracker.services.board`` groups in SQL); this module only turns
those grouped rows into the document the board reads, so every figure can be checked here on
crafted rows, without a database or a clock.

The rules, decided here once:

- **Statuses come from accepted updates only.** A commitment's status for a quarter is the
  status of its latest *accepted* update from that quarter or before (``not_started`` if it has
  none): what an admin has reviewed is what the board sees. Returns submitted and waiting for
  review are counted apart (``returns.awaiting_review``), never mixed into the statuses.
- **Returns**: each organisation with at least one commitment to report on is expected to send
  one return a quarter. *On time* if submitted by its deadline (the due date, or a later
  extension), *late* if submitted after it, *missing* if not submitted and the deadline has
  passed on the day the summary was built, *not yet due* otherwise.
- **Reporting status** (late, non-communicating) follows ``domain.reporting_status`` on the day
  the summary was built, looking at this quarter and the one before.
- **What changed** compares each commitment's status this quarter with its status last quarter
  (both from accepted updates). The first quarter has no previous one: ``changes`` is None.
- **Stalled** follows ``domain.updates.is_stalled`` over the latest accepted updates.
- **Themes** count organisations: one that pledged a theme in several commitments counts once,
  by its most advanced commitment (completed, then on track, at risk, off track).
- **SMART completeness** is the commitments' SMART fields as they stood when the summary was
  built (the fields keep no history; moved goalposts are listed separately).
- **Trend**: the status mix at the end of each of the last eight quarters that exist, over the
  commitments reportable when the summary was built.

Nothing private goes in: no email addresses, no reviewers' comments, no owners. Narratives of
accepted updates are public once published (DESIGN.md: transparency is the point of a pledge).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, ReportingStatus, ReturnState
from tracker.domain.reporting_status import PeriodRecord, reporting_status
from tracker.domain.smart import LETTERS
from tracker.domain.worklist import ReturnFacts, tally

SCHEMA = "pledge-tracker/board-summary/v1"
SCHEMA_VERSION = 1
TREND_QUARTERS = 8

STATUSES = [status.value for status in DeliveryStatus]
# Exceptions first: the order the board reads statuses in.
BOARD_ORDER = ["off_track", "at_risk", "on_track", "completed", "not_started", "discontinued"]
# A theme's organisation counts by its most advanced commitment.
_THEME_RANK = ["completed", "on_track", "at_risk", "off_track", "not_started", "discontinued"]
NO_PRIORITY = "none"
# The summary page shows the first PAGE_LIST_LIMIT items of each long list (the downloads and
# the pack have more): ``page_part`` stores that much beside the whole document at build time.
PAGE_LIST_LIMIT = 50
PAGE_CUT = (
    ("exceptions", "off_track"),
    ("exceptions", "at_risk"),
    ("exceptions", "stalled"),
    ("exceptions", "organisations"),
    ("exceptions", "moved_goalposts"),
    ("changes", "newly_off_track"),
    ("changes", "newly_completed"),
    ("grid", "rows"),
)


@dataclass(frozen=True)
class PeriodInfo:
    slug: str
    label: str
    starts_on: date
    ends_on: date
    due_on: date
    closes_on: date


@dataclass(frozen=True)
class PriorityInfo:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class ThemeInfo:
    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class StatusGroup:
    """How many commitments of a priority share this status now, last quarter, and flags."""

    priority_id: int | None
    status: str
    previous_status: str
    reported: bool  # an accepted update for this very quarter
    stalled: bool
    count: int


@dataclass(frozen=True)
class SmartGroup:
    priority_id: int | None
    met: str  # the SMART letters met, e.g. "SMRT"
    count: int


@dataclass(frozen=True)
class CommitmentLine:
    """One commitment the board should read about by name (an exception or a change)."""

    id: int
    title: str
    organisation: str
    organisation_slug: str
    priority_id: int | None
    status: str
    previous_status: str
    stalled: bool
    narrative: str | None
    reported_in: str | None  # label of the quarter of the update the status comes from


@dataclass(frozen=True)
class OrganisationReturn:
    """An organisation expected to report, with its returns for this quarter and the last."""

    id: int
    name: str
    slug: str
    state: str | None
    submitted_on: date | None
    extended_to: date | None
    previous_submitted_on: date | None = None
    previous_extended_to: date | None = None
    # False for an organisation that joined this quarter: last quarter asked nothing of it.
    previous_expected: bool = True


@dataclass(frozen=True)
class GridCell:
    organisation_id: int
    priority_id: int | None
    status: str
    count: int


@dataclass(frozen=True)
class ThemeGroup:
    theme_id: int
    organisation_id: int
    status: str
    count: int


@dataclass(frozen=True)
class TrendGroup:
    period_slug: str
    status: str
    count: int


@dataclass(frozen=True)
class GoalpostChange:
    commitment_id: int
    title: str
    organisation: str
    field_label: str
    old: str | None
    new: str | None
    reason: str


@dataclass(frozen=True)
class SummaryInputs:
    """Everything the summary is made of, as the aggregate queries return it."""

    period: PeriodInfo
    previous: PeriodInfo | None
    today: date
    priorities: Sequence[PriorityInfo] = ()
    themes: Sequence[ThemeInfo] = ()
    status_groups: Sequence[StatusGroup] = ()
    smart_groups: Sequence[SmartGroup] = ()
    lines: Sequence[CommitmentLine] = ()
    returns: Sequence[OrganisationReturn] = ()
    grid: Sequence[GridCell] = ()
    theme_groups: Sequence[ThemeGroup] = ()
    trend_periods: Sequence[PeriodInfo] = ()
    trend_groups: Sequence[TrendGroup] = ()
    goalposts: Sequence[GoalpostChange] = ()
    # What the commitment counts leave out (services.figures.CommitmentFigures.as_dict()).
    pledges: Mapping[str, int] | None = None


def page_part(data: Mapping[str, Any], limit: int = PAGE_LIST_LIMIT) -> dict[str, Any]:
    """What the summary page shows of a summary: the same document, each long list of
    ``PAGE_CUT`` kept as ``{"first": its first ``limit`` items, "total": its length}``.

    A region's document is megabytes (thousands of commitments named in the exceptions); the
    page's part is a fixed size however big the region, and is frozen with the document.
    """
    page = dict(data)
    for section, key in PAGE_CUT:
        part = page.get(section)
        if not isinstance(part, Mapping) or not isinstance(part.get(key), list):
            continue
        items = part[key]
        page[section] = {**part, key: {"first": items[:limit], "total": len(items)}}
    return page


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(STATUSES, 0)


def _counts(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    counts = empty_counts()
    for status, count in pairs:
        counts[status] += count
    return counts


def shape_summary(inputs: SummaryInputs) -> dict[str, Any]:
    """The summary document (JSON-safe) for one quarter, from its aggregate rows."""
    priority_code = {p.id: p.code for p in inputs.priorities}
    first_quarter = inputs.previous is None

    status_counts = _counts((g.status, g.count) for g in inputs.status_groups)
    commitments = sum(status_counts.values())
    returns, organisations = _returns(inputs)
    # Each named commitment in board order, as an item made once: a region names thousands,
    # several lists share them, and the JSON comes out the same either way.
    named = [(line, _item(line, priority_code)) for line in _sorted_lines(inputs.lines)]

    smart_by_score = dict.fromkeys(range(6), 0)
    smart_missing = dict.fromkeys(LETTERS, 0)
    for group in inputs.smart_groups:
        smart_by_score[len(group.met)] += group.count
        for letter in LETTERS:
            if letter not in group.met:
                smart_missing[letter] += group.count

    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "period": _period(inputs.period),
        "previous_period": _period(inputs.previous) if inputs.previous else None,
        "as_of": inputs.today.isoformat(),
        "statuses_from": "accepted updates",
        "headline": {
            "organisations": len(inputs.returns),
            "commitments": commitments,
            "pledges": dict(inputs.pledges) if inputs.pledges is not None else None,
            "status_counts": status_counts,
            "reported_this_quarter": sum(g.count for g in inputs.status_groups if g.reported),
            "stalled": sum(g.count for g in inputs.status_groups if g.stalled),
            "returns": returns,
            "smart": {
                "smart": smart_by_score[5],
                "by_score": {str(score): n for score, n in smart_by_score.items()},
                "missing": smart_missing,
            },
        },
        "changes": None if first_quarter else _changes(inputs, named),
        "exceptions": {
            "off_track": [item for line, item in named if line.status == "off_track"],
            "at_risk": [item for line, item in named if line.status == "at_risk"],
            "stalled": [item for line, item in named if line.stalled],
            "organisations": [o for o in organisations if o["reporting_status"] != "active"],
            "moved_goalposts": [
                {
                    "commitment_id": change.commitment_id,
                    "title": change.title,
                    "organisation": change.organisation,
                    "field": change.field_label,
                    "old": change.old,
                    "new": change.new,
                    "reason": change.reason,
                }
                for change in inputs.goalposts
            ],
        },
        "priorities": _priorities(inputs),
        "themes": _themes(inputs),
        "grid": _grid(inputs, organisations, priority_code),
        "trend": _trend(inputs, commitments),
    }


def _period(period: PeriodInfo) -> dict[str, str]:
    return {
        "slug": period.slug,
        "label": period.label,
        "starts_on": period.starts_on.isoformat(),
        "ends_on": period.ends_on.isoformat(),
        "due_on": period.due_on.isoformat(),
        "closes_on": period.closes_on.isoformat(),
    }


def _returns(inputs: SummaryInputs) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Each expected return counted as every page counts it (``domain.worklist``)."""
    period, previous, today = inputs.period, inputs.previous, inputs.today
    this_quarter = _quarter(period.slug)
    last_quarter = _quarter(previous.slug) if previous is not None else None
    organisations = []
    facts = []
    for org in sorted(inputs.returns, key=lambda o: (o.name.lower(), o.id)):
        fact = ReturnFacts(
            state=ReturnState(org.state) if org.state else None,
            due_on=period.due_on,
            closes_on=period.closes_on,
            extended_to=org.extended_to,
            submitted_on=org.submitted_on,
        )
        facts.append(fact)
        if fact.ever_submitted:
            return_ = "late" if fact.late else "on_time"
        elif fact.overdue(today):
            return_ = "missing"
        else:
            return_ = "not_yet_due"
        history = [fact.period_record(this_quarter)]
        if previous is not None and last_quarter is not None and org.previous_expected:
            history.append(
                PeriodRecord(
                    quarter=last_quarter,
                    due_on=previous.due_on,
                    extended_to=org.previous_extended_to,
                    submitted_on=org.previous_submitted_on,
                    closes_on=previous.closes_on,
                )
            )
        status = reporting_status(history, today)
        organisations.append(
            {
                "id": org.id,
                "name": org.name,
                "slug": org.slug,
                "return": return_,
                "reporting_status": status.value,
                "days_overdue": fact.days_overdue(today) if return_ == "missing" else 0,
            }
        )
    # Worst first: not communicating, then late, then active (stable within each).
    order = [ReportingStatus.NON_COMMUNICATING.value, ReportingStatus.LATE.value, "active"]
    organisations.sort(key=lambda o: order.index(o["reporting_status"]))
    figures = tally(facts, today)
    counts = {
        "on_time": figures.on_time,
        "late": figures.late,
        "missing": figures.overdue,
        "not_yet_due": figures.expected - figures.submitted - figures.overdue,
        "awaiting_review": figures.awaiting_review,
        "accepted": figures.accepted,
        "sent_back": figures.sent_back,
    }
    return counts, organisations


def _quarter(slug: str) -> Quarter:
    return Quarter.from_slug(slug)


def _item(line: CommitmentLine, priority_code: dict[int, str]) -> dict[str, Any]:
    return {
        "id": line.id,
        "title": line.title,
        "organisation": line.organisation,
        "organisation_slug": line.organisation_slug,
        "priority": priority_code.get(line.priority_id) if line.priority_id else None,
        "status": line.status,
        "previous_status": line.previous_status,
        "narrative": line.narrative,
        "reported_in": line.reported_in,
    }


def _sorted_lines(lines: Iterable[CommitmentLine]) -> list[CommitmentLine]:
    # Organisations' names repeat across their commitments: each is folded once.
    folded: dict[str, str] = {}

    def key(line: CommitmentLine) -> tuple[str, str, int]:
        name = folded.get(line.organisation)
        if name is None:
            name = folded[line.organisation] = line.organisation.lower()
        return (name, line.title.lower(), line.id)

    return sorted(lines, key=key)


def _changes(
    inputs: SummaryInputs, named: list[tuple[CommitmentLine, dict[str, Any]]]
) -> dict[str, Any]:
    moves: Counter[tuple[str, str]] = Counter()
    for group in inputs.status_groups:
        if group.status != group.previous_status:
            moves[(group.previous_status, group.status)] += group.count
    return {
        "moved": sum(moves.values()),
        "moves": [
            {"from": before, "to": after, "count": count}
            for (before, after), count in sorted(
                moves.items(), key=lambda item: (-item[1], item[0])
            )
        ],
        "newly_off_track": [
            item
            for line, item in named
            if line.status == "off_track" and line.previous_status != "off_track"
        ],
        "newly_completed": [
            item
            for line, item in named
            if line.status == "completed" and line.previous_status != "completed"
        ],
    }


def _priorities(inputs: SummaryInputs) -> list[dict[str, Any]]:
    by_priority: dict[int | None, dict[str, int]] = defaultdict(empty_counts)
    stalled: Counter[int | None] = Counter()
    for group in inputs.status_groups:
        by_priority[group.priority_id][group.status] += group.count
        if group.stalled:
            stalled[group.priority_id] += group.count
    smart: Counter[int | None] = Counter()
    for group in inputs.smart_groups:
        if len(group.met) == len(LETTERS):
            smart[group.priority_id] += group.count
    rows = []
    known = [(p.id, p.code, p.name) for p in inputs.priorities]
    if None in by_priority:
        known.append((None, NO_PRIORITY, "No priority chosen yet"))
    for priority_id, code, name in known:
        counts = by_priority.get(priority_id, empty_counts())
        rows.append(
            {
                "code": code,
                "name": name,
                "commitments": sum(counts.values()),
                "status_counts": dict(counts),
                "stalled": stalled[priority_id],
                "smart": smart[priority_id],
            }
        )
    return rows


def _themes(inputs: SummaryInputs) -> list[dict[str, Any]]:
    by_org: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    commitments: Counter[int] = Counter()
    for group in inputs.theme_groups:
        by_org[group.theme_id][group.organisation_id].add(group.status)
        commitments[group.theme_id] += group.count
    rows = []
    for theme in inputs.themes:
        organisations = by_org.get(theme.id, {})
        best = Counter(min(statuses, key=_THEME_RANK.index) for statuses in organisations.values())
        rows.append(
            {
                "slug": theme.slug,
                "name": theme.name,
                "pledged_by": len(organisations),
                "completed_by": best["completed"],
                "on_track": best["on_track"],
                "at_risk": best["at_risk"],
                "off_track": best["off_track"],
                "not_started": best["not_started"] + best["discontinued"],
                "commitments": commitments[theme.id],
            }
        )
    rows = [row for row in rows if row["pledged_by"]]
    rows.sort(key=lambda row: (-row["pledged_by"], row["name"].lower()))
    return rows


def _grid(
    inputs: SummaryInputs, organisations: list[dict[str, Any]], priority_code: dict[int, str]
) -> dict[str, Any]:
    cells: dict[int, dict[str, dict[str, int]]] = defaultdict(dict)
    codes = [p.code for p in inputs.priorities]
    for cell in inputs.grid:
        code = priority_code.get(cell.priority_id, NO_PRIORITY) if cell.priority_id else NO_PRIORITY
        counts = cells[cell.organisation_id].setdefault(code, {})
        counts[cell.status] = counts.get(cell.status, 0) + cell.count
    if any(NO_PRIORITY in row for row in cells.values()):
        codes.append(NO_PRIORITY)
    rows = [
        {
            "organisation": org["name"],
            "slug": org["slug"],
            "reporting_status": org["reporting_status"],
            "cells": {code: cells[org["id"]].get(code, {}) for code in codes},
        }
        for org in sorted(organisations, key=lambda o: (o["name"].lower(), o["id"]))
    ]
    return {"priorities": codes, "rows": rows}


def _trend(inputs: SummaryInputs, commitments: int) -> list[dict[str, Any]]:
    by_period: dict[str, dict[str, int]] = defaultdict(empty_counts)
    for group in inputs.trend_groups:
        by_period[group.period_slug][group.status] += group.count
    points = []
    for period in inputs.trend_periods[-TREND_QUARTERS:]:
        counts = by_period[period.slug]
        # Commitments with no accepted update by then had not started, as far as anyone knew.
        counts["not_started"] += max(0, commitments - sum(counts.values()))
        points.append({"slug": period.slug, "label": period.label, "status_counts": dict(counts)})
    return points
