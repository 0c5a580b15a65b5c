"""The admin's work list: everything outstanding, in every quarter whose work is unfinished.

DESIGN.md ("A year of operation"): unfinished work of any earlier quarter stays on the list
until it is done. For each quarter since reporting began whose window has opened, the list
counts what its returns ask of the programme team (``domain.worklist.Work``) and names the
first few of each kind, with every one of them a page at a time (``kind_list``); quarters with
nothing left drop off, oldest first, and the current quarter's progress stands beside them.
Organisations not communicating (two or more quarters in a row without a return) are listed
apart.

A fixed number of queries, whose work does not grow with the region: each quarter's figures come
from its stored tally (``services.tallies``); the returns that ask for work are read from the
returns started and not accepted, and the first few nobody started; then the history of the
organisations that may be silent, the names of those shown, when they were last chased and how
far their returns have got.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select, tuple_

from tracker.domain.enums import NotificationState, PeriodState, ProposalState, ReportingStatus
from tracker.domain.reporting_status import reporting_status
from tracker.domain.worklist import (
    ReturnFacts,
    ReturnFigures,
    Work,
    after_cursor,
    tally_counted,
    urgency,
)
from tracker.extensions import db
from tracker.models import (
    Commitment,
    CommitmentProposal,
    CommitmentUpdate,
    Notification,
    Organisation,
    ReportingPeriod,
    Return,
    User,
)
from tracker.services.figures import never_started, return_facts, started_unfinished_facts
from tracker.services.periods import all_periods, commitment_reported_in, current_among, state_on
from tracker.services.reminders import last_chased
from tracker.services.tallies import PledgeTally, stored_return_facts, stored_tallies

SHOWN_PER_KIND = 5  # of each kind of work, on the overview
KIND_PAGE_SIZE = 50  # on the page that lists one kind in full
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


@dataclass(frozen=True)
class KindPage:
    """One page of the returns of a quarter that ask for one kind of work."""

    period: ReportingPeriod
    kind: Work
    items: list[WorkItem]
    total: int  # of this kind in the quarter
    next_after: str | None  # the cursor of the next page; None on the last
    first: bool  # the first page


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
    pledges: PledgeTally | None = None  # the pledges' figures, for the set-up list

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


def work_list(today: date, shown_per_kind: int = SHOWN_PER_KIND) -> WorkList:
    """Everything outstanding on ``today``, by quarter (oldest first)."""
    every = all_periods(newest_first=False)
    periods = [p for p in every if state_on(p, today) != PeriodState.UPCOMING]
    upcoming = [p for p in every if p.opens_on > today]
    current = current_among(every, today)
    # Each quarter's figures from its stored tally (a few dozen rows, not one per organisation),
    # read with the pledges' for the set-up list.
    stored = stored_tallies(periods, pledges=True)
    counted = stored.returns
    quarters: list[QuarterWork] = []
    for period in periods:
        figures = tally_counted(counted[period.id], today)
        is_current = current is not None and period.id == current.id
        if figures.outstanding_work or is_current:
            quarters.append(QuarterWork(period, figures, is_current))
    busy = [q.period for q in quarters if q.count]
    # The returns that ask for work: those started and not accepted, and the first few never
    # started in each quarter where a return nobody started is overdue (they all are alike,
    # so the first by organisation are the first in the list).
    started = started_unfinished_facts(busy)
    unstarted = _never_started_work(busy, counted, today)
    # One query whatever is found: a quarter with none to show is asked for none.
    firsts = never_started(busy, {p.id: shown_per_kind if p.id in unstarted else 0 for p in busy})
    picked: dict[tuple[int, Work], list[tuple[int, ReturnFacts]]] = {}
    for period in busy:
        by_kind: dict[Work, list[tuple[int, ReturnFacts]]] = defaultdict(list)
        for organisation_id, fact in started.get(period.id, {}).items():
            kind = fact.work(today)
            if kind is not None:
                by_kind[kind].append((organisation_id, fact))
        if period.id in unstarted:
            fact = unstarted[period.id]
            kind = fact.work(today)
            assert kind is not None
            by_kind[kind].extend((org, fact) for org in firsts.get(period.id, []))
        for kind, found in by_kind.items():
            found.sort(key=lambda item, kind=kind: urgency(kind, item[1], item[0]))
            picked[(period.id, kind)] = found[:shown_per_kind]
    silent = _not_communicating(periods, today)
    shown_silent = silent[:shown_per_kind]
    wanted = {org for rows in picked.values() for org, _ in rows} | {o for o, *_ in shown_silent}
    names = _names(wanted)
    for quarter in quarters:
        for kind in Work:
            rows = picked.get((quarter.period.id, kind), [])
            if rows:
                quarter.items[kind] = rows  # type: ignore[assignment]
    _describe(quarters, names)
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
        pledges=stored.pledges,
    )


def _never_started_work(
    periods: list[ReportingPeriod],
    counted: dict[int, list[tuple[ReturnFacts, int]]],
    today: date,
) -> dict[int, ReturnFacts]:
    """The facts of a return nobody started, for each quarter where such returns ask for work."""
    found = {}
    for period in periods:
        for fact, _ in counted[period.id]:
            if fact.state is None and fact.work(today) is not None:
                found[period.id] = fact
    return found


def _describe(quarters: list[QuarterWork], names: dict[int, Named]) -> None:
    """Turn each quarter's chosen (organisation, facts) into work items: names, when each
    overdue one was last chased, and how far each unsent one has got (three queries)."""
    chosen = [
        (quarter.period.id, kind, org)
        for quarter in quarters
        for kind, rows in quarter.items.items()
        for org, _ in rows  # type: ignore[misc]
    ]
    chased = last_chased(sorted({org for _, kind, org in chosen if kind == Work.OVERDUE}))
    done, totals = _progress({(p, org) for p, kind, org in chosen if kind in NOT_SENT})
    for quarter in quarters:
        period_id = quarter.period.id
        quarter.items = {
            kind: [
                WorkItem(
                    names[org],
                    kind,
                    fact,
                    chased.get(org),
                    done.get((period_id, org), 0),
                    totals.get((period_id, org), 0),
                )
                for org, fact in rows  # type: ignore[misc]
            ]
            for kind, rows in quarter.items.items()
        }


def kind_list(
    period: ReportingPeriod,
    kind: Work,
    today: date,
    *,
    after: tuple[date, int] | None = None,
    limit: int = KIND_PAGE_SIZE,
) -> KindPage:
    """Every return of one quarter that asks for one kind of work, a page at a time.

    The page starts after the cursor ``after`` (the place of the last row of the page before,
    ``domain.worklist.urgency``), so a return dealt with meanwhile does not shift the rest.
    """
    started = started_unfinished_facts([period]).get(period.id, {})
    rows = [(org, fact) for org, fact in started.items() if fact.work(today) == kind]
    counted = stored_return_facts([period])
    unstarted = _never_started_work([period], counted, today).get(period.id)
    wanted = unstarted is not None and unstarted.work(today) == kind
    # Asked even when none are wanted (for none): the page reads as many queries either way.
    owing = never_started([period], None if wanted else {period.id: 0}).get(period.id, [])
    rows += [(org, unstarted) for org in owing if unstarted is not None]
    rows.sort(key=lambda item: urgency(kind, item[1], item[0]))
    total = len(rows)
    if after is not None:
        rows = [row for row in rows if urgency(kind, row[1], row[0]) > after]
    shown, more = rows[:limit], len(rows) > limit
    quarter = QuarterWork(period, tally_counted(counted[period.id], today), False, {kind: shown})  # type: ignore[dict-item]
    _describe([quarter], _names({org for org, _ in shown}))
    items = quarter.items.get(kind, [])
    last = items[-1] if items and more else None
    return KindPage(
        period=period,
        kind=kind,
        items=items,
        total=total,
        next_after=after_cursor(urgency(kind, last.facts, last.organisation.id)) if last else None,
        first=after is None,
    )


def _not_communicating(
    periods: list[ReportingPeriod], today: date
) -> list[tuple[int, int, int | None]]:
    """(organisation, quarters missed in a row, last period reported) for each one silent.

    Worked out from the same facts as the quarters (domain.reporting_status), so the list
    agrees with them on the day, not with last night's stored status.
    """
    # Only an organisation with nothing submitted for the latest quarter past its due date can
    # have missed two in a row (``consecutive_missed`` counts back through it): the rest of a
    # region is skipped, and the history of these alone is read whole.
    due = [p for p in periods if p.due_on < today]
    if not due:
        return []
    latest = due[-1]
    candidates = {
        org
        for org, fact in started_unfinished_facts([latest]).get(latest.id, {}).items()
        if fact.submitted_on is None
    }
    candidates.update(never_started([latest]).get(latest.id, []))
    if not candidates:
        return []
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


@dataclass(frozen=True)
class SetUp:
    """The overview's set-up list: what the programme team looks after besides the returns."""

    people: int
    failed_emails: int
    proposals: int


def set_up() -> SetUp:
    """The set-up list's counts of small tables, in one query: people, emails that failed and
    proposals waiting (the pledges' figures come with the work list, from their tally)."""
    row = db.session.execute(
        select(
            select(func.count()).select_from(User).scalar_subquery(),
            select(func.count())
            .select_from(Notification)
            .where(Notification.state == NotificationState.FAILED)
            .scalar_subquery(),
            select(func.count())
            .select_from(CommitmentProposal)
            .where(CommitmentProposal.state == ProposalState.PENDING)
            .scalar_subquery(),
        )
    ).one()
    return SetUp(row[0] or 0, row[1] or 0, row[2] or 0)
