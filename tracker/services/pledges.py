"""Keeping pledges current in the app: statements, commitments added, reordered and retired,
and the import's flagged items put right one at a time (the admin's triage).

A commitment is never deleted: retiring one sets ``removed_from_page_at`` (as an import does
when the wording leaves the page) with the admin's reason, so its earlier updates, past board
summaries and the public record keep it, as retired. Commitments made here are
``maintained_in_app``: a later import of the page leaves them be. One added once reporting has
begun is reported on from the quarter it was added (``reports_from``), never in earlier returns,
nor in this quarter's once the organisation has sent it.
Every change is audited. Services flush; the request commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from tracker.domain import themes as theme_catalogue
from tracker.domain.enums import Confidence
from tracker.domain.paging import Pagination, pagination
from tracker.domain.pledge_page import commitment_key
from tracker.domain.priorities import classify
from tracker.extensions import db
from tracker.models import Commitment, Organisation, Pledge, Priority, TargetChange, Theme, User
from tracker.services import audit
from tracker.services.commitments import _period_id, has_been_reported
from tracker.services.periods import commitment_joining_quarter

TEXT_MAX = 2000
TITLE_MAX = 500


class PledgeError(ValueError):
    """A change that cannot be made; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str = "text") -> None:
        super().__init__(message)
        self.field = field


# Reading ---------------------------------------------------------------------------------------


def pledge_of(organisation: Organisation) -> Pledge | None:
    return db.session.scalars(
        select(Pledge).where(Pledge.organisation_id == organisation.id).order_by(Pledge.id)
    ).first()


def commitments_of(organisation: Organisation) -> list[Commitment]:
    """All of an organisation's commitments in their order, retired ones included."""
    return list(
        db.session.scalars(
            select(Commitment)
            .where(Commitment.organisation_id == organisation.id)
            .order_by(Commitment.position, Commitment.id)
            .options(selectinload(Commitment.primary_priority))
        )
    )


# The pledge and its commitments ----------------------------------------------------------------


def ensure_pledge(organisation: Organisation) -> Pledge:
    pledge = pledge_of(organisation)
    if pledge is None:
        pledge = Pledge(organisation_id=organisation.id)
        db.session.add(pledge)
        db.session.flush()
    return pledge


def set_statement(organisation: Organisation, statement: str | None, *, actor: User) -> bool:
    """Save the pledge statement (audited); False when it is unchanged."""
    statement = (statement or "").strip() or None
    pledge = pledge_of(organisation)
    if pledge is None and statement is None:
        return False
    pledge = pledge or ensure_pledge(organisation)
    if pledge.statement == statement:
        return False
    before = pledge.statement
    pledge.statement = statement
    pledge.statement_maintained_in_app = True  # a later import keeps it
    db.session.flush()
    audit.record(
        "statement changed",
        "pledge",
        pledge.id,
        actor=actor,
        organisation_id=organisation.id,
        before={"statement": before},
        after={"statement": statement},
    )
    return True


def add_commitment(
    organisation: Organisation,
    text: str,
    *,
    actor: User,
    today: date,
    title: str | None = None,
    primary_priority_id: int | None = None,
    position: int | None = None,
    audit_action: str = "added",
) -> Commitment:
    """Add a commitment in the organisation's own words (audited).

    Its priority is the one chosen, or the importer's guess flagged for review. Once reporting
    has begun it is reported on from this quarter, or the next if the organisation's return for
    this one has already gone in (``periods.commitment_joining_quarter``).
    """
    text = " ".join(text.split())
    if not text:
        raise PledgeError("Enter the commitment")
    if len(text) > TEXT_MAX:
        raise PledgeError(f"The commitment must be {TEXT_MAX:,} characters or fewer")
    key = commitment_key(text)
    if db.session.scalar(
        select(Commitment.id).where(
            Commitment.organisation_id == organisation.id, Commitment.key == key
        )
    ):
        raise PledgeError(f"{organisation.name} already has a commitment with this wording")
    pledge = ensure_pledge(organisation)
    if position is None:
        last = db.session.scalar(
            select(func.max(Commitment.position)).where(
                Commitment.organisation_id == organisation.id
            )
        )
        position = (last or 0) + 1
    commitment = Commitment(
        pledge=pledge,
        organisation_id=organisation.id,
        key=key,
        position=position,
        original_text=text,
        title=(title or text)[:TITLE_MAX],
        maintained_in_app=True,
        reports_from=commitment_joining_quarter(organisation, today),
    )
    db.session.add(commitment)
    if primary_priority_id is not None:
        commitment.primary_priority_id = primary_priority_id
        commitment.priority_confidence = Confidence.MANUAL
    else:
        _guess_priority(commitment)
    slugs = theme_catalogue.themes_for(text)
    if slugs:
        commitment.themes = list(db.session.scalars(select(Theme).where(Theme.slug.in_(slugs))))
    db.session.flush()
    audit.record(
        audit_action,
        "commitment",
        commitment.id,
        actor=actor,
        organisation_id=organisation.id,
        after={
            "original_text": text,
            "title": commitment.title,
            "primary_priority_id": commitment.primary_priority_id,
            "reports_from": commitment.reports_from,
        },
    )
    return commitment


