"""Where one organisation's return for one quarter stands, and what it asks of the programme team.

DESIGN.md ("A year of operation"): unfinished work of any earlier quarter stays on the admin's
list until it is done, and every figure is counted once, by one set of rules. These are those
rules, for one (organisation, quarter) pair that owes a return:

- **Standing** partitions the returns: *accepted*, *awaiting review* (submitted), *sent back*
  (returned with a comment, not yet submitted again), *in progress* (a draft) and *not
  started* (including no return at all). Every expected return is in exactly one.
- **Received** returns are accepted or awaiting review; a sent-back return is not received: the
  organisation has it again. **On time** and **late** are judged by the first submission (a
  return sent back and fixed later was not late for it), among returns ever submitted.
- **Overdue**: never submitted and past its deadline (the due date, or a later extension).
- **Missed**: overdue and its window has closed (the window's close, or a later extension),
  so the organisation can no longer send it unless an admin grants an extension.
- **Work** for the admin, at most one kind per return, in this order: *awaiting review*;
  *sent back* (until resubmitted); *missed* (until an extension is granted or an admin records
  it as missed); *overdue* (the window is still open: chase); *extension ending* (not sent and
  its extension ends within a week). Accepted, not-yet-due and recorded-missed returns ask
  nothing.

Pure functions: no clock, no database. Whoever asks passes ``today``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from tracker.domain.calendar import Quarter, days_overdue, was_late
from tracker.domain.enums import ReturnState
from tracker.domain.reporting_status import PeriodRecord

EXTENSION_ENDING_DAYS = 7


class Standing(StrEnum):
    ACCEPTED = "accepted"
    AWAITING_REVIEW = "awaiting_review"
    SENT_BACK = "sent_back"
    IN_PROGRESS = "in_progress"
    NOT_STARTED = "not_started"

    @property
    def label(self) -> str:
        return {
            "accepted": "Accepted",
            "awaiting_review": "Waiting for review",
            "sent_back": "Sent back for changes",
            "in_progress": "In progress",
            "not_started": "Not started",
        }[self]


_STANDINGS = {
    ReturnState.ACCEPTED: Standing.ACCEPTED,
    ReturnState.SUBMITTED: Standing.AWAITING_REVIEW,
    ReturnState.RETURNED: Standing.SENT_BACK,
    ReturnState.DRAFT: Standing.IN_PROGRESS,
    ReturnState.NOT_STARTED: Standing.NOT_STARTED,
}


class Work(StrEnum):
    """What a return asks of the programme team, in the order the work list shows it."""

    AWAITING_REVIEW = "awaiting_review"
    SENT_BACK = "sent_back"
    MISSED = "missed"
    OVERDUE = "overdue"
    EXTENSION_ENDING = "extension_ending"

    @property
    def label(self) -> str:
        return {
            "awaiting_review": "Waiting for review",
            "sent_back": "Sent back, not yet resubmitted",
            "missed": "Window closed without a return",
            "overdue": "Overdue",
            "extension_ending": "Extension ending within a week",
        }[self]

    @property
    def slug(self) -> str:
        """The kind in a URL: ``awaiting-review``."""
        return self.value.replace("_", "-")

    @classmethod
    def from_slug(cls, slug: str) -> Work | None:
        """The kind a URL names, or None."""
        return next((kind for kind in cls if kind.slug == slug), None)


@dataclass(frozen=True)
class ReturnFacts:
    """One organisation's return for one quarter, as the rules need it."""

    state: ReturnState | None
    due_on: date
    closes_on: date
    extended_to: date | None = None
    submitted_on: date | None = None
    missed_recorded: bool = False

    @property
    def deadline(self) -> date:
        """The due date, or a later extension."""
        return max(self.due_on, self.extended_to) if self.extended_to else self.due_on

    @property
    def window_closes_on(self) -> date:
        """The last day the return can be sent: the window's close, or a later extension."""
        return max(self.closes_on, self.extended_to) if self.extended_to else self.closes_on

    @property
    def standing(self) -> Standing:
        return _STANDINGS[self.state or ReturnState.NOT_STARTED]

    @property
    def received(self) -> bool:
        return self.standing in {Standing.ACCEPTED, Standing.AWAITING_REVIEW}

    @property
    def ever_submitted(self) -> bool:
        return self.submitted_on is not None

    @property
    def late(self) -> bool:
        """Submitted after its deadline (by its first submission)."""
        return self.submitted_on is not None and was_late(
            self.due_on, self.submitted_on, extended_to=self.extended_to
        )

    def overdue(self, today: date) -> bool:
        """Never submitted, and past its deadline on ``today``."""
        return self.submitted_on is None and today > self.deadline

    def missed(self, today: date) -> bool:
        """Never submitted, and its window had closed by ``today``."""
        return self.submitted_on is None and today > self.window_closes_on

    def days_overdue(self, today: date) -> int:
        return 0 if self.submitted_on is not None else days_overdue(self.deadline, today)

    def period_record(self, quarter: Quarter) -> PeriodRecord:
        """The return as the reporting-status rule reads it (``domain.reporting_status``)."""
        return PeriodRecord(
            quarter=quarter,
            due_on=self.due_on,
            extended_to=self.extended_to,
            submitted_on=self.submitted_on,
            closes_on=self.closes_on,
        )

    def work(self, today: date) -> Work | None:
        """What this return asks of the programme team on ``today`` (None: nothing)."""
        standing = self.standing
        if standing == Standing.AWAITING_REVIEW:
            return Work.AWAITING_REVIEW
        if standing == Standing.SENT_BACK:
            return Work.SENT_BACK
        if standing == Standing.ACCEPTED or self.submitted_on is not None:
            return None
        if self.missed(today):
            return None if self.missed_recorded else Work.MISSED
        if self.overdue(today):
            return Work.OVERDUE
        if self.extended_to is not None and (
            today <= self.extended_to <= today + timedelta(days=EXTENSION_ENDING_DAYS)
        ):
            return Work.EXTENSION_ENDING
        return None


