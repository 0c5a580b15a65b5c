"""Reminding and chasing: the ladder of emails about each organisation's quarterly return.

The domain (``tracker.domain.reminders``) says which rungs of the ladder are due on a day; this
module finds who to tell and queues the emails through the outbox, so that:

- each rung is dealt with once per organisation and period (``ReminderRecord``, unique), and
  each email once per recipient (the outbox's idempotency key) — run twice, or two schedulers
  at once, and nobody hears twice;
- a run late after downtime sends the newest rung once and records the older ones as
  superseded (catch-up);
- each organisation commits on its own, so a run that crashes half way keeps what it did and
  the next run finishes the rest;
- the admins' rung is one digest per admin listing every overdue organisation, queued in the
  same transaction as the rungs it covers.

Chasing is an admin's extra nudge on top of the ladder, through the same outbox: once per
organisation, lead and day, with the admin's own note, audited and shown on the organisation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TypeVar

from flask import current_app, render_template
from sqlalchemy import case, func, or_, select, true
from sqlalchemy.orm import selectinload

from tracker.domain.calendar import days_overdue
from tracker.domain.enums import ContactRole, ReminderOutcome, ReturnState, Role
from tracker.domain.reminders import LadderRules, ReminderKind, ReminderStep, ladder, steps_due
from tracker.extensions import db, insert_ignoring_conflicts, rows_kept_after_commit
from tracker.mail import absolute_url, queue_email, safe_header
from tracker.models import (
    AuditEvent,
    Commitment,
    CommitmentUpdate,
    Organisation,
    ReminderRecord,
    ReportingPeriod,
    Return,
    User,
)
from tracker.services import audit
from tracker.services.periods import counted_in, expected_for, reporting_began

# How many of the missing commitments an email names before saying "and N more".
MISSING_LISTED = 10
CHASE_NOTE_MAX = 1000
# Organisations whose reminders commit together.
COMMIT_EVERY = 100


@dataclass
class ReminderRun:
    """What one run of the reminder job did."""

    emails: int = 0
    organisations: set[int] = field(default_factory=set)
    rungs: Counter[str] = field(default_factory=Counter)
    digests: int = 0
    # Rung records not yet written: they go in one statement with the batch's commit.
    unwritten: list[dict[str, object]] = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        if not self.rungs:
            return "no reminders due"
        parts = [
            f"{self.emails} email{'s' if self.emails != 1 else ''} queued "
            f"about {len(self.organisations)} organisation"
            f"{'s' if len(self.organisations) != 1 else ''}"
        ]
        if self.digests:
            parts.append(f"{self.digests} admin digest{'s' if self.digests != 1 else ''}")
        if self.rungs[ReminderOutcome.SUPERSEDED]:
            parts.append(f"{self.rungs[ReminderOutcome.SUPERSEDED]} rung(s) skipped by catch-up")
        if self.rungs[ReminderOutcome.NO_RECIPIENTS]:
            parts.append(f"{self.rungs[ReminderOutcome.NO_RECIPIENTS]} rung(s) with nobody to tell")
        return "; ".join(parts)


@dataclass(frozen=True)
class Outstanding:
    """One organisation's return for a period, as a reminder describes it."""

    organisation: Organisation
    return_: Return | None
    deadline: date
    missing: list[str]
    total: int

    @property
    def state(self) -> ReturnState:
        return self.return_.state if self.return_ else ReturnState.NOT_STARTED

    @property
    def ever_submitted(self) -> bool:
        """Submitted at least once, whether waiting, accepted or sent back for changes.

        The work list and the figures judge a return by its first submission
        (``domain.worklist``): one sent back after it was in is not overdue, so the ladder, the
        digest and chasing leave it alone. Its leads had the reviewer's comment by email.
        """
        return self.return_ is not None and self.return_.submitted_at is not None

    def days_overdue(self, today: date) -> int:
        return 0 if self.ever_submitted else days_overdue(self.deadline, today)


# The job -------------------------------------------------------------------------------------


def send_reminders(today: date, rules: LadderRules) -> ReminderRun:
    """Queue every reminder due today for every live period (the daily reminder job)."""
    run = ReminderRun()
    for period in live_periods(today):
        _remind_for_period(period, today, rules, run)
    return run


