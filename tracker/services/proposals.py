"""Revisions proposed by leads: a new commitment, or a change to one, for an admin to decide.

The ICB's pledge "will be revised to include SMART targets": a lead proposes the revision with a
reason; the programme team approves or declines it with a comment. Approving applies it with
the same rules as an admin's edit (``services.commitments.update_commitment``): a goalpost
already reported against is recorded as moved (``TargetChange``), with the lead's reason, and
shows on the commitment's history, the board pack and the public page as any other. A
commitment changed since the lead proposed is not overwritten: approving then raises
``StaleProposal``. The proposal, the decision and the commitment's change are audited, and the
lead is told by email through the outbox, all in one flush.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import render_template
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from tracker.domain.enums import Direction, ProposalState
from tracker.domain.goalposts import LABELS
from tracker.extensions import db
from tracker.mail import absolute_url, queue_email, safe_header
from tracker.models import Commitment, CommitmentProposal, Organisation, TargetChange, User
from tracker.services import audit
from tracker.services.commitments import (
    CommitmentDetails,
    _period_id,
    has_been_reported,
    update_commitment,
)
from tracker.services.pledges import PledgeError, add_commitment

DECIDED = "proposal_decided"

# What a lead may propose, in the order the pages list it.
FIELDS = (
    "original_text",
    "title",
    "metric",
    "unit",
    "baseline_value",
    "baseline_date",
    "target_value",
    "target_date",
    "direction",
)
FIELD_LABELS = {"original_text": "Wording", "title": "Short title"} | {
    name: LABELS[name].capitalize() for name in FIELDS if name in LABELS
}
_AMOUNTS = {"baseline_value", "target_value"}
_DATES = {"baseline_date", "target_date"}


class ProposalError(ValueError):
    """A proposal or decision that cannot be made; ``field`` is where the message belongs."""

    def __init__(self, message: str, field: str = "reason") -> None:
        super().__init__(message)
        self.field = field


class StaleProposal(ProposalError):
    """The commitment changed after the lead proposed this: approving would overwrite that."""

    def __init__(self) -> None:
        super().__init__(
            "The commitment has changed since this was proposed, so approving it could undo "
            "that change. Decline it with a comment, and the lead can propose again from the "
            "commitment as it is now.",
            field="comment",
        )


def as_text(value: object) -> str | None:
    """A field's value as the proposal stores it (and the pages show it)."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return format(value.normalize() + 0, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Direction):
        return value.value
    return " ".join(str(value).split()) if not isinstance(value, str) else value.strip()


def _value(name: str, text: str | None) -> Any:
    if text is None:
        return None
    if name in _AMOUNTS:
        try:
            return Decimal(text)
        except InvalidOperation:
            return None
    if name in _DATES:
        return date.fromisoformat(text)
    if name == "direction":
        return Direction(text)
    return text


def current_values(commitment: Commitment) -> dict[str, str | None]:
    return {name: as_text(getattr(commitment, name)) for name in FIELDS}


# Proposing -------------------------------------------------------------------------------------


def propose_change(
    commitment: Commitment, values: dict[str, Any], reason: str, *, actor: User
) -> CommitmentProposal:
    """Propose changes to ``commitment``: only the fields that differ are kept."""
    now_values = current_values(commitment)
    changes = {
        name: as_text(values.get(name))
        for name in FIELDS
        if name in values and as_text(values.get(name)) != now_values[name]
    }
    if not changes.get("original_text", "x"):
        raise ProposalError("The commitment's wording cannot be blank", field="original_text")
    if not changes:
        raise ProposalError(
            "Change at least one thing to propose a revision", field="original_text"
        )
    return _record(commitment.organisation_id, commitment, changes, reason, actor=actor)


def propose_new(
    organisation: Organisation, values: dict[str, Any], reason: str, *, actor: User
) -> CommitmentProposal:
    """Propose a new commitment for ``organisation``."""
    changes = {name: as_text(values.get(name)) for name in FIELDS if as_text(values.get(name))}
    if not changes.get("original_text"):
        raise ProposalError("Enter the commitment's wording", field="original_text")
    return _record(organisation.id, None, changes, reason, actor=actor)


