"""The audit log in words: who did what to which record, and what changed, as people say it.

An audit event stores ids, slugs and plain JSON values (``services/audit.py``); the admins'
audit page needs "Ada Admin sent back Active Luton's 2024/25 Q1 return for changes" and
"Status: from On track to At risk". ``describe`` makes those from an event and the names of
the records it mentions, which ``services/audit_log.py`` reads for a whole page at once.
Nothing here reads the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tracker.charts import format_amount
from tracker.domain.calendar import Quarter, period_for
from tracker.domain.enums import (
    Confidence,
    DeliveryStatus,
    Direction,
    EvidenceGrade,
    NotificationState,
    ReportingStatus,
    Role,
    Sector,
)
from tracker.models import AuditEvent

LONDON = ZoneInfo("Europe/London")
NONE = "none"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass(frozen=True)
class ReturnName:
    organisation: str
    period: str  # its label, "2024/25 Q1"

    def __str__(self) -> str:
        return f"{self.organisation}'s {self.period} return"


@dataclass(frozen=True)
class UpdateName:
    commitment: str
    return_: ReturnName


@dataclass(frozen=True)
class EmailName:
    recipient: str
    subject: str


@dataclass
class Names:
    """The names of the records a page of events mentions, by id (or slug)."""

    organisations: dict[int, str] = field(default_factory=dict)
    organisations_by_slug: dict[str, str] = field(default_factory=dict)
    people: dict[int, str] = field(default_factory=dict)
    commitments: dict[int, str] = field(default_factory=dict)
    returns: dict[int, ReturnName] = field(default_factory=dict)
    updates: dict[int, UpdateName] = field(default_factory=dict)
    priorities: dict[int, str] = field(default_factory=dict)
    themes: dict[str, str] = field(default_factory=dict)
    emails: dict[int, EmailName] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One field of an event: its value before and after (either may be absent)."""

    label: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Description:
    actor: str
    summary: str  # what the actor did, to follow their name
    changes: list[Change]

    @property
    def sentence(self) -> str:
        return f"{self.actor} {self.summary}"


# Reading an event's references -----------------------------------------------------------------


def entity_number(event: AuditEvent) -> int | None:
    """The event's record id as a number (a period is recorded by its slug, for one)."""
    return int(event.entity_id) if event.entity_id.isdigit() else None


def period_label(slug: object) -> str | None:
    """``2024-25-q1`` as people write it, ``2024/25 Q1``; None if it is not a period's slug."""
    try:
        return Quarter.from_slug(str(slug)).label
    except ValueError:
        return None


# Values ----------------------------------------------------------------------------------------


def _label_of(enum: type[StrEnum]) -> Callable[[Any], str]:
    def label(value: Any) -> str:
        try:
            member = enum(value)
        except ValueError:
            return str(value)
        return str(getattr(member, "label", member.value.replace("_", " ").capitalize()))

    return label


_CONFIDENCE = {
    Confidence.EXPLICIT: "Stated in the pledge",
    Confidence.HIGH: "Clear from the wording",
    Confidence.LOW: "A guess to check",
    Confidence.MANUAL: "Chosen by a person",
}


def _confidence(value: Any) -> str:
    try:
        return _CONFIDENCE[Confidence(value)]
    except ValueError:
        return str(value)