def live_periods(today: date) -> list[ReportingPeriod]:
    """Periods whose window is open today, or that someone's extension keeps going."""
    latest_extension = (
        select(Return.period_id, func.max(Return.extended_due_on).label("latest"))
        .group_by(Return.period_id)
        .subquery()
    )
    rows = db.session.execute(
        select(ReportingPeriod, latest_extension.c.latest)
        .outerjoin(latest_extension, latest_extension.c.period_id == ReportingPeriod.id)
        .where(ReportingPeriod.opens_on <= today, reporting_began())
        .order_by(ReportingPeriod.opens_on)
    ).all()
    return [
        period
        for period, latest in rows
        if today <= max(period.closes_on, latest or period.closes_on)
    ]


def _remind_for_period(
    period: ReportingPeriod, today: date, rules: LadderRules, run: ReminderRun
) -> None:
    done = _rungs_done(period)
    escalate: list[tuple[Outstanding, ReminderStep]] = []
    with rows_kept_after_commit():
        for batch in _batches(outstanding(period), COMMIT_EVERY):
            for item in batch:
                _remind_one(item, period, today, rules, done, escalate, run)
            # A batch at a time: a crash keeps what was done, and the next run finishes it
            # (the outbox keys and rung records make the redone part send nothing twice).
            _write_records(run)
            db.session.commit()
        if escalate:
            _send_admin_digest(period, today, escalate, run)
            _write_records(run)
            db.session.commit()


def _remind_one(
    item: Outstanding,
    period: ReportingPeriod,
    today: date,
    rules: LadderRules,
    done: defaultdict[int, set[str]],
    escalate: list[tuple[Outstanding, ReminderStep]],
    run: ReminderRun,
) -> None:
    organisation = item.organisation
    steps = ladder(
        opens_on=period.opens_on,
        due_on=period.due_on,
        extended_to=item.return_.extended_due_on if item.return_ else None,
        closes_on=period.closes_on,
        rules=rules,
    )
    due = steps_due(
        ladder=steps,
        today=today,
        submitted=item.ever_submitted,
        already_sent=done[organisation.id],
        has_contact=bool(organisation.contacts),
        closes_on=max(period.closes_on, item.deadline),
    )
    for step in due.superseded:
        _record(organisation, period, step, ReminderOutcome.SUPERSEDED, 0, run)
    for step in due.send:
        if step.audience == "admins":
            escalate.append((item, step))
            continue
        sent = _send_rung(item, period, step, today, run)
        outcome = ReminderOutcome.SENT if sent else ReminderOutcome.NO_RECIPIENTS
        _record(organisation, period, step, outcome, sent, run)


T = TypeVar("T")


