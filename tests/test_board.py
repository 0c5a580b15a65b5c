"""The board summary on a real database: every figure from the aggregate SQL, snapshots,
rebuilds, publishing, the pages, the PDF pack, CSV and XLSX, and the command."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.factories import (
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_user,
)
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, PeriodState, ReturnState, Role
from tracker.models import (
    AuditEvent,
    CommitmentUpdate,
    Notification,
    Organisation,
    Return,
    TargetChange,
    Theme,
)
from tracker.services import board as service

Q1, Q2, Q3 = Quarter(2024, 1), Quarter(2024, 2), Quarter(2024, 3)
# 2024/25 Q2 ends 30 September, is due 21 October and closes 11 November 2024.
AFTER_Q2 = datetime(2024, 11, 20, 9, 0, tzinfo=UTC)
ON_TIME = datetime(2024, 10, 1, 9, 0, tzinfo=UTC)
LATE = datetime(2024, 10, 25, 9, 0, tzinfo=UTC)
Q1_ON_TIME = datetime(2024, 7, 10, 9, 0, tzinfo=UTC)


def add_update(session, commitment, period, *, status, state=ReturnState.ACCEPTED, **fields):
    return_ = session.scalar(
        sa.select(Return).filter_by(organisation_id=commitment.organisation_id, period_id=period.id)
    )
    if return_ is None:
        submitted = fields.pop("submitted_at", ON_TIME)
        organisation = session.get(Organisation, commitment.organisation_id)
        return_ = make_return(session, organisation, period, state=state, submitted_at=submitted)
    fields.pop("submitted_at", None)
    update = CommitmentUpdate(
        return_id=return_.id,
        commitment_id=commitment.id,
        status=status,
        complete=True,
        **fields,
    )
    session.add(update)
    session.flush()
    return update


@pytest.fixture
def region(db_session):
    """Three organisations reporting over two quarters, as the module docstring of
    tracker.domain.summary describes the rules; the expected figures are worked out by hand."""
    place = make_place(db_session)
    inclusive, wellbeing, _, net_zero, _ = place.priorities
    q1 = make_period(db_session, Q1)
    q2 = make_period(db_session, Q2)
    make_period(db_session, Q3)  # a later quarter never leaks into Q2's summary
    wage = Theme(slug="real-living-wage", name="Real Living Wage")
    db_session.add(wage)
    a = make_organisation(db_session, name="Alpha Trust", slug="alpha")
    b = make_organisation(db_session, name="Beta College", slug="beta")
    c = make_organisation(db_session, name="Gamma Ltd", slug="gamma")
    d = make_organisation(db_session, name="Delta (headings only)", slug="delta")
    a1 = make_commitment(
        db_session,
        a,
        title="Pay the Real Living Wage",
        primary_priority_id=inclusive.id,
        metric="Staff paid RLW",
        target_value=Decimal(100),
        owner_name="Ann",
        target_date=date(2026, 3, 31),
    )
    a2 = make_commitment(db_session, a, title="Solar panels", primary_priority_id=net_zero.id)
    a3 = make_commitment(db_session, a, title="x" * 130)  # no priority, title too long
    a4 = make_commitment(db_session, a, title="Mentoring", primary_priority_id=wellbeing.id)
    b1 = make_commitment(
        db_session, b, title="Living wage for contractors", primary_priority_id=inclusive.id
    )
    b2 = make_commitment(db_session, b, title="Healthy canteen", primary_priority_id=wellbeing.id)
    make_commitment(db_session, c, title="Local suppliers", primary_priority_id=inclusive.id)
    make_commitment(db_session, d, title="Our pledge:", is_heading=True)
    # Retired while Q1's window was open: it counts in no quarter (periods.counted_in).
    make_commitment(
        db_session,
        a,
        title="Gone",
        removed_from_page_at=Q1_ON_TIME,
        primary_priority_id=inclusive.id,
    )
    a1.themes.append(wage)
    b1.themes.append(wage)

    on, risk, off, done, new = (
        DeliveryStatus.ON_TRACK,
        DeliveryStatus.AT_RISK,
        DeliveryStatus.OFF_TRACK,
        DeliveryStatus.COMPLETED,
        DeliveryStatus.NOT_STARTED,
    )
    # Q1: A and B accepted on time; C never reports.
    add_update(db_session, a1, q1, status=on, progress_value=Decimal(10), submitted_at=Q1_ON_TIME)
    add_update(db_session, a2, q1, status=on)
    add_update(db_session, a3, q1, status=new)
    add_update(db_session, a4, q1, status=on, no_change=True)
    add_update(db_session, b1, q1, status=risk, narrative="Staff short", submitted_at=Q1_ON_TIME)
    add_update(db_session, b2, q1, status=on)
    # Q2: A accepted on time; B late and still waiting for review.
    add_update(
        db_session, a1, q2, status=off, narrative="Costs rose 20%", progress_value=Decimal(10)
    )
    add_update(db_session, a2, q2, status=done)
    add_update(db_session, a3, q2, status=new)
    add_update(db_session, a4, q2, status=on, no_change=True)
    add_update(db_session, b1, q2, status=done, state=ReturnState.SUBMITTED, submitted_at=LATE)
    add_update(db_session, b2, q2, status=on)
    db_session.add(
        TargetChange(
            commitment_id=a1.id,
            period_id=q2.id,
            field="target_date",
            old_value="2025-03-31",
            new_value="2026-03-31",
            reason="Budget moved a year",
        )
    )
    # Committed (to the test's savepoint): a request that rolls back keeps the region.
    db_session.commit()
    return {"q1": q1, "q2": q2, "a1": a1, "a4": a4, "b1": b1, "place": place}


def build(period, **kwargs):
    return service.build_summary(period, actor=None, now=AFTER_Q2, **kwargs)


def test_every_figure_comes_from_the_aggregate_queries(region):
    data = build(region["q2"]).data

    assert data["schema"] == "pledge-tracker/board-summary/v1" and data["version"] == 1
    assert data["period"]["slug"] == "2024-25-q2"
    assert data["previous_period"]["slug"] == "2024-25-q1"
    headline = data["headline"]
    assert headline["organisations"] == 3  # Delta has only a heading: nothing to report
    assert headline["commitments"] == 7
    assert headline["status_counts"] == {
        "not_started": 2,
        "on_track": 2,
        "at_risk": 1,  # B's completed is not accepted yet: the board still sees at risk
        "off_track": 1,
        "completed": 1,
        "discontinued": 0,
    }
    assert headline["reported_this_quarter"] == 4
    assert headline["stalled"] == 1
    assert headline["returns"] == {
        "on_time": 1,
        "late": 1,
        "missing": 1,
        "not_yet_due": 0,
        "awaiting_review": 1,
        "accepted": 1,
        "sent_back": 0,
    }
    assert headline["smart"]["smart"] == 1
    assert headline["smart"]["missing"] == {"S": 1, "M": 6, "A": 6, "R": 1, "T": 6}

    changes = data["changes"]
    assert changes["moved"] == 2
    assert {(m["from"], m["to"], m["count"]) for m in changes["moves"]} == {
        ("on_track", "off_track", 1),
        ("on_track", "completed", 1),
    }
    assert [i["title"] for i in changes["newly_off_track"]] == ["Pay the Real Living Wage"]
    assert [i["title"] for i in changes["newly_completed"]] == ["Solar panels"]

    exceptions = data["exceptions"]
    assert [(i["title"], i["narrative"]) for i in exceptions["off_track"]] == [
        ("Pay the Real Living Wage", "Costs rose 20%")
    ]
    assert [(i["title"], i["narrative"], i["reported_in"]) for i in exceptions["at_risk"]] == [
        ("Living wage for contractors", "Staff short", "2024/25 Q1")
    ]
    assert [i["title"] for i in exceptions["stalled"]] == ["Mentoring"]
    assert [(o["name"], o["reporting_status"]) for o in exceptions["organisations"]] == [
        ("Gamma Ltd", "non_communicating")
    ]
    assert exceptions["moved_goalposts"] == [
        {
            "commitment_id": region["a1"].id,
            "title": "Pay the Real Living Wage",
            "organisation": "Alpha Trust",
            "field": "deadline",
            "old": "2025-03-31",
            "new": "2026-03-31",
            "reason": "Budget moved a year",
        }
    ]

    priorities = {p["code"]: p for p in data["priorities"]}
    assert priorities["inclusive-economy"]["commitments"] == 3
    assert priorities["inclusive-economy"]["status_counts"]["off_track"] == 1
    assert priorities["inclusive-economy"]["smart"] == 1
    assert priorities["none"]["commitments"] == 1
    assert priorities["improving-wellbeing"]["stalled"] == 1

    assert data["themes"] == [
        {
            "slug": "real-living-wage",
            "name": "Real Living Wage",
            "pledged_by": 2,
            "completed_by": 0,
            "on_track": 0,
            "at_risk": 1,
            "off_track": 1,
            "not_started": 0,
            "commitments": 2,
        }
    ]
    grid = {row["organisation"]: row["cells"] for row in data["grid"]["rows"]}
    assert grid["Alpha Trust"]["inclusive-economy"] == {"off_track": 1}
    assert grid["Alpha Trust"]["none"] == {"not_started": 1}
    assert grid["Gamma Ltd"]["inclusive-economy"] == {"not_started": 1}
    assert grid["Gamma Ltd"]["net-zero-town"] == {}

    assert [point["slug"] for point in data["trend"]] == ["2024-25-q1", "2024-25-q2"]
    assert data["trend"][0]["status_counts"] == {
        "not_started": 2,
        "on_track": 4,
        "at_risk": 1,
        "off_track": 0,
        "completed": 0,
        "discontinued": 0,
    }
    assert data["trend"][1]["status_counts"] == headline["status_counts"]


def test_nothing_private_goes_into_the_snapshot(region, db_session):
    region["a1"].owner_email = "owner@example.org"
    db_session.execute(sa.update(Return).values(review_comment="Internal: chase the CEO"))
    text = str(build(region["q2"]).data)
    assert "@" not in text and "Internal" not in text and "Ann" not in text


def test_the_first_quarter_has_no_changes_and_an_empty_quarter_has_zeros(region, db_session):
    first = build(region["q1"]).data
    assert first["previous_period"] is None and first["changes"] is None
    assert [p["slug"] for p in first["trend"]] == ["2024-25-q1"]

    empty = make_period(db_session, Quarter(2023, 4))
    data = service.build_summary(empty, actor=None, now=AFTER_Q2).data
    # Gone was retired in Q1's window, after this quarter's closed: it counted here.
    assert data["headline"]["status_counts"]["not_started"] == 8
    assert data["headline"]["reported_this_quarter"] == 0
    assert data["headline"]["returns"]["missing"] == 3
    assert data["exceptions"]["off_track"] == [] and data["themes"][0]["not_started"] == 2


def test_snapshots_are_frozen_and_rebuilds_need_a_reason(region, db_session):
    admin = make_user(db_session, Role.ADMIN)
    first = build(region["q2"])
    assert first.revision == 1
    with pytest.raises(service.SummaryError, match="give the reason"):
        build(region["q2"])
    # A later acceptance changes nothing already built …
    db_session.execute(sa.update(Return).values(state=ReturnState.ACCEPTED))
    region["b1"].current_status = DeliveryStatus.COMPLETED
    db_session.flush()
    db_session.refresh(first)
    assert first.data["headline"]["status_counts"]["completed"] == 1
    # … until an admin rebuilds it, with a reason, as a new revision.
    second = service.build_summary(
        region["q2"], actor=admin, reason="Beta's return accepted late", now=AFTER_Q2
    )
    assert second.revision == 2 and second.data["headline"]["status_counts"]["completed"] == 2
    assert first.data["headline"]["status_counts"]["completed"] == 1
    events = db_session.scalars(
        sa.select(AuditEvent).where(AuditEvent.entity_type == "board_summary")
    ).all()
    assert [e.action for e in events] == ["built board summary", "rebuilt board summary"]
    assert events[1].actor_id == admin.id
    assert events[1].after["reason"] == "Beta's return accepted late"


def test_ensure_summary_builds_once(region):
    made = service.ensure_summary(region["q2"], now=AFTER_Q2)
    assert made is not None and made.revision == 1 and made.built_by_id is None
    assert service.ensure_summary(region["q2"], now=AFTER_Q2) is None


def test_publishing_emails_each_active_board_member_once(region, db_session):
    members = [make_user(db_session, Role.BOARD, name=f"Member {n}") for n in range(2)]
    make_user(db_session, Role.BOARD, active=False)
    make_user(db_session, Role.LEAD)
    summary = build(region["q2"])
    assert service.publish_summary(summary, actor=None, now=AFTER_Q2).queued == 2
    assert service.publish_summary(summary, actor=None, now=AFTER_Q2).queued == 0
    mails = db_session.scalars(
        sa.select(Notification).where(Notification.kind == "board_published")
    ).all()
    assert sorted(m.recipient_email for m in mails) == sorted(m.email for m in members)
    assert all("/board/2024-25-q2" in m.body_text and "2024/25 Q2" in m.subject for m in mails)
    assert "/board/2024-25-q2" in mails[0].body_html
    assert summary.published_at == AFTER_Q2
    assert region["q2"].state == PeriodState.PUBLISHED
    actions = db_session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.entity_type == "board_summary")
    ).all()
    assert actions == ["built board summary", "published board summary"]


def test_one_board_member_with_an_address_that_is_not_one_does_not_stop_the_rest(
    region, db_session
):
    # QA round 2, #2: an account made before addresses were checked made every publish fail.
    first = make_user(db_session, Role.BOARD, name="Ann Able", email="ann@example.org")
    broken = make_user(db_session, Role.BOARD, name="Bo Board", email="not-an-email")
    last = make_user(db_session, Role.BOARD, name="Cy Clear", email="cy@example.org")
    summary = build(region["q2"])
    published = service.publish_summary(summary, actor=None, now=AFTER_Q2)
    assert published.queued == 2
    assert published.not_emailed == (broken,)
    assert published.warning() == (
        "Not emailed, because the email address on their account is not valid: "
        "Bo Board (not-an-email). Deactivate the account and invite them again "
        "with the right address."
    )
    mails = db_session.scalars(
        sa.select(Notification.recipient_email).where(Notification.kind == "board_published")
    ).all()
    assert sorted(mails) == [first.email, last.email]
    assert summary.published_at == AFTER_Q2
    event = db_session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "published board summary")
    )
    assert event.after["emails"] == 2
    assert event.after["not_emailed"] == ["not-an-email"]


def test_a_summary_cannot_be_published_while_its_window_is_open(region):
    summary = build(region["q2"])
    with pytest.raises(service.SummaryError, match="still open"):
        service.publish_summary(summary, actor=None, now=datetime(2024, 10, 1, tzinfo=UTC))
    assert summary.published_at is None


STALL_CASES = [
    # (status, progress value, "no change") per quarter, newest first
    [("on_track", 10, False)] * 3,
    [("on_track", None, False)] * 3,
    [("not_started", None, False)] * 3,
    [("on_track", None, True), ("on_track", None, True)],
    [("on_track", None, True), ("on_track", None, False)],
    [("completed", 10, True), ("completed", 10, True)],
    [("on_track", 10, False)] * 2,
    [("at_risk", 5, False), ("at_risk", 5, False), ("at_risk", 6, False)],
    [("off_track", 5, False)] * 3 + [("on_track", 1, False)],
    [("on_track", 10, False), ("on_track", 10, False), ("at_risk", 10, False)],
]


def test_stalled_in_sql_agrees_with_the_domain_rule(db_session):
    from tracker.domain.updates import is_stalled

    place = make_place(db_session)
    organisation = make_organisation(db_session)
    quarters = [Quarter(2023, 3), Quarter(2023, 4), Quarter(2024, 1), Quarter(2024, 2)]
    periods = [make_period(db_session, quarter) for quarter in quarters]
    expected = set()
    for n, history in enumerate(STALL_CASES):
        commitment = make_commitment(
            db_session, organisation, title=f"Case {n}", primary_priority_id=place.priorities[0].id
        )
        for (status, value, no_change), period in zip(history, reversed(periods), strict=False):
            add_update(
                db_session,
                commitment,
                period,
                status=DeliveryStatus(status),
                progress_value=None if value is None else Decimal(value),
                no_change=no_change,
                narrative="Why",
            )
        if is_stalled([(DeliveryStatus(s), v and Decimal(v), c) for s, v, c in history]):
            expected.add(f"Case {n}")
    data = service.build_summary(periods[-1], actor=None, now=AFTER_Q2).data
    assert {item["title"] for item in data["exceptions"]["stalled"]} == expected
    assert expected == {"Case 0", "Case 2", "Case 3", "Case 8"}
