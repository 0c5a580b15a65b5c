"""The product's vocabularies: every status and kind a record can hold.

Values are stored as these strings (check constraints keep the database honest), passed to
templates as enum members, and mapped to GOV.UK tags in one macro.
"""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    LEAD = "lead"
    BOARD = "board"

    @property
    def label(self) -> str:
        return {"admin": "Admin", "lead": "Organisation lead", "board": "Board member"}[self]


class Sector(StrEnum):
    HEALTH = "health"
    EDUCATION = "education"
    VOLUNTARY_COMMUNITY = "voluntary_community"
    BUSINESS = "business"
    PUBLIC_BODY = "public_body"
    HOUSING = "housing"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "health": "Health and care",
            "education": "Education",
            "voluntary_community": "Voluntary and community",
            "business": "Business",
            "public_body": "Public body",
            "housing": "Housing",
            "other": "Other",
        }[self]


class ContactRole(StrEnum):
    """Who besides the leads hears about an organisation's overdue return."""

    DEPUTY = "deputy"
    SPONSOR = "sponsor"


class DeliveryStatus(StrEnum):
    """How a commitment is going, as its lead reports it each quarter."""

    NOT_STARTED = "not_started"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    COMPLETED = "completed"
    DISCONTINUED = "discontinued"

    @property
    def label(self) -> str:
        return {
            "not_started": "Not started",
            "on_track": "On track",
            "at_risk": "At risk",
            "off_track": "Off track",
            "completed": "Completed",
            "discontinued": "Discontinued",
        }[self]

    @property
    def needs_narrative(self) -> bool:
        """At risk and off track need an explanation; discontinued needs a reason."""
        return self in {
            DeliveryStatus.AT_RISK,
            DeliveryStatus.OFF_TRACK,
            DeliveryStatus.DISCONTINUED,
        }


class ReportingStatus(StrEnum):
    """Whether an organisation is keeping up with its returns (the second status)."""

    ACTIVE = "active"
    LATE = "late"
    NON_COMMUNICATING = "non_communicating"

    @property
    def label(self) -> str:
        return {"active": "Active", "late": "Late", "non_communicating": "Not communicating"}[self]


class PeriodState(StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"
    PUBLISHED = "published"


class ReturnState(StrEnum):
    NOT_STARTED = "not_started"
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"

    @property
    def label(self) -> str:
        return {
            "not_started": "Not started",
            "draft": "In progress",
            "submitted": "Submitted",
            "returned": "Returned for changes",
            "accepted": "Accepted",
        }[self]


class ReturnEventKind(StrEnum):
    """What happened to a return: its history, as the reviewer reads it."""

    SUBMITTED = "submitted"
    SENT_BACK = "sent_back"
    ACCEPTED = "accepted"
    EXTENSION_GRANTED = "extension_granted"
    RECORDED_MISSED = "recorded_missed"

    @property
    def label(self) -> str:
        return {
            "submitted": "Submitted",
            "sent_back": "Sent back for changes",
            "accepted": "Accepted",
            "extension_granted": "Extension granted",
            "recorded_missed": "Recorded as missed",
        }[self]


class EvidenceGrade(StrEnum):
    SELF_DECLARED = "self_declared"
    EVIDENCE_ATTACHED = "evidence_attached"
    VERIFIED = "verified"


class Direction(StrEnum):
    """Which way a target moves: more homes built, or fewer tonnes emitted."""

    INCREASE = "increase"
    DECREASE = "decrease"


class Confidence(StrEnum):
    """How a commitment's priority was decided."""

    EXPLICIT = "explicit"  # the pledge said so ("Net Zero: …")
    HIGH = "high"  # the keyword classifier was clear
    LOW = "low"  # the classifier guessed: a human should look
    MANUAL = "manual"  # a person chose it


class NotificationState(StrEnum):
    """The outbox: states only move forward."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class JobOutcome(StrEnum):
    """How one run of a scheduled job ended; ``interrupted`` when its process died mid-run."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class ReminderOutcome(StrEnum):
    """What became of one rung of an organisation's reminder ladder."""

    SENT = "sent"
    # Catch-up: the scheduler was down and a newer rung went instead.
    SUPERSEDED = "superseded"
    # Due, but nobody to send it to (no active lead, say): recorded so it is not tried daily.
    NO_RECIPIENTS = "no_recipients"


class ProposalState(StrEnum):
    """A lead's proposed revision to a pledge: waiting for the programme team, then decided."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


def values(enum: type[StrEnum]) -> list[str]:
    """The stored strings of an enum, for check constraints and choices."""
    return [member.value for member in enum]
