"""The quarterly return: the lead's task list, one update per commitment, submit and review.

The rules (DESIGN.md "How it flows" step 3, RELIABILITY.md "Nothing lost"):
- one return per organisation and period, one update per commitment per return (unique
  constraints), made safely when two people arrive at once;
- a draft may be saved half done; submitting needs a complete update for every commitment;
- no lost updates: the form carries the update's version, and a stale save is refused with the
  other person's words intact (``StaleUpdate``);
- submission and review are conditional updates on the return's state, so twenty people
  pressing "Submit" at once make exactly one submission;
- accepting a return sets each commitment's current status; sending it back needs a comment and
  emails the leads.
Services flush; the request commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from tracker.domain.calendar import Quarter, days_overdue, is_overdue, was_late
from tracker.domain.enums import (
    DeliveryStatus,
    EvidenceGrade,
    PeriodState,
    ReturnEventKind,
    ReturnState,
    Role,
)
from tracker.domain.history import Change, changes_between
from tracker.domain.reporting_status import PeriodRecord, reporting_status, settled_by
from tracker.domain.updates import (
    CarriedForward,
    PreviousUpdate,
    carry_forward,
    check_update,
    no_change_holds,
)
from tracker.domain.worklist import ReturnFacts
from tracker.evidence import StoredFile
from tracker.extensions import db, insert_ignoring_conflicts
from tracker.models import (
    Commitment,
    CommitmentUpdate,
    EvidenceFile,
    Organisation,
    Priority,
    ReportingPeriod,
    Return,
    ReturnEvent,
    TargetChange,
    User,
)
from tracker.models.base import utc_date
from tracker.services import audit, return_emails, tallies
from tracker.services.periods import (
    expected_for,
    expects_return,
    reporting_began,
    state_on,
)

if TYPE_CHECKING:
    from tracker.services.commitments import GoalpostEntry

EDITABLE = {ReturnState.NOT_STARTED, ReturnState.DRAFT, ReturnState.RETURNED}


class ReturnError(ValueError):
    """The return cannot change that way now; the message says why, for the person asking."""


class StaleReview(ReturnError):
    """The return changed after the reviewer opened it, most often sent back by someone else
    and submitted again: their decision would apply to answers they have not read."""

    def __init__(self, return_: Return) -> None:
        from tracker.templating import london_time

        latest = db.session.scalars(
            select(ReturnEvent)
            .where(ReturnEvent.return_id == return_.id)
            .order_by(ReturnEvent.occurred_at.desc(), ReturnEvent.id.desc())
            .limit(1)
        ).first()
        read_it = "before you accept it or send it back."
        if latest is not None and latest.kind == ReturnEventKind.SUBMITTED:
            super().__init__(
                f"{return_.organisation.name} submitted this return again on "
                f"{london_time(latest.occurred_at)}, after you opened it. Read what they sent "
                + read_it
            )
        else:
            super().__init__(f"This return changed after you opened it. Read it again {read_it}")


class StaleUpdate(ReturnError):
    """Someone else saved this update after the form was opened."""

    def __init__(self, theirs: CommitmentUpdate) -> None:
        super().__init__(
            "Someone else changed this update while you were editing it. "
            "Their version is saved and shown below; yours is beside it."
        )
        self.theirs = theirs


# Stands for "reported on from the start" where a date is compared (no real quarter is this old).
FROM_THE_START = date(1900, 1, 1)

# How many of the newest quarters reporting_facts reads every organisation's returns for: nearly
# always enough to settle a reporting status (two missed in a row, or one return in), so the read
# stays the same size however many years of quarters there are; older quarters are read only for
# the organisations they are not enough for.
RECENT_QUARTERS = 4


# Reading ---------------------------------------------------------------------------------------


def reportable_commitments(organisation_id: int) -> list[Commitment]:
    """The commitments a return reports on: not lead-in headings, still on the pledge page."""
    return list(
        db.session.scalars(
            select(Commitment)
            .outerjoin(Priority, Priority.id == Commitment.primary_priority_id)
            .where(
                Commitment.organisation_id == organisation_id,
                Commitment.is_heading.is_(False),
                Commitment.removed_from_page_at.is_(None),
            )
            .order_by(func.coalesce(Priority.position, 99), Commitment.position, Commitment.id)
            .options(selectinload(Commitment.primary_priority))
        )
    )


def find_return(organisation: Organisation, period: ReportingPeriod) -> Return | None:
    return db.session.scalar(
        select(Return).where(
            Return.organisation_id == organisation.id, Return.period_id == period.id
        )
    )


def saved_update(
    organisation: Organisation, period: ReportingPeriod, commitment: Commitment
) -> CommitmentUpdate | None:
    """The commitment's update in the organisation's return for the period, as saved now."""
    return db.session.scalar(
        select(CommitmentUpdate)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .where(
            Return.organisation_id == organisation.id,
            Return.period_id == period.id,
            CommitmentUpdate.commitment_id == commitment.id,
        )
    )


def return_for(organisation: Organisation, period: ReportingPeriod) -> Return:
    """The organisation's return for the period, made if missing (safe when two arrive at once)."""
    found = find_return(organisation, period)
    if found is not None:
        return found
    now = datetime.now(UTC)
    db.session.execute(
        insert_ignoring_conflicts(
            Return,
            index_elements=["organisation_id", "period_id"],
            organisation_id=organisation.id,
            period_id=period.id,
            state=ReturnState.NOT_STARTED.value,
            version=1,
            created_at=now,
            updated_at=now,
        )
    )
    tallies.returns_changed([period.id])  # an INSERT the flush does not see
    found = find_return(organisation, period)
    assert found is not None
    return found


def previous_period(period: ReportingPeriod) -> ReportingPeriod | None:
    quarter = period.as_quarter.previous()
    return db.session.scalar(
        select(ReportingPeriod).where(
            ReportingPeriod.year == quarter.year, ReportingPeriod.quarter == quarter.number
        )
    )


def previous_updates(
    organisation: Organisation, period: ReportingPeriod
) -> dict[int, CommitmentUpdate]:
    """Last quarter's submitted (or accepted) update per commitment, for "last quarter" columns."""
    previous = previous_period(period)
    if previous is None:
        return {}
    rows = db.session.scalars(
        select(CommitmentUpdate)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .where(
            Return.organisation_id == organisation.id,
            Return.period_id == previous.id,
            Return.state.in_([ReturnState.SUBMITTED, ReturnState.ACCEPTED]),
        )
    )
    return {row.commitment_id: row for row in rows}


@dataclass
class Task:
    commitment: Commitment
    update: CommitmentUpdate | None
    previous: CommitmentUpdate | None

    @property
    def state(self) -> str:
        if self.update is None:
            return "not_started"
        if self.no_change_outdated:
            return "check_again"
        return "completed" if self.update.complete else "in_progress"

    @property
    def no_change_outdated(self) -> bool:
        """ "No change" was chosen, and last quarter's answer has changed (or been sent back)
        since: the copy no longer says what last quarter does (``no_change_holds``)."""
        update = self.update
        if update is None or not update.no_change or update.status is None:
            return False
        answer = CarriedForward(
            status=DeliveryStatus(update.status),
            progress_value=update.progress_value,
            narrative=update.narrative,
            evidence_url=update.evidence_url,
            risks=update.risks,
            unchanged_quarters=update.unchanged_quarters,
        )
        return not no_change_holds(answer, _as_previous(self.previous))


@dataclass
class TaskGroup:
    priority: Priority | None
    tasks: list[Task] = field(default_factory=list)