def _record(
    organisation_id: int,
    commitment: Commitment | None,
    changes: dict[str, str | None],
    reason: str,
    *,
    actor: User,
) -> CommitmentProposal:
    reason = reason.strip()
    if not reason:
        raise ProposalError("Give the reason for the revision")
    proposal = CommitmentProposal(
        organisation_id=organisation_id,
        commitment_id=commitment.id if commitment else None,
        is_new=commitment is None,
        base_version=commitment.version if commitment else None,
        changes=changes,
        reason=reason,
        state=ProposalState.PENDING,
        proposed_by_id=actor.id,
    )
    db.session.add(proposal)
    db.session.flush()
    audit.record(
        "proposed a new commitment" if commitment is None else "proposed a change",
        "commitment_proposal",
        proposal.id,
        actor=actor,
        organisation_id=organisation_id,
        after={"commitment": commitment.id if commitment else None, **changes, "reason": reason},
    )
    return proposal


# Reading ---------------------------------------------------------------------------------------


def pending_proposals() -> list[CommitmentProposal]:
    return list(
        db.session.scalars(
            select(CommitmentProposal)
            .where(CommitmentProposal.state == ProposalState.PENDING)
            .order_by(CommitmentProposal.created_at, CommitmentProposal.id)
            .options(
                selectinload(CommitmentProposal.organisation),
                selectinload(CommitmentProposal.commitment),
                selectinload(CommitmentProposal.proposed_by),
            )
        )
    )


def pending_count() -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(CommitmentProposal)
            .where(CommitmentProposal.state == ProposalState.PENDING)
        )
        or 0
    )


def proposals_of(organisation: Organisation) -> list[CommitmentProposal]:
    """An organisation's proposals, newest first, for its leads to follow."""
    return list(
        db.session.scalars(
            select(CommitmentProposal)
            .where(CommitmentProposal.organisation_id == organisation.id)
            .order_by(CommitmentProposal.created_at.desc(), CommitmentProposal.id.desc())
            .options(selectinload(CommitmentProposal.commitment))
        )
    )


def rows(proposal: CommitmentProposal) -> list[tuple[str, str | None, str | None]]:
    """(label, now, proposed) for each field the proposal changes."""
    now = current_values(proposal.commitment) if proposal.commitment and not proposal.is_new else {}
    return [
        (FIELD_LABELS[name], now.get(name), proposal.changes[name])
        for name in FIELDS
        if name in proposal.changes
    ]


def is_stale(proposal: CommitmentProposal) -> bool:
    return (
        proposal.state == ProposalState.PENDING
        and not proposal.is_new
        and proposal.commitment is not None
        and proposal.commitment.version != proposal.base_version
    )


# Deciding --------------------------------------------------------------------------------------


def approve(
    proposal: CommitmentProposal, comment: str, *, actor: User, today: date, now: datetime
) -> Commitment:
    """Apply the proposal and record the decision; refuses one whose commitment has changed."""
    _check_pending(proposal)
    if not proposal.is_new and (
        proposal.commitment is not None and proposal.commitment.version != proposal.base_version
    ):
        raise StaleProposal()
    _claim(proposal, ProposalState.APPROVED)
    if proposal.is_new:
        commitment = _make(proposal, actor=actor, today=today, now=now)
    else:
        commitment = proposal.commitment
        if commitment is None:
            raise ProposalError("The commitment this changes no longer exists", field="comment")
        if commitment.version != proposal.base_version:
            raise StaleProposal()
        _apply(commitment, proposal, actor=actor, today=today, now=now)
    _decide(proposal, ProposalState.APPROVED, comment, actor=actor, now=now)
    proposal.commitment_id = commitment.id
    db.session.flush()
    return commitment


def decline(proposal: CommitmentProposal, comment: str, *, actor: User, now: datetime) -> None:
    """Decline the proposal with a comment for the lead; nothing else changes."""
    _check_pending(proposal)
    if not comment.strip():
        raise ProposalError("Tell the lead why you are declining it", field="comment")
    _claim(proposal, ProposalState.DECLINED)
    _decide(proposal, ProposalState.DECLINED, comment, actor=actor, now=now)


def _check_pending(proposal: CommitmentProposal) -> None:
    if proposal.state != ProposalState.PENDING:
        raise ProposalError(f"This proposal was already {proposal.state.value}", field="comment")