def _guess_priority(commitment: Commitment) -> None:
    classification = classify(commitment.original_text)
    priorities = {
        p.code: p for p in db.session.scalars(select(Priority).order_by(Priority.position))
    }
    primary = priorities.get(classification.primary or "")
    commitment.primary_priority = primary
    commitment.priority_confidence = (
        Confidence(classification.confidence) if primary else Confidence.LOW
    )
    commitment.needs_review = primary is None or classification.needs_review


def _in_order(organisation_id: int) -> list[Commitment]:
    """The commitments still on the pledge, numbered 1, 2, 3… (renumbered if they were not)."""
    rows = list(
        db.session.scalars(
            select(Commitment)
            .where(
                Commitment.organisation_id == organisation_id,
                Commitment.removed_from_page_at.is_(None),
            )
            .order_by(Commitment.position, Commitment.id)
        )
    )
    if [c.position for c in rows] != list(range(1, len(rows) + 1)):
        for number, commitment in enumerate(rows, start=1):
            if commitment.position != number:
                commitment.position = number
    return rows


def move_commitment(commitment: Commitment, *, up: bool, actor: User) -> bool:
    """Swap a commitment with the one above (or below) it; False at the top (or bottom)."""
    rows = _in_order(commitment.organisation_id)
    if commitment not in rows:
        raise PledgeError("A retired commitment has no place in the order", field="commitment")
    index = rows.index(commitment)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(rows):
        return False
    neighbour = rows[other]
    commitment.position, neighbour.position = neighbour.position, commitment.position
    db.session.flush()
    audit.record(
        "moved up" if up else "moved down",
        "commitment",
        commitment.id,
        actor=actor,
        organisation_id=commitment.organisation_id,
        before={"position": neighbour.position},
        after={"position": commitment.position},
    )
    return True


def retire_commitment(
    commitment: Commitment, reason: str, *, actor: User, now: datetime, action: str = "retired"
) -> None:
    """Take a commitment off the pledge, with a reason; it stays in the record as retired."""
    reason = reason.strip()
    if not reason:
        raise PledgeError("Give the reason for retiring this commitment", field="reason")
    if commitment.removed_from_page_at is not None:
        raise PledgeError("This commitment is already retired", field="reason")
    commitment.removed_from_page_at = now
    commitment.retired_reason = reason
    commitment.maintained_in_app = True
    db.session.flush()
    audit.record(
        action,
        "commitment",
        commitment.id,
        actor=actor,
        organisation_id=commitment.organisation_id,
        after={"removed_from_page_at": now, "reason": reason},
    )


# Triage: what the import flagged ---------------------------------------------------------------


class TriageKind(StrEnum):
    """The kinds of item an import flags for a person to decide, in the order the page lists
    them; each value is its page's part of the address."""

    NAMES = "names"
    PRIORITIES = "priorities"
    LEAD_INS = "lead-ins"

    @property
    def label(self) -> str:
        return {
            "names": "Names read from a paragraph",
            "priorities": "Priorities to choose or check",
            "lead-ins": "Lead-in or cut-off bullets",
        }[self]


# A region's import can flag thousands (a guessed priority on every other commitment): the
# page of items to check names the first few of each kind, the page of one kind the rest.
TRIAGE_SHOWN = 25  # of each kind, on the page of items to check
TRIAGE_PAGE_SIZE = 50  # on the page that lists one kind in full


@dataclass(frozen=True)
class Triage:
    """What the import flagged that nobody has put right yet: the first ``TRIAGE_SHOWN`` of
    each kind, and how many of each there are in all."""

    names: list[Organisation]
    priorities: list[Commitment]
    lead_ins: list[Commitment]
    counts: dict[TriageKind, int]

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def shown(self, kind: TriageKind) -> list[Organisation] | list[Commitment]:
        return {
            TriageKind.NAMES: self.names,
            TriageKind.PRIORITIES: self.priorities,
            TriageKind.LEAD_INS: self.lead_ins,
        }[kind]