@dataclass
class ReturnView:
    organisation: Organisation
    period: ReportingPeriod
    return_: Return | None
    groups: list[TaskGroup]
    today: date

    @property
    def tasks(self) -> list[Task]:
        return [task for group in self.groups for task in group.tasks]

    @property
    def state(self) -> ReturnState:
        return self.return_.state if self.return_ else ReturnState.NOT_STARTED

    @property
    def deadline(self) -> date:
        if self.return_ and self.return_.extended_due_on:
            return max(self.period.due_on, self.return_.extended_due_on)
        return self.period.due_on

    @property
    def days_left(self) -> int:
        return (self.deadline - self.today).days

    @property
    def submitted_on(self) -> date | None:
        submitted = self.return_.submitted_at if self.return_ else None
        return submitted.date() if submitted else None

    @property
    def late(self) -> bool:
        if self.submitted_on:
            return was_late(self.period.due_on, self.submitted_on, extended_to=self.extended_to)
        return is_overdue(self.period.due_on, self.today, extended_to=self.extended_to)

    @property
    def extended_to(self) -> date | None:
        return self.return_.extended_due_on if self.return_ else None

    @property
    def window_open(self) -> bool:
        """Whether the window has opened (it may have closed since)."""
        return self.today >= self.period.opens_on

    @property
    def closes_on(self) -> date:
        """The last day the return can be changed: the window's close, or a later extension."""
        return window_closes_on(self.period, self.extended_to)

    @property
    def window_closed(self) -> bool:
        """Closed to this organisation: past the window and any extension it was granted.

        A return the programme team sent back stays open for the changes they asked for.
        """
        return self.today > self.closes_on and self.state != ReturnState.RETURNED

    @property
    def missed(self) -> bool:
        """The window closed with nothing submitted."""
        return self.window_closed and self.state in {ReturnState.NOT_STARTED, ReturnState.DRAFT}

    @property
    def editable(self) -> bool:
        return self.window_open and not self.window_closed and self.state in EDITABLE

    @property
    def completed_count(self) -> int:
        return sum(1 for task in self.tasks if task.state == "completed")

    @property
    def ready_to_submit(self) -> bool:
        return self.editable and bool(self.tasks) and self.completed_count == len(self.tasks)


def window_closes_on(period: ReportingPeriod, extended_to: date | None) -> date:
    """The last day a return can be changed: the window's close, or a later extension."""
    return max(period.closes_on, extended_to) if extended_to else period.closes_on


def return_view(organisation: Organisation, period: ReportingPeriod, today: date) -> ReturnView:
    """Everything the task list shows, in a fixed handful of queries."""
    return return_views([(organisation, period)], today)[0]


def task_view(
    organisation: Organisation, period: ReportingPeriod, commitment: Commitment, today: date
) -> tuple[ReturnView, Task | None]:
    """The return with only ``commitment``'s task read, and that task (None when the return
    does not report on it: a heading, or a commitment off the page or added later).

    The update form shows one commitment: reading the other tasks of a return of thirty made
    it the slowest of the lead's pages. The view's state, window and deadline are the whole
    return's; its tasks, counts and readiness are not, so it is for that one form only.
    """
    # The commitment is in hand: whether it is reported on needs no second read of it (one
    # retired after this quarter's window closed is still asked for: ``_reported_in``).
    removed = commitment.removed_from_page_at
    listed = not commitment.is_heading and (
        removed is None or removed.astimezone(UTC).date() > period.closes_on
    )
    view = return_views(
        [(organisation, period)],
        today,
        commitment_ids={commitment.id},
        reportable={organisation.id: [commitment] if listed else []},
    )[0]
    return view, next((t for t in view.tasks if t.commitment.id == commitment.id), None)


def return_views(
    wanted: Sequence[tuple[Organisation, ReportingPeriod]],
    today: date,
    *,
    commitment_ids: Collection[int] | None = None,
    reportable: dict[int, list[Commitment]] | None = None,
) -> list[ReturnView]:
    """``return_view`` for several organisations or periods at once, in the same few queries.

    A lead's start page lists each organisation they report for, and an organisation's returns
    page each period: both read every return with one query per kind of row, not per return.
    ``commitment_ids`` reads only those commitments' tasks (see ``task_view``); ``reportable``
    gives each organisation's reportable commitments among them when they are already read.
    """
    if not wanted:
        return []
    organisation_ids = {organisation.id for organisation, _ in wanted}
    period_ids = {period.id for _, period in wanted}
    returns = {
        (r.organisation_id, r.period_id): r
        for r in db.session.scalars(
            select(Return).where(
                Return.organisation_id.in_(organisation_ids), Return.period_id.in_(period_ids)
            )
        )
        if r.period_id in period_ids
    }
    updates: dict[int, dict[int, CommitmentUpdate]] = defaultdict(dict)
    if returns:
        for u in db.session.scalars(
            select(CommitmentUpdate)
            .where(
                CommitmentUpdate.return_id.in_([r.id for r in returns.values()]),
                _among(CommitmentUpdate.commitment_id, commitment_ids),
            )
            # The files of every update in one query: check-answers, review and submission
            # list them (the update form's one update: in the same query, by a join).
            .options(_files_loader(commitment_ids)(CommitmentUpdate.evidence_files))
        ).unique():
            updates[u.return_id][u.commitment_id] = u
    previous = _previous_updates_of(
        organisation_ids, [period for _, period in wanted], commitment_ids
    )
    # A quarter whose window has closed still counts commitments retired since
    # (``periods.counted_in``): its return, if still to be sent, asks for them too.
    closed = [p.closes_on for _, p in wanted if p.closes_on < today]
    on_record = (
        reportable
        if reportable is not None
        else _reportable_commitments_of(
            organisation_ids, commitment_ids, retired_after=min(closed, default=None)
        )
    )
    commitments = {
        organisation_id: [c for c in rows if c.removed_from_page_at is None]
        for organisation_id, rows in on_record.items()
    }
    retired = _retired_with_updates(commitments, updates)
    retired.update(
        (c.id, c) for rows in on_record.values() for c in rows if c.removed_from_page_at is not None
    )
    views = []
    for organisation, period in wanted:
        return_ = returns.get((organisation.id, period.id))
        found = updates.get(return_.id, {}) if return_ is not None else {}
        before = previous.get((organisation.id, period.id), {})
        groups: dict[int | None, TaskGroup] = {}
        for commitment in _reported_in(
            organisation.id, commitments.get(organisation.id, []), retired, period, return_, found
        ):
            key = commitment.primary_priority_id
            group = groups.setdefault(key, TaskGroup(priority=commitment.primary_priority))
            group.tasks.append(
                Task(commitment, found.get(commitment.id), before.get(commitment.id))
            )
        views.append(ReturnView(organisation, period, return_, list(groups.values()), today))
    return views


def _retired_with_updates(
    commitments: dict[int, list[Commitment]], updates: dict[int, dict[int, CommitmentUpdate]]
) -> dict[int, Commitment]:
    """Commitments retired since they were reported on, by id: their updates stay in the record."""
    listed = {c.id for rows in commitments.values() for c in rows}
    wanted = {cid for found in updates.values() for cid in found} - listed
    if not wanted:
        return {}
    return {
        c.id: c
        for c in db.session.scalars(
            select(Commitment)
            .where(Commitment.id.in_(wanted), Commitment.removed_from_page_at.is_not(None))
            .options(selectinload(Commitment.primary_priority))
        )
    }