def _batches(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rungs_done(period: ReportingPeriod) -> defaultdict[int, set[str]]:
    done: defaultdict[int, set[str]] = defaultdict(set)
    for organisation_id, step in db.session.execute(
        select(ReminderRecord.organisation_id, ReminderRecord.step).where(
            ReminderRecord.period_id == period.id
        )
    ):
        done[organisation_id].add(step)
    return done


def _record(
    organisation: Organisation,
    period: ReportingPeriod,
    step: ReminderStep,
    outcome: ReminderOutcome,
    recipients: int,
    run: ReminderRun,
) -> None:
    """Note a rung as dealt with; ``_write_records`` writes it before the batch commits."""
    run.unwritten.append(
        {
            "organisation_id": organisation.id,
            "period_id": period.id,
            "step": step.key,
            "outcome": outcome.value,
            "recipients": recipients,
            "recorded_at": datetime.now(UTC),
        }
    )
    run.rungs[outcome] += 1


def _write_records(run: ReminderRun) -> None:
    """Write the noted rung records in one statement (one INSERT per rung cost more than the
    emails: 12.7 of 24 s of a catch-up run for 1,000 organisations under cProfile)."""
    if not run.unwritten:
        return
    db.session.execute(
        insert_ignoring_conflicts(
            ReminderRecord.__table__, index_elements=["organisation_id", "period_id", "step"]
        ),
        run.unwritten,
    )
    run.unwritten.clear()


# Who has what outstanding ----------------------------------------------------------------------


def outstanding(
    period: ReportingPeriod, organisation_ids: Collection[int] | None = None
) -> list[Outstanding]:
    """Organisations expected to report for the period (all, or those given), with what each
    return still lacks.

    Four queries whatever the number of organisations: organisations (with leads and contacts),
    returns, reportable commitments, and the complete updates already saved.
    """
    # What the return asks for: the commitments its quarter counted (``periods.counted_in``),
    # as its task list does: for a missed return reopened by an extension after the pledge
    # was revised, those on the pledge then, not now.
    reportable = (
        Commitment.is_heading.is_(False),
        counted_in(period.starts_on, period.closes_on),
    )

    def only(column):  # type: ignore[no-untyped-def]
        return true() if organisation_ids is None else column.in_(list(organisation_ids))

    organisations = db.session.scalars(
        select(Organisation)
        .where(expected_for(period), only(Organisation.id))
        .order_by(func.lower(Organisation.name))
        .options(selectinload(Organisation.leads), selectinload(Organisation.contacts))
    ).all()
    returns = {
        r.organisation_id: r
        for r in db.session.scalars(
            select(Return).where(Return.period_id == period.id, only(Return.organisation_id))
        )
    }
    done = set(
        db.session.scalars(
            select(CommitmentUpdate.commitment_id)
            .join(Return, Return.id == CommitmentUpdate.return_id)
            .where(
                Return.period_id == period.id,
                only(Return.organisation_id),
                CommitmentUpdate.complete.is_(True),
            )
        )
    )
    commitments: defaultdict[int, list[tuple[int, str]]] = defaultdict(list)
    for commitment_id, organisation_id, title in db.session.execute(
        select(
            Commitment.id,
            Commitment.organisation_id,
            func.coalesce(Commitment.title, Commitment.original_text),
        )
        .where(*reportable, only(Commitment.organisation_id))
        .order_by(Commitment.organisation_id, Commitment.position, Commitment.id)
    ):
        commitments[organisation_id].append((commitment_id, title))
    found = []
    for organisation in organisations:
        return_ = returns.get(organisation.id)
        extended = return_.extended_due_on if return_ else None
        deadline = max(period.due_on, extended) if extended else period.due_on
        mine = commitments[organisation.id]
        missing = [_short(title) for commitment_id, title in mine if commitment_id not in done]
        found.append(Outstanding(organisation, return_, deadline, missing, len(mine)))
    return found


# Emails ----------------------------------------------------------------------------------------


def _active_leads(organisation: Organisation) -> list[User]:
    return [lead for lead in organisation.leads if lead.active]


def _send_rung(
    item: Outstanding, period: ReportingPeriod, step: ReminderStep, today: date, run: ReminderRun
) -> int:
    """Queue one rung's emails; returns how many people it is for (queued now or before)."""
    organisation = item.organisation
    recipients: list[tuple[str, str, str, int | None]] = []  # (key part, email, name, user id)
    if step.audience == "leads":
        recipients = [
            (f"user-{lead.id}", lead.email, lead.name, lead.id)
            for lead in _active_leads(organisation)
        ]
    elif step.audience == "contact":
        # The deputy; the senior sponsor only when there is no deputy.
        contact = organisation.contact(ContactRole.DEPUTY) or organisation.contact(
            ContactRole.SPONSOR
        )
        if contact is not None:
            recipients = [(f"contact-{contact.id}", contact.email, contact.name, None)]
    for key_part, email, name, user_id in recipients:
        context = _context(item, period, today, recipient_name=name, kind=step.kind)
        queued = queue_email(
            kind=f"reminder_{step.kind}",
            idempotency_key=f"reminder:{period.slug}:{organisation.id}:{step.key}:{key_part}",
            to_email=email,
            to_name=safe_header(name),
            subject=_subject(step.kind, context),
            text=render_template("emails/reminder.txt", **context),
            html=render_template("emails/reminder.html", **context),
            organisation_id=organisation.id,
            period_id=period.id,
            user_id=user_id,
        )
        if queued is not None:
            run.emails += 1
    if recipients:
        run.organisations.add(organisation.id)
    return len(recipients)


def _context(
    item: Outstanding,
    period: ReportingPeriod,
    today: date,
    *,
    recipient_name: str,
    kind: str,
    note: str | None = None,
    sender: User | None = None,
) -> dict[str, object]:
    organisation = item.organisation
    return {
        "kind": kind,
        "recipient_name": recipient_name,
        "organisation": organisation,
        "period": period,
        "deadline": item.deadline,
        "extended": item.deadline > period.due_on,
        "due_when": _due_when((item.deadline - today).days),
        "days_overdue": item.days_overdue(today),
        "missing": item.missing[:MISSING_LISTED],
        "missing_more": max(len(item.missing) - MISSING_LISTED, 0),
        "missing_count": len(item.missing),
        "total": item.total,
        "leads": _active_leads(organisation),
        "link": absolute_url("returns.task_list", slug=organisation.slug, period=period.slug),
        "note": note,
        "sender": sender,
        "service_name": current_app.config["SERVICE_NAME"],
    }


def _subject(kind: str, context: dict[str, object]) -> str:
    organisation = context["organisation"].name  # type: ignore[attr-defined]
    period = context["period"].label  # type: ignore[attr-defined]
    overdue = int(context["days_overdue"])  # type: ignore[call-overload]
    match kind:
        case ReminderKind.OPENED:
            subject = f"{organisation}: your {period} return is open"
        case ReminderKind.DUE_SOON:
            subject = f"{organisation}: your {period} return is due {context['due_when']}"
        case ReminderKind.OVERDUE:
            subject = f"{organisation}: your {period} return is {_days(overdue)} overdue"
        case ReminderKind.CONTACT_OVERDUE:
            subject = f"{organisation}'s {period} return is {_days(overdue)} overdue"
        case "chase":
            subject = f"{organisation}: a reminder about your {period} return"
        case _:
            raise ValueError(f"no subject for reminder kind {kind!r}")
    return safe_header(subject)[:300]


def _short(title: str, limit: int = 120) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def _due_when(days_left: int) -> str:
    """When a return is due, counted from today, for "is due …": never "in 0 days"."""
    if days_left == 0:
        return "today"
    if days_left == 1:
        return "tomorrow"
    return f"in {_days(days_left)}"


def _send_admin_digest(
    period: ReportingPeriod,
    today: date,
    escalate: list[tuple[Outstanding, ReminderStep]],
    run: ReminderRun,
) -> None:
    """One email per admin: every organisation overdue now, the newly escalated marked."""
    newly = {item.organisation.id for item, _ in escalate}
    late = overdue(period, today)
    admins = db.session.scalars(
        select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id)
    ).all()
    context = {
        "period": period,
        "today": today,
        "overdue": [
            (item, item.days_overdue(today), item.organisation.id in newly) for item in late
        ],
        "newly": len(newly),
        "link": absolute_url("admin.overview"),
        "review_link": absolute_url("admin.review_queue", period=period.slug),
        "service_name": current_app.config["SERVICE_NAME"],
    }
    count = len(late)
    subject = safe_header(
        f"{period.label}: {count} organisation{'s' if count != 1 else ''} overdue with "
        f"{'their returns' if count != 1 else 'its return'}"
    )
    for admin in admins:
        queued = queue_email(
            kind="reminder_admins_overdue",
            idempotency_key=f"reminder:{period.slug}:admins-digest:{today.isoformat()}:user-{admin.id}",
            to_email=admin.email,
            to_name=safe_header(admin.name),
            subject=subject,
            text=render_template("emails/overdue_digest.txt", admin=admin, **context),
            html=render_template("emails/overdue_digest.html", admin=admin, **context),
            period_id=period.id,
            user_id=admin.id,
        )
        if queued is not None:
            run.emails += 1
    if admins:
        run.digests += 1
    outcome = ReminderOutcome.SENT if admins else ReminderOutcome.NO_RECIPIENTS
    for item, step in escalate:
        _record(item.organisation, period, step, outcome, len(admins), run)
        run.organisations.add(item.organisation.id)


