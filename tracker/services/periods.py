"""Reporting periods: made from the calendar, their dates adjusted, extensions granted.

Reporting begins at a known quarter (DESIGN.md "A year of operation"): the place's
``reporting_starts_on``, set when the first periods are made and movable by an admin, and for an
organisation that joined later its own ``reports_from``. Periods before the place's start are
not reporting periods at all: no page, return, reminder or figure knows them. The SQL conditions
that say so live here, so every query asks the same question the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import abort
from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from tracker.domain.calendar import Quarter, WindowRules, period_for, quarters_between
from tracker.domain.enums import PeriodState, ReturnEventKind, ReturnState
from tracker.extensions import db, insert_ignoring_conflicts
from tracker.models import Commitment, Organisation, Place, ReportingPeriod, Return, User
from tracker.models.base import utc_date
from tracker.services import audit

# Where periods start when no place has said otherwise (a database without a place): the ICB's
# model, "reviewed quarterly, commencing Q1 (end of June) 2024".
FIRST_QUARTER = Quarter(2024, 1)


# When reporting begins ---------------------------------------------------------------------------


def _place_start() -> ColumnElement[date | None]:
    return select(Place.reporting_starts_on).order_by(Place.id).limit(1).scalar_subquery()


def reporting_began() -> ColumnElement[bool]:
    """SQL: the ``ReportingPeriod`` in the query is on or after the place's first quarter."""
    start = _place_start()
    return or_(start.is_(None), ReportingPeriod.starts_on >= start)


Day = date | ColumnElement[date]


def reportable_commitment_exists(
    starts_on: Day | None = None, closes_on: Day | None = None
) -> ColumnElement[bool]:
    """SQL: the ``Organisation`` in the query has a commitment to report on: on its pledge now,
    or, for the quarter starting ``starts_on`` whose window closes on ``closes_on``, one that
    counted in that quarter (``counted_in``)."""
    return exists().where(
        Commitment.organisation_id == Organisation.id,
        Commitment.is_heading.is_(False),
        Commitment.removed_from_page_at.is_(None)
        if starts_on is None or closes_on is None
        else counted_in(starts_on, closes_on),
    )


def commitment_reported_in(starts_on: Day) -> ColumnElement[bool]:
    """SQL: the ``Commitment`` in the query is reported on in the quarter starting ``starts_on``."""
    return or_(Commitment.reports_from.is_(None), Commitment.reports_from <= starts_on)


def counted_in(starts_on: Day, closes_on: Day) -> ColumnElement[bool]:
    """SQL: the ``Commitment`` in the query counts towards the return of the quarter starting
    ``starts_on`` whose window closes on ``closes_on``: it was reported on from then (one added
    later is, from the quarter it was added) and was still on the pledge when the window
    closed. One retired later still owed that quarter's return: revising a pledge never
    rewrites what was owed before. One retired while the window was open did not, as the
    return no longer lists it unless it was submitted first."""
    return and_(
        commitment_reported_in(starts_on),
        or_(
            Commitment.removed_from_page_at.is_(None),
            utc_date(Commitment.removed_from_page_at) > closes_on,
        ),
    )


def expected_to_report() -> ColumnElement[bool]:
    """SQL: the ``Organisation`` owes a return for the ``ReportingPeriod`` in the query.

    It had something to report on then, reporting had begun, and the organisation had joined.
    """
    return and_(
        reporting_began(),
        joined_by(ReportingPeriod.starts_on),
        reportable_commitment_exists(ReportingPeriod.starts_on, ReportingPeriod.closes_on),
    )


def expected_for(period: ReportingPeriod) -> ColumnElement[bool]:
    """SQL: the ``Organisation`` in the query owes a return for ``period``, a reporting period."""
    return and_(
        joined_by(period.starts_on),
        reportable_commitment_exists(period.starts_on, period.closes_on),
    )


def joined_by(starts_on: date | ColumnElement[date]) -> ColumnElement[bool]:
    """SQL: the ``Organisation`` in the query reports for the quarter starting ``starts_on``."""
    return or_(Organisation.reports_from.is_(None), Organisation.reports_from <= starts_on)


def the_place() -> Place | None:
    """The place this instance serves (None before a pledge page is loaded)."""
    return db.session.scalars(select(Place).order_by(Place.id).limit(1)).first()


def reporting_start() -> Quarter | None:
    """The place's first reporting quarter (None until it has one)."""
    start = db.session.scalar(select(_place_start()))
    return period_for(start) if start else None


def first_quarter_of(organisation: Organisation) -> Quarter | None:
    """The first quarter ``organisation`` reports for: the later of the place's and its own."""
    starts = [s for s in (reporting_start(), _quarter_of(organisation.reports_from)) if s]
    return max(starts) if starts else None


def _quarter_of(day: date | None) -> Quarter | None:
    return period_for(day) if day else None