def _name_flagged():  # type: ignore[no-untyped-def]
    return (Organisation.name_needs_review.is_(True),)


def _priority_flagged():  # type: ignore[no-untyped-def]
    return (
        Commitment.removed_from_page_at.is_(None),
        Commitment.is_heading.is_(False),
        Commitment.is_truncated.is_(False),
        or_(Commitment.needs_review.is_(True), Commitment.primary_priority_id.is_(None)),
    )


def _lead_in_flagged():  # type: ignore[no-untyped-def]
    return (
        Commitment.removed_from_page_at.is_(None),
        or_(Commitment.is_heading.is_(True), Commitment.is_truncated.is_(True)),
    )


def _flagged(kind: TriageKind) -> tuple[ColumnElement[bool], ...]:
    return {
        TriageKind.NAMES: _name_flagged,
        TriageKind.PRIORITIES: _priority_flagged,
        TriageKind.LEAD_INS: _lead_in_flagged,
    }[kind]()


def _open_counts(kinds: Sequence[TriageKind] = tuple(TriageKind)) -> dict[TriageKind, int]:
    """How many items of each of ``kinds`` are open, in one statement."""
    counts = [
        select(func.count())
        .select_from(Organisation if kind == TriageKind.NAMES else Commitment)
        .where(*_flagged(kind))
        .scalar_subquery()
        for kind in kinds
    ]
    found = db.session.execute(select(*counts)).one()
    return {kind: n or 0 for kind, n in zip(kinds, found, strict=True)}


def _open_names(*, offset: int, limit: int) -> list[Organisation]:
    """Organisations whose name the import read from a paragraph, by name."""
    return list(
        db.session.scalars(
            select(Organisation)
            .where(*_name_flagged())
            .order_by(func.lower(Organisation.name), Organisation.id)
            .offset(offset)
            .limit(limit)
        )
    )


def _open_commitments(
    flagged: tuple[ColumnElement[bool], ...], *, offset: int, limit: int
) -> list[Commitment]:
    """Commitments flagged so, by organisation name and then their place in the pledge, each
    read with its organisation and priority in the one statement."""
    return list(
        db.session.scalars(
            select(Commitment)
            .join(Organisation, Organisation.id == Commitment.organisation_id)
            .where(*flagged)
            .order_by(
                func.lower(Organisation.name), Organisation.id, Commitment.position, Commitment.id
            )
            .options(
                contains_eager(Commitment.organisation), joinedload(Commitment.primary_priority)
            )
            .offset(offset)
            .limit(limit)
        )
    )


def _open_of_kind(
    kind: TriageKind, *, offset: int, limit: int
) -> list[Organisation] | list[Commitment]:
    if kind == TriageKind.NAMES:
        return _open_names(offset=offset, limit=limit)
    return _open_commitments(_flagged(kind), offset=offset, limit=limit)


def open_items(shown: int = TRIAGE_SHOWN) -> Triage:
    """The first ``shown`` open items of each kind the import flagged, and how many of each."""
    return Triage(
        names=_open_names(offset=0, limit=shown),
        priorities=_open_commitments(_priority_flagged(), offset=0, limit=shown),
        lead_ins=_open_commitments(_lead_in_flagged(), offset=0, limit=shown),
        counts=_open_counts(),
    )


def open_items_of_kind(
    kind: TriageKind, page: int | None
) -> tuple[Pagination, list[Organisation] | list[Commitment]]:
    """One page of the open items of one kind (two statements: the count and the page)."""
    paging = pagination(page, _open_counts([kind])[kind], TRIAGE_PAGE_SIZE)
    return paging, _open_of_kind(kind, offset=paging.offset, limit=paging.size)


def open_item_count() -> int:
    """How many flagged items are open (one counting statement, for the admin overview)."""
    return sum(_open_counts().values())


def confirm_name(organisation: Organisation, name: str, *, actor: User) -> None:
    """Confirm (or correct) a name the import read from a paragraph; clears the flag."""
    name = " ".join(name.split())
    if not name:
        raise PledgeError("Enter the organisation's name", field="name")
    before = organisation.name
    organisation.name = name
    organisation.name_needs_review = False
    db.session.flush()
    audit.record(
        "name confirmed" if before == name else "name corrected",
        "organisation",
        organisation.id,
        actor=actor,
        organisation_id=organisation.id,
        before={"name": before, "name_needs_review": True},
        after={"name": name, "name_needs_review": False},
    )


