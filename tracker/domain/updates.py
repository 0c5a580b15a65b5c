"""The rules of one quarterly commitment update.

DESIGN.md ("Commitment update", "How it flows" step 3, "What makes it better"): each quarter a
lead gives every commitment a delivery status, a progress value toward the target, a narrative,
an evidence link and the risks or support needed.

- **Status** is required. At risk and off track need a narrative saying what is holding the
  commitment back; discontinued needs the reason (the database enforces the same).
- **Lengths** are counted as the GOV.UK character count component counts them, with a line
  break as one character (browsers send CRLF): narrative up to 5,000, risks and the note for
  the reviewer up to 2,000 each.
- **Progress value** is optional (a lead may not have this quarter's figure), only for a
  commitment with a numeric target, 0 or more, under a trillion and with at most 4 decimal
  places (the ``Numeric(18, 4)`` column).
- **Published once accepted**: the narrative and the evidence link become public when the
  programme team accepts the return; risks and the **note for the reviewer** never do.
- **Evidence link** is optional; when given it is an http(s) address with a host, up to 2,000
  characters (the column's size).
- **Evidence files**: up to ``EVIDENCE_FILES_MAX`` per update, each checked by its content
  (tracker/evidence.py).
- **A draft** may be half done: no status yet, no narrative yet. What it does say must still be
  well formed (a number that is a number, a link that is a link, lengths within their limits),
  so a draft never holds what a complete update could not.
- **Current status** of a commitment is its latest accepted update's, ``not_started`` if none.
- **"No change since last quarter"** is one click: it copies the previous update and counts the
  quarters without change (it still counts as reporting).
- **Evidence grade**: ``verified`` when an admin confirmed it, else ``evidence_attached`` with a
  link or file, else ``self_declared``.
- **Stalled** (shown to the board next to red commitments): see :func:`is_stalled`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple
from urllib.parse import urlsplit

from tracker.domain.enums import DeliveryStatus, EvidenceGrade

NARRATIVE_MAX = 5_000
RISKS_MAX = 2_000
REVIEWER_NOTE_MAX = 2_000
EVIDENCE_URL_MAX = 2_000
PROGRESS_VALUE_LIMIT = Decimal(10) ** 12
PROGRESS_VALUE_PLACES = 4
# Enough for a report, its appendix and a few photographs; more is a sign of the wrong place.
EVIDENCE_FILES_MAX = 10

# Delivery ends with these: nothing more can stall.
FINAL_STATUSES = frozenset({DeliveryStatus.COMPLETED, DeliveryStatus.DISCONTINUED})

# GOV.UK Frontend tag modifiers; the label comes from the enum.
_TAG_CLASSES = {
    DeliveryStatus.NOT_STARTED: "govuk-tag--grey",
    DeliveryStatus.ON_TRACK: "govuk-tag--green",
    DeliveryStatus.AT_RISK: "govuk-tag--yellow",
    DeliveryStatus.OFF_TRACK: "govuk-tag--red",
    DeliveryStatus.COMPLETED: "govuk-tag--blue",
    DeliveryStatus.DISCONTINUED: "govuk-tag--grey",
}

# The fields in the order the update form shows them, so the error summary follows the page.
FIELD_ORDER = (
    "status",
    "progress_value",
    "narrative",
    "reviewer_note",
    "evidence_url",
    "evidence_file",
    "risks",
)


@dataclass(frozen=True)
class UpdateProblem:
    """One thing to fix in an update: the form field and a GOV.UK-style error message."""

    field: str
    message: str


def check_update(
    *,
    status: DeliveryStatus | str | None,
    narrative: str | None,
    progress_value: Decimal | None,
    has_numeric_target: bool,
    evidence_url: str | None,
    risks: str | None,
    file_count: int = 0,
    draft: bool = False,
    reviewer_note: str | None = None,
) -> list[UpdateProblem]:
    """Everything wrong with an update, one problem per field, in the order of the form.

    A ``draft`` is not asked for what it has not got yet (a status, an explanation); whatever
    it does hold is checked as strictly as a complete update's.
    """
    problems = {}
    status_ = _status_or_none(status)
    if status_ is None and not draft:
        problems["status"] = "Select how the commitment is going"

    text = _text(narrative)
    if not text and status_ in {DeliveryStatus.AT_RISK, DeliveryStatus.OFF_TRACK} and not draft:
        problems["narrative"] = "Explain what is holding the commitment back"
    elif not text and status_ is DeliveryStatus.DISCONTINUED and not draft:
        problems["narrative"] = "Give the reason the commitment was discontinued"
    elif len(text) > NARRATIVE_MAX:
        problems["narrative"] = f"Progress update must be {NARRATIVE_MAX:,} characters or less"

    if len(_text(risks)) > RISKS_MAX:
        problems["risks"] = f"Risks and support needed must be {RISKS_MAX:,} characters or less"

    if len(_text(reviewer_note)) > REVIEWER_NOTE_MAX:
        problems["reviewer_note"] = (
            f"Note for the reviewer must be {REVIEWER_NOTE_MAX:,} characters or less"
        )

    value_problem = _progress_value_problem(progress_value, has_numeric_target)
    if value_problem:
        problems["progress_value"] = value_problem

    url_problem = _evidence_url_problem(evidence_url)
    if url_problem:
        problems["evidence_url"] = url_problem

    files_problem = too_many_files(file_count)
    if files_problem:
        problems["evidence_file"] = files_problem

    return [UpdateProblem(field, problems[field]) for field in FIELD_ORDER if field in problems]


def too_many_files(count: int) -> str | None:
    """The message when an update would hold more evidence files than it may."""
    if count <= EVIDENCE_FILES_MAX:
        return None
    return f"An update can have up to {EVIDENCE_FILES_MAX} files: remove one before you add another"


# A draft may be saved before a status is chosen: its update has none yet.
NO_STATUS_TAG = ("No status yet", "govuk-tag--grey")


def status_tag(status: DeliveryStatus | str | None) -> tuple[str, str]:
    """The label and GOV.UK tag class of a status: ``("On track", "govuk-tag--green")``.

    A draft saved without a status has none: ``("No status yet", "govuk-tag--grey")``.
    """
    if not status:
        return NO_STATUS_TAG
    status_ = DeliveryStatus(status)
    return status_.label, _TAG_CLASSES[status_]


@dataclass(frozen=True)
class PreviousUpdate:
    """What carry-forward needs of a commitment's previous update."""

    status: DeliveryStatus
    progress_value: Decimal | None = None
    narrative: str | None = None
    evidence_url: str | None = None
    risks: str | None = None
    unchanged_quarters: int = 0