def expects_return(
    organisation: Organisation, period: ReportingPeriod, *, began: bool = False
) -> bool:
    """Whether ``organisation`` reports for ``period`` (its pledge aside: it may have none yet).

    ``began``: reporting is known to have begun by ``period`` (``period_by_slug`` finds no
    other), so only the organisation's own first quarter is left to check, without reading the
    place's.
    """
    if began:
        joined = _quarter_of(organisation.reports_from)
        return joined is None or period.as_quarter >= joined
    first = first_quarter_of(organisation)
    return first is None or period.as_quarter >= first


def joining_quarter(today: date) -> date | None:
    """``reports_from`` for an organisation joining on ``today``: the quarter it joined.

    None (it follows the place) while reporting has not begun, or began in this quarter or later.
    """
    start = reporting_start()
    joined = period_for(today)
    return joined.starts_on if start is not None and joined > start else None


def commitment_joining_quarter(organisation: Organisation, today: date) -> date | None:
    """``reports_from`` for a commitment added to ``organisation``'s pledge on ``today`` (by an
    admin, a lead's approved proposal or an import): the quarter it was added
    (``joining_quarter``), or the next one when the organisation's return for this quarter has
    already gone in.

    A submitted or accepted return cannot report on a commitment its lead never saw: it would
    sit in it as an unanswered "Not started" row, accepted and public. A return still with the
    lead (not started, draft, sent back) takes it, and cannot be submitted until it is answered.
    The return is locked while this reads it (``SELECT … FOR UPDATE``), as a submit locks it
    first, so a submit and an addition at the same moment are decided one after the other.
    """
    quarter = period_for(today)
    this_quarters = db.session.scalars(
        select(Return)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .where(
            Return.organisation_id == organisation.id,
            ReportingPeriod.starts_on == quarter.starts_on,
        )
        .with_for_update(of=Return)
        .execution_options(populate_existing=True)
    ).first()
    if this_quarters is not None and this_quarters.state in {
        ReturnState.SUBMITTED,
        ReturnState.ACCEPTED,
    }:
        return quarter.next().starts_on
    return joining_quarter(today)


class StartError(ValueError):
    """The first reporting quarter cannot move there; the message says why."""


def set_reporting_start(quarter: Quarter, *, actor: User | None, actor_label: str = "") -> None:
    """Move the place's first reporting quarter (made periods from it on are kept).

    It cannot move past a quarter that already has a submitted return: that would hide reported
    work. Moving it earlier makes the periods from then on the next time periods are synced.
    """
    place = the_place()
    if place is None:
        raise StartError("Load a pledge page first: there is no place yet")
    reported = db.session.scalar(
        select(func.min(ReportingPeriod.starts_on))
        .join(Return, Return.period_id == ReportingPeriod.id)
        .where(Return.submitted_at.is_not(None))
    )
    if reported is not None and quarter.starts_on > reported:
        raise StartError(
            f"Reporting cannot start after {period_for(reported).label}: returns were "
            "submitted for it"
        )
    before = place.reporting_starts_on
    if before == quarter.starts_on:
        return
    place.reporting_starts_on = quarter.starts_on
    db.session.flush()
    audit.record(
        "reporting start changed",
        "place",
        place.id,
        actor=actor,
        actor_label=actor_label or None,
        before={"first_quarter": period_for(before).label if before else None},
        after={"first_quarter": quarter.label},
    )


# Making and finding periods ----------------------------------------------------------------------


class PeriodError(ValueError):
    """A change to a period that cannot be made; the message names the field's problem."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def state_on(period: ReportingPeriod, today: date) -> PeriodState:
    """The state a period's dates give it on ``today`` (a published one stays published)."""
    if period.state == PeriodState.PUBLISHED:
        return PeriodState.PUBLISHED
    if today < period.opens_on:
        return PeriodState.UPCOMING
    if today <= period.closes_on:
        return PeriodState.OPEN
    return PeriodState.CLOSED


def ensure_periods(today: date, rules: WindowRules, *, first: Quarter | None = None) -> list[str]:
    """Make every period from the first reporting quarter to next quarter, and move states on.

    The first time it runs for a place, reporting begins with today's quarter. Returns what
    changed, in words.
    """
    changes = []
    place = the_place()
    if place is not None and place.reporting_starts_on is None:
        place.reporting_starts_on = period_for(today).starts_on
        db.session.flush()
        changes.append(f"reporting starts with {period_for(today).label}")
    if first is None:
        first = reporting_start() or FIRST_QUARTER
    wanted = quarters_between(first, period_for(today).next())
    existing = {p.slug: p for p in db.session.scalars(select(ReportingPeriod))}
    for quarter in wanted:
        if quarter.slug in existing:
            continue
        window = quarter.window(rules)
        values = {
            "slug": quarter.slug,
            "year": quarter.year,
            "quarter": quarter.number,
            "starts_on": quarter.starts_on,
            "ends_on": quarter.ends_on,
            "opens_on": window.opens_on,
            "due_on": window.due_on,
            "closes_on": window.closes_on,
            "state": PeriodState.UPCOMING,
            "version": 1,
        }
        # Two schedulers racing (or a scheduler and a person) must not make a period twice.
        now = datetime.now(UTC)
        db.session.execute(
            insert_ignoring_conflicts(
                ReportingPeriod, index_elements=["slug"], **values, created_at=now, updated_at=now
            )
        )
        changes.append(f"made {quarter.label}")
    db.session.flush()
    for period in db.session.scalars(select(ReportingPeriod)):
        state = state_on(period, today)
        if period.state != state:
            changes.append(f"{period.label}: {period.state} → {state}")
            period.state = state
    db.session.flush()
    return changes