def choose_priority(
    commitment: Commitment,
    primary_priority_id: int,
    secondary_priority_id: int | None = None,
    *,
    actor: User,
) -> None:
    """A person's choice of priority: it is no longer a guess, and an import keeps it."""
    if secondary_priority_id == primary_priority_id:
        secondary_priority_id = None
    before = {
        "primary_priority_id": commitment.primary_priority_id,
        "priority_confidence": commitment.priority_confidence,
        "needs_review": commitment.needs_review,
    }
    commitment.primary_priority_id = primary_priority_id
    commitment.secondary_priority_id = secondary_priority_id
    commitment.priority_confidence = Confidence.MANUAL
    commitment.needs_review = False
    db.session.flush()
    audit.record(
        "priority chosen",
        "commitment",
        commitment.id,
        actor=actor,
        organisation_id=commitment.organisation_id,
        before=before,
        after={
            "primary_priority_id": primary_priority_id,
            "priority_confidence": Confidence.MANUAL,
            "needs_review": False,
        },
    )


def keep_as_written(commitment: Commitment, *, actor: User) -> None:
    """The bullet is a commitment as it stands: clear its lead-in and cut-off flags."""
    before = {"is_heading": commitment.is_heading, "is_truncated": commitment.is_truncated}
    commitment.is_heading = False
    commitment.is_truncated = False
    commitment.maintained_in_app = True  # a re-import must not flag it again
    db.session.flush()
    audit.record(
        "kept as a commitment",
        "commitment",
        commitment.id,
        actor=actor,
        organisation_id=commitment.organisation_id,
        before=before,
        after={"is_heading": False, "is_truncated": False},
    )


def split_commitment(
    commitment: Commitment, texts: Sequence[str], *, actor: User, today: date, now: datetime
) -> list[Commitment]:
    """Replace a lead-in bullet by the commitments it introduces, in its place in the order."""
    texts = [" ".join(t.split()) for t in texts if t.strip()]
    if not texts:
        raise PledgeError("Enter at least one commitment, one a line", field="commitments")
    organisation = db.session.get(Organisation, commitment.organisation_id)
    assert organisation is not None
    rows = _in_order(commitment.organisation_id)
    at = rows.index(commitment) if commitment in rows else len(rows)
    for later in rows[at + 1 :]:
        later.position += len(texts)
    made = []
    for offset, text in enumerate(texts, start=1):
        try:
            made.append(
                add_commitment(
                    organisation,
                    text,
                    actor=actor,
                    today=today,
                    position=commitment.position + offset,
                    audit_action="split from a lead-in",
                )
            )
        except PledgeError as error:
            raise PledgeError(str(error), field="commitments") from None
    retire_commitment(
        commitment,
        f"Split into {len(made)} commitment{'s' if len(made) != 1 else ''}",
        actor=actor,
        now=now,
        action="split",
    )
    return made


def next_commitment(commitment: Commitment) -> Commitment | None:
    """The commitment after this one on the pledge, if any."""
    rows = _in_order(commitment.organisation_id)
    if commitment not in rows:
        return None
    index = rows.index(commitment)
    return rows[index + 1] if index + 1 < len(rows) else None


def merge_into_next(
    commitment: Commitment, *, actor: User, today: date, now: datetime
) -> Commitment:
    """Join a lead-in bullet to the front of the commitment after it, and retire the lead-in."""
    following = next_commitment(commitment)
    if following is None:
        raise PledgeError("There is no commitment after this one to merge it into", field="action")
    old = following.original_text
    new = f"{commitment.original_text.rstrip()} {old.lstrip()}"
    following.original_text = new
    if following.title == old[:TITLE_MAX]:
        following.title = new[:TITLE_MAX]
    following.maintained_in_app = True
    following.is_truncated = False
    if has_been_reported(following):  # its wording is a goalpost once reported against
        db.session.add(
            TargetChange(
                commitment=following,
                field="original_text",
                old_value=old,
                new_value=new,
                reason="A lead-in bullet from the pledge page was merged into it",
                changed_by=actor,
                changed_at=now,
                period_id=_period_id(today),
            )
        )
    db.session.flush()
    audit.record(
        "merged with the lead-in before it",
        "commitment",
        following.id,
        actor=actor,
        organisation_id=following.organisation_id,
        before={"original_text": old},
        after={"original_text": new},
    )
    retire_commitment(
        commitment, "Merged into the commitment after it", actor=actor, now=now, action="merged"
    )
    return following