@dataclass(frozen=True)
class CarriedForward:
    """A "no change since last quarter" update, ready to save."""

    status: DeliveryStatus
    progress_value: Decimal | None
    narrative: str | None
    evidence_url: str | None
    risks: str | None
    unchanged_quarters: int
    no_change: bool = True


def carry_forward(previous: PreviousUpdate | None) -> CarriedForward:
    """The update "no change since last quarter" makes from the previous one."""
    if previous is None:
        return CarriedForward(
            status=DeliveryStatus.NOT_STARTED,
            progress_value=None,
            narrative=None,
            evidence_url=None,
            risks=None,
            unchanged_quarters=1,
        )
    # The narrative comes too: at risk, off track and discontinued must stay explained.
    # The evidence link comes but not its "verified" grade: an admin checked last quarter's.
    return CarriedForward(
        status=DeliveryStatus(previous.status),
        progress_value=previous.progress_value,
        narrative=previous.narrative,
        evidence_url=previous.evidence_url,
        risks=previous.risks,
        unchanged_quarters=max(0, previous.unchanged_quarters) + 1,
    )


def no_change_holds(answer: CarriedForward, previous: PreviousUpdate | None) -> bool:
    """Whether an answer of "no change since last quarter" still says what last quarter's says.

    It was copied when the lead chose it, perhaps from a return still waiting for review; if
    that return was then sent back and corrected, or is back with its organisation, the copy
    says what last quarter no longer does, and must be chosen (or written) again.
    """
    carried = carry_forward(previous)
    return (
        answer.status,
        answer.progress_value,
        answer.narrative,
        answer.evidence_url,
        answer.risks,
    ) == (
        carried.status,
        carried.progress_value,
        carried.narrative,
        carried.evidence_url,
        carried.risks,
    )


