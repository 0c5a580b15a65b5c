"""The SMART score of a commitment, after Doran's original SMART (1981).

Doran, G. T. (1981) "There's a S.M.A.R.T. way to write management's goals and objectives",
Management Review 70(11). The letters as this product applies them to a commitment:

- **S**pecific: it has a clear, short title (its outcome in a few words, at most
  ``SHORT_TITLE`` characters: a whole pledge paragraph copied in is not specific);
- **M**easurable: it has a metric and a target value;
- **A**ssignable: a named owner;
- **R**elevant: a town priority it serves;
- **T**ime-related: a target date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

LETTERS = "SMART"
SHORT_TITLE = 120

ADVICE = {
    "S": f"Give the commitment a short title (up to {SHORT_TITLE} characters) naming the outcome.",
    "M": "Add a metric and a target value, so progress can be counted.",
    "A": "Name the person who owns this commitment.",
    "R": "Choose the town priority this commitment serves.",
    "T": "Set a target date.",
}


@dataclass(frozen=True)
class SmartScore:
    met: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def score(self) -> int:
        return len(self.met)

    @property
    def is_smart(self) -> bool:
        return not self.missing


def smart_score(
    *,
    title: str | None,
    metric: str | None,
    target_value: Decimal | float | int | None,
    owner: str | None,
    priority: str | int | None,
    target_date: date | None,
) -> SmartScore:
    """Score a commitment 0–5 from which SMART fields are filled."""
    checks = {
        "S": bool(title and title.strip()) and len(title.strip()) <= SHORT_TITLE,
        "M": bool(metric and metric.strip()) and target_value is not None,
        "A": bool(owner and owner.strip()),
        "R": priority is not None,
        "T": target_date is not None,
    }
    met = tuple(letter for letter in LETTERS if checks[letter])
    missing = tuple(letter for letter in LETTERS if not checks[letter])
    return SmartScore(met=met, missing=missing)