def _reported_in(
    organisation_id: int,
    commitments: list[Commitment],
    retired: dict[int, Commitment],
    period: ReportingPeriod,
    return_: Return | None,
    found: dict[int, CommitmentUpdate],
) -> list[Commitment]:
    """The commitments a return reports on (DESIGN.md "A year of operation").

    One added during the year is reported on from the quarter it was added, never in an earlier
    return; one retired after the return was submitted stays in it with its update, and one
    retired after the quarter's window closed stays in a return not yet sent (that quarter
    counted it: ``periods.counted_in``).
    """
    rows = [c for c in commitments if c.reports_from is None or c.reports_from <= period.starts_on]
    submitted_at = return_.submitted_at if return_ is not None else None

    def still_in(c: Commitment) -> bool:
        removed = c.removed_from_page_at
        return removed is not None and (
            (submitted_at is not None and removed >= submitted_at)
            or removed.astimezone(UTC).date() > period.closes_on
        )

    if submitted_at is not None:
        rows += [retired[cid] for cid in found if cid in retired and still_in(retired[cid])]
    else:
        rows += [
            c
            for c in retired.values()
            if c.organisation_id == organisation_id
            and (c.reports_from is None or c.reports_from <= period.starts_on)
            and still_in(c)
        ]
    return rows


def reported_in_its_return() -> ColumnElement[bool]:
    """SQL: the update's commitment is one its return reports on (``_reported_in``), for a
    query that joins the update's ``Commitment``, ``Return`` and ``ReportingPeriod``.

    A draft kept for a commitment retired before the return went in, or for one that reports
    only from a later quarter, is no part of what was submitted: accepting the return neither
    publishes it nor takes its status.
    """
    return and_(
        or_(
            Commitment.reports_from.is_(None),
            Commitment.reports_from <= ReportingPeriod.starts_on,
        ),
        or_(
            Commitment.removed_from_page_at.is_(None),
            Return.submitted_at.is_(None),
            Commitment.removed_from_page_at >= Return.submitted_at,
            utc_date(Commitment.removed_from_page_at) > ReportingPeriod.closes_on,
        ),
    )


def _files_loader(commitment_ids: Collection[int] | None) -> Any:
    """How updates' evidence files are read: for a few commitments (the update form's one),
    joined to the updates' own query; for whole returns, in one query of their own (a join
    would repeat every update's columns once per file)."""
    return joinedload if commitment_ids is not None and len(commitment_ids) <= 3 else selectinload


def _among(column: Any, ids: Collection[int] | None) -> ColumnElement[bool]:
    """SQL: ``column`` is one of ``ids`` (anything when None)."""
    return true() if ids is None else column.in_(list(ids))


def _reportable_commitments_of(
    organisation_ids: set[int],
    commitment_ids: Collection[int] | None = None,
    *,
    retired_after: date | None = None,
) -> dict[int, list[Commitment]]:
    """``reportable_commitments`` of several organisations, in one query, in the same order;
    with ``retired_after``, those retired after that day as well (in the same statement)."""
    on_pledge = Commitment.removed_from_page_at.is_(None)
    found: dict[int, list[Commitment]] = defaultdict(list)
    for commitment in db.session.scalars(
        select(Commitment)
        .outerjoin(Priority, Priority.id == Commitment.primary_priority_id)
        .where(
            Commitment.organisation_id.in_(organisation_ids),
            Commitment.is_heading.is_(False),
            on_pledge
            if retired_after is None
            else or_(on_pledge, utc_date(Commitment.removed_from_page_at) > retired_after),
            _among(Commitment.id, commitment_ids),
        )
        .order_by(func.coalesce(Priority.position, 99), Commitment.position, Commitment.id)
        # The priority from the join the order needs already, not one more query.
        .options(contains_eager(Commitment.primary_priority))
    ):
        found[commitment.organisation_id].append(commitment)
    return found


def _previous_updates_of(
    organisation_ids: set[int],
    periods: Sequence[ReportingPeriod],
    commitment_ids: Collection[int] | None = None,
) -> dict[tuple[int, int], dict[int, CommitmentUpdate]]:
    """``previous_updates`` keyed by (organisation, period), for several at once."""
    quarters = {period.id: period.as_quarter.previous() for period in periods}
    rows: dict[tuple[int, Quarter], dict[int, CommitmentUpdate]] = defaultdict(dict)
    for row, organisation_id, year, number in db.session.execute(
        select(
            CommitmentUpdate, Return.organisation_id, ReportingPeriod.year, ReportingPeriod.quarter
        )
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .where(
            Return.organisation_id.in_(organisation_ids),
            or_(
                *(
                    and_(ReportingPeriod.year == q.year, ReportingPeriod.quarter == q.number)
                    for q in set(quarters.values())
                )
            ),
            Return.state.in_([ReturnState.SUBMITTED, ReturnState.ACCEPTED]),
            _among(CommitmentUpdate.commitment_id, commitment_ids),
        )
        # The review compares last quarter's evidence too: its files in the same breath.
        .options(_files_loader(commitment_ids)(CommitmentUpdate.evidence_files))
    ).unique():
        rows[(organisation_id, Quarter(year, number))][row.commitment_id] = row
    return {
        (organisation_id, period_id): rows.get((organisation_id, quarter), {})
        for organisation_id in organisation_ids
        for period_id, quarter in quarters.items()
    }


# Writing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateInput:
    status: DeliveryStatus | None
    progress_value: Decimal | None = None
    narrative: str | None = None
    evidence_url: str | None = None
    risks: str | None = None
    no_change: bool = False
    # For the reviewer only: never published, unlike the narrative once accepted.
    reviewer_note: str | None = None
    # Files to attach (already checked and stored), and ids of attached files to remove.
    files: tuple[StoredFile, ...] = ()
    remove_files: frozenset[int] = frozenset()


