"""The board summary over a long, uneven history, against a plain recomputation in Python.

Ten quarters, so the trend's eight start after some history; commitments that skip quarters,
returns accepted out of order, sent back or still waiting, a commitment retired and one added
late. Each build is compared, figure by figure, with statuses worked out here from the
accepted updates alone, for the latest quarter and an earlier one (which must read the state
as of its own quarter). Also: the quarter copied onto each update stays its return's.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.factories import make_commitment, make_organisation, make_period, make_place
from tracker.domain import summary as shape
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, ReturnState
from tracker.domain.updates import is_stalled
from tracker.models import Commitment, CommitmentUpdate, ReportingPeriod, Return
from tracker.services import board as service

QUARTERS = [Quarter(2023, 1)]
while len(QUARTERS) < 10:
    QUARTERS.append(QUARTERS[-1].next())
# Well after the last quarter's window closed.
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
STATES = [ReturnState.ACCEPTED] * 6 + [ReturnState.SUBMITTED, ReturnState.RETURNED]


def ordinal(quarter: Quarter) -> int:
    return quarter.year * 4 + quarter.number


@pytest.fixture
def history(db_session):
    """Twelve commitments in four organisations, with a seeded, uneven history."""
    rng = random.Random(17)
    place = make_place(db_session)
    periods = [make_period(db_session, quarter) for quarter in QUARTERS]
    organisations = [make_organisation(db_session, name=f"Org {n}") for n in range(4)]
    commitments = [
        make_commitment(
            db_session,
            organisations[n % 4],
            title=f"Commitment {n:02d}",
            primary_priority_id=place.priorities[n % 3].id if n % 5 else None,
        )
        for n in range(12)
    ]
    statuses = list(DeliveryStatus)
    for period in periods:
        for organisation in organisations:
            if rng.random() < 0.15:
                continue  # no return this quarter
            return_ = Return(
                organisation=organisation,
                period=period,
                state=rng.choice(STATES),
                submitted_at=datetime.combine(period.due_on, datetime.min.time(), UTC),
                review_comment="Please add figures",
            )
            db_session.add(return_)
            db_session.flush()
            for commitment in commitments:
                if commitment.organisation_id != organisation.id or rng.random() < 0.2:
                    continue  # this commitment skipped the quarter
                # Runs of the same status and figure, so some commitments stall.
                repeat = rng.random() < 0.5
                db_session.add(
                    CommitmentUpdate(
                        return_id=return_.id,
                        commitment_id=commitment.id,
                        status=statuses[commitment.id % 3] if repeat else rng.choice(statuses),
                        progress_value=Decimal(5) if repeat else Decimal(rng.randint(0, 3)),
                        no_change=rng.random() < 0.3,
                        narrative=f"Said in {period.slug}",
                        complete=True,
                    )
                )
            db_session.flush()
    # One retired while the sixth quarter's window was open: it counts in the five quarters
    # before (their windows had closed) and not since (periods.counted_in). A heading never.
    commitments[3].removed_from_page_at = datetime.combine(periods[5].opens_on, time(9), UTC)
    make_commitment(db_session, organisations[0], title="Our pledge:", is_heading=True)
    db_session.flush()
    return periods


def accepted_history(
    session, period: ReportingPeriod
) -> dict[int, list[tuple[int, CommitmentUpdate]]]:
    """Each commitment the quarter counted, with its accepted updates with a status up to it,
    newest first, by joining returns and periods (not the copied quarter)."""
    upto = ordinal(period.as_quarter)
    rows = session.execute(
        sa.select(ReportingPeriod.year, ReportingPeriod.quarter, CommitmentUpdate)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .where(Return.state == ReturnState.ACCEPTED, CommitmentUpdate.status.is_not(None))
    ).all()
    reportable = {
        c.id
        for c in session.scalars(sa.select(Commitment).where(Commitment.is_heading.is_(False)))
        if c.removed_from_page_at is None
        or c.removed_from_page_at.astimezone(UTC).date() > period.closes_on
    }
    history: dict[int, list[tuple[int, CommitmentUpdate]]] = {c: [] for c in reportable}
    for year, quarter, update in rows:
        at = year * 4 + quarter
        if at <= upto and update.commitment_id in reportable:
            history[update.commitment_id].append((at, update))
    for updates in history.values():
        updates.sort(key=lambda pair: pair[0], reverse=True)
    return history


def status_at(updates: list[tuple[int, CommitmentUpdate]], at: int) -> str | None:
    return next((str(u.status) for when, u in updates if when <= at), None)


def expected_figures(session, period: ReportingPeriod) -> dict:
    now = ordinal(period.as_quarter)
    history = accepted_history(session, period)
    status = {c: status_at(u, now) or "not_started" for c, u in history.items()}
    previous = {c: status_at(u, now - 1) or "not_started" for c, u in history.items()}
    stalled = {
        c
        for c, updates in history.items()
        if is_stalled([(u.status, u.progress_value, u.no_change) for _, u in updates])
    }
    trend = {}
    for quarter in QUARTERS:
        at = ordinal(quarter)
        if now - shape.TREND_QUARTERS < at <= now:
            counts = Counter(status_at(u, at) or "not_started" for u in history.values())
            trend[quarter.slug] = {s: counts[s] for s in shape.STATUSES}
    titles = {c.id: c.title for c in session.scalars(sa.select(Commitment))}
    return {
        "status_counts": {s: Counter(status.values())[s] for s in shape.STATUSES},
        "reported": sum(1 for u in history.values() if u and u[0][0] == now),
        "moves": Counter((previous[c], status[c]) for c in history if previous[c] != status[c]),
        "stalled": sorted(titles[c] for c in stalled),
        "off_track": sorted(titles[c] for c in history if status[c] == "off_track"),
        "narratives": {
            titles[c]: u[0][1].narrative for c, u in history.items() if c in stalled and u
        },
        "trend": trend,
    }


@pytest.mark.parametrize("which", [-1, 4])
def test_every_status_figure_matches_a_recomputation_from_accepted_updates(
    history, db_session, which
):
    period = history[which]
    data = service.build_summary(period, actor=None, now=NOW).data
    expected = expected_figures(db_session, period)

    headline = data["headline"]
    assert headline["status_counts"] == expected["status_counts"]
    assert headline["reported_this_quarter"] == expected["reported"]
    assert headline["stalled"] == len(expected["stalled"])
    moves = {(m["from"], m["to"]): m["count"] for m in data["changes"]["moves"]}
    assert moves == dict(expected["moves"])
    assert sorted(i["title"] for i in data["exceptions"]["stalled"]) == expected["stalled"]
    assert sorted(i["title"] for i in data["exceptions"]["off_track"]) == expected["off_track"]
    assert {i["title"]: i["narrative"] for i in data["exceptions"]["stalled"]} == expected[
        "narratives"
    ]
    assert {p["slug"]: p["status_counts"] for p in data["trend"]} == expected["trend"]
    # The commitment retired in the sixth quarter's window is counted in the fifth, not after.
    assert headline["commitments"] == (12 if which == 4 else 11)
    # The history is long enough to matter: something stalled, something moved, and the
    # trend's first quarter starts from statuses reported before it.
    if which == -1:
        assert expected["stalled"] and expected["moves"]
        assert len(data["trend"]) == shape.TREND_QUARTERS


def test_figures_follow_acceptances_and_send_backs_across_quarters(history, db_session):
    """A later acceptance of an earlier quarter, and a send-back, change the next build."""
    latest = history[-1]
    waiting = db_session.scalars(
        sa.select(Return).where(Return.state != ReturnState.ACCEPTED).order_by(Return.id)
    ).all()
    accepted = db_session.scalars(
        sa.select(Return).where(Return.state == ReturnState.ACCEPTED).order_by(Return.id.desc())
    ).first()
    for return_ in waiting:
        return_.state = ReturnState.ACCEPTED
    accepted.state = ReturnState.RETURNED
    db_session.flush()
    data = service.build_summary(latest, actor=None, now=NOW).data
    expected = expected_figures(db_session, latest)
    assert data["headline"]["status_counts"] == expected["status_counts"]
    assert {p["slug"]: p["status_counts"] for p in data["trend"]} == expected["trend"]
    assert sorted(i["title"] for i in data["exceptions"]["stalled"]) == expected["stalled"]


def test_each_update_keeps_its_return_quarter(history, db_session):
    """``period_ordinal`` is copied from the return on insert, however the update is made."""
    rows = db_session.execute(
        sa.select(CommitmentUpdate.period_ordinal, ReportingPeriod.year, ReportingPeriod.quarter)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
    ).all()
    assert len(rows) > 50
    assert all(stored == year * 4 + quarter for stored, year, quarter in rows)


def test_an_update_made_with_its_return_in_one_flush_gets_that_quarter(db_session):
    organisation = make_organisation(db_session)
    commitment = make_commitment(db_session, organisation)
    period = make_period(db_session, Quarter(2025, 3))
    return_ = Return(organisation=organisation, period=period)
    return_.updates.append(CommitmentUpdate(commitment=commitment, status="on_track"))
    db_session.add(return_)
    db_session.flush()
    assert return_.updates[0].period_ordinal == 2025 * 4 + 3


def test_the_garbage_collector_runs_again_after_a_build_even_a_failed_one(history, monkeypatch):
    import gc

    service.build_summary(history[-1], actor=None, now=NOW)
    assert gc.isenabled()

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(service, "summary_inputs", broken)
    with pytest.raises(RuntimeError):
        service.build_summary(history[-1], actor=None, now=NOW, reason="Again")
    assert gc.isenabled()