def _amount(value: Any) -> str:
    try:
        return format_amount(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def when(value: Any) -> str:
    """A stored date or time as people read it: 21 July 2025, or 21 July 2025 at 9:05am."""
    if isinstance(value, str):
        try:
            value = (
                datetime.fromisoformat(value)
                if _ISO_DATETIME.match(value)
                else date.fromisoformat(value)
            )
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(LONDON)
        text = value.strftime("%-d %B %Y at %-I:%M%p")
        return text.replace("AM", "am").replace("PM", "pm")
    if isinstance(value, date):
        return value.strftime("%-d %B %Y")
    return str(value)


def _joined(values: Sequence[str]) -> str:
    return ", ".join(values) if values else NONE


def _milestones(value: Any) -> str:
    shown = []
    for item in value or []:
        if isinstance(item, (list, tuple)) and item:
            title, due = item[0], item[1] if len(item) > 1 else None
            shown.append(f"{title} (by {when(due)})" if due else str(title))
        else:
            shown.append(str(item))
    return "; ".join(shown) if shown else NONE


def _quarter_starting(value: Any) -> str:
    """``2024-10-01`` → ``2024/25 Q3``: a quarter stored as its first day."""
    try:
        return period_for(date.fromisoformat(str(value)[:10])).label
    except ValueError:
        return str(value)


# Each field: its label and how its value reads (plain text when no reader is given).
Reader = Callable[[Any, Names], str]
_FIELDS: dict[str, tuple[str, Reader | None]] = {
    # People
    "email": ("Email", None),
    "name": ("Name", None),
    "role": ("Role", lambda v, _: _label_of(Role)(v)),
    "active": ("Active", None),
    "organisations": (
        "Organisations",
        lambda v, n: _joined([n.organisations_by_slug.get(s, str(s)) for s in v or []]),
    ),
    "expires_at": ("Invitation link expires", lambda v, _: when(v)),
    # Organisations
    "slug": ("Web address name", None),
    "sector": ("Sector", lambda v, _: _label_of(Sector)(v)),
    "website": ("Website", None),
    "deputy": ("Deputy", None),
    "sponsor": ("Senior sponsor", None),
    "reporting_status": ("Reporting status", lambda v, _: _label_of(ReportingStatus)(v)),
    "note": ("Note", None),
    "to": ("Emailed", lambda v, _: _joined([str(a) for a in v or []])),
    "days_overdue": ("Days overdue", None),
    "statement": ("Pledge statement", None),
    "reports_from": ("First quarter it reports for", lambda v, _: _quarter_starting(v)),
    "first_quarter": ("First quarter of reporting", None),
    # Returns and updates
    "period": ("Quarter", lambda v, _: period_label(v) or str(v)),
    "late": ("Late", None),
    "comment": ("Comment", None),
    "extended_due_on": ("Extended to", lambda v, _: when(v)),
    "reason": ("Reason", None),
    "status": ("Status", lambda v, _: _label_of(DeliveryStatus)(v)),
    "progress_value": ("Progress", lambda v, _: _amount(v)),
    "narrative": ("Progress update", None),
    "evidence_url": ("Link to evidence", None),
    "evidence_file": ("Evidence file", None),
    "evidence_files": ("Evidence files", None),
    "evidence_grade": ("Evidence", lambda v, _: _label_of(EvidenceGrade)(v)),
    "risks": ("Risks or support needed", None),
    "reviewer_note": ("Note for the reviewer", None),
    "no_change": ("No change since last quarter", None),
    "complete": ("Complete", None),
    # Periods and board summaries
    "opens_on": ("Window opens", lambda v, _: when(v)),
    "due_on": ("Due", lambda v, _: when(v)),
    "closes_on": ("Window closes", lambda v, _: when(v)),
    "revision": ("Revision", None),
    "emails": ("Board members emailed", None),
    "not_emailed": ("Not emailed (address not valid)", None),
    # Emails
    "state": ("State", lambda v, _: _label_of(NotificationState)(v)),
    "last_error": ("Last error", None),
    # Commitments
    "title": ("Title", None),
    "original_text": ("Wording on the pledge page", None),
    "owner_name": ("Owner", None),
    "owner_email": ("Owner's email", None),
    "metric": ("Metric", None),
    "unit": ("Unit", None),
    "baseline_value": ("Baseline", lambda v, _: _amount(v)),
    "baseline_date": ("Baseline date", lambda v, _: when(v)),
    "target_value": ("Target", lambda v, _: _amount(v)),
    "target_date": ("Target date", lambda v, _: when(v)),
    "direction": ("Direction", lambda v, _: _label_of(Direction)(v)),
    "primary_priority_id": ("Priority", lambda v, n: n.priorities.get(v, "another priority")),
    "secondary_priority_id": (
        "Secondary priority",
        lambda v, n: n.priorities.get(v, "another priority"),
    ),
    "priority_confidence": ("How the priority was chosen", lambda v, _: _confidence(v)),
    "needs_review": ("Needs a human look", None),
    "milestones": ("Milestones", lambda v, _: _milestones(v)),
    "reason for change": ("Reason for the change", None),
    "position": ("Place on the pledge page", None),
    "is_heading": ("A heading, not a commitment", None),
    "is_truncated": ("Cut off on the page", None),
    "duplicates_folded": ("Repeats folded into it", None),
    "removed_from_page_at": ("Left the pledge page", lambda v, _: when(v)),
    "retired_reason": ("Why it was retired", None),
    "name_needs_review": ("Name to confirm", None),
    "commitment": ("Commitment", None),
    "themes": ("Themes", lambda v, n: _joined([n.themes.get(s, str(s)) for s in v or []])),
}

_ORDER = {key: position for position, key in enumerate(_FIELDS)}


def value_text(key: str, value: Any, names: Names) -> str:
    """One stored value as people read it: Yes/No, 21 July 2025, labels, names, lists."""
    if value is None or value == "":
        return NONE
    if isinstance(value, bool):
        return "Yes" if value else "No"
    reader = _FIELDS.get(key, (None, None))[1]
    if reader is not None:
        return reader(value, names)
    if isinstance(value, (list, tuple)):
        return _joined([value_text(key, item, names) for item in value])
    if isinstance(value, dict):
        return "; ".join(f"{label(k)}: {value_text(k, v, names)}" for k, v in value.items())
    if isinstance(value, str) and (_ISO_DATE.fullmatch(value) or _ISO_DATETIME.match(value)):
        return when(value)
    return str(value)


def label(key: str) -> str:
    """A field's name as people say it."""
    found = _FIELDS.get(key)
    return found[0] if found else key.replace("_", " ").capitalize()


def changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    names: Names,
    *,
    leave_out: frozenset[str] = frozenset(),
) -> list[Change]:
    """What an event changed, field by field: only fields that differ when it has both sides."""
    before, after = before or {}, after or {}
    both = bool(before) and bool(after)
    found = []
    # In the order of the table above, not the stored order: PostgreSQL's JSON keeps its own.
    for key in sorted({*before, *after}, key=lambda k: (_ORDER.get(k, len(_ORDER)), k)):
        if key in leave_out:
            continue
        old, new = before.get(key), after.get(key)
        if both and old == new:
            continue
        if not both and old is None and new is None:
            continue  # a field a new record left empty says nothing
        found.append(
            Change(
                label(key),
                value_text(key, old, names) if key in before else None,
                value_text(key, new, names) if key in after else None,
            )
        )
    return found


