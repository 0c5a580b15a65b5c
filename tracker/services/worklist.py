"""The admin's work list: everything outstanding, in every quarter whose work is unfinished.

DESIGN.md ("A year of operation"): unfinished work of any earlier quarter stays on the list
until it is done. For each quarter since reporting began whose window has opened, the list
counts what its returns ask of the programme team (``domain.worklist.Work``) and names the
first few of each kind, with every one of them a page at a time (``kind_list``); quarters with
nothing left drop off, oldest first, and the current quarter's progress stands beside them.
Organisations not communicating (two or more quarters in a row without a return) are listed
apart.

A fixed number of small queries, whose work does not grow with the region: every quarter comes
from its stored tally (``services.tallies``) — its figures, its returns not yet accepted and who
never started one, which is also all the history the not-communicating list needs — then the
names of the organisations shown (with the last quarter each reported), when the overdue were
last chased, and how far the latest quarter's unsent returns have got.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice

from sqlalchemy import func, literal, select, tuple_, union_all

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
from tracker.services.periods import all_periods, commitment_reported_in, current_among, state_on
from tracker.services.reminders import last_chased
from tracker.services.tallies import PledgeTally, QuarterTally, stored_tallies

SHOWN_PER_KIND = 3  # of each kind of work, on the overview: the first few
KIND_PAGE_SIZE = 50  # on the page that lists one kind in full
# The kinds of work whose returns are still with the organisation, unsent.
NOT_SENT = {Work.OVERDUE, Work.MISSED, Work.EXTENSION_ENDING}


@dataclass(frozen=True)
class Named:
    id: int
    slug: str
    name: str
    last_sent: int | None = None  # the last quarter (id) it sent a return for, when asked


@dataclass(frozen=True)
class WorkItem:
    """One return that asks something of the programme team."""

    organisation: Named
    kind: Work
    facts: ReturnFacts
    last_chased: datetime | None = None
    done: int | None = 0  # commitments with a complete update (None: not read)
    total: int | None = 0  # commitments to report on (None: not read)

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
    # Each quarter from its stored tally: its figures, its returns started and not accepted,
    # and who never started one — the pledges' figures with them, for the set-up list.
    stored = stored_tallies(periods, pledges=True)
    quarters: list[QuarterWork] = []
    for period in periods:
        figures = tally_counted(stored.returns[period.id].counted, today)
        is_current = current is not None and period.id == current.id
        if figures.outstanding_work or is_current:
            quarters.append(QuarterWork(period, figures, is_current))
    for quarter in quarters:
        if quarter.count:
            mine = stored.returns[quarter.period.id]
            quarter.items = _by_kind(mine, today, shown_per_kind)  # type: ignore[assignment]
    silent = _not_communicating(periods, stored.returns, today)
    shown_silent = silent[:shown_per_kind]
    wanted = {org for q in quarters for rows in q.items.values() for org, _ in rows}  # type: ignore[misc]
    names = _names(wanted | {org for org, _ in shown_silent}, periods)
    labels = {p.id: p.label for p in periods}
    # How far each unsent return has got, for the latest quarter's (the ones worth chasing);
    # an earlier quarter's show it on the page of their kind.
    _describe(quarters, names, progress={current.id} if current else set())
    return WorkList(
        today=today,
        quarters=quarters,
        current=next((q for q in quarters if q.current), None),
        not_communicating=[
            NotCommunicating(names[org], missed, labels.get(names[org].last_sent or 0))
            for org, missed in shown_silent
        ],
        not_communicating_count=len(silent),
        next_period=upcoming[0] if upcoming else None,
        pledges=stored.pledges,
    )


def _by_kind(
    quarter: QuarterTally, today: date, limit: int | None = None
) -> dict[Work, list[tuple[int, ReturnFacts]]]:
    """The quarter's returns that ask for work, by kind, each kind most urgent first (the
    first ``limit`` of each). Returns with the same facts are alike in the order but for their
    organisation, so each group, kept by organisation, is merged in whole."""
    groups: dict[Work, list[tuple[ReturnFacts, list[int]]]] = defaultdict(list)
    for fact, orgs in [*quarter.open, (quarter.unstarted_facts, quarter.unstarted)]:
        kind = fact.work(today)
        if kind is not None and orgs:
            groups[kind].append((fact, orgs))
    found = {}
    for kind, alike in groups.items():
        streams = [((urgency(kind, fact, org), org, fact) for org in orgs) for fact, orgs in alike]
        merged = heapq.merge(*streams, key=lambda row: row[0])
        found[kind] = [(org, fact) for _, org, fact in islice(merged, limit)]
    return found


def _describe(
    quarters: list[QuarterWork], names: dict[int, Named], progress: set[int] | None = None
) -> None:
    """Turn each quarter's chosen (organisation, facts) into work items: names, when each
    overdue one was last chased, and how far each unsent one has got — in the quarters of
    ``progress`` (all by default) — in two queries."""
    chosen = [
        (quarter.period.id, kind, org)
        for quarter in quarters
        for kind, rows in quarter.items.items()
        for org, _ in rows  # type: ignore[misc]
    ]
    chased = last_chased(sorted({org for _, kind, org in chosen if kind == Work.OVERDUE}))
    done, totals = _progress(
        {
            (p, org)
            for p, kind, org in chosen
            if kind in NOT_SENT and (progress is None or p in progress)
        }
    )
    for quarter in quarters:
        period_id = quarter.period.id
        shows = progress is None or period_id in progress
        quarter.items = {
            kind: [
                WorkItem(
                    names[org],
                    kind,
                    fact,
                    chased.get(org),
                    done.get((period_id, org), 0) if shows else None,
                    totals.get((period_id, org), 0) if shows else None,
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
    mine = stored_tallies([period]).returns[period.id]
    rows = _by_kind(mine, today).get(kind, [])
    total = len(rows)
    if after is not None:
        rows = [row for row in rows if urgency(kind, row[1], row[0]) > after]
    shown, more = rows[:limit], len(rows) > limit
    quarter = QuarterWork(period, tally_counted(mine.counted, today), False, {kind: shown})  # type: ignore[dict-item]
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
    periods: list[ReportingPeriod], tallies: dict[int, QuarterTally], today: date
) -> list[tuple[int, int]]:
    """(organisation, quarters missed in a row) for each one not communicating, longest first.

    Worked out from the same facts as the quarters (domain.reporting_status), so the list
    agrees with them on the day, not with last night's stored status. Two misses in a row are
    counted back from the newest quarter through every quarter since, none with a return
    (``consecutive_missed``): only an organisation that owes the latest two quarters past their
    due date and sent neither can be silent, and its history is read back from the stored
    tallies — each quarter's returns not accepted and never started — until a quarter where it
    had sent one (accepted) or did not yet owe one (it owes every quarter from the one it
    joined): either ends the run.
    """
    due = [p for p in periods if p.due_on < today]
    if len(due) < 2:
        return []

    def unsent(period: ReportingPeriod) -> set[int]:
        mine = tallies[period.id]
        open_ = {org for fact, orgs in mine.open if fact.submitted_on is None for org in orgs}
        return open_ | set(mine.unstarted)

    candidates = unsent(due[-1]) & unsent(due[-2])
    # Each candidate's facts in each quarter where its return is not accepted (or not started).
    facts: dict[int, dict[int, ReturnFacts]] = {}
    for period in periods:
        mine = tallies[period.id]
        facts[period.id] = {
            org: fact
            for fact, orgs in [*mine.open, (mine.unstarted_facts, mine.unstarted)]
            for org in orgs
            if org in candidates
        }
    found = []
    for organisation_id in candidates:
        history = []  # newest first
        for period in reversed(periods):
            fact = facts[period.id].get(organisation_id)
            if fact is None:
                break  # accepted, or not yet owed: the run ends here
            history.append((period, fact))
            if fact.submitted_on is not None:
                break
        records = [fact.period_record(period.as_quarter) for period, fact in history]
        if reporting_status(records, today) != ReportingStatus.NON_COMMUNICATING:
            continue
        missed = 0
        for _, fact in history:
            if fact.submitted_on is not None:
                break
            if fact.overdue(today):
                missed += 1
        found.append((organisation_id, missed))
    found.sort(key=lambda row: (-row[1], row[0]))
    return found


def _progress(
    wanted: set[tuple[int, int]],
) -> tuple[dict[tuple[int, int], int], dict[tuple[int, int], int]]:
    """Complete updates, and commitments reported on, per (period, organisation) shown (one
    query)."""
    if not wanted:
        return {}, {}
    organisation_ids = {org for _, org in wanted}
    # Exactly the (quarter, organisation) pairs shown: a step down the returns' unique index
    # for each, then down the updates' index on return_id.
    pairs = sorted(wanted)
    complete = (
        select(literal("done"), Return.period_id, Return.organisation_id, func.count())
        .join(CommitmentUpdate, CommitmentUpdate.return_id == Return.id)
        .where(
            tuple_(Return.period_id, Return.organisation_id).in_(pairs),
            CommitmentUpdate.complete.is_(True),
        )
        .group_by(Return.period_id, Return.organisation_id)
    )
    # A commitment added during the year counts from the quarter it was added.
    reported_on = (
        select(literal("total"), ReportingPeriod.id, Commitment.organisation_id, func.count())
        .select_from(Commitment)
        .join(ReportingPeriod, commitment_reported_in(ReportingPeriod.starts_on))
        .where(
            Commitment.organisation_id.in_(organisation_ids),
            ReportingPeriod.id.in_({period_id for period_id, _ in pairs}),
            Commitment.is_heading.is_(False),
            Commitment.removed_from_page_at.is_(None),
        )
        .group_by(ReportingPeriod.id, Commitment.organisation_id)
    )
    done: dict[tuple[int, int], int] = {}
    totals: dict[tuple[int, int], int] = {}
    for what, period_id, org, n in db.session.execute(union_all(complete, reported_on)):
        (done if what == "done" else totals)[(period_id, org)] = n
    return done, totals


def _names(organisation_ids: set[int], periods: Sequence[ReportingPeriod] = ()) -> dict[int, Named]:
    """Each organisation's name, and the last of ``periods`` it sent a return for (one query)."""
    if not organisation_ids:
        return {}
    last_sent = (
        select(Return.period_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .where(
            Return.organisation_id == Organisation.id,
            Return.submitted_at.is_not(None),
            Return.period_id.in_([p.id for p in periods]),
        )
        .order_by(ReportingPeriod.starts_on.desc())
        .limit(1)
        .scalar_subquery()
    )
    return {
        row.id: Named(row.id, row.slug, row.name, row.last_sent)
        for row in db.session.execute(
            select(
                Organisation.id,
                Organisation.slug,
                Organisation.name,
                last_sent.label("last_sent"),
            )
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