def period_by_slug(slug: str) -> ReportingPeriod | None:
    """The reporting period a slug names (None for one before reporting began)."""
    try:
        Quarter.from_slug(slug)
    except ValueError:
        return None
    return db.session.scalar(
        select(ReportingPeriod).where(ReportingPeriod.slug == slug, reporting_began())
    )


def period_or_404(slug: str) -> ReportingPeriod:
    """The period a URL names, or the 404 page for a slug that names none (for routes)."""
    found = period_by_slug(slug)
    if found is None:
        abort(404)
    return found


def all_periods(newest_first: bool = True) -> list[ReportingPeriod]:
    """Every reporting period since reporting began."""
    order = (ReportingPeriod.year.desc(), ReportingPeriod.quarter.desc())
    if not newest_first:
        order = (ReportingPeriod.year, ReportingPeriod.quarter)
    return list(
        db.session.scalars(select(ReportingPeriod).where(reporting_began()).order_by(*order))
    )


def current_period(today: date) -> ReportingPeriod | None:
    """The period leads are reporting on today: the open one (the newest if several are)."""
    return current_among(all_periods(), today)


def current_among(periods: list[ReportingPeriod], today: date) -> ReportingPeriod | None:
    """``current_period`` among ``periods`` already read (in any order)."""
    periods = sorted(periods, key=lambda p: p.starts_on, reverse=True)
    open_ = [p for p in periods if state_on(p, today) == PeriodState.OPEN]
    if open_:
        return open_[0]
    past = [p for p in periods if p.opens_on <= today]
    return past[0] if past else (periods[-1] if periods else None)


@dataclass(frozen=True)
class PeriodDates:
    opens_on: date
    due_on: date
    closes_on: date


def change_dates(period: ReportingPeriod, dates: PeriodDates, *, actor: User) -> None:
    """Move a period's window; the dates must stay in order and near the quarter."""
    if dates.opens_on > dates.due_on:
        raise PeriodError("opens_on", "The window must open on or before the due date")
    if dates.due_on > dates.closes_on:
        raise PeriodError("closes_on", "The window must close on or after the due date")
    if dates.opens_on < period.starts_on:
        raise PeriodError("opens_on", "The window cannot open before the quarter starts")
    if dates.due_on < period.ends_on:
        raise PeriodError("due_on", "A return cannot be due before the quarter ends")
    before = {"opens_on": period.opens_on, "due_on": period.due_on, "closes_on": period.closes_on}
    period.opens_on, period.due_on, period.closes_on = dates.opens_on, dates.due_on, dates.closes_on
    after = {"opens_on": period.opens_on, "due_on": period.due_on, "closes_on": period.closes_on}
    if before != after:
        db.session.flush()
        audit.record(
            "dates changed", "period", period.slug, actor=actor, before=before, after=after
        )


def grant_extension(
    organisation: Organisation,
    period: ReportingPeriod,
    *,
    new_due: date,
    reason: str,
    actor: User,
    today: date | None = None,
    now: datetime | None = None,
) -> Return:
    """Give one organisation a later due date for a period, with the reason recorded.

    The return can then be changed and submitted until the new date, even after the window
    closed; a return recorded as missed is expected again.
    """
    from tracker.services.returns import add_event, return_for

    now = now or datetime.now(UTC)
    if new_due <= period.due_on:
        raise PeriodError("due_on", "The new due date must be after the period's due date")
    if today is not None and new_due < today:
        raise PeriodError("due_on", "The new due date must be today or later")
    if not reason.strip():
        raise PeriodError("reason", "Give the reason for the extension")
    return_ = return_for(organisation, period)
    before = {"extended_due_on": return_.extended_due_on, "reason": return_.extension_reason}
    return_.extended_due_on = new_due
    return_.extension_reason = reason.strip()
    return_.missed_at = None
    return_.missed_by_id = None
    db.session.flush()
    add_event(
        return_,
        ReturnEventKind.EXTENSION_GRANTED,
        actor=actor,
        now=now,
        comment=return_.extension_reason,
        data={"due_on": new_due.isoformat()},
    )
    audit.record(
        "extension granted",
        "return",
        return_.id,
        actor=actor,
        organisation_id=organisation.id,
        before=before,
        after={"extended_due_on": new_due, "reason": return_.extension_reason},
    )
    return return_