# Chasing ---------------------------------------------------------------------------------------


class ChaseError(ValueError):
    """A chase that cannot be sent; the message says why, for the admin."""


@dataclass(frozen=True)
class ChaseOutcome:
    organisation: Organisation
    queued: int
    already: int
    no_leads: bool


def overdue(period: ReportingPeriod, today: date) -> list[Outstanding]:
    """Organisations whose return for the period is overdue today, the longest overdue first.

    The database picks them first, so only they are loaded in full (a region may have
    thousands of organisations and a handful overdue).
    """
    deadline = case(
        (Return.extended_due_on > period.due_on, Return.extended_due_on), else_=period.due_on
    )
    late = db.session.scalars(
        select(Organisation.id)
        .outerjoin(
            Return, (Return.organisation_id == Organisation.id) & (Return.period_id == period.id)
        )
        .where(
            expected_for(period),
            # Never submitted: one sent back after it was in is not overdue (the work list's rule).
            or_(Return.id.is_(None), Return.submitted_at.is_(None)),
            or_(Return.id.is_(None), deadline < today),
            period.due_on < today,
        )
    ).all()
    if not late:
        return []
    return sorted(
        (item for item in outstanding(period, late) if item.days_overdue(today) > 0),
        key=lambda item: (-item.days_overdue(today), item.organisation.name.lower()),
    )