# Sentences -------------------------------------------------------------------------------------


def actor_name(event: AuditEvent, names: Names) -> str:
    """Who did it: a person's name, or what acted for nobody in particular."""
    if event.actor_id is not None and event.actor_id in names.people:
        return names.people[event.actor_id]
    actor = event.actor_label or "system"
    if actor == "system":
        return "The system"
    if actor == "scheduler":
        return "The scheduler"
    if actor == "command line":
        return "Someone at the command line"
    if actor.startswith(("import of ", "demo ")):
        return f"The {actor}"
    return actor  # the email address of someone whose account has gone


def _quoted(title: str) -> str:
    return f"“{title}”"


def _summary(event: AuditEvent, names: Names) -> tuple[str, frozenset[str]]:
    """What the actor did, and which of the event's fields that already says."""
    number = entity_number(event)
    action, kind = event.action, event.entity_type
    after = event.after or {}
    organisation = names.organisations.get(event.organisation_id or -1, "an organisation")

    if kind == "user":
        person = names.people.get(number or -1, "a person")
        themselves = event.actor_id is not None and event.actor_id == number
        their = "their" if themselves else f"{person}'s"
        phrases = {
            "created": f"added an account for {person}",
            "updated": f"changed {their} account",
            "deactivated": f"deactivated {their} account",
            "reactivated": f"reactivated {their} account",
            "invited": f"invited {person}",
            "accepted invitation": f"accepted {their} invitation",
            "reset password": f"reset {their} password",
            "changed password": f"changed {their} password",
        }
        return phrases.get(action, f"{action} {their} account"), frozenset()

    if kind == "organisation":
        named = names.organisations.get(number or -1, organisation)
        quarter = period_label(after.get("period"))
        phrases = {
            "created": f"added the organisation {named}",
            "imported": f"added the organisation {named} from the pledge page",
            "updated": f"changed {named}'s details",
            "chased": f"chased {named} for its {quarter} return" if quarter else f"chased {named}",
            "reporting status changed": f"changed {named}'s reporting status",
            "name confirmed": f"confirmed the name {named}, read from the pledge paragraph",
            "name corrected": f"corrected the name {named}, read from the pledge paragraph",
        }
        return phrases.get(action, f"{action} {named}"), frozenset({"period"})

    if kind == "return":
        return_ = names.returns.get(number or -1)
        name = str(return_) if return_ else f"a return of {organisation}"
        owner, quarter = (return_.organisation, return_.period) if return_ else (organisation, "a")
        phrases = {
            "submitted": f"submitted {name}",
            "accepted": f"accepted {name}",
            "sent back": f"sent back {name} for changes",
            "extension granted": f"gave {owner} more time for its {quarter} return",
            "recorded as missed": f"recorded {name} as missed",
        }
        return phrases.get(action, f"{action} {name}"), frozenset({"period"})

    if kind == "commitment_update":
        update = names.updates.get(number or -1)
        on = (
            f"{_quoted(update.commitment)} in {update.return_}"
            if update
            else f"a commitment in a return of {organisation}"
        )
        phrases = {
            "started update": f"started the update on {on}",
            "saved update": f"saved the update on {on}",
            "verified evidence": f"verified the evidence for {on}",
        }
        return phrases.get(action, f"{action} the update on {on}"), frozenset()

    if kind == "commitment":
        title = names.commitments.get(number or -1)
        what = f"{_quoted(title)} ({organisation})" if title else f"a commitment of {organisation}"
        phrases = {
            "updated": f"changed the commitment {what}",
            "updated from the page": f"updated the commitment {what} from the pledge page",
            "no longer on the page": f"marked the commitment {what} as gone from the pledge page",
            "added": f"added the commitment {what}",
            "split from a lead-in": f"added the commitment {what}, split from a lead-in bullet",
            "retired": f"retired the commitment {what}",
            "split": f"split the lead-in bullet {what} into commitments",
            "merged": f"merged the lead-in bullet {what} into the commitment after it",
            "merged with the lead-in before it": f"joined the lead-in bullet before it to {what}",
            "moved up": f"moved the commitment {what} up",
            "moved down": f"moved the commitment {what} down",
            "priority chosen": f"chose the priority of the commitment {what}",
            "kept as a commitment": f"kept the bullet {what} as a commitment",
            "wording changed": f"changed the wording of the commitment {what}",
        }
        return phrases.get(action, f"{action} the commitment {what}"), frozenset()

    if kind == "pledge":
        phrases = {
            "statement changed on the page": f"updated {organisation}'s pledge statement "
            "from the pledge page",
            "statement changed": f"changed {organisation}'s pledge statement",
        }
        return phrases.get(action, f"{action} {organisation}'s pledge"), frozenset()

    if kind == "pledge_page":
        phrases = {
            "imported the pledge page": f"imported the pledge page {_quoted(event.entity_id)}",
            "imported the pledge page: no changes": "imported the pledge page "
            f"{_quoted(event.entity_id)}, which changed nothing",
        }
        return phrases.get(action, f"{action} {_quoted(event.entity_id)}"), frozenset()

    if kind == "commitment_proposal":
        phrases = {
            "proposed a change": f"proposed a change to a commitment of {organisation}",
            "proposed a new commitment": f"proposed a new commitment for {organisation}",
            "approved": f"approved a revision proposed by {organisation}",
            "declined": f"declined a revision proposed by {organisation}",
        }
        return phrases.get(action, f"{action} a proposal of {organisation}"), frozenset()

    if kind == "period":
        quarter = period_label(event.entity_id) or "a quarter"
        phrases = {"dates changed": f"changed the reporting dates of {quarter}"}
        return phrases.get(action, f"{action} {quarter}"), frozenset()

    if kind == "place":
        phrases = {"reporting start changed": "changed the quarter reporting began with"}
        return phrases.get(action, f"{action} the place"), frozenset()

    if kind == "board_summary":
        quarter = period_label(after.get("period")) or "a quarter"
        summary = f"the {quarter} board summary"
        phrases = {
            "built board summary": f"built {summary}",
            "rebuilt board summary": f"rebuilt {summary}",
            "published board summary": f"published {summary}",
        }
        return phrases.get(action, f"{action} {summary}"), frozenset({"period"})

    if kind == "notification":
        email = names.emails.get(number or -1)
        what = f"the email {_quoted(email.subject)} to {email.recipient}" if email else "an email"
        phrases = {"queued again": f"queued {what} to be sent again"}
        return phrases.get(action, f"{action} {what}"), frozenset()

    return f"{action} a {kind.replace('_', ' ')}", frozenset()


def describe(event: AuditEvent, names: Names) -> Description:
    """The event as a sentence, with what it changed."""
    summary, said = _summary(event, names)
    return Description(
        actor=actor_name(event, names),
        summary=summary,
        changes=changes(event.before, event.after, names, leave_out=said),
    )
