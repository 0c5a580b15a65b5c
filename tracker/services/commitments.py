"""One commitment: its page (wording, SMART target, history across quarters) and its edits.

Edits are audited, optimistically locked (the form carries the commitment's ``version``), and
once the commitment has been reported against, a change to a goalpost needs a stated reason
and is kept as a ``TargetChange`` (DESIGN.md "Moved goalposts"; tracker/domain/goalposts.py).
Services flush; the request commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from markupsafe import Markup
from sqlalchemy import exists, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from tracker.charts import ChartPoint, format_amount, progress_chart
from tracker.domain.calendar import period_for
from tracker.domain.enums import Confidence, DeliveryStatus, Direction, EvidenceGrade, ReturnState
from tracker.domain.goalposts import LABELS, FieldChange, TargetFields, moved_goalposts
from tracker.domain.progress import percent_complete, progress_label
from tracker.domain.smart import ADVICE
from tracker.domain.updates import current_status, status_tag
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    Commitment,
    CommitmentUpdate,
    Milestone,
    Organisation,
    Place,
    Priority,
    ReportingPeriod,
    Return,
    TargetChange,
    User,
)
from tracker.services import audit

# A commitment "has been reported against" once an update for it is in a return in one of these.
REPORTED_STATES = frozenset({ReturnState.SUBMITTED, ReturnState.RETURNED, ReturnState.ACCEPTED})

# The audit action of every save of a commitment's details by a person (``update_commitment``).
EDITED = "updated"

LETTER_NAMES = {
    "S": "Specific",
    "M": "Measurable",
    "A": "Assignable",
    "R": "Relevant",
    "T": "Time-related",
}

EVIDENCE_LABELS = {
    EvidenceGrade.SELF_DECLARED: "Self-declared",
    EvidenceGrade.EVIDENCE_ATTACHED: "Evidence attached",
    EvidenceGrade.VERIFIED: "Verified by the programme team",
}

# Only an accepted return's status is the commitment's status; the rest say where they are.
RETURN_STATE_LABELS = {
    ReturnState.NOT_STARTED: "Draft, not yet submitted",
    ReturnState.DRAFT: "Draft, not yet submitted",
    ReturnState.SUBMITTED: "Submitted, not yet accepted",
    ReturnState.RETURNED: "Returned for changes, not yet accepted",
    ReturnState.ACCEPTED: "Accepted",
}

_DATE_FIELDS = {"baseline_date", "target_date"}
_AMOUNT_FIELDS = {"baseline_value", "target_value"}


class CommitmentError(ValueError):
    """An edit that cannot be saved; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class StaleEdit(CommitmentError):
    """Someone else saved the commitment after this form was opened."""

    def __init__(self) -> None:
        super().__init__(
            "Someone else changed this commitment while you were editing it. "
            "The form now shows their version; what you entered is listed beside it.",
            field="title",
        )


class ReasonRequired(CommitmentError):
    """The edit moves a goalpost already reported against, and gives no reason."""

    def __init__(self, changes: Sequence[FieldChange]) -> None:
        super().__init__("Give the reason for changing the target", field="reason")
        self.changes = list(changes)


# Reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateEntry:
    """One quarter's update on the commitment's timeline."""

    update: CommitmentUpdate
    period: ReportingPeriod
    return_state: ReturnState
    percent: Decimal | None
    progress_text: str | None

    kind = "update"

    @property
    def accepted(self) -> bool:
        return self.return_state == ReturnState.ACCEPTED

    @property
    def tag(self) -> tuple[str, str]:
        return status_tag(self.update.status)

    @property
    def return_label(self) -> str:
        return RETURN_STATE_LABELS[self.return_state]

    @property
    def percent_text(self) -> str | None:
        return progress_label(self.percent) if self.percent is not None else None

    @property
    def evidence_label(self) -> str:
        return EVIDENCE_LABELS[EvidenceGrade(self.update.evidence_grade)]

    @property
    def evidence_link(self) -> str | None:
        """The evidence address, only if it is a web address (never ``javascript:``)."""
        url = (self.update.evidence_url or "").strip()
        return url if url.lower().startswith(("https://", "http://")) else None

    @property
    def happened_at(self) -> datetime:
        # A quarter's figure stands for the quarter's end: a goalpost moved after it is newer.
        end = datetime.combine(self.period.ends_on + timedelta(days=1), time.min, tzinfo=_zone())
        return end.astimezone(UTC)


