"""Every figure the pages show, counted once: organisations, commitments and returns.

DESIGN.md ("A year of operation"): every figure is counted once, by one service, and agrees on
every page. The home page, the priorities page, the board summary, the admin's work list and
the review queue all take their counts from here, and say in words what is left out (headings
that introduce a list, commitments retired from a pledge, commitments with no priority yet).

- A **commitment** is tracked when it is still on its pledge (not retired) and is not a lead-in
  heading; only tracked commitments are reported on, counted and shown.
- An organisation **has pledged** when it has at least one tracked commitment.
- A **return is expected** from an organisation for a quarter when reporting had begun, the
  organisation had joined, and it has pledged (``services.periods.expected_to_report``); the
  rules for where each stands are ``domain.worklist``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select

from tracker.domain.enums import ReturnState
from tracker.domain.figures import CommitmentFigures
from tracker.domain.worklist import ReturnFacts, ReturnFigures, tally
from tracker.extensions import db
from tracker.models import Commitment, Organisation, ReportingPeriod, Return
from tracker.services.periods import expected_to_report


def commitment_figures() -> CommitmentFigures:
    """The commitments of every pledge, counted once (two queries)."""
    retired = Commitment.removed_from_page_at.is_not(None)
    on_pledge = Commitment.removed_from_page_at.is_(None)
    tracked = and_(on_pledge, Commitment.is_heading.is_(False))
    row = db.session.execute(
        select(
            func.count().filter(tracked),
            func.count().filter(and_(on_pledge, Commitment.is_heading.is_(True))),
            func.count().filter(retired),
            func.count().filter(and_(tracked, Commitment.primary_priority_id.is_(None))),
            func.count(func.distinct(Commitment.organisation_id)).filter(tracked),
        )
    ).one()
    organisations = db.session.scalar(select(func.count()).select_from(Organisation)) or 0
    return CommitmentFigures(
        tracked=row[0],
        headings=row[1],
        retired=row[2],
        without_priority=row[3],
        organisations=row[4],
        organisations_without=organisations - row[4],
    )


def return_facts(
    periods: Sequence[ReportingPeriod],
    organisation_ids: Collection[int] | None = None,
    *,
    unfinished_only: bool = False,
) -> dict[int, dict[int, ReturnFacts]]:
    """Each expected return of ``periods``: period id → organisation id → its facts (one query).

    Reads six small columns per return, so every quarter of a region of thousands of
    organisations is a few megabytes at most. ``unfinished_only`` leaves out accepted returns,
    which ask nothing of anyone (``ReturnFacts.work``): most of every past quarter.
    """
    if not periods:
        return {}
    query = (
        select(
            ReportingPeriod.id,
            Organisation.id,
            Return.state,
            Return.submitted_at,
            Return.extended_due_on,
            Return.missed_at,
        )
        .select_from(ReportingPeriod)
        .join(Organisation, expected_to_report())
        .outerjoin(
            Return,
            and_(Return.organisation_id == Organisation.id, Return.period_id == ReportingPeriod.id),
        )
        .where(ReportingPeriod.id.in_([p.id for p in periods]))
    )
    if organisation_ids is not None:
        query = query.where(Organisation.id.in_(list(organisation_ids)))
    if unfinished_only:
        query = query.where(or_(Return.state.is_(None), Return.state != ReturnState.ACCEPTED))
    # Core rows, not ORM ones: every quarter of a region is tens of thousands of them.
    return _facts(periods, db.session.connection().execute(query))


def _facts(
    periods: Sequence[ReportingPeriod], rows: Iterable[Sequence[Any]]
) -> dict[int, dict[int, ReturnFacts]]:
    dates = {p.id: (p.due_on, p.closes_on) for p in periods}
    found: dict[int, dict[int, ReturnFacts]] = defaultdict(dict)
    for period_id, organisation_id, state, submitted_at, extended_to, missed_at in rows:
        due_on, closes_on = dates[period_id]
        found[period_id][organisation_id] = ReturnFacts(
            state=state,
            due_on=due_on,
            closes_on=closes_on,
            extended_to=extended_to,
            submitted_on=submitted_at.date() if submitted_at else None,
            missed_recorded=missed_at is not None,
        )
    return found


def return_figures(period: ReportingPeriod, today: date) -> ReturnFigures:
    """A quarter's expected returns counted by where they stand (one query)."""
    return tally(return_facts([period]).get(period.id, {}).values(), today)
