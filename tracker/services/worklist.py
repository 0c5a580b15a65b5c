"""The admin's work list: everything outstanding, in every quarter whose work is unfinished.

DESIGN.md ("A year of operation"): unfinished work of any earlier quarter stays on the list
until it is done. For each quarter since reporting began whose window has opened, the list
counts what its returns ask of the programme team (``domain.worklist.Work``) and names the
first few of each kind; quarters with nothing left drop off, oldest first, and the current
quarter's progress stands beside them. Organisations not communicating (two or more quarters in
a row without a return) are listed apart.

A fixed number of queries whatever the number of organisations or quarters: the facts of the
current quarter's expected returns and of earlier ones not yet accepted, the whole history of
the organisations that may be silent, the names of the organisations shown, and when they were
last chased.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select, tuple_

from tracker.domain.enums import PeriodState, ReportingStatus
from tracker.domain.reporting_status import reporting_status
from tracker.domain.worklist import ReturnFacts, ReturnFigures, Work, tally
from tracker.extensions import db
from tracker.models import Commitment, CommitmentUpdate, Organisation, ReportingPeriod, Return
from tracker.services.figures import return_facts
from tracker.services.periods import all_periods, commitment_reported_in, current_period, state_on
from tracker.services.reminders import last_chased

SHOWN_PER_KIND = 20
# The kinds of work whose returns are still with the organisation, unsent.
NOT_SENT = {Work.OVERDUE, Work.MISSED, Work.EXTENSION_ENDING}


@dataclass(frozen=True)
class Named:
    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class WorkItem:
    """One return that asks something of the programme team."""

    organisation: Named
    kind: Work
    facts: ReturnFacts
    last_chased: datetime | None = None
    done: int = 0  # commitments with a complete update
    total: int = 0  # commitments to report on

    def days_overdue(self, today: date) -> int:
        return self.facts.days_overdue(today)

    def can_chase(self, today: date) -> bool:
        """A chase can still help: overdue, with its window (or extension) open."""
        return self.kind == Work.OVERDUE and today <= self.facts.window_closes_on


@dataclass
class QuarterWork:
    period: ReportingPeriod
    figures: ReturnFigures
    current: bool
    items: dict[Work, list[WorkItem]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return self.figures.outstanding_work

    @property
    def kinds(self) -> list[tuple[Work, int, list[WorkItem]]]:
        """Each kind of work with its count and the returns shown, in the list's order."""
        return [
            (kind, self.figures.work[kind], self.items.get(kind, []))
            for kind in Work
            if self.figures.work[kind]
        ]


@dataclass
class NotCommunicating:
    organisation: Named
    missed: int  # quarters in a row without a return
    last_reported: str | None  # the label of the last quarter it sent a return for


@dataclass
class WorkList:
    today: date
    quarters: list[QuarterWork]  # unfinished ones, and the current one, oldest first
    current: QuarterWork | None
    not_communicating: list[NotCommunicating]
    not_communicating_count: int
    next_period: ReportingPeriod | None = None  # the next window to open

    @property
    def total(self) -> int:
        return sum(q.count for q in self.quarters)

    @property
    def busy_quarters(self) -> list[QuarterWork]:
        """The quarters that still have work, oldest first."""
        return [q for q in self.quarters if q.count]

    @property
    def earlier(self) -> list[QuarterWork]:
        """The quarters before the current one that still have work."""
        return [q for q in self.quarters if not q.current]


def _urgency(kind: Work, item: tuple[int, ReturnFacts], today: date) -> tuple[object, ...]:
    organisation_id, facts = item
    match kind:
        case Work.OVERDUE | Work.MISSED:
            return (-facts.days_overdue(today), organisation_id)
        case Work.AWAITING_REVIEW | Work.SENT_BACK:
            return (facts.submitted_on or date.max, organisation_id)
        case _:
            return (facts.extended_to or date.max, organisation_id)