@dataclass(frozen=True)
class GoalpostChange:
    """One field of a moved goalpost, old and new as people read them."""

    label: str
    old: str
    new: str


@dataclass(frozen=True)
class GoalpostEntry:
    """One save that moved goalposts: when, who, why, and each field that changed."""

    changed_at: datetime
    changed_by: str
    reason: str
    changes: list[GoalpostChange]

    kind = "goalposts"

    @property
    def happened_at(self) -> datetime:
        return self.changed_at


@dataclass(frozen=True)
class SmartLetter:
    letter: str
    name: str
    advice: str

    @property
    def label(self) -> str:
        return f"{self.letter} ({self.name})"


@dataclass
class CommitmentPage:
    """Everything the commitment page shows, loaded in a fixed number of queries."""

    commitment: Commitment
    updates: list[UpdateEntry]  # newest quarter first
    goalposts: list[GoalpostEntry]  # newest first
    status: DeliveryStatus
    met: list[SmartLetter] = field(default_factory=list)
    missing: list[SmartLetter] = field(default_factory=list)

    @property
    def status_tag(self) -> tuple[str, str]:
        return status_tag(self.status)

    @property
    def timeline(self) -> list[UpdateEntry | GoalpostEntry]:
        """Updates and moved goalposts, newest first."""
        entries: list[UpdateEntry | GoalpostEntry] = [*self.updates, *self.goalposts]
        # On a tie the update is newer: a change on a quarter's last day came before its figure.
        return sorted(entries, key=lambda e: (e.happened_at, e.kind == "update"), reverse=True)

    @property
    def has_numeric_target(self) -> bool:
        return self.commitment.target_value is not None

    @property
    def chart_points(self) -> list[ChartPoint]:
        """Each quarter's progress value, oldest first."""
        return [
            ChartPoint(entry.period.label, entry.update.progress_value, entry.accepted)
            for entry in reversed(self.updates)
            if entry.update.progress_value is not None
        ]

    @property
    def chart(self) -> Markup | None:
        """The progress chart, when the target is a number and there are figures to draw."""
        points = self.chart_points
        if not self.has_numeric_target or not points:
            return None
        commitment = self.commitment
        return progress_chart(
            points,
            target=commitment.target_value,  # type: ignore[arg-type]
            baseline=commitment.baseline_value,
            unit=commitment.unit,
            title=f"Progress towards the target: {commitment.metric or 'progress value'}",
        )

    def amount(self, value: Decimal | None) -> str | None:
        """A value of this commitment with its unit: ``1,200 homes``."""
        return None if value is None else format_amount(value, self.commitment.unit)


