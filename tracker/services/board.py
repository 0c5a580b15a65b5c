"""The board summary: aggregate queries, frozen snapshots, rebuilds and publishing.

A summary is built by a fixed handful of grouped SQL queries whatever the number of
organisations or commitments (never one per commitment), shaped by ``domain.summary`` and stored
as a ``BoardSummary`` revision. Pages, the PDF pack and the CSV read the stored ``data`` only,
so later edits never change what the board saw. A rebuild adds a revision, with a reason.
Services flush; the caller commits.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, render_template, url_for
from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.orm import aliased, defer

from tracker.domain import summary as shape
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, PeriodState, ReturnState, Role
from tracker.domain.goalposts import LABELS as GOALPOST_LABELS
from tracker.domain.smart import SHORT_TITLE
from tracker.domain.updates import FINAL_STATUSES
from tracker.extensions import db
from tracker.mail import address_problem
from tracker.models import (
    BoardSummary,
    Commitment,
    CommitmentUpdate,
    Organisation,
    Priority,
    ReportingPeriod,
    Return,
    TargetChange,
    Theme,
    User,
)
from tracker.models.pledge import commitment_themes
from tracker.services import audit
from tracker.services.figures import commitment_figures
from tracker.services.periods import counted_in, expected_for, reporting_began, state_on


class SummaryError(ValueError):
    """A summary cannot be built or published that way; the message says why."""


# Building --------------------------------------------------------------------------------------


def _ordinal(period: Any) -> ColumnElement[int]:
    """Quarters as consecutive integers, so "the quarter before" is ordinal − 1."""
    return period.year * 4 + period.quarter


def _ordinal_of(quarter: Quarter) -> int:
    return quarter.year * 4 + quarter.number


def _info(period: ReportingPeriod) -> shape.PeriodInfo:
    return shape.PeriodInfo(
        slug=period.slug,
        label=period.label,
        starts_on=period.starts_on,
        ends_on=period.ends_on,
        due_on=period.due_on,
        closes_on=period.closes_on,
    )


def _reportable(period: ReportingPeriod) -> ColumnElement[bool]:
    """The commitments a quarter's summary counts: those that counted in that quarter
    (``periods.counted_in``), so a rebuild of an earlier quarter keeps one retired since and
    leaves out one added later."""
    return and_(Commitment.is_heading.is_(False), counted_in(period.starts_on, period.closes_on))


# Each reportable commitment's status for the quarter being summarised: made once per build by
# one INSERT … SELECT, then grouped several ways. A temporary table is private to the connection
# and goes with the transaction, so builds on other connections never see each other's rows.
BOARD_ROWS = sa.Table(
    "board_summary_rows",
    sa.MetaData(),
    sa.Column("commitment_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("organisation_id", sa.Integer),
    sa.Column("priority_id", sa.Integer),
    sa.Column("status", sa.String(32)),
    sa.Column("previous_status", sa.String(32)),
    sa.Column("reported", sa.Boolean),
    sa.Column("stalled", sa.Boolean),
    # The quarter (as an ordinal) of the accepted update the status comes from.
    sa.Column("latest_ordinal", sa.Integer),
    # The status (as its index in shape.STATUSES) at the end of each of the trend's quarters,
    # oldest first; NULL when the commitment had no accepted update yet.
    *(sa.Column(f"t{i}", sa.Integer) for i in range(shape.TREND_QUARTERS)),
    prefixes=["TEMPORARY"],
)

# Bits per quarter when a commitment's statuses in the trend's quarters are packed in one
# integer: the status index + 1 (1 to 6), 0 for a quarter with no accepted update.
_SLOT_BITS = 3


def _accepted_rows(ordinal: int) -> Any:
    """Every accepted update with a status up to this quarter: its quarter (``ord``), its
    status as an index (``code``), and its place in the commitment's history (``rn`` 1 for
    the latest, 2 for the one before…).

    Read from ix_commitment_updates_commitment_id_period_ordinal alone, in its order: the
    quarter is on the update, so nothing is joined, and the index keeps each commitment's
    updates newest first, so nothing is sorted; the few returns not accepted are left out by a
    hashed list. A commitment has at most one update a
    quarter (one return per organisation and quarter, one update per commitment and return).
    """
    code = case(
        *((CommitmentUpdate.status == status, index) for index, status in enumerate(shape.STATUSES))
    )
    not_accepted = select(Return.id).where(Return.state != ReturnState.ACCEPTED)
    return select(
        CommitmentUpdate.commitment_id,
        CommitmentUpdate.progress_value,
        CommitmentUpdate.no_change,
        CommitmentUpdate.period_ordinal.label("ord"),
        code.label("code"),
        func.row_number()
        .over(
            partition_by=CommitmentUpdate.commitment_id,
            order_by=CommitmentUpdate.period_ordinal.desc(),
        )
        .label("rn"),
    ).where(
        CommitmentUpdate.status.is_not(None),
        CommitmentUpdate.period_ordinal <= ordinal,
        CommitmentUpdate.return_id.not_in(not_accepted),
    )


def _status_rows(period: ReportingPeriod, ordinal: int) -> Any:
    """Each reportable commitment's status now and last quarter, from accepted updates.

    One row per commitment, made inside the database by one grouping of its accepted updates,
    with integer aggregates only: the latest (quarter × 10 + status index is largest for it),
    the three latest statuses and figures (whether it has stalled), and its statuses in the
    trend's quarters packed into one integer, then unpacked into the status at each quarter's
    end.
    """
    ranked = _accepted_rows(ordinal).cte("ranked")
    first_trend = ordinal - shape.TREND_QUARTERS + 1
    packed = ranked.c.ord * 10 + ranked.c.code

    def nth(column: Any, n: int) -> Any:
        return func.max(column).filter(ranked.c.rn == n)

    latest = (
        select(
            ranked.c.commitment_id,
            func.max(packed).label("top"),
            func.sum((ranked.c.code + 1).bitwise_lshift(_SLOT_BITS * (ranked.c.ord - first_trend)))
            .filter(ranked.c.ord >= first_trend)
            .label("slots"),
            func.max(packed).filter(ranked.c.ord < first_trend).label("before"),
            nth(ranked.c.code, 2).label("c2"),
            nth(ranked.c.code, 3).label("c3"),
            nth(ranked.c.progress_value, 1).label("p1"),
            nth(ranked.c.progress_value, 2).label("p2"),
            nth(ranked.c.progress_value, 3).label("p3"),
            func.count().filter(and_(ranked.c.rn <= 2, ranked.c.no_change)).label("unchanged"),
            func.count().label("n"),
        )
        .group_by(ranked.c.commitment_id)
        .cte("latest")
    )

    def slot(i: int) -> Any:
        return latest.c.slots.bitwise_rshift(_SLOT_BITS * i).bitwise_and(7)

    def status_at(i: int) -> Any:
        # The status at the end of the trend's i-th quarter: that of the latest quarter up to
        # it with an accepted update, or of the last one before the trend began.
        return case(
            *((slot(j) > 0, slot(j) - 1) for j in range(i, -1, -1)),
            else_=latest.c.before % 10,
        )

    def name(code: Any) -> Any:
        return case(*((code == index, status) for index, status in enumerate(shape.STATUSES)))

    not_started = literal(DeliveryStatus.NOT_STARTED.value)
    s1 = latest.c.top % 10
    final = sorted(shape.STATUSES.index(status) for status in FINAL_STATUSES)
    not_started_code = shape.STATUSES.index(DeliveryStatus.NOT_STARTED)
    same_three = and_(latest.c.n >= 3, latest.c.c2 == s1, latest.c.c3 == s1)
    # domain.updates.is_stalled, in SQL: the tests hold the two to the same answers.
    stalled = and_(
        latest.c.top.is_not(None),
        s1.not_in(final),
        or_(
            latest.c.unchanged == 2,
            and_(
                same_three,
                or_(
                    and_(
                        latest.c.p1.is_not(None),
                        latest.c.p1 == latest.c.p2,
                        latest.c.p2 == latest.c.p3,
                    ),
                    and_(
                        latest.c.p1.is_(None),
                        latest.c.p2.is_(None),
                        latest.c.p3.is_(None),
                        s1 == not_started_code,
                    ),
                ),
            ),
        ),
    )
    last = shape.TREND_QUARTERS - 1
    return (
        select(
            Commitment.id.label("commitment_id"),
            Commitment.organisation_id,
            Commitment.primary_priority_id.label("priority_id"),
            func.coalesce(name(s1), not_started).label("status"),
            # Last quarter's: the status at the end of the quarter before, whichever update it
            # came from (this quarter's latest is not one when nothing was accepted for it).
            func.coalesce(name(status_at(last - 1)), not_started).label("previous_status"),
            case((latest.c.top >= ordinal * 10, True), else_=False).label("reported"),
            case((stalled, True), else_=False).label("stalled"),
            (latest.c.top // 10).label("latest_ordinal"),
            *(status_at(i).label(f"t{i}") for i in range(last)),
            s1.label(f"t{last}"),
        )
        .select_from(Commitment)
        .outerjoin(latest, latest.c.commitment_id == Commitment.id)
        .where(_reportable(period))
    )


def _core(statement: Any) -> sa.CursorResult[Any]:
    """Run a Core statement on the session's connection: plain rows, without the ORM's
    per-row machinery (a fifth of a region's build went on it)."""
    return db.session.connection().execute(statement)


def _fill_board_rows(period: ReportingPeriod, ordinal: int) -> None:
    connection = db.session.connection()
    BOARD_ROWS.drop(connection, checkfirst=True)
    BOARD_ROWS.create(connection)
    connection.execute(
        BOARD_ROWS.insert().from_select(
            [c.name for c in BOARD_ROWS.c], _status_rows(period, ordinal)
        )
    )


@cache
def _label(ordinal: int | None) -> str | None:
    """The label of the quarter with this ordinal (year × 4 + quarter number)."""
    if not ordinal:
        return None
    year = (ordinal - 1) // 4
    return Quarter(year, ordinal - year * 4).label


def summary_inputs(period: ReportingPeriod, today: date) -> shape.SummaryInputs:
    """Everything a summary is made of, in a fixed number of grouped queries."""
    if db.session.get_bind().dialect.name == "postgresql":
        # When the planner sorts the accepted updates rather than read them in index order (a
        # freshly loaded table, not yet vacuumed), PostgreSQL's default 4 MB spills to disk on a
        # region of thousands of organisations. For this transaction only.
        db.session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
    quarter = period.as_quarter
    ordinal = _ordinal_of(quarter)
    period_ord = _ordinal(ReportingPeriod)
    trend_periods = list(
        db.session.scalars(
            select(ReportingPeriod)
            .where(
                period_ord <= ordinal,
                period_ord > ordinal - shape.TREND_QUARTERS,
                reporting_began(),
            )
            .order_by(period_ord)
        )
    )
    previous = next((p for p in trend_periods if p.as_quarter == quarter.previous()), None)
    priorities = [
        shape.PriorityInfo(p.id, p.code, p.name)
        for p in db.session.scalars(select(Priority).order_by(Priority.position, Priority.id))
    ]
    themes = [
        shape.ThemeInfo(t.id, t.slug, t.name)
        for t in db.session.scalars(select(Theme).order_by(Theme.name))
    ]

    _fill_board_rows(period, ordinal)
    board = BOARD_ROWS
    status_groups = [
        shape.StatusGroup(
            row.priority_id,
            row.status,
            row.previous_status,
            bool(row.reported),
            bool(row.stalled),
            row.n,
        )
        for row in _core(
            select(
                board.c.priority_id,
                board.c.status,
                board.c.previous_status,
                board.c.reported,
                board.c.stalled,
                func.count().label("n"),
            ).group_by(
                board.c.priority_id,
                board.c.status,
                board.c.previous_status,
                board.c.reported,
                board.c.stalled,
            )
        ).all()
    ]
    # Tens of thousands of rows on a region: built from each row's values in order.
    grid = [
        shape.GridCell(*row)
        for row in _core(
            select(
                board.c.organisation_id,
                board.c.priority_id,
                board.c.status,
                func.count().label("n"),
            ).group_by(board.c.organisation_id, board.c.priority_id, board.c.status)
        ).all()
    ]
    theme_groups = [
        shape.ThemeGroup(*row)
        for row in _core(
            select(
                commitment_themes.c.theme_id,
                board.c.organisation_id,
                board.c.status,
                func.count().label("n"),
            )
            .join(commitment_themes, commitment_themes.c.commitment_id == board.c.commitment_id)
            .group_by(commitment_themes.c.theme_id, board.c.organisation_id, board.c.status)
        ).all()
    ]
    named = or_(
        board.c.status.in_([DeliveryStatus.OFF_TRACK.value, DeliveryStatus.AT_RISK.value]),
        board.c.stalled,
        and_(
            board.c.status == DeliveryStatus.COMPLETED.value,
            board.c.previous_status != DeliveryStatus.COMPLETED.value,
        ),
    )
    # The narrative of the update the status comes from, the commitment's only one in that
    # quarter: looked up by the index on (commitment, quarter) for each named commitment, where
    # a join would hash every update.
    narrative = (
        select(CommitmentUpdate.narrative)
        .where(
            CommitmentUpdate.commitment_id == board.c.commitment_id,
            CommitmentUpdate.period_ordinal == board.c.latest_ordinal,
        )
        .scalar_subquery()
    )
    # Thousands of rows on a region: unpacked, as reading a Row's fields by name costs more.
    lines = [
        shape.CommitmentLine(
            id=commitment_id,
            title=title or original_text,
            organisation=organisation,
            organisation_slug=organisation_slug,
            priority_id=priority_id,
            status=status,
            previous_status=previous_status if previous is not None else status,
            stalled=bool(stalled),
            narrative=narrative,
            reported_in=_label(latest_ordinal),
        )
        for (
            commitment_id,
            priority_id,
            status,
            previous_status,
            stalled,
            latest_ordinal,
            narrative,
            title,
            original_text,
            organisation,
            organisation_slug,
        ) in _core(
            select(
                board.c.commitment_id,
                board.c.priority_id,
                board.c.status,
                board.c.previous_status,
                board.c.stalled,
                board.c.latest_ordinal,
                narrative,
                Commitment.title,
                Commitment.original_text,
                Organisation.name,
                Organisation.slug,
            )
            .join(Commitment, Commitment.id == board.c.commitment_id)
            .join(Organisation, Organisation.id == board.c.organisation_id)
            .where(named)
        ).all()
    ]
    smart_groups = _smart_groups(period)
    returns = _returns(period, previous)
    trend_groups = _trend_groups(
        ordinal, {_ordinal_of(p.as_quarter): p.slug for p in trend_periods}
    )
    BOARD_ROWS.drop(db.session.connection())
    goalposts = [
        shape.GoalpostChange(
            commitment_id=row.commitment_id,
            title=row.title or row.original_text,
            organisation=row.name,
            field_label=GOALPOST_LABELS.get(row.field, row.field),
            old=row.old_value,
            new=row.new_value,
            reason=row.reason,
        )
        for row in _core(
            select(
                TargetChange.commitment_id,
                TargetChange.field,
                TargetChange.old_value,
                TargetChange.new_value,
                TargetChange.reason,
                Commitment.title,
                Commitment.original_text,
                Organisation.name,
            )
            .join(Commitment, Commitment.id == TargetChange.commitment_id)
            .join(Organisation, Organisation.id == Commitment.organisation_id)
            .where(TargetChange.period_id == period.id)
            .order_by(func.lower(Organisation.name), TargetChange.changed_at, TargetChange.id)
        )
    ]
    return shape.SummaryInputs(
        period=_info(period),
        previous=_info(previous) if previous is not None else None,
        today=today,
        priorities=priorities,
        themes=themes,
        status_groups=status_groups,
        smart_groups=smart_groups,
        lines=lines,
        returns=returns,
        grid=grid,
        theme_groups=theme_groups,
        trend_periods=[_info(p) for p in trend_periods],
        trend_groups=trend_groups,
        goalposts=goalposts,
        pledges=commitment_figures().as_dict(),
    )


def _smart_groups(period: ReportingPeriod) -> list[shape.SmartGroup]:
    def filled(column: Any) -> ColumnElement[bool]:
        return func.length(func.trim(func.coalesce(column, ""))) > 0

    title_length = func.length(func.trim(func.coalesce(Commitment.title, "")))
    letters = {
        "S": and_(title_length > 0, title_length <= SHORT_TITLE),
        "M": and_(filled(Commitment.metric), Commitment.target_value.is_not(None)),
        "A": filled(Commitment.owner_name),
        "R": Commitment.primary_priority_id.is_not(None),
        "T": Commitment.target_date.is_not(None),
    }
    flags = [case((condition, 1), else_=0).label(letter) for letter, condition in letters.items()]
    rows = _core(
        select(Commitment.primary_priority_id, *flags, func.count().label("n"))
        .where(_reportable(period))
        .group_by(Commitment.primary_priority_id, *flags)
    )
    return [
        shape.SmartGroup(
            row.primary_priority_id,
            "".join(letter for letter in letters if getattr(row, letter)),
            row.n,
        )
        for row in rows
    ]


# Made once: SQLAlchemy works out each new alias's columns again, which cost a build more
# than reading the returns.
_THIS_RETURN = aliased(Return, name="this_return")
_LAST_RETURN = aliased(Return, name="last_return")


def _returns(
    period: ReportingPeriod, previous: ReportingPeriod | None
) -> list[shape.OrganisationReturn]:
    """Every organisation with something to report, with its returns for now and last quarter."""
    this, last = _THIS_RETURN, _LAST_RETURN
    query = (
        select(
            Organisation.id,
            Organisation.name,
            Organisation.slug,
            this.state,
            this.submitted_at,
            this.extended_due_on,
            last.submitted_at.label("previous_submitted_at"),
            last.extended_due_on.label("previous_extended_due_on"),
            (expected_for(previous) if previous is not None else sa.false()).label(
                "previous_expected"
            ),
        )
        .outerjoin(this, and_(this.organisation_id == Organisation.id, this.period_id == period.id))
        .outerjoin(
            last,
            and_(
                last.organisation_id == Organisation.id,
                last.period_id == (previous.id if previous is not None else -1),
            ),
        )
        # Owed as every page counts it: joined by then, with a commitment that counted then.
        .where(expected_for(period))
    )
    return [
        shape.OrganisationReturn(
            id=id_,
            name=name,
            slug=slug,
            state=state.value if state else None,
            submitted_on=submitted_at.date() if submitted_at else None,
            extended_to=extended_due_on,
            previous_submitted_on=previous_submitted_at.date() if previous_submitted_at else None,
            previous_extended_to=previous_extended_due_on,
            previous_expected=bool(previous_expected),
        )
        for (
            id_,
            name,
            slug,
            state,
            submitted_at,
            extended_due_on,
            previous_submitted_at,
            previous_extended_due_on,
            previous_expected,
        ) in _core(query).all()
    ]


def _trend_groups(ordinal: int, slugs: dict[int, str]) -> list[shape.TrendGroup]:
    """The status mix at the end of each recent quarter (``slugs``: ordinal → period slug),
    from the statuses the board rows hold for each of them: every quarter's count of every
    status in one pass over the rows (a grouping per quarter read them eight times, twice
    as long)."""
    first = ordinal - shape.TREND_QUARTERS + 1
    board = BOARD_ROWS
    cells = [
        (at, code, func.count().filter(board.c[f"t{at - first}"] == code))
        for at in sorted(slugs)
        for code in range(len(shape.STATUSES))
    ]
    if not cells:
        return []
    counts = _core(select(*(count for _, _, count in cells))).one()
    return [
        shape.TrendGroup(slugs[at], shape.STATUSES[code], n)
        for (at, code, _), n in zip(cells, counts, strict=True)
        if n
    ]


@contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a summary is built.

    A region's build makes hundreds of thousands of rows, dicts and lists, none of them in a
    reference cycle (reference counting frees them all); the collector, woken by that many
    allocations, spent over a third of the build's Python time walking the heap. It is paused
    for the build only, and resumed even when the build fails.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _next_revision(period: ReportingPeriod) -> int:
    latest = db.session.scalar(
        select(func.max(BoardSummary.revision)).where(BoardSummary.period_id == period.id)
    )
    return (latest or 0) + 1


def build_summary(
    period: ReportingPeriod,
    *,
    actor: User | None,
    reason: str | None = None,
    now: datetime | None = None,
) -> BoardSummary:
    """Build and store a new revision of the period's summary (a rebuild needs a reason)."""
    now = now or datetime.now(UTC)
    reason = (reason or "").strip() or None
    revision = _next_revision(period)
    if revision > 1 and reason is None:
        raise SummaryError(
            f"{period.label} already has a summary: give the reason for rebuilding it"
        )
    if state_on(period, now.date()) == PeriodState.UPCOMING:
        raise SummaryError(f"{period.label} has not opened yet: there is nothing to summarise")
    with _cycle_collection_paused():
        data = shape.shape_summary(summary_inputs(period, now.date()))
    summary = BoardSummary(
        period_id=period.id,
        revision=revision,
        reason=reason,
        built_at=now,
        built_by_id=actor.id if actor else None,
        data=data,
        page=shape.page_part(data),
    )
    db.session.add(summary)
    db.session.flush()
    audit.record(
        "built board summary" if revision == 1 else "rebuilt board summary",
        "board_summary",
        summary.id,
        actor=actor,
        after={"period": period.slug, "revision": revision, "reason": reason},
    )
    return summary


def ensure_summary(period: ReportingPeriod, *, now: datetime | None = None) -> BoardSummary | None:
    """Build revision 1 unless the period has a summary already (for the scheduler)."""
    if _next_revision(period) > 1:
        return None
    return build_summary(period, actor=None, now=now)


@dataclass(frozen=True)
class Publication:
    """What publishing did: the emails queued, and the board members it could not email."""

    queued: int = 0
    not_emailed: tuple[User, ...] = ()

    def warning(self) -> str | None:
        """For whoever published: who was not emailed, and how to put it right; None if all were."""
        if not self.not_emailed:
            return None
        people = ", ".join(f"{member.name} ({member.email})" for member in self.not_emailed)
        # Addresses cannot be edited: a new invitation is the way to a working one.
        return (
            f"Not emailed, because the email address on their account is not valid: {people}. "
            "Deactivate the account and invite them again with the right address."
        )


def publish_summary(
    summary: BoardSummary, *, actor: User | None, now: datetime | None = None
) -> Publication:
    """Publish a summary once and email each active board member.

    A member whose stored address the outbox refuses (one kept before accounts' addresses were
    checked) is skipped and named in the audit event, so the rest of the board still hears.
    """
    if summary.published_at is not None:
        return Publication()
    now = now or datetime.now(UTC)
    period = summary.period
    if state_on(period, now.date()) in {PeriodState.UPCOMING, PeriodState.OPEN}:
        raise SummaryError(
            f"{period.label}'s return window is still open: publish after it closes "
            f"on {period.closes_on:%-d %B %Y}"
        )
    summary.published_at = now
    period.state = PeriodState.PUBLISHED
    db.session.flush()
    queued = 0
    not_emailed = []
    members = db.session.scalars(
        select(User).where(User.role == Role.BOARD, User.active.is_(True)).order_by(User.id)
    ).all()
    with _request_context():
        link = current_app.config["PUBLIC_BASE_URL"] + url_for("board.period", period=period.slug)
        for member in members:
            if address_problem(member.email) is not None:
                not_emailed.append(member)
                continue
            queued += _queue_published(summary, member, link)
    after: dict[str, object] = {
        "period": period.slug,
        "revision": summary.revision,
        "emails": queued,
    }
    if not_emailed:
        after["not_emailed"] = [member.email for member in not_emailed]
    audit.record("published board summary", "board_summary", summary.id, actor=actor, after=after)
    return Publication(queued, tuple(not_emailed))


def _queue_published(summary: BoardSummary, member: User, link: str) -> int:
    from tracker.mail import queue_email, safe_header

    period = summary.period
    context = {"member": member, "period": period, "summary": summary, "link": link}
    notification = queue_email(
        kind="board_published",
        idempotency_key=f"board-published:{summary.id}:{member.id}",
        to_email=member.email,
        to_name=safe_header(member.name),
        subject=safe_header(f"The {period.label} board summary is ready"),
        text=render_template("emails/board_published.txt", **context),
        html=render_template("emails/board_published.html", **context),
        period_id=period.id,
        user_id=member.id,
    )
    return int(notification is not None)


def _request_context() -> AbstractContextManager[object]:
    """Emails are rendered like pages; a job or a command has no request, so it borrows one."""
    return nullcontext() if has_request_context() else current_app.test_request_context()


# Reading ---------------------------------------------------------------------------------------


def _visible(statement: Any, user: User) -> Any:
    """Admins see every revision; board members only published ones."""
    if user.role == Role.ADMIN:
        return statement
    return statement.where(BoardSummary.published_at.is_not(None))


def _page_only(statement: Any, page: bool) -> Any:
    """For the page: neither the whole document (megabytes on a region) nor its stored page
    part, which is read only when this worker has not rendered the summary yet."""
    if not page:
        return statement
    return statement.options(defer(BoardSummary.data))


def latest_summary(user: User, *, page: bool = False) -> BoardSummary | None:
    """The newest summary the user may read: the latest quarter, its latest revision."""
    return db.session.scalar(
        _page_only(
            _visible(
                select(BoardSummary)
                .join(ReportingPeriod, ReportingPeriod.id == BoardSummary.period_id)
                .order_by(_ordinal(ReportingPeriod).desc(), BoardSummary.revision.desc())
                .limit(1),
                user,
            ),
            page,
        )
    )


def summary_for(period: ReportingPeriod, user: User, *, page: bool = False) -> BoardSummary | None:
    """The period's latest revision the user may read (``page``: its page part, not data)."""
    return db.session.scalar(
        _page_only(
            _visible(
                select(BoardSummary)
                .where(BoardSummary.period_id == period.id)
                .order_by(BoardSummary.revision.desc())
                .limit(1),
                user,
            ),
            page,
        )
    )


def revisions(period: ReportingPeriod) -> list[BoardSummary]:
    """The period's revisions, newest first, without their data (megabytes each on a region)."""
    return list(
        db.session.scalars(
            select(BoardSummary)
            .where(BoardSummary.period_id == period.id)
            .order_by(BoardSummary.revision.desc())
            .options(defer(BoardSummary.data))
        )
    )


def summarised_periods(user: User) -> list[ReportingPeriod]:
    """Quarters with a summary the user may read, newest first."""
    ids = _visible(select(BoardSummary.period_id), user)
    return list(
        db.session.scalars(
            select(ReportingPeriod)
            .where(ReportingPeriod.id.in_(ids), reporting_began())
            .order_by(_ordinal(ReportingPeriod).desc())
        )
    )
