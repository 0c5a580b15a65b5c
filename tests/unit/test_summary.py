"""The board summary's shaping rules (tracker.domain.summary), figure by figure, on crafted rows."""

from __future__ import annotations

import json
from datetime import date

from tracker.domain.calendar import Quarter, WindowRules
from tracker.domain.summary import (
    SCHEMA,
    CommitmentLine,
    GoalpostChange,
    GridCell,
    OrganisationReturn,
    PeriodInfo,
    PriorityInfo,
    SmartGroup,
    StatusGroup,
    SummaryInputs,
    ThemeGroup,
    ThemeInfo,
    TrendGroup,
    shape_summary,
)


def info(quarter: Quarter) -> PeriodInfo:
    window = quarter.window(WindowRules())
    return PeriodInfo(
        slug=quarter.slug,
        label=quarter.label,
        starts_on=quarter.starts_on,
        ends_on=quarter.ends_on,
        due_on=window.due_on,
        closes_on=window.closes_on,
    )


Q1, Q2 = Quarter(2024, 1), Quarter(2024, 2)
P1, P2 = info(Q1), info(Q2)  # Q2 is due 21 October 2024
AFTER = date(2024, 11, 20)
ECONOMY = PriorityInfo(1, "inclusive-economy", "Inclusive economy")
NET_ZERO = PriorityInfo(2, "net-zero-town", "Net zero town")


def line(id_, status, previous, *, org="Alpha", stalled=False, priority=1, narrative=None):
    return CommitmentLine(
        id=id_,
        title=f"Commitment {id_}",
        organisation=org,
        organisation_slug=org.lower(),
        priority_id=priority,
        status=status,
        previous_status=previous,
        stalled=stalled,
        narrative=narrative,
        reported_in="2024/25 Q2",
    )


def inputs(**fields) -> SummaryInputs:
    base = {"period": P2, "previous": P1, "today": AFTER, "priorities": [ECONOMY, NET_ZERO]}
    base.update(fields)
    return SummaryInputs(**base)


def test_an_empty_quarter_is_all_zeros_and_still_a_whole_document():
    data = shape_summary(inputs(trend_periods=[P1, P2]))
    assert data["schema"] == SCHEMA and data["version"] == 1
    assert data["as_of"] == "2024-11-20" and data["statuses_from"] == "accepted updates"
    headline = data["headline"]
    assert headline["commitments"] == 0 and headline["organisations"] == 0
    assert set(headline["status_counts"].values()) == {0}
    assert set(headline["returns"].values()) == {0}
    assert headline["smart"] == {
        "smart": 0,
        "by_score": {str(n): 0 for n in range(6)},
        "missing": dict.fromkeys("SMART", 0),
    }
    assert data["changes"] == {
        "moved": 0,
        "moves": [],
        "newly_off_track": [],
        "newly_completed": [],
    }
    assert all(not items for items in data["exceptions"].values())
    assert [p["commitments"] for p in data["priorities"]] == [0, 0]
    assert data["themes"] == [] and data["grid"]["rows"] == []
    assert [p["slug"] for p in data["trend"]] == ["2024-25-q1", "2024-25-q2"]
    json.dumps(data)  # the snapshot is plain JSON


def test_the_first_quarter_has_no_changes_and_no_previous_period():
    data = shape_summary(
        inputs(
            period=P1,
            previous=None,
            status_groups=[StatusGroup(1, "on_track", "on_track", True, False, 3)],
        )
    )
    assert data["previous_period"] is None and data["changes"] is None
    assert data["headline"]["status_counts"]["on_track"] == 3


def test_status_counts_reported_and_stalled_come_from_the_groups():
    groups = [
        StatusGroup(1, "on_track", "on_track", True, True, 2),
        StatusGroup(1, "off_track", "on_track", True, False, 1),
        StatusGroup(2, "completed", "at_risk", True, False, 4),
        StatusGroup(None, "not_started", "not_started", False, False, 5),
    ]
    data = shape_summary(inputs(status_groups=groups))
    headline = data["headline"]
    assert headline["commitments"] == 12
    assert headline["status_counts"] == {
        "not_started": 5,
        "on_track": 2,
        "at_risk": 0,
        "off_track": 1,
        "completed": 4,
        "discontinued": 0,
    }
    assert headline["reported_this_quarter"] == 7
    assert headline["stalled"] == 2
    assert data["changes"]["moved"] == 5
    assert data["changes"]["moves"] == [
        {"from": "at_risk", "to": "completed", "count": 4},
        {"from": "on_track", "to": "off_track", "count": 1},
    ]
    by_code = {p["code"]: p for p in data["priorities"]}
    assert by_code["inclusive-economy"]["commitments"] == 3
    assert by_code["inclusive-economy"]["stalled"] == 2
    assert by_code["net-zero-town"]["status_counts"]["completed"] == 4
    # Commitments without a priority get their own row, last.
    assert data["priorities"][-1] == {
        "code": "none",
        "name": "No priority chosen yet",
        "commitments": 5,
        "status_counts": {
            "not_started": 5,
            "on_track": 0,
            "at_risk": 0,
            "off_track": 0,
            "completed": 0,
            "discontinued": 0,
        },
        "stalled": 0,
        "smart": 0,
    }