def work_list(today: date, shown_per_kind: int = SHOWN_PER_KIND) -> WorkList:
    """Everything outstanding on ``today``, by quarter (oldest first)."""
    every = all_periods(newest_first=False)
    periods = [p for p in every if state_on(p, today) != PeriodState.UPCOMING]
    upcoming = [p for p in every if p.opens_on > today]
    current = current_period(today)
    # Every return of the current quarter (its figures count them all); of earlier quarters only
    # those not accepted, the only ones that can still ask for work: on a region most of each
    # past quarter is accepted, and reading it made the page grow with the years.
    now = [p for p in periods if current is not None and p.id == current.id]
    facts = return_facts([p for p in periods if p not in now], unfinished_only=True)
    facts.update(return_facts(now))
    quarters: list[QuarterWork] = []
    picked: dict[tuple[int, Work], list[tuple[int, ReturnFacts]]] = {}
    for period in periods:
        mine = facts.get(period.id, {})
        figures = tally(mine.values(), today)
        is_current = current is not None and period.id == current.id
        if not figures.outstanding_work and not is_current:
            continue
        quarters.append(QuarterWork(period, figures, is_current))
        by_kind: dict[Work, list[tuple[int, ReturnFacts]]] = defaultdict(list)
        for organisation_id, fact in mine.items():
            kind = fact.work(today)
            if kind is not None:
                by_kind[kind].append((organisation_id, fact))
        for kind, found in by_kind.items():
            found.sort(key=lambda item, kind=kind: _urgency(kind, item, today))
            picked[(period.id, kind)] = found[:shown_per_kind]
    silent = _not_communicating(periods, facts, today)
    shown_silent = silent[:shown_per_kind]
    wanted = {org for rows in picked.values() for org, _ in rows} | {o for o, *_ in shown_silent}
    names = _names(wanted)
    overdue = {org for (_, kind), rows in picked.items() if kind == Work.OVERDUE for org, _ in rows}
    chased = last_chased(sorted(overdue))
    not_sent = {
        (period_id, org)
        for (period_id, kind), rows in picked.items()
        if kind in NOT_SENT
        for org, _ in rows
    }
    done, totals = _progress(not_sent)
    for quarter in quarters:
        for kind in Work:
            rows = picked.get((quarter.period.id, kind), [])
            if rows:
                quarter.items[kind] = [
                    WorkItem(
                        names[org],
                        kind,
                        fact,
                        chased.get(org),
                        done.get((quarter.period.id, org), 0),
                        totals.get((quarter.period.id, org), 0),
                    )
                    for org, fact in rows
                ]
    labels = {p.id: p.label for p in periods}
    return WorkList(
        today=today,
        quarters=quarters,
        current=next((q for q in quarters if q.current), None),
        not_communicating=[
            NotCommunicating(names[org], missed, labels.get(last) if last else None)
            for org, missed, last in shown_silent
        ],
        not_communicating_count=len(silent),
        next_period=upcoming[0] if upcoming else None,
    )


def _not_communicating(
    periods: list[ReportingPeriod], facts: dict[int, dict[int, ReturnFacts]], today: date
) -> list[tuple[int, int, int | None]]:
    """(organisation, quarters missed in a row, last period reported) for each one silent.

    Worked out from the same facts as the quarters (domain.reporting_status), so the list
    agrees with them on the day, not with last night's stored status.
    """
    if not periods:
        return []
    # Only an organisation whose return for the latest quarter is not in can be silent: the
    # rest of a region is skipped without building its history, read whole for these alone
    # (``facts`` may leave out accepted returns).
    latest = facts.get(periods[-1].id, {})
    candidates = {org for org, fact in latest.items() if fact.submitted_on is None}
    facts = return_facts(periods, sorted(candidates))
    histories: dict[int, list[tuple[ReportingPeriod, ReturnFacts]]] = defaultdict(list)
    for period in periods:
        mine = facts.get(period.id, {})
        for organisation_id in candidates & mine.keys():
            histories[organisation_id].append((period, mine[organisation_id]))
    found = []
    for organisation_id, history in histories.items():
        records = [fact.period_record(period.as_quarter) for period, fact in history]
        if reporting_status(records, today) != ReportingStatus.NON_COMMUNICATING:
            continue
        reported = [period for period, fact in history if fact.submitted_on is not None]
        missed = 0
        for _, fact in reversed(history):
            if fact.submitted_on is not None:
                break
            if fact.overdue(today):
                missed += 1
        found.append((organisation_id, missed, reported[-1].id if reported else None))
    found.sort(key=lambda row: (-row[1], row[0]))
    return found


def _progress(
    wanted: set[tuple[int, int]],
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """Complete updates, and commitments reported on, per (period, organisation) shown."""
    if not wanted:
        return {}, {}
    organisation_ids = {org for _, org in wanted}
    # Exactly the (quarter, organisation) pairs shown: a step down the returns' unique index
    # for each, then down the updates' index on return_id.
    pairs = sorted(wanted)
    done = {
        (period_id, org): n
        for period_id, org, n in db.session.execute(
            select(Return.period_id, Return.organisation_id, func.count())
            .join(CommitmentUpdate, CommitmentUpdate.return_id == Return.id)
            .where(
                tuple_(Return.period_id, Return.organisation_id).in_(pairs),
                CommitmentUpdate.complete.is_(True),
            )
            .group_by(Return.period_id, Return.organisation_id)
        )
    }
    # A commitment added during the year counts from the quarter it was added.
    totals = {
        (period_id, org): n
        for period_id, org, n in db.session.execute(
            select(ReportingPeriod.id, Commitment.organisation_id, func.count())
            .select_from(Commitment)
            .join(ReportingPeriod, commitment_reported_in(ReportingPeriod.starts_on))
            .where(
                ReportingPeriod.id.in_({period_id for period_id, _ in wanted}),
                Commitment.organisation_id.in_(organisation_ids),
                Commitment.is_heading.is_(False),
                Commitment.removed_from_page_at.is_(None),
            )
            .group_by(ReportingPeriod.id, Commitment.organisation_id)
        )
    }
    return done, totals


def _names(organisation_ids: set[int]) -> dict[int, Named]:
    if not organisation_ids:
        return {}
    return {
        row.id: Named(row.id, row.slug, row.name)
        for row in db.session.execute(
            select(Organisation.id, Organisation.slug, Organisation.name)
            .where(Organisation.id.in_(organisation_ids))
            .order_by(func.lower(Organisation.name))
        )
    }