def urgency(kind: Work, fact: ReturnFacts, organisation_id: int) -> tuple[date, int]:
    """Where a return stands in its kind's list: most urgent first, then by organisation.

    Overdue and missed: the longest overdue first (the earliest deadline); waiting for review
    and sent back: the first submitted first; extension ending: the soonest to end first.
    """
    match kind:
        case Work.OVERDUE | Work.MISSED:
            day = fact.deadline
        case Work.AWAITING_REVIEW | Work.SENT_BACK:
            day = fact.submitted_on or date.max
        case _:
            day = fact.extended_to or date.max
    return (day, organisation_id)


def after_cursor(key: tuple[date, int]) -> str:
    """A page's cursor: the place of its last row in the order (``urgency``), as text."""
    return f"{key[0].isoformat()}.{key[1]}"


def read_cursor(text: str | None) -> tuple[date, int] | None:
    """The place a cursor names, or None when it is missing or not one (start at the top)."""
    if not text:
        return None
    day, _, organisation = text.partition(".")
    try:
        return (date.fromisoformat(day), int(organisation))
    except ValueError:
        return None


@dataclass(frozen=True)
class ReturnFigures:
    """A quarter's returns counted once, the same way on every page."""

    expected: int
    standings: dict[Standing, int]
    on_time: int
    late: int
    overdue: int
    missed: int
    work: dict[Work, int]

    @property
    def accepted(self) -> int:
        return self.standings[Standing.ACCEPTED]

    @property
    def awaiting_review(self) -> int:
        return self.standings[Standing.AWAITING_REVIEW]

    @property
    def sent_back(self) -> int:
        return self.standings[Standing.SENT_BACK]

    @property
    def in_progress(self) -> int:
        return self.standings[Standing.IN_PROGRESS]

    @property
    def not_started(self) -> int:
        return self.standings[Standing.NOT_STARTED]

    @property
    def received(self) -> int:
        """Accepted or waiting for review: the returns the programme team has."""
        return self.accepted + self.awaiting_review

    @property
    def not_in(self) -> int:
        """Sent back, in progress or not started: the returns the organisations still have."""
        return self.sent_back + self.in_progress + self.not_started

    @property
    def submitted(self) -> int:
        """Ever submitted (on time or late), including those sent back since."""
        return self.on_time + self.late

    @property
    def outstanding_work(self) -> int:
        return sum(self.work.values())


def tally(facts: Iterable[ReturnFacts], today: date) -> ReturnFigures:
    """Count a quarter's expected returns by standing, timing and work."""
    return tally_counted(((fact, 1) for fact in facts), today)


def tally_counted(counted: Iterable[tuple[ReturnFacts, int]], today: date) -> ReturnFigures:
    """``tally`` of returns given as (facts, how many returns share them).

    A quarter of thousands of returns has a few dozen distinct facts (most were submitted on one
    of a handful of days): counting each distinct one once, times its number, gives the same
    figures as counting every return.
    """
    standings: Counter[Standing] = Counter()
    work: Counter[Work] = Counter()
    expected = on_time = late = overdue = missed = 0
    for fact, n in counted:
        expected += n
        standings[fact.standing] += n
        if fact.ever_submitted:
            if fact.late:
                late += n
            else:
                on_time += n
        elif fact.overdue(today):
            overdue += n
            if fact.missed(today):
                missed += n
        kind = fact.work(today)
        if kind is not None:
            work[kind] += n
    return ReturnFigures(
        expected=expected,
        standings={standing: standings[standing] for standing in Standing},
        on_time=on_time,
        late=late,
        overdue=overdue,
        missed=missed,
        work={kind: work[kind] for kind in Work},
    )