def test_returns_on_time_late_missing_not_yet_due_and_extensions():
    last_quarter = date(2024, 7, 1)  # everyone reported last quarter
    returns = [
        OrganisationReturn(1, "Alpha", "alpha", "accepted", date(2024, 10, 21), None, last_quarter),
        OrganisationReturn(2, "Beta", "beta", "submitted", date(2024, 10, 22), None, last_quarter),
        # An extension makes a submission after the due date on time.
        OrganisationReturn(
            3, "Gamma", "gamma", "submitted", date(2024, 10, 30), date(2024, 11, 1), last_quarter
        ),
        OrganisationReturn(4, "Delta", "delta", "draft", None, None, last_quarter),
        # Still inside its extension on the day the summary is built.
        OrganisationReturn(5, "Epsilon", "epsilon", None, None, date(2024, 11, 30), last_quarter),
    ]
    data = shape_summary(inputs(returns=returns))
    assert data["headline"]["organisations"] == 5
    assert data["headline"]["returns"] == {
        "on_time": 2,
        "late": 1,
        "missing": 1,
        "not_yet_due": 1,
        "awaiting_review": 2,
        "accepted": 1,
        "sent_back": 0,
    }
    late = data["exceptions"]["organisations"]
    assert [(o["name"], o["return"], o["days_overdue"]) for o in late] == [("Delta", "missing", 30)]


def test_a_return_sent_back_counts_as_submitted_not_awaiting_review_nor_missing():
    returns = [
        OrganisationReturn(1, "Alpha", "alpha", "returned", date(2024, 10, 20), None),
        OrganisationReturn(2, "Beta", "beta", "submitted", date(2024, 10, 20), None),
    ]
    counts = shape_summary(inputs(returns=returns))["headline"]["returns"]
    assert counts["on_time"] == 2 and counts["missing"] == 0
    assert (counts["awaiting_review"], counts["sent_back"], counts["accepted"]) == (1, 1, 0)


def test_an_organisation_that_joined_this_quarter_is_not_held_to_the_last():
    # Neither sent a return for either quarter; only Alpha was a member last quarter.
    returns = [
        OrganisationReturn(1, "Alpha", "alpha", None, None, None),
        OrganisationReturn(2, "Newcomer", "newcomer", None, None, None, previous_expected=False),
    ]
    organisations = shape_summary(inputs(returns=returns))["exceptions"]["organisations"]
    statuses = {o["name"]: o["reporting_status"] for o in organisations}
    assert statuses == {"Alpha": "non_communicating", "Newcomer": "late"}


def test_reporting_status_looks_at_this_quarter_and_the_one_before():
    returns = [
        # Missed both: not communicating, listed first.
        OrganisationReturn(1, "Zeta", "zeta", None, None, None),
        # Missed this one only: late.
        OrganisationReturn(2, "Alpha", "alpha", None, None, None, date(2024, 7, 1)),
        # Missed last quarter but reported this one: active again.
        OrganisationReturn(3, "Beta", "beta", "accepted", date(2024, 10, 1), None),
    ]
    data = shape_summary(inputs(returns=returns))
    assert [(o["name"], o["reporting_status"]) for o in data["exceptions"]["organisations"]] == [
        ("Zeta", "non_communicating"),
        ("Alpha", "late"),
    ]
    # In the first quarter nobody can have missed two.
    first = shape_summary(inputs(period=P1, previous=None, returns=returns[:1]))
    assert first["exceptions"]["organisations"][0]["reporting_status"] == "late"


def test_exceptions_and_changes_name_their_commitments_in_order():
    lines = [
        line(3, "off_track", "on_track", org="Beta", narrative="Costs rose"),
        line(1, "off_track", "off_track", org="Alpha", narrative="Still short"),
        line(2, "at_risk", "at_risk", org="Alpha", narrative="Staff"),
        line(4, "on_track", "on_track", org="Alpha", stalled=True),
        line(5, "completed", "on_track", org="Alpha", priority=None),
    ]
    data = shape_summary(inputs(lines=lines))
    exceptions = data["exceptions"]
    assert [i["id"] for i in exceptions["off_track"]] == [1, 3]
    assert exceptions["off_track"][1] == {
        "id": 3,
        "title": "Commitment 3",
        "organisation": "Beta",
        "organisation_slug": "beta",
        "priority": "inclusive-economy",
        "status": "off_track",
        "previous_status": "on_track",
        "narrative": "Costs rose",
        "reported_in": "2024/25 Q2",
    }
    assert [i["id"] for i in exceptions["at_risk"]] == [2]
    assert [i["id"] for i in exceptions["stalled"]] == [4]
    assert [i["id"] for i in data["changes"]["newly_off_track"]] == [3]
    assert [i["id"] for i in data["changes"]["newly_completed"]] == [5]
    assert data["changes"]["newly_completed"][0]["priority"] is None