def _claim(proposal: CommitmentProposal, state: ProposalState) -> None:
    """Take the decision, once: of two admins deciding at the same moment, one wins.

    A conditional UPDATE: on PostgreSQL the second waits for the first to commit, then finds
    the proposal decided and changes nothing.
    """
    claimed = db.session.execute(
        update(CommitmentProposal)
        .where(
            CommitmentProposal.id == proposal.id,
            CommitmentProposal.state == ProposalState.PENDING,
        )
        .values(state=state)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.refresh(proposal)
        raise ProposalError(f"This proposal was already {proposal.state.value}", field="comment")


def _details(commitment: Commitment, changes: dict[str, str | None]) -> CommitmentDetails:
    def pick(name: str) -> Any:
        return _value(name, changes[name]) if name in changes else getattr(commitment, name)

    return CommitmentDetails(
        title=pick("title") or commitment.original_text[:500],
        owner_name=commitment.owner_name,
        owner_email=commitment.owner_email,
        primary_priority_id=commitment.primary_priority_id,
        secondary_priority_id=commitment.secondary_priority_id,
        metric=pick("metric"),
        unit=pick("unit"),
        baseline_value=pick("baseline_value"),
        baseline_date=pick("baseline_date"),
        target_value=pick("target_value"),
        target_date=pick("target_date"),
        direction=pick("direction"),
    )


def _apply(
    commitment: Commitment,
    proposal: CommitmentProposal,
    *,
    actor: User,
    today: date,
    now: datetime,
) -> None:
    changes = proposal.changes
    reason = f"{proposal.reason} (proposed by the organisation, approved by the programme team)"
    update_commitment(
        commitment,
        _details(commitment, changes),
        version=commitment.version,
        reason=reason,
        actor=actor,
        today=today,
        now=now,
    )
    wording = changes.get("original_text")
    if wording and wording != commitment.original_text:
        old = commitment.original_text
        if has_been_reported(commitment):
            db.session.add(
                TargetChange(
                    commitment=commitment,
                    field="original_text",
                    old_value=old,
                    new_value=wording,
                    reason=reason,
                    changed_by=actor,
                    changed_at=now,
                    period_id=_period_id(today),
                )
            )
        commitment.original_text = wording
        commitment.maintained_in_app = True  # the page's old wording must not come back
        db.session.flush()
        audit.record(
            "wording changed",
            "commitment",
            commitment.id,
            actor=actor,
            organisation_id=commitment.organisation_id,
            before={"original_text": old},
            after={"original_text": wording, "reason for change": reason},
        )


def _make(proposal: CommitmentProposal, *, actor: User, today: date, now: datetime) -> Commitment:
    organisation = db.session.get(Organisation, proposal.organisation_id)
    assert organisation is not None
    changes = proposal.changes
    try:
        commitment = add_commitment(
            organisation,
            changes["original_text"] or "",
            actor=actor,
            today=today,
            title=changes.get("title"),
        )
    except PledgeError as error:
        raise ProposalError(str(error), field="comment") from None
    details = _details(commitment, changes)
    if any(name in changes for name in FIELDS[2:]):
        update_commitment(
            commitment, details, version=commitment.version, actor=actor, today=today, now=now
        )
    return commitment


def _decide(
    proposal: CommitmentProposal,
    state: ProposalState,
    comment: str,
    *,
    actor: User,
    now: datetime,
) -> None:
    proposal.state = state
    proposal.decided_by_id = actor.id
    proposal.decided_at = now
    proposal.decision_comment = comment.strip() or None
    db.session.flush()
    audit.record(
        state.value,
        "commitment_proposal",
        proposal.id,
        actor=actor,
        organisation_id=proposal.organisation_id,
        before={"state": ProposalState.PENDING},
        after={"state": state, "comment": proposal.decision_comment},
    )
    _tell_the_lead(proposal)


def _tell_the_lead(proposal: CommitmentProposal) -> None:
    lead = db.session.get(User, proposal.proposed_by_id) if proposal.proposed_by_id else None
    if lead is None or not lead.active:
        return
    organisation = db.session.get(Organisation, proposal.organisation_id)
    assert organisation is not None
    approved = proposal.state == ProposalState.APPROVED
    subject = safe_header(
        f"{organisation.name}: your proposed "
        f"{'new commitment' if proposal.is_new else 'change'} was "
        f"{'approved' if approved else 'declined'}"
    )[:300]
    link = (
        absolute_url(
            "commitments.show", slug=organisation.slug, commitment_id=proposal.commitment_id
        )
        if proposal.commitment_id
        else absolute_url("commitments.proposals_page", slug=organisation.slug)
    )
    context = {
        "lead": lead,
        "organisation": organisation,
        "proposal": proposal,
        "approved": approved,
        "rows": [(label, proposed) for label, _, proposed in rows(proposal)],
        "link": link,
    }
    queue_email(
        kind=DECIDED,
        idempotency_key=f"proposal-decided:{proposal.id}:{lead.id}",
        to_email=lead.email,
        to_name=safe_header(lead.name),
        subject=subject,
        text=render_template(f"emails/{DECIDED}.txt", **context),
        html=render_template(f"emails/{DECIDED}.html", **context),
        organisation_id=organisation.id,
        user_id=lead.id,
    )