def commitment_page(organisation: Organisation, commitment_id: int) -> CommitmentPage | None:
    """The commitment page for one of ``organisation``'s commitments (None if not theirs)."""
    commitment = db.session.scalar(
        select(Commitment)
        .where(Commitment.id == commitment_id, Commitment.organisation_id == organisation.id)
        .options(
            joinedload(Commitment.primary_priority),
            joinedload(Commitment.secondary_priority),
            selectinload(Commitment.themes),
            selectinload(Commitment.milestones),
            selectinload(Commitment.target_changes).joinedload(TargetChange.changed_by),
        )
    )
    if commitment is None:
        return None
    rows = db.session.scalars(
        select(CommitmentUpdate)
        .join(CommitmentUpdate.return_)
        .join(Return.period)
        .where(
            CommitmentUpdate.commitment_id == commitment.id,
            Return.organisation_id == organisation.id,
        )
        .order_by(ReportingPeriod.year.desc(), ReportingPeriod.quarter.desc())
        .options(
            contains_eager(CommitmentUpdate.return_).contains_eager(Return.period),
            selectinload(CommitmentUpdate.evidence_files),
        )
    ).all()
    updates = [_update_entry(commitment, update) for update in rows]
    # An accepted return should never hold an update without a status, but one may have been
    # accepted before submitting re-checked it under a lock: it says nothing about delivery.
    accepted = [e.update.status for e in updates if e.accepted and e.update.status is not None]
    smart = commitment.smart
    return CommitmentPage(
        commitment=commitment,
        updates=updates,
        goalposts=goalpost_entries(commitment.target_changes),
        status=current_status(accepted),
        met=[SmartLetter(letter, LETTER_NAMES[letter], "") for letter in smart.met],
        missing=[
            SmartLetter(letter, LETTER_NAMES[letter], ADVICE[letter]) for letter in smart.missing
        ],
    )


def _update_entry(commitment: Commitment, update: CommitmentUpdate) -> UpdateEntry:
    value = update.progress_value
    percent = None
    target, baseline, direction = target_in_force(commitment, update)
    if value is not None and target is not None:
        percent = percent_complete(
            baseline=baseline, target=target, current=value, direction=direction
        )
    return UpdateEntry(
        update=update,
        period=update.return_.period,
        return_state=ReturnState(update.return_.state),
        percent=percent,
        progress_text=None if value is None else format_amount(value, commitment.unit),
    )


def target_in_force(
    commitment: Commitment, update: CommitmentUpdate
) -> tuple[Decimal | None, Decimal | None, Direction | None]:
    """The target, baseline and direction an update's figure is measured against.

    A submitted update keeps the target it was submitted against, so a goalpost moved later
    does not rewrite how far along that quarter was; a draft is measured against today's.
    """
    if update.return_.submitted_at is not None:
        return (
            update.reported_target_value,
            update.reported_baseline_value,
            update.reported_direction,
        )
    return commitment.target_value, commitment.baseline_value, commitment.direction


def goalpost_entries(changes: Sequence[TargetChange]) -> list[GoalpostEntry]:
    """Moved goalposts grouped by save (one time, person and reason), newest first."""

    # One save writes a row per field with the same time, person and reason: show them together.
    def key(change: TargetChange) -> tuple[Any, ...]:
        return (change.changed_at, change.changed_by_id or 0, change.reason)

    entries = []
    for (changed_at, _, reason), group in groupby(sorted(changes, key=key), key=key):
        rows = list(group)
        who = rows[0].changed_by.name if rows[0].changed_by else "Someone whose account was removed"
        entries.append(
            GoalpostEntry(
                changed_at=changed_at,
                changed_by=who,
                reason=reason,
                changes=[
                    GoalpostChange(
                        label=LABELS.get(row.field, row.field.replace("_", " ")).capitalize(),
                        old=_readable(row.field, row.old_value),
                        new=_readable(row.field, row.new_value),
                    )
                    for row in rows
                ],
            )
        )
    entries.sort(key=lambda e: e.changed_at, reverse=True)
    return entries


def _readable(field_name: str, value: str | None) -> str:
    if value is None or value == "":
        return "not set"
    if field_name in _DATE_FIELDS:
        try:
            return date.fromisoformat(value).strftime("%-d %B %Y")
        except ValueError:
            return value
    if field_name in _AMOUNT_FIELDS:
        try:
            return format_amount(Decimal(value))
        except ArithmeticError:
            return value
    return value


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("TIMEZONE", "Europe/London"))


# Editing ---------------------------------------------------------------------------------------


def commitment_for_edit(organisation: Organisation, commitment_id: int) -> Commitment | None:
    """One of ``organisation``'s commitments with what the edit form needs (None if not theirs)."""
    return db.session.scalar(
        select(Commitment)
        .where(Commitment.id == commitment_id, Commitment.organisation_id == organisation.id)
        .options(selectinload(Commitment.milestones))
    )