def test_moved_goalposts_are_listed_as_given():
    change = GoalpostChange(7, "Homes", "Alpha", "target value", "300", "400", "Grew")
    data = shape_summary(inputs(goalposts=[change]))
    assert data["exceptions"]["moved_goalposts"] == [
        {
            "commitment_id": 7,
            "title": "Homes",
            "organisation": "Alpha",
            "field": "target value",
            "old": "300",
            "new": "400",
            "reason": "Grew",
        }
    ]


def test_smart_completeness_by_score_missing_letters_and_priority():
    groups = [
        SmartGroup(1, "SMART", 2),
        SmartGroup(1, "SRT", 3),
        SmartGroup(None, "", 1),
    ]
    data = shape_summary(inputs(smart_groups=groups))
    smart = data["headline"]["smart"]
    assert smart["smart"] == 2
    assert smart["by_score"] == {"0": 1, "1": 0, "2": 0, "3": 3, "4": 0, "5": 2}
    assert smart["missing"] == {"S": 1, "M": 4, "A": 4, "R": 1, "T": 1}
    assert data["priorities"][0]["smart"] == 2


def test_themes_count_organisations_by_their_most_advanced_commitment():
    themes = [ThemeInfo(1, "real-living-wage", "Real Living Wage"), ThemeInfo(2, "b", "Unused")]
    groups = [
        ThemeGroup(1, 10, "completed", 1),
        ThemeGroup(1, 10, "off_track", 1),  # the same organisation: counts once, as completed
        ThemeGroup(1, 11, "on_track", 2),
        ThemeGroup(1, 12, "at_risk", 1),
        ThemeGroup(1, 13, "off_track", 1),
        ThemeGroup(1, 14, "not_started", 1),
        ThemeGroup(1, 15, "discontinued", 1),
    ]
    data = shape_summary(inputs(themes=themes, theme_groups=groups))
    assert data["themes"] == [
        {
            "slug": "real-living-wage",
            "name": "Real Living Wage",
            "pledged_by": 6,
            "completed_by": 1,
            "on_track": 1,
            "at_risk": 1,
            "off_track": 1,
            "not_started": 2,
            "commitments": 8,
        }
    ]


def test_the_grid_has_a_row_per_organisation_and_a_cell_per_priority():
    returns = [
        OrganisationReturn(1, "beta", "beta", "accepted", date(2024, 10, 1), None),
        OrganisationReturn(2, "Alpha", "alpha", "accepted", date(2024, 10, 1), None),
    ]
    grid = [
        GridCell(1, 1, "on_track", 2),
        GridCell(1, 1, "off_track", 1),
        GridCell(2, None, "not_started", 1),
    ]
    data = shape_summary(inputs(returns=returns, grid=grid))
    assert data["grid"]["priorities"] == ["inclusive-economy", "net-zero-town", "none"]
    assert data["grid"]["rows"] == [
        {
            "organisation": "Alpha",
            "slug": "alpha",
            "reporting_status": "active",
            "cells": {"inclusive-economy": {}, "net-zero-town": {}, "none": {"not_started": 1}},
        },
        {
            "organisation": "beta",
            "slug": "beta",
            "reporting_status": "active",
            "cells": {
                "inclusive-economy": {"on_track": 2, "off_track": 1},
                "net-zero-town": {},
                "none": {},
            },
        },
    ]


def test_the_trend_fills_unreported_commitments_as_not_started_and_keeps_eight_quarters():
    periods = [info(Quarter(2022 + n // 4, n % 4 + 1)) for n in range(10)]
    last = periods[-1]
    groups = [
        TrendGroup(last.slug, "on_track", 3),
        TrendGroup(periods[-2].slug, "at_risk", 1),
        TrendGroup(periods[-2].slug, "not_started", 1),
    ]
    status = [StatusGroup(1, "on_track", "on_track", True, False, 3)]
    status.append(StatusGroup(1, "not_started", "not_started", False, False, 2))
    data = shape_summary(
        inputs(period=last, trend_periods=periods, trend_groups=groups, status_groups=status)
    )
    trend = data["trend"]
    assert [p["slug"] for p in trend] == [p.slug for p in periods[-8:]]
    assert trend[-1]["status_counts"]["on_track"] == 3
    assert trend[-1]["status_counts"]["not_started"] == 2
    assert trend[-2]["status_counts"]["at_risk"] == 1
    assert trend[-2]["status_counts"]["not_started"] == 4
    assert trend[0]["status_counts"]["not_started"] == 5
