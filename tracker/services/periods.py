"""Reporting periods: made from the calendar, their dates adjusted, extensions granted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import abort
from sqlalchemy import select

from tracker.domain.calendar import Quarter, WindowRules, period_for, quarters_between
from tracker.domain.enums import PeriodState
from tracker.extensions import db, insert_ignoring_conflicts
from tracker.models import Organisation, ReportingPeriod, Return, User
from tracker.services import audit

# The ICB's model: "reviewed quarterly, commencing Q1 (end of June) 2024".
FIRST_QUARTER = Quarter(2024, 1)


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


def ensure_periods(today: date, rules: WindowRules, *, first: Quarter = FIRST_QUARTER) -> list[str]:
    """Make every period from ``first`` to next quarter, and move states on; returns changes."""
    wanted = quarters_between(first, period_for(today).next())
    existing = {p.slug: p for p in db.session.scalars(select(ReportingPeriod))}
    changes = []
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
    try:
        Quarter.from_slug(slug)
    except ValueError:
        return None
    return db.session.scalar(select(ReportingPeriod).where(ReportingPeriod.slug == slug))


def period_or_404(slug: str) -> ReportingPeriod:
    """The period a URL names, or the 404 page for a slug that names none (for routes)."""
    found = period_by_slug(slug)
    if found is None:
        abort(404)
    return found


def all_periods(newest_first: bool = True) -> list[ReportingPeriod]:
    order = (ReportingPeriod.year.desc(), ReportingPeriod.quarter.desc())
    if not newest_first:
        order = (ReportingPeriod.year, ReportingPeriod.quarter)
    return list(db.session.scalars(select(ReportingPeriod).order_by(*order)))


def current_period(today: date) -> ReportingPeriod | None:
    """The period leads are reporting on today: the open one (the newest if several are)."""
    periods = all_periods()
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
) -> Return:
    """Give one organisation a later due date for a period, with the reason recorded."""
    from tracker.services.returns import return_for

    if new_due <= period.due_on:
        raise PeriodError("due_on", "The new due date must be after the period's due date")
    if not reason.strip():
        raise PeriodError("reason", "Give the reason for the extension")
    return_ = return_for(organisation, period)
    before = {"extended_due_on": return_.extended_due_on, "reason": return_.extension_reason}
    return_.extended_due_on = new_due
    return_.extension_reason = reason.strip()
    db.session.flush()
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