def lock_return(return_id: int) -> Return:
    """The return, read afresh and locked until the transaction ends (``SELECT … FOR UPDATE``).

    Saving an update and submitting both take this lock first, so one finishes before the
    other looks: a draft save cannot slip between a submit's completeness check and its change
    of state. SQLite has no row locks; its transactions take the database's write lock at
    BEGIN (tracker/__init__.py), which serialises them the same way.
    """
    return db.session.scalars(
        select(Return)
        .where(Return.id == return_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _editable_return(organisation: Organisation, period: ReportingPeriod, today: date) -> Return:
    if today < period.opens_on:
        raise ReturnError(f"This return opens on {period.opens_on:%-d %B %Y}")
    if not expects_return(organisation, period):
        raise ReturnError(f"{organisation.name} does not report for {period.label}")
    return_ = lock_return(return_for(organisation, period).id)
    if return_.state not in EDITABLE:
        raise ReturnError("This return has been submitted, so it cannot be changed")
    closes_on = window_closes_on(period, return_.extended_due_on)
    if today > closes_on and return_.state != ReturnState.RETURNED:
        raise ReturnError(
            f"The window for this return closed on {closes_on:%-d %B %Y}. "
            "Ask the programme team for an extension"
        )
    return return_


def problems_with(
    commitment: Commitment, data: UpdateInput, *, complete: bool = True, file_count: int = 0
) -> list[tuple[str, str]]:
    """What stops an update being saved, as (field, message) pairs.

    A complete update must meet every rule; a draft (``complete=False``) only has to be well
    formed. ``file_count`` is how many files the update would hold.
    """
    return [
        (problem.field, problem.message)
        for problem in check_update(
            status=data.status,
            narrative=data.narrative,
            progress_value=data.progress_value,
            has_numeric_target=commitment.target_value is not None,
            evidence_url=data.evidence_url,
            risks=data.risks,
            file_count=file_count,
            draft=not complete,
            reviewer_note=data.reviewer_note,
        )
    ]


def _as_previous(last: CommitmentUpdate | None) -> PreviousUpdate | None:
    """Last quarter's update as carrying forward reads it (None: nothing to carry)."""
    if last is None or last.status is None:
        return None
    return PreviousUpdate(
        status=last.status,
        progress_value=last.progress_value,
        narrative=last.narrative,
        evidence_url=last.evidence_url,
        risks=last.risks,
        unchanged_quarters=last.unchanged_quarters,
    )


def carried_forward(
    organisation: Organisation, period: ReportingPeriod, commitment: Commitment
) -> UpdateInput:
    """ "No change since last quarter": last quarter's words, carried into this one."""
    return no_change_from(previous_updates(organisation, period).get(commitment.id))


def no_change_from(last: CommitmentUpdate | None) -> UpdateInput:
    """ "No change since last quarter" from ``last``, last quarter's update already read."""
    carried = carry_forward(_as_previous(last))
    return UpdateInput(
        status=carried.status,
        progress_value=carried.progress_value,
        narrative=carried.narrative,
        evidence_url=carried.evidence_url,
        risks=carried.risks,
        no_change=True,
    )


def _snapshot(row: CommitmentUpdate) -> dict[str, object]:
    return {
        "status": row.status,
        "progress_value": row.progress_value,
        "narrative": row.narrative,
        "evidence_url": row.evidence_url,
        # None rather than [] without files, so a first save records only what it set.
        "evidence_files": [file.name for file in row.evidence_files] or None,
        "risks": row.risks,
        "reviewer_note": row.reviewer_note,
        "no_change": row.no_change,
        "complete": row.complete,
    }


def save_update(
    organisation: Organisation,
    period: ReportingPeriod,
    commitment: Commitment,
    data: UpdateInput,
    *,
    version: int | None,
    complete: bool,
    actor: User,
    today: date,
) -> CommitmentUpdate:
    """Save one commitment's update (a draft, or complete when every rule is met).

    ``version`` is the update's version the form was opened on (None for a first update); if
    someone saved since, nothing is written and ``StaleUpdate`` carries their version.
    ``data.files`` are attached (a file already attached, from a form sent twice, is not
    attached again) and ``data.remove_files`` removed; deleting a removed file from the store
    is left to the caller, after the commit.
    """
    return_ = _editable_return(organisation, period, today)
    row = db.session.scalar(
        select(CommitmentUpdate)
        .where(
            CommitmentUpdate.return_id == return_.id,
            CommitmentUpdate.commitment_id == commitment.id,
        )
        # As saved, not as this session first read it: the version check needs the latest.
        .execution_options(populate_existing=True)
    )
    if row is not None and row.version != version:
        raise StaleUpdate(row)
    created = row is None
    if created:
        row = CommitmentUpdate(return_id=return_.id, commitment_id=commitment.id)
    attached = (
        set(
            db.session.scalars(
                select(EvidenceFile.key).where(EvidenceFile.key.in_([f.key for f in data.files]))
            )
        )
        if data.files
        else set()
    )
    new_files = [file for file in data.files if file.key not in attached]
    kept = [file for file in row.evidence_files if file.id not in data.remove_files]
    problems = problems_with(
        commitment, data, complete=complete, file_count=len(kept) + len(new_files)
    )
    if problems:
        raise ReturnError(problems[0][1])
    before = {} if created else _snapshot(row)
    unchanged = 0
    if data.no_change:
        previous = previous_updates(organisation, period).get(commitment.id)
        unchanged = (previous.unchanged_quarters if previous else 0) + 1
    row.status = data.status
    row.progress_value = data.progress_value
    row.narrative = (data.narrative or "").strip() or None
    row.evidence_url = (data.evidence_url or "").strip() or None
    row.risks = (data.risks or "").strip() or None
    row.reviewer_note = (data.reviewer_note or "").strip() or None
    row.no_change = data.no_change
    row.unchanged_quarters = unchanged
    row.complete = complete
    if len(kept) != len(row.evidence_files) or new_files:
        row.evidence_files = kept + [
            EvidenceFile(
                key=file.key,
                name=file.name,
                content_type=file.content_type,
                size=file.size,
                uploaded_by_id=actor.id,
            )
            for file in new_files
        ]
        # A new version even when no column changed: a form opened before this change of files
        # is stale, so two saves cannot both attach or remove the same file.
        row.updated_at = datetime.now(UTC)
    has_evidence = row.has_evidence
    if row.evidence_grade != EvidenceGrade.VERIFIED or not has_evidence:
        row.evidence_grade = (
            EvidenceGrade.EVIDENCE_ATTACHED if has_evidence else EvidenceGrade.SELF_DECLARED
        )
        row.verified_at = row.verified_by_id = None
    row.updated_by_id = actor.id
    if created:
        try:
            # Added inside the savepoint: a clash with someone else's first update rolls back
            # to it, and this transaction carries on to tell the person.
            with db.session.begin_nested():
                db.session.add(row)
                db.session.flush()
        except IntegrityError:
            # Someone else made the first update of this commitment a moment ago.
            theirs = db.session.scalar(
                select(CommitmentUpdate).where(
                    CommitmentUpdate.return_id == return_.id,
                    CommitmentUpdate.commitment_id == commitment.id,
                )
            )
            raise StaleUpdate(theirs) from None
    else:
        db.session.flush()  # the version column refuses a save that raced another
    if return_.state == ReturnState.NOT_STARTED:
        return_.state = ReturnState.DRAFT
        db.session.flush()
    after = _snapshot(row)
    if before != after:
        audit.record(
            "saved update" if not created else "started update",
            "commitment_update",
            row.id,
            actor=actor,
            organisation_id=organisation.id,
            before={k: v for k, v in before.items() if before.get(k) != after.get(k)} or None,
            after={k: v for k, v in after.items() if before.get(k) != after.get(k)},
        )
    return row


@dataclass(frozen=True)
class SubmitOutcome:
    submitted: bool
    message: str


def submit(
    organisation: Organisation, period: ReportingPeriod, *, actor: User, now: datetime
) -> SubmitOutcome:
    """Submit the return when every commitment has a complete update; exactly once.

    Completeness is checked with the return locked (``lock_return``) and its updates read
    afresh, so a draft saved at the same moment is either in before the check or refused after.
    """
    found = find_return(organisation, period)
    if found is not None:
        lock_return(found.id)
        _reread_updates(found.id)
    view = return_view(organisation, period, now.date())
    if view.state in {ReturnState.SUBMITTED, ReturnState.ACCEPTED}:
        return SubmitOutcome(False, "This return has already been submitted")
    if view.window_closed:
        return SubmitOutcome(
            False,
            f"The window for this return closed on {view.closes_on:%-d %B %Y}. "
            "Ask the programme team for an extension",
        )
    outdated = sum(1 for task in view.tasks if task.no_change_outdated)
    if outdated:
        return SubmitOutcome(
            False,
            f"Last quarter's answer changed after you chose “no change” for {outdated} "
            f"commitment{'s' if outdated != 1 else ''}: check {'them' if outdated != 1 else 'it'}"
            " again",
        )
    if not view.ready_to_submit:
        missing = len(view.tasks) - view.completed_count
        return SubmitOutcome(
            False, f"Complete the {missing} commitment{'s' if missing != 1 else ''} still to do"
        )
    return_ = view.return_
    assert return_ is not None
    # One conditional UPDATE: whoever changes the state first wins; everyone else is told.
    result = db.session.execute(
        update(Return)
        .where(Return.id == return_.id, Return.state.in_([ReturnState.DRAFT, ReturnState.RETURNED]))
        .values(
            state=ReturnState.SUBMITTED,
            # A return sent back and submitted again keeps its first submission time: the
            # deadline was met (or missed) then, and fixing it later is not lateness.
            submitted_at=func.coalesce(Return.submitted_at, now),
            submitted_by_id=actor.id,
            version=Return.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(return_)
        return SubmitOutcome(False, "This return has already been submitted")
    tallies.returns_changed([return_.period_id])  # an UPDATE the flush does not see
    db.session.refresh(return_)
    _fix_reported_targets(view.tasks)
    add_event(
        return_,
        ReturnEventKind.SUBMITTED,
        actor=actor,
        now=now,
        data=submission_snapshot(view.tasks),
    )
    audit.record(
        "submitted",
        "return",
        return_.id,
        actor=actor,
        organisation_id=organisation.id,
        after={"period": period.slug, "late": view.late},
    )
    return_emails.submitted(return_, actor=actor, now=now)
    return SubmitOutcome(True, "Return submitted")


def _reread_updates(return_id: int) -> None:
    """Load a return's updates as saved now, over any copies this session read before."""
    db.session.scalars(
        select(CommitmentUpdate)
        .where(CommitmentUpdate.return_id == return_id)
        .execution_options(populate_existing=True)
    ).all()


def _fix_reported_targets(tasks: Sequence[Task]) -> None:
    """Each update keeps the target it was submitted against (a later move must not rewrite it)."""
    for task in tasks:
        if task.update is None:
            continue
        commitment = task.commitment
        task.update.reported_target_value = commitment.target_value
        task.update.reported_baseline_value = commitment.baseline_value
        task.update.reported_direction = commitment.direction
        task.update.reported_unit = commitment.unit
        task.update.reported_target_date = commitment.target_date
    db.session.flush()


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return f"{value.normalize() + 0:f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def update_snapshot(
    update: CommitmentUpdate | None, commitment: Commitment, *, as_reported: bool = False
) -> dict[str, Any]:
    """One commitment's answer and its target, as plain JSON values (for history and diffs).

    ``as_reported`` takes the target the update was submitted against rather than today's.
    """
    if as_reported and update is not None:
        target = {
            "value": _text(update.reported_target_value),
            "baseline": _text(update.reported_baseline_value),
            "direction": _text(update.reported_direction),
            "unit": update.reported_unit,
            "due": _text(update.reported_target_date),
        }
    else:
        target = {
            "value": _text(commitment.target_value),
            "baseline": _text(commitment.baseline_value),
            "direction": _text(commitment.direction),
            "unit": commitment.unit,
            "due": _text(commitment.target_date),
        }
    return {
        "status": _text(update.status) if update else None,
        "progress_value": _text(update.progress_value) if update else None,
        "narrative": update.narrative if update else None,
        "evidence_url": update.evidence_url if update else None,
        "evidence_files": evidence_file_names(update) if update else [],
        "risks": update.risks if update else None,
        "reviewer_note": update.reviewer_note if update else None,
        "no_change": bool(update and update.no_change),
        "target": target,
    }


def evidence_file_names(update: CommitmentUpdate) -> list[str]:
    """The names of the files attached to an update as evidence."""
    return [file.name for file in update.evidence_files]


def submission_snapshot(tasks: Sequence[Task]) -> dict[str, Any]:
    """What a submission sent: every commitment's answer, keyed by commitment id."""
    return {
        "updates": {
            str(task.commitment.id): update_snapshot(task.update, task.commitment) for task in tasks
        }
    }


def add_event(
    return_: Return,
    kind: ReturnEventKind,
    *,
    actor: User | None,
    now: datetime,
    comment: str | None = None,
    data: dict[str, Any] | None = None,
) -> ReturnEvent:
    event = ReturnEvent(
        return_id=return_.id,
        kind=kind,
        occurred_at=now,
        actor_id=actor.id if actor else None,
        comment=comment,
        data=data,
    )
    db.session.add(event)
    db.session.flush()
    return event


def _review(
    return_: Return,
    state: ReturnState,
    *,
    version: int,
    actor: User,
    now: datetime,
    comment: str | None,
) -> bool:
    """Move a submitted return to ``state``, if it is still the version the reviewer read.

    One conditional UPDATE: of two decisions on one submission the first wins, and a decision
    made on a page opened before the return was sent back and submitted again changes nothing
    (``StaleReview``). False: the return is no longer waiting for review.
    """
    result = db.session.execute(
        update(Return)
        .where(
            Return.id == return_.id,
            Return.state == ReturnState.SUBMITTED,
            Return.version == version,
        )
        .values(
            state=state,
            reviewed_at=now,
            reviewed_by_id=actor.id,
            review_comment=comment,
            version=Return.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        tallies.returns_changed([return_.period_id])  # an UPDATE the flush does not see
    db.session.refresh(return_)
    if result.rowcount != 1 and return_.state == ReturnState.SUBMITTED:
        raise StaleReview(return_)
    return result.rowcount == 1


def accept(return_: Return, *, version: int, actor: User, now: datetime) -> bool:
    """Accept the submitted return at ``version``, the one the admin read: each commitment's
    current status becomes its update's.

    Not while a "no change" in it no longer repeats last quarter's answer (corrected since):
    accepted, the newer quarter's stale copy would become the status (``ReturnError``).
    """
    if return_.version == version and return_.state == ReturnState.SUBMITTED:
        view = return_view(return_.organisation, return_.period, now.date())
        outdated = sum(1 for task in view.tasks if task.no_change_outdated)
        if outdated:
            several = outdated != 1
            raise ReturnError(
                f"Last quarter's answer changed after this return chose “no change” for "
                f"{outdated} commitment{'s' if several else ''}: send it back so "
                f"{return_.organisation.name} can check {'them' if several else 'it'} again"
            )
    if not _review(
        return_, ReturnState.ACCEPTED, version=version, actor=actor, now=now, comment=None
    ):
        return False
    newer = _has_newer_accepted(return_)
    for row in db.session.scalars(
        select(CommitmentUpdate)
        .join(CommitmentUpdate.commitment)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .where(CommitmentUpdate.return_id == return_.id, reported_in_its_return())
        .options(contains_eager(CommitmentUpdate.commitment))
    ):
        # An older quarter accepted late never overrides a newer accepted status.
        if row.status is not None and row.commitment_id not in newer:
            row.commitment.current_status = row.status
    db.session.flush()
    add_event(return_, ReturnEventKind.ACCEPTED, actor=actor, now=now)
    audit.record(
        "accepted", "return", return_.id, actor=actor, organisation_id=return_.organisation_id
    )
    return_emails.accepted(return_, actor=actor, now=now)
    return True


def _has_newer_accepted(return_: Return) -> set[int]:
    period = return_.period
    newer = (
        select(CommitmentUpdate.commitment_id)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .where(
            Return.organisation_id == return_.organisation_id,
            Return.state == ReturnState.ACCEPTED,
            Return.id != return_.id,
            (ReportingPeriod.year * 10 + ReportingPeriod.quarter)
            > period.year * 10 + period.quarter,
        )
    )
    return set(db.session.scalars(newer))


def send_back(return_: Return, comment: str, *, version: int, actor: User, now: datetime) -> bool:
    """Return the submitted return at ``version``, the one the admin read, to its leads with a
    comment; they are emailed."""
    comment = comment.strip()
    if not comment:
        raise ReturnError("Say what needs changing")
    if not _review(
        return_, ReturnState.RETURNED, version=version, actor=actor, now=now, comment=comment
    ):
        return False
    add_event(return_, ReturnEventKind.SENT_BACK, actor=actor, now=now, comment=comment)
    organisation = return_.organisation
    return_emails.sent_back(return_, comment, actor=actor)
    audit.record(
        "sent back",
        "return",
        return_.id,
        actor=actor,
        organisation_id=organisation.id,
        after={"comment": comment},
    )
    return True


def verify_evidence(row: CommitmentUpdate, *, actor: User, now: datetime) -> None:
    """An admin confirms the evidence: the update's grade becomes verified."""
    if not row.has_evidence:
        raise ReturnError("There is no evidence to verify")
    row.evidence_grade = EvidenceGrade.VERIFIED
    row.verified_by_id = actor.id
    row.verified_at = now
    db.session.flush()
    audit.record(
        "verified evidence",
        "commitment_update",
        row.id,
        actor=actor,
        organisation_id=row.return_.organisation_id,
    )


# The review queue and reporting status ---------------------------------------------------------


@dataclass(frozen=True)
class QueuedOrganisation:
    """What the review queue shows of an organisation (a row, not an entity)."""

    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class QueuedReturn:
    """What the review queue shows of a return (a row, not an entity)."""

    state: ReturnState
    submitted_at: datetime | None


@dataclass
class QueueRow:
    organisation: QueuedOrganisation
    return_: QueuedReturn | None
    deadline: date
    late: bool
    days_overdue: int


def _in_states(states: Collection[ReturnState]) -> Any:
    """SQL: the outer-joined ``Return`` is in one of ``states`` (no return is not started)."""
    conditions = [Return.state.in_(list(states))]
    if ReturnState.NOT_STARTED in states:
        conditions.append(Return.id.is_(None))
    return or_(*conditions)


def review_queue(
    period: ReportingPeriod,
    today: date,
    *,
    states: Collection[ReturnState] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[QueueRow]:
    """The organisations that owe a return for the period, with their return, by name (one
    query): those whose return is in ``states`` (all by default), ``limit`` from ``offset``.

    Eight columns a row, not two entities: a region's queue is thousands of organisations, and
    the page shows one page of them.
    """
    query = (
        select(
            Organisation.id,
            Organisation.slug,
            Organisation.name,
            Return.id.label("return_id"),
            Return.state,
            Return.submitted_at,
            Return.extended_due_on,
        )
        .outerjoin(
            Return, and_(Return.organisation_id == Organisation.id, Return.period_id == period.id)
        )
        .where(expected_for(period))
        .order_by(func.lower(Organisation.name), Organisation.id)
        .offset(offset)
        .limit(limit)
    )
    if states is not None:
        query = query.where(_in_states(states))
    rows = []
    for row in db.session.execute(query):
        extended = row.extended_due_on
        submitted = row.submitted_at.date() if row.submitted_at else None
        late = (
            was_late(period.due_on, submitted, extended_to=extended)
            if submitted
            else is_overdue(period.due_on, today, extended_to=extended)
        )
        deadline = max(period.due_on, extended) if extended else period.due_on
        overdue = 0 if submitted else days_overdue(period.due_on, today, extended_to=extended)
        return_ = QueuedReturn(row.state, row.submitted_at) if row.return_id else None
        organisation = QueuedOrganisation(row.id, row.slug, row.name)
        rows.append(QueueRow(organisation, return_, deadline, late, overdue))
    return rows


def review_queue_size(period: ReportingPeriod, states: Collection[ReturnState] | None) -> int:
    """How many organisations ``review_queue`` lists with these ``states`` (one query)."""
    query = (
        select(func.count())
        .select_from(Organisation)
        .outerjoin(
            Return, and_(Return.organisation_id == Organisation.id, Return.period_id == period.id)
        )
        .where(expected_for(period))
    )
    if states is not None:
        query = query.where(_in_states(states))
    return int(db.session.scalar(query) or 0)


@dataclass(frozen=True)
class ReportingFacts:
    """An organisation's reporting status today, and its latest quarter with an accepted
    return (``(slug, year, quarter)``; None before its first is accepted)."""

    status: str
    last_accepted: tuple[str, int, int] | None = None


def reporting_statuses(
    today: date, organisation_ids: Collection[int] | None = None
) -> dict[int, str]:
    """Each organisation's reporting status today (active, late, non-communicating)."""
    return {
        organisation_id: facts.status
        for organisation_id, facts in reporting_facts(
            today, organisation_ids, last_accepted=False
        ).items()
    }


@dataclass(frozen=True)
class Pledged:
    """What decides the quarters an organisation owed a return for, in ``reporting_facts``:
    the earliest quarter a commitment still on its pledge is reported from (``FROM_THE_START``
    for one from the start; None with none on it), and each retired commitment's first quarter
    and when it was retired."""

    first_on_pledge: date | None
    retired: tuple[tuple[date | None, datetime], ...] = ()

    def counted(self, period: ReportingPeriod) -> bool:
        """Whether a commitment counted in ``period`` (``periods.counted_in``, in Python)."""
        if self.first_on_pledge is not None and self.first_on_pledge <= period.starts_on:
            return True
        return any(
            (first is None or first <= period.starts_on)
            and retired.astimezone(UTC).date() > period.closes_on
            for first, retired in self.retired
        )


def pledged_by(commitments: Sequence[Commitment]) -> Pledged:
    """``Pledged`` from an organisation's commitments already read (not lead-in headings)."""
    on_pledge = [c.reports_from or FROM_THE_START for c in commitments if not c.retired]
    return Pledged(
        min(on_pledge, default=None),
        tuple(
            (c.reports_from, c.removed_from_page_at)
            for c in commitments
            if c.removed_from_page_at is not None
        ),
    )


def reporting_facts(
    today: date,
    organisation_ids: Collection[int] | None = None,
    *,
    last_accepted: bool = True,
    joined: Mapping[int, tuple[date | None, Pledged]] | None = None,
) -> dict[int, ReportingFacts]:
    """Each organisation's reporting status today and latest accepted quarter (four queries,
    and a fifth for the few whose newest quarters leave their status open).

    Only quarters the organisation owed count towards the status: none before reporting began
    or before it joined, and none in which no commitment of its counted
    (``periods.counted_in``: a revised pledge keeps what was owed before; a quarter with
    nothing on the pledge owes nothing). Reads only the columns of each return that the rule
    needs, and only the newest ``RECENT_QUARTERS`` quarters' for
    everyone (older ones for those they do not settle), so the read does not grow with the
    years; ``organisation_ids`` narrows it to the organisations asked about. Without
    ``last_accepted`` the latest accepted quarters are not grouped (and each is None).
    ``joined`` gives, for the organisations asked about, what the third and fourth queries
    would read: each one's ``reports_from`` and its ``Pledged`` (``pledged_by`` its
    commitments), for a caller that has both in hand already.
    """
    returns_sql, with_latest_sql, organisations_sql, retired_sql = _facts_statements(
        organisation_ids is not None
    )
    ids = {} if organisation_ids is None else {"organisations": list(organisation_ids)}
    # Every quarter once, with whether it counts, newest first.
    every = db.session.execute(_periods_sql()).all()
    by_ordinal = {p.year * 4 + p.quarter: (p.slug, p.year, p.quarter) for p, _ in every}
    periods = sorted(
        (p for p, began in every if began and state_on(p, today) != PeriodState.UPCOMING),
        key=lambda p: p.as_quarter,
        reverse=True,
    )
    recent, older = periods[:RECENT_QUARTERS], periods[RECENT_QUARTERS:]

    reading = with_latest_sql if last_accepted else returns_sql
    found: dict[tuple[int, int], tuple[datetime | None, date | None]] = {}
    accepted: dict[int, tuple[str, int, int]] = {}

    def take(rows: Any) -> None:
        for organisation_id, period_id, submitted_at, extended_to, accepted_ordinal in rows:
            if period_id is None:
                accepted[organisation_id] = by_ordinal[accepted_ordinal]
            else:
                found[(organisation_id, period_id)] = (submitted_at, extended_to)

    take(db.session.execute(reading, {**ids, "periods": [p.id for p in recent]}))
    # Each period's own facts once, not once per organisation; a missing return's record is
    # the same for everyone.
    dated = {p.id: (p.starts_on, p.as_quarter, p.due_on, p.closes_on) for p in periods}
    nothing = {
        period_id: PeriodRecord(quarter, due_on, None, None, closes_on)
        for period_id, (_, quarter, due_on, closes_on) in dated.items()
    }

    def owes(organisation_id: int, period: ReportingPeriod) -> bool:
        reports_from, pledged = owing[organisation_id]
        had_joined = reports_from is None or period.starts_on >= reports_from
        return had_joined and pledged.counted(period)

    def history_of(organisation_id: int, chosen: Sequence[ReportingPeriod]) -> list[PeriodRecord]:
        history = []
        for period in chosen:
            if not owes(organisation_id, period):
                continue
            _, quarter, due_on, closes_on = dated[period.id]
            row = found.get((organisation_id, period.id))
            if row is None:
                history.append(nothing[period.id])
                continue
            submitted_at, extended_to = row
            history.append(
                PeriodRecord(
                    quarter=quarter,
                    due_on=due_on,
                    extended_to=extended_to,
                    submitted_on=submitted_at.date() if submitted_at else None,
                    closes_on=closes_on,
                )
            )
        return history

    owing: dict[int, tuple[date | None, Pledged]] = {}
    if joined is not None:
        owing.update(joined)
    else:
        retired: dict[int, list[tuple[date | None, datetime]]] = defaultdict(list)
        for organisation_id, first, removed in db.session.execute(retired_sql, ids):
            retired[organisation_id].append((first, removed))
        for organisation_id, reports_from, first in db.session.execute(organisations_sql, ids):
            owing[organisation_id] = (
                reports_from,
                Pledged(first, tuple(retired.get(organisation_id, ()))),
            )
    histories = {organisation_id: history_of(organisation_id, recent) for organisation_id in owing}
    # The few whose newest quarters leave their status open, and who owed older ones: their
    # older returns, in one more statement (domain.reporting_status.settled_by).
    deeper = [
        organisation_id
        for organisation_id, history in histories.items()
        if not settled_by(history, today) and any(owes(organisation_id, p) for p in older)
    ]
    if deeper:
        filtered_sql = _facts_statements(True)[0]
        take(
            db.session.execute(
                filtered_sql, {"organisations": deeper, "periods": [p.id for p in older]}
            )
        )
        for organisation_id in deeper:
            histories[organisation_id] = history_of(organisation_id, periods)
    return {
        organisation_id: ReportingFacts(
            reporting_status(history, today), accepted.get(organisation_id)
        )
        for organisation_id, history in histories.items()
    }


@cache
def _periods_sql() -> Select:
    """Every reporting period with whether reporting had begun by it (built once)."""
    return select(ReportingPeriod, reporting_began())


@cache
def _facts_statements(filtered: bool) -> tuple[Select, Any, Select, Select]:
    """``reporting_facts``'s SQL, built once (as the public pages' statements are): the returns
    of the quarters bound as ``periods``; the same with each organisation's latest accepted
    quarter, grouped in the database, after them in one statement; and when each organisation
    joined. ``filtered``: only the organisations bound as ``organisations``."""
    returns = select(
        Return.organisation_id,
        Return.period_id,
        Return.submitted_at,
        Return.extended_due_on,
        sa.cast(sa.null(), sa.Integer).label("accepted_ordinal"),
    ).where(Return.period_id.in_(bindparam("periods", expanding=True)))
    latest = (
        select(
            Return.organisation_id,
            sa.cast(sa.null(), sa.Integer),
            sa.cast(sa.null(), Return.submitted_at.type),
            sa.cast(sa.null(), Return.extended_due_on.type),
            func.max(ReportingPeriod.year * 4 + ReportingPeriod.quarter),
        )
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .where(Return.state == ReturnState.ACCEPTED)
        .group_by(Return.organisation_id)
    )
    # When its first commitment still on its pledge is reported on: the earliest quarter any is
    # (one from the start stands for all of them); none while nothing is on its pledge.
    first_commitment = (
        select(func.min(func.coalesce(Commitment.reports_from, FROM_THE_START)))
        .where(
            Commitment.organisation_id == Organisation.id,
            Commitment.is_heading.is_(False),
            Commitment.removed_from_page_at.is_(None),
        )
        .scalar_subquery()
    )
    organisations = select(Organisation.id, Organisation.reports_from, first_commitment)
    # Retired commitments, few: each counted in the quarters whose windows closed before then.
    retired = select(
        Commitment.organisation_id, Commitment.reports_from, Commitment.removed_from_page_at
    ).where(Commitment.is_heading.is_(False), Commitment.removed_from_page_at.is_not(None))
    if filtered:
        chosen = bindparam("organisations", expanding=True)
        returns = returns.where(Return.organisation_id.in_(chosen))
        latest = latest.where(Return.organisation_id.in_(chosen))
        organisations = organisations.where(Organisation.id.in_(chosen))
        retired = retired.where(Commitment.organisation_id.in_(chosen))
    return returns, sa.union_all(returns, latest), organisations, retired


def leads_by_organisation(ids: list[int]) -> dict[int, list[User]]:
    found: dict[int, list[User]] = defaultdict(list)
    for organisation in db.session.scalars(
        select(Organisation)
        .where(Organisation.id.in_(ids))
        .options(selectinload(Organisation.leads))
    ):
        found[organisation.id] = list(organisation.leads)
    return found


# Returns that will not come ----------------------------------------------------------------------


def record_missed(
    organisation: Organisation,
    period: ReportingPeriod,
    *,
    actor: User,
    now: datetime,
    today: date,
) -> bool:
    """Record that a return will not come: its window closed without it (audited).

    It leaves the admin's work list and still counts as missed. False when there is nothing to
    record: the return was sent, its window (or extension) is still open, or it is recorded.
    """
    return_ = return_for(organisation, period)
    if return_.submitted_at is not None or return_.missed_at is not None:
        return False
    if today <= window_closes_on(period, return_.extended_due_on):
        return False
    return_.missed_at = now
    return_.missed_by_id = actor.id
    db.session.flush()
    add_event(return_, ReturnEventKind.RECORDED_MISSED, actor=actor, now=now)
    audit.record(
        "recorded as missed",
        "return",
        return_.id,
        actor=actor,
        organisation_id=organisation.id,
        after={"period": period.slug},
    )
    return True


def record_all_missed(period: ReportingPeriod, *, actor: User, now: datetime, today: date) -> int:
    """``record_missed`` for every return of the period that the window closed without."""
    from tracker.services.figures import return_facts

    missed = [
        organisation_id
        for organisation_id, fact in return_facts([period]).get(period.id, {}).items()
        if fact.missed(today) and not fact.missed_recorded
    ]
    organisations = db.session.scalars(
        select(Organisation).where(Organisation.id.in_(missed)).order_by(Organisation.id)
    )
    return sum(
        record_missed(organisation, period, actor=actor, now=now, today=today)
        for organisation in organisations
    )


# A return's history, for its reviewer --------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One step of a return's history, as the reviewer reads it."""

    kind: ReturnEventKind
    occurred_at: datetime
    actor: str
    comment: str | None = None
    due_on: date | None = None
    snapshot: dict[str, Any] | None = None


@dataclass(frozen=True)
class CommitmentChanges:
    """What changed in one commitment's answer, and the goalposts moved since last quarter."""

    since_submission: list[Change] | None  # None: no earlier submission to compare with
    since_last_quarter: list[Change] | None  # None: nothing reported last quarter
    goalposts: list[GoalpostEntry]  # moved since last quarter's return, newest first


@dataclass
class ReviewHistory:
    entries: list[HistoryEntry]
    compared_with: HistoryEntry | None
    previous_label: str | None
    changes: dict[int, CommitmentChanges]

    @property
    def submissions(self) -> list[HistoryEntry]:
        return [e for e in self.entries if e.kind == ReturnEventKind.SUBMITTED]

    def of(self, commitment_id: int) -> CommitmentChanges | None:
        return self.changes.get(commitment_id)


def review_history(view: ReturnView) -> ReviewHistory:
    from tracker.services.commitments import goalpost_entries

    """Every submission, comment and decision on a return, and per commitment what changed
    since the submission before and since last quarter (four queries)."""
    return_ = view.return_
    events = (
        list(
            db.session.scalars(
                select(ReturnEvent)
                .where(ReturnEvent.return_id == return_.id)
                .order_by(ReturnEvent.occurred_at, ReturnEvent.id)
                .options(selectinload(ReturnEvent.actor))
            )
        )
        if return_ is not None
        else []
    )
    entries = [
        HistoryEntry(
            kind=event.kind,
            occurred_at=event.occurred_at,
            actor=event.actor.name if event.actor else "Someone whose account was removed",
            comment=event.comment,
            due_on=date.fromisoformat(event.data["due_on"])
            if event.data and event.data.get("due_on")
            else None,
            snapshot=event.data if event.kind == ReturnEventKind.SUBMITTED else None,
        )
        for event in events
    ]
    submissions = [e for e in entries if e.kind == ReturnEventKind.SUBMITTED]
    # Sent: compare with the submission before the latest. Back with the organisation: with
    # the latest, which the reviewer last saw.
    sent = view.state in {ReturnState.SUBMITTED, ReturnState.ACCEPTED}
    earlier = submissions[:-1] if sent else submissions
    compared = earlier[-1] if earlier else None
    before = (compared.snapshot or {}).get("updates") if compared else None

    previous = previous_period(view.period)
    previous_return = find_return(view.organisation, previous) if previous else None
    since = previous_return.submitted_at if previous_return else None
    moved: dict[int, list[TargetChange]] = defaultdict(list)
    if since is not None:
        for change in db.session.scalars(
            select(TargetChange)
            .where(
                TargetChange.commitment_id.in_([t.commitment.id for t in view.tasks]),
                TargetChange.changed_at > since,
            )
            .order_by(TargetChange.changed_at, TargetChange.id)
            .options(selectinload(TargetChange.changed_by))
        ):
            moved[change.commitment_id].append(change)

    changes = {}
    for task in view.tasks:
        now = update_snapshot(task.update, task.commitment, as_reported=sent)
        key = str(task.commitment.id)
        changes[task.commitment.id] = CommitmentChanges(
            since_submission=(
                changes_between(before[key], now) if before is not None and key in before else None
            ),
            since_last_quarter=(
                changes_between(
                    update_snapshot(task.previous, task.commitment, as_reported=True), now
                )
                if task.previous is not None
                else None
            ),
            goalposts=goalpost_entries(moved.get(task.commitment.id, [])),
        )
    return ReviewHistory(
        entries=entries,
        compared_with=compared,
        previous_label=previous.label if previous else None,
        changes=changes,
    )


# A lead's start page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OwedReturn:
    """A return a lead still owes: its task list, and where it stands."""

    view: ReturnView
    facts: ReturnFacts

    @property
    def overdue(self) -> bool:
        return self.facts.overdue(self.view.today)

    @property
    def days_overdue(self) -> int:
        return self.facts.days_overdue(self.view.today)

    def urgency(self) -> tuple[object, ...]:
        """Overdue and still sendable first, then sent back, then those whose window closed
        (an extension needed), then the rest by deadline; the longest overdue first."""
        if self.view.missed:
            group = 2
        elif self.overdue:
            group = 0
        elif self.view.state == ReturnState.RETURNED:
            group = 1
        else:
            group = 3
        return (
            group,
            -self.days_overdue,
            self.facts.deadline,
            self.view.organisation.name.lower(),
        )


@dataclass
class LeadReturns:
    owed: list[OwedReturn]  # overdue first, the longest overdue first
    sent: list[ReturnView]  # this quarter's returns already in
    current: ReportingPeriod | None
    next_period: ReportingPeriod | None  # the next window to open

    @property
    def overdue(self) -> list[OwedReturn]:
        return [item for item in self.owed if item.overdue]

    @property
    def closed(self) -> list[OwedReturn]:
        """Owed, but their window has closed: only an extension lets them be sent."""
        return [item for item in self.owed if item.view.missed]


def lead_returns(organisations: Sequence[Organisation], today: date) -> LeadReturns:
    """Every return the lead's organisations still owe, in any quarter, overdue ones first.

    A return is owed from the day its window opens until it is submitted; one sent back is owed
    again. A return whose window closed without it stays, saying whom to ask for an extension,
    until an admin records it as missed.
    """
    from tracker.domain.worklist import Standing
    from tracker.services.figures import return_facts
    from tracker.services.periods import all_periods, current_period

    periods = all_periods(newest_first=False)
    opened = [p for p in periods if p.opens_on <= today]
    upcoming = [p for p in periods if p.opens_on > today]
    current = current_period(today)
    by_id = {organisation.id: organisation for organisation in organisations}
    facts = return_facts(opened, list(by_id)) if by_id else {}
    owed_pairs, sent_pairs = [], []
    for period in opened:
        for organisation_id, fact in facts.get(period.id, {}).items():
            if fact.received:
                if current is not None and period.id == current.id:
                    sent_pairs.append((by_id[organisation_id], period, fact))
            elif not (fact.missed_recorded and fact.standing != Standing.SENT_BACK):
                owed_pairs.append((by_id[organisation_id], period, fact))
    views = return_views([(o, p) for o, p, _ in owed_pairs + sent_pairs], today)
    owed = [
        OwedReturn(view, fact)
        for view, (_, _, fact) in zip(views[: len(owed_pairs)], owed_pairs, strict=True)
    ]
    owed.sort(key=OwedReturn.urgency)
    return LeadReturns(
        owed=owed,
        sent=views[len(owed_pairs) :],
        current=current,
        next_period=upcoming[0] if upcoming else None,
    )


def programme_contacts(limit: int = 3) -> list[User]:
    """Whom a lead should ask about a return (an extension, a question): active admins."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == Role.ADMIN, User.active.is_(True))
            .order_by(func.lower(User.name), User.id)
            .limit(limit)
        )
    )
