"""The second status: whether an organisation is keeping up with its quarterly returns.

DESIGN.md ("Two statuses per commitment"): besides each commitment's delivery status, every
organisation has a reporting status that the board and the public see:

- ``non_communicating``: two or more consecutive periods without a submitted return, counted
  back from the latest period whose deadline has passed;
- ``late``: the latest period whose deadline has passed has no submitted return (one missed);
- ``active``: otherwise — including an organisation that submitted late: once the return is in,
  it is active again (the lateness stays on that return's record, not on the organisation).

A period's deadline is its due date, or the extension an admin granted if later; a return is
missing from the day after (``calendar.is_overdue``). Periods not yet past their deadline never
count against anyone, but a return submitted early for one does count for its organisation: an
organisation that had gone quiet and has now sent its next return is active. Only the latest
run of misses counts: an organisation that missed a quarter and then reported is active. An
older period still inside an extension ends the run too. "Consecutive" means consecutive in the
history given, which should hold every period the organisation was due to report for (none
before it joined).

A return counts as submitted from its ``submitted_on`` day, so the status can be worked out as
of any day, for a board summary frozen in the past.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from tracker.domain.calendar import Quarter, is_overdue
from tracker.domain.enums import ReportingStatus

NON_COMMUNICATING_AFTER = 2  # consecutive missed periods

# GOV.UK Frontend tag modifiers; the label comes from the enum.
_TAG_CLASSES = {
    ReportingStatus.ACTIVE: "govuk-tag--green",
    ReportingStatus.LATE: "govuk-tag--orange",
    ReportingStatus.NON_COMMUNICATING: "govuk-tag--red",
}


@dataclass(frozen=True)
class PeriodRecord:
    """One organisation's return for one period: its dates and when it was submitted."""

    quarter: Quarter
    due_on: date
    extended_to: date | None
    submitted_on: date | None
    closes_on: date

    @property
    def deadline(self) -> date:
        """The due date, or the extension if it is later."""
        return max(self.due_on, self.extended_to) if self.extended_to else self.due_on

    def submitted_by(self, today: date) -> bool:
        """Whether the return had been submitted on ``today``."""
        return self.submitted_on is not None and self.submitted_on <= today

    def missed(self, today: date) -> bool:
        """Whether the deadline has passed on ``today`` with nothing submitted by then."""
        submitted_on = self.submitted_on if self.submitted_by(today) else None
        return is_overdue(
            self.due_on, today, submitted_on=submitted_on, extended_to=self.extended_to
        )


def consecutive_missed(history: Sequence[PeriodRecord], today: date) -> int:
    """How many periods in a row, back from the latest past its deadline, have no return."""
    periods = sorted(history, key=lambda record: record.quarter, reverse=True)
    if len({record.quarter for record in periods}) != len(periods):
        raise ValueError("each quarter may appear once in an organisation's history")
    count = 0
    for record in periods:
        if record.submitted_by(today):
            # A return in, even one not yet due, shows the organisation is reporting again.
            break
        if record.missed(today):
            count += 1
        elif count:
            # An older period still inside an extension ends the run: the organisation and
            # the admin who granted it are in touch.
            break
    return count


def settled_by(newest: Sequence[PeriodRecord], today: date) -> bool:
    """Whether these records, an organisation's newest, decide its reporting status whatever
    came before them (so older ones need not be read).

    They do once the walk of ``consecutive_missed`` stops inside them: at a return submitted, at
    a period not missed after one that was, or at the second missed in a row, past which the
    count can only grow and the status is already non-communicating.
    """
    count = 0
    for record in sorted(newest, key=lambda record: record.quarter, reverse=True):
        if record.submitted_by(today):
            return True
        if record.missed(today):
            count += 1
            if count >= NON_COMMUNICATING_AFTER:
                return True
        elif count:
            return True
    return False


def reporting_status(history: Sequence[PeriodRecord], today: date) -> ReportingStatus:
    """An organisation's reporting status on ``today``: active, late or non-communicating."""
    missed = consecutive_missed(history, today)
    if missed >= NON_COMMUNICATING_AFTER:
        return ReportingStatus.NON_COMMUNICATING
    if missed:
        return ReportingStatus.LATE
    return ReportingStatus.ACTIVE


def reporting_status_tag(status: ReportingStatus | str) -> tuple[str, str]:
    """The label and GOV.UK tag class for a reporting status: ``("Late", "govuk-tag--orange")``."""
    status_ = ReportingStatus(status)
    return status_.label, _TAG_CLASSES[status_]