def current_status(
    accepted_statuses_newest_first: Sequence[DeliveryStatus | str],
) -> DeliveryStatus:
    """A commitment's status: its latest accepted update's, ``not_started`` if it has none."""
    for status in accepted_statuses_newest_first:
        return DeliveryStatus(status)
    return DeliveryStatus.NOT_STARTED


def evidence_grade(*, evidence_url: str | None, has_file: bool, verified: bool) -> EvidenceGrade:
    """How well an update is evidenced: verified, evidence attached, or self-declared."""
    # An admin's confirmation is itself the evidence, whether or not anything was attached.
    if verified:
        return EvidenceGrade.VERIFIED
    if has_file or _text(evidence_url):
        return EvidenceGrade.EVIDENCE_ATTACHED
    return EvidenceGrade.SELF_DECLARED


class StatusPoint(NamedTuple):
    """One update in a commitment's history: ``(status, progress_value[, no_change])``."""

    status: DeliveryStatus
    progress_value: Decimal | None
    no_change: bool = False


STALLED_AFTER_UPDATES = 3  # the same three quarters running: two quarters without progress


def is_stalled(history: Sequence[tuple]) -> bool:
    """Whether a commitment has made no progress for two quarters (history newest first).

    Stalled when its latest status is not final (completed and discontinued never stall) and
    either the two latest updates were both "no change since last quarter", or the three
    latest updates have the same status and the same progress value. A run with no progress
    value at all only stalls as ``not_started``: a commitment without figures that stays
    on track (or at risk, already flagged amber) cannot be shown to have stalled by numbers.
    Items are ``(status, progress_value)`` or ``(status, progress_value, no_change)``.
    """
    points = [StatusPoint(DeliveryStatus(item[0]), *item[1:]) for item in history]
    if not points or points[0].status in FINAL_STATUSES:
        return False
    if len(points) >= 2 and points[0].no_change and points[1].no_change:
        return True
    latest = points[:STALLED_AFTER_UPDATES]
    if len(latest) < STALLED_AFTER_UPDATES:
        return False
    status, value = latest[0].status, latest[0].progress_value
    if any(p.status != status or p.progress_value != value for p in latest):
        return False
    return value is not None or status is DeliveryStatus.NOT_STARTED


def _status_or_none(status: DeliveryStatus | str | None) -> DeliveryStatus | None:
    # A tampered form value is treated as no answer, not a crash.
    try:
        return DeliveryStatus(status) if status else None
    except ValueError:
        return None


def _text(value: str | None) -> str:
    # Blank is missing; CRLF counts once, as the GOV.UK character count shows it.
    return (value or "").replace("\r\n", "\n").strip()


def _progress_value_problem(value: Decimal | None, has_numeric_target: bool) -> str | None:
    if value is None:
        return None
    if not has_numeric_target:
        return "Leave progress value empty: this commitment has no numeric target"
    if not value.is_finite():
        return "Progress value must be a number"
    if value < 0:
        return "Progress value must be 0 or more"
    if value >= PROGRESS_VALUE_LIMIT:
        return "Progress value must be less than 1,000,000,000,000"
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > PROGRESS_VALUE_PLACES:
        return f"Progress value must have {PROGRESS_VALUE_PLACES} decimal places or fewer"
    return None


def _evidence_url_problem(url: str | None) -> str | None:
    text = (url or "").strip()
    if not text:
        return None
    if len(text) > EVIDENCE_URL_MAX:
        return f"Evidence link must be {EVIDENCE_URL_MAX:,} characters or less"
    bad = "Enter the evidence link in the correct format, like https://www.example.org/report"
    if any(character.isspace() for character in text):
        return bad
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return bad
    if parts.scheme.lower() not in {"http", "https"} or not host:
        return bad
    return None