def place_priorities() -> list[Priority]:
    """The place's priorities in their order, for the priority radios."""
    return list(
        db.session.scalars(
            select(Priority).join(Place).order_by(Place.id, Priority.position, Priority.id)
        )
    )


def has_been_reported(commitment: Commitment) -> bool:
    """Whether an update for it is in a submitted, returned or accepted return."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    CommitmentUpdate.commitment_id == commitment.id,
                    CommitmentUpdate.return_id == Return.id,
                    Return.state.in_(REPORTED_STATES),
                )
            )
        )
    )


@dataclass(frozen=True)
class MilestoneEntry:
    """A milestone row of the form: ``id`` for an existing one; a blank title removes it."""

    id: int | None
    title: str
    due_on: date | None = None


@dataclass(frozen=True)
class CommitmentDetails:
    """What a person may change about a commitment (never its original wording)."""

    title: str
    owner_name: str | None = None
    owner_email: str | None = None
    primary_priority_id: int | None = None
    secondary_priority_id: int | None = None
    metric: str | None = None
    unit: str | None = None
    baseline_value: Decimal | None = None
    baseline_date: date | None = None
    target_value: Decimal | None = None
    target_date: date | None = None
    direction: Direction | None = None
    milestones: tuple[MilestoneEntry, ...] = ()


def update_commitment(
    commitment: Commitment,
    details: CommitmentDetails,
    *,
    version: int,
    actor: User,
    today: date,
    reason: str | None = None,
    now: datetime | None = None,
) -> list[TargetChange]:
    """Save an edit (audited); returns the moved goalposts it recorded.

    Refuses an edit made on a version someone else has since changed (``StaleEdit``), and one
    that moves a goalpost already reported against without a reason (``ReasonRequired``).
    ``today`` is the place's date, which decides the reporting period a moved goalpost is
    recorded in.
    """
    if commitment.version != version:
        raise StaleEdit()
    _check(details)
    now = now or datetime.now(UTC)
    moved = moved_goalposts(
        _target_fields(commitment),
        TargetFields(
            title=details.title,
            original_text=commitment.original_text,
            metric=details.metric,
            unit=details.unit,
            baseline_value=details.baseline_value,
            baseline_date=details.baseline_date,
            target_value=details.target_value,
            target_date=details.target_date,
            direction=details.direction,
        ),
        has_been_reported=has_been_reported(commitment),
    )
    reason = (reason or "").strip()
    if moved and not reason:
        raise ReasonRequired(moved)

    before = _snapshot(commitment)
    _apply(commitment, details)
    after = _snapshot(commitment)
    changed = [name for name in after if after[name] != before[name]]
    if not changed:
        return []
    commitment.updated_at = now  # bumps the version even when only milestones changed

    period_id = _period_id(today) if moved else None
    recorded = [
        TargetChange(
            commitment=commitment,
            field=change.field,
            old_value=change.old,
            new_value=change.new,
            reason=reason,
            changed_by=actor,
            changed_at=now,
            period_id=period_id,
        )
        for change in moved
    ]
    db.session.add_all(recorded)
    db.session.flush()
    audit.record(
        EDITED,
        "commitment",
        commitment.id,
        actor=actor,
        organisation_id=commitment.organisation_id,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed}
        | ({"reason for change": reason} if moved else {}),
    )
    return recorded


def fields_decided(commitment_id: int) -> frozenset[str]:
    """The fields of a commitment that a person has set, changed or cleared in the app.

    Every such save, an admin's or a lead's edit or an approved proposal, goes through
    ``update_commitment``, whose audit row names each field it changed. An empty field named
    here was cleared by a person, not left unset, so an import must not fill it again.
    """
    rows = db.session.scalars(
        select(AuditEvent.after).where(
            AuditEvent.entity_type == "commitment",
            AuditEvent.entity_id == str(commitment_id),
            AuditEvent.action == EDITED,
        )
    )
    return frozenset(name for after in rows for name in after or {})


def _check(details: CommitmentDetails) -> None:
    # The form says all this first; these keep the rules whoever calls.
    if not details.title.strip():
        raise CommitmentError("Enter a title for the commitment", field="title")
    if (
        details.secondary_priority_id is not None
        and details.secondary_priority_id == details.primary_priority_id
    ):
        raise CommitmentError(
            "Secondary priority must be different from the primary priority",
            field="secondary_priority",
        )
    if (
        details.baseline_date
        and details.target_date
        and details.baseline_date > details.target_date
    ):
        raise CommitmentError(
            "Baseline date must be the same as or before the target date", field="baseline_date"
        )


def _target_fields(commitment: Commitment) -> TargetFields:
    return TargetFields(
        title=commitment.title,
        original_text=commitment.original_text,
        metric=commitment.metric,
        unit=commitment.unit,
        baseline_value=commitment.baseline_value,
        baseline_date=commitment.baseline_date,
        target_value=commitment.target_value,
        target_date=commitment.target_date,
        direction=commitment.direction,
    )


_PLAIN_FIELDS = (
    "title",
    "owner_name",
    "owner_email",
    "metric",
    "unit",
    "baseline_value",
    "baseline_date",
    "target_value",
    "target_date",
    "direction",
)


def _apply(commitment: Commitment, details: CommitmentDetails) -> None:
    for name in _PLAIN_FIELDS:
        new = getattr(details, name)
        if isinstance(new, str):
            new = new.strip() or None
        if _comparable(getattr(commitment, name)) != _comparable(new):
            setattr(commitment, name, new)

    chose_priority = (
        commitment.primary_priority_id != details.primary_priority_id
        or commitment.secondary_priority_id != details.secondary_priority_id
    )
    # The form shows a guessed priority with a "check it" hint: saving it is a person's choice.
    confirmed_guess = commitment.needs_review and details.primary_priority_id is not None
    commitment.primary_priority_id = details.primary_priority_id
    commitment.secondary_priority_id = details.secondary_priority_id
    if chose_priority or confirmed_guess:
        commitment.priority_confidence = Confidence.MANUAL
        commitment.needs_review = False

    existing = {milestone.id: milestone for milestone in commitment.milestones}
    for entry in details.milestones:
        title = entry.title.strip()
        milestone = existing.get(entry.id) if entry.id is not None else None
        if milestone is None:
            if title:
                commitment.milestones.append(Milestone(title=title, due_on=entry.due_on))
        elif not title:
            commitment.milestones.remove(milestone)
        else:
            if milestone.title != title:
                milestone.title = title
            if milestone.due_on != entry.due_on:
                milestone.due_on = entry.due_on


def _comparable(value: object) -> object:
    if isinstance(value, Decimal):
        return value.normalize() + 0
    return value


def _snapshot(commitment: Commitment) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        name: _audit_value(getattr(commitment, name)) for name in _PLAIN_FIELDS
    }
    snapshot["primary_priority_id"] = commitment.primary_priority_id
    snapshot["secondary_priority_id"] = commitment.secondary_priority_id
    snapshot["priority_confidence"] = _audit_value(commitment.priority_confidence)
    snapshot["needs_review"] = commitment.needs_review
    snapshot["milestones"] = sorted(
        ([m.title, m.due_on.isoformat() if m.due_on else None] for m in commitment.milestones),
        key=lambda pair: (pair[0], pair[1] or ""),
    )
    return snapshot


def _audit_value(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value.normalize() + 0, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Direction | Confidence):
        return value.value
    return value


def _period_id(today: date) -> int | None:
    quarter = period_for(today)
    return db.session.scalar(
        select(ReportingPeriod.id).where(
            ReportingPeriod.year == quarter.year, ReportingPeriod.quarter == quarter.number
        )
    )
