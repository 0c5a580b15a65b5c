"""The reporting calendar: quarters of the UK financial year and their return windows.

The UK financial year runs from 1 April to 31 March, so Q1 is April–June, Q2 July–September,
Q3 October–December and Q4 January–March of the next calendar year. A quarter of the year that
starts in April 2024 is labelled ``2024/25 Q1`` and has the slug ``2024-25-q1``.

Each quarter's return window is set relative to the quarter's last day (the ICB's model:
"reviewed quarterly, commencing Q1 (end of June) 2024"): it opens some days before the quarter
ends, the return is due some days after, and the window closes later still. The defaults
(14 days before, 21 and 42 days after) come from configuration.

Pure functions: no clock. Whoever asks passes ``today``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_SLUG = re.compile(r"^(\d{4})-(\d{2})-q([1-4])$")
_LABEL = re.compile(r"^(\d{4})/(\d{2}) Q([1-4])$")


@dataclass(frozen=True)
class WindowRules:
    """When a quarter's return window opens, falls due and closes, relative to quarter end."""

    opens_days_before_end: int = 14
    due_days_after_end: int = 21
    closes_days_after_end: int = 42

    def __post_init__(self) -> None:
        if self.opens_days_before_end < 0 or self.opens_days_before_end > 80:
            raise ValueError("the window must open between 0 and 80 days before quarter end")
        if self.due_days_after_end < -self.opens_days_before_end:
            raise ValueError("a return cannot be due before its window opens")
        if self.closes_days_after_end < self.due_days_after_end:
            raise ValueError("the window cannot close before the return is due")


@dataclass(frozen=True, order=True)
class Quarter:
    """One quarter of a UK financial year; ``year`` is the calendar year the FY starts in."""

    year: int
    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4:
            raise ValueError(f"a financial year has quarters 1 to 4, not {self.number}")
        if not 1900 <= self.year <= 9998:
            raise ValueError(f"financial year {self.year} is out of range")

    @property
    def label(self) -> str:
        """``2024/25 Q1``."""
        return f"{self.year}/{(self.year + 1) % 100:02d} Q{self.number}"

    @property
    def slug(self) -> str:
        """``2024-25-q1``: the form used in URLs."""
        return f"{self.year}-{(self.year + 1) % 100:02d}-q{self.number}"

    @property
    def starts_on(self) -> date:
        month = 4 + 3 * (self.number - 1)
        return date(self.year + 1, 1, 1) if month > 12 else date(self.year, month, 1)

    @property
    def ends_on(self) -> date:
        return self.next().starts_on - timedelta(days=1)

    def next(self) -> Quarter:
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )

    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    def window(self, rules: WindowRules) -> ReturnWindow:
        end = self.ends_on
        return ReturnWindow(
            opens_on=end - timedelta(days=rules.opens_days_before_end),
            due_on=end + timedelta(days=rules.due_days_after_end),
            closes_on=end + timedelta(days=rules.closes_days_after_end),
        )

    @classmethod
    def from_slug(cls, slug: str) -> Quarter:
        """Parse ``2024-25-q1``; raises ValueError on anything else."""
        return cls._parse(_SLUG.match(slug), slug)

    @classmethod
    def from_label(cls, label: str) -> Quarter:
        """Parse ``2024/25 Q1``; raises ValueError on anything else."""
        return cls._parse(_LABEL.match(label), label)

    @classmethod
    def _parse(cls, match: re.Match[str] | None, text: str) -> Quarter:
        if match is None:
            raise ValueError(f"{text!r} is not a reporting period (expected like 2024-25-q1)")
        year, next_year, number = int(match[1]), int(match[2]), int(match[3])
        if (year + 1) % 100 != next_year:
            raise ValueError(f"{text!r} is not a financial year: {year} is followed by {year + 1}")
        return cls(year, number)


@dataclass(frozen=True)
class ReturnWindow:
    opens_on: date
    due_on: date
    closes_on: date


def period_for(day: date) -> Quarter:
    """The financial-year quarter that contains ``day``."""
    if day.month >= 4:
        return Quarter(day.year, (day.month - 4) // 3 + 1)
    return Quarter(day.year - 1, 4)


def quarters_between(first: Quarter, last: Quarter) -> list[Quarter]:
    """Every quarter from ``first`` to ``last`` inclusive (empty if ``last`` comes first)."""
    quarters = []
    quarter = first
    while quarter <= last:
        quarters.append(quarter)
        quarter = quarter.next()
    return quarters


def is_overdue(
    due_on: date, today: date, *, submitted_on: date | None = None, extended_to: date | None = None
) -> bool:
    """Whether a return is overdue on ``today``.

    A return is overdue from the day after it was due (or after the extension an admin granted)
    until it is submitted; a return submitted late stops being overdue but was still late.
    """
    deadline = max(due_on, extended_to) if extended_to else due_on
    return submitted_on is None and today > deadline


def was_late(due_on: date, submitted_on: date, *, extended_to: date | None = None) -> bool:
    """Whether a return was submitted after its deadline."""
    deadline = max(due_on, extended_to) if extended_to else due_on
    return submitted_on > deadline


def days_overdue(due_on: date, today: date, *, extended_to: date | None = None) -> int:
    """Whole days past the deadline on ``today``; 0 when not yet due."""
    deadline = max(due_on, extended_to) if extended_to else due_on
    return max(0, (today - deadline).days)