def chaseable(period: ReportingPeriod, today: date) -> list[Outstanding]:
    """The overdue organisations a chase can still help: their window (or extension) is open."""
    return [
        item for item in overdue(period, today) if today <= max(period.closes_on, item.deadline)
    ]


def chase(
    item: Outstanding,
    period: ReportingPeriod,
    *,
    actor: User,
    note: str,
    today: date,
) -> ChaseOutcome:
    """Email the organisation's leads now, with the admin's note; once per lead per day."""
    note = note.strip()
    if len(note) > CHASE_NOTE_MAX:
        raise ChaseError(f"Your note must be {CHASE_NOTE_MAX} characters or fewer")
    if item.ever_submitted:
        raise ChaseError(f"{item.organisation.name} has already submitted its return")
    closes_on = max(period.closes_on, item.deadline)
    if today > closes_on:
        raise ChaseError(
            f"The window for {item.organisation.name}'s return closed on "
            f"{closes_on:%-d %B %Y}: grant an extension first, so they can send it"
        )
    organisation = item.organisation
    leads = _active_leads(organisation)
    queued = already = 0
    for lead in leads:
        context = _context(
            item, period, today, recipient_name=lead.name, kind="chase", note=note, sender=actor
        )
        row = queue_email(
            kind="chase",
            idempotency_key=f"chase:{period.slug}:{organisation.id}:{today.isoformat()}:user-{lead.id}",
            to_email=lead.email,
            to_name=safe_header(lead.name),
            subject=_subject("chase", context),
            text=render_template("emails/reminder.txt", **context),
            html=render_template("emails/reminder.html", **context),
            organisation_id=organisation.id,
            period_id=period.id,
            user_id=lead.id,
        )
        if row is None:
            already += 1
        else:
            queued += 1
    if queued:
        audit.record(
            "chased",
            "organisation",
            organisation.id,
            actor=actor,
            organisation_id=organisation.id,
            after={
                "period": period.slug,
                "note": note or None,
                "to": [lead.email for lead in leads],
                "days_overdue": item.days_overdue(today),
            },
        )
    return ChaseOutcome(organisation, queued, already, no_leads=not leads)


def chases_for(organisation: Organisation, limit: int = 20) -> list[AuditEvent]:
    """The latest chases of an organisation, newest first, for its admin page."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.organisation_id == organisation.id,
                AuditEvent.action == "chased",
            )
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


def last_chased(organisation_ids: list[int]) -> dict[int, datetime]:
    """When each organisation was last chased (any period), for the admin overview."""
    if not organisation_ids:
        return {}
    return dict(
        db.session.execute(
            select(AuditEvent.organisation_id, func.max(AuditEvent.occurred_at))
            .where(
                AuditEvent.action == "chased",
                AuditEvent.organisation_id.in_(organisation_ids),
            )
            .group_by(AuditEvent.organisation_id)
        ).all()
    )
