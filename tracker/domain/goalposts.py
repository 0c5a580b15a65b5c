"""Moved goalposts: changes to what a commitment promised, once it has been reported against.

DESIGN.md ("What makes it better": moved goalposts): "Once a target, baseline, deadline or
wording has been reported against, changing it needs a stated reason; the change is shown on
the commitment's history, flagged in the board pack and on the public page."

**Which fields are goalposts** (``GOALPOST_FIELDS``): what a commitment will be judged against —
its original wording, its metric and unit (what is counted), its baseline (value and date), its
target value, its deadline (target date) and its direction. Change any of these and last
quarter's progress means something else. The short title, owner, priorities, themes and
milestones are not goalposts: they label or organise a commitment without changing what was
promised, so they are audited but need no reason.

**When a reason is needed** (:func:`needs_reason`): only after the commitment has been reported
against (an update in a submitted return), and only when a goalpost is changed or removed.
Before any report, targets are still being set up (DESIGN.md "Set-up": admins and leads fix the
SMART fields after import). After reporting began, *adding* a goalpost that was missing
(None → value) is not moving it: it makes the commitment more SMART, which the product nudges
leads to do, and nobody reported against a target that did not exist. Changing a value or
removing one is moving it.

Text is compared with runs of whitespace collapsed (CRLF against LF, a trailing space or a
re-wrapped line is not a new wording), and blank text is the same as none; case and punctuation
do count. Numbers are compared by value (``5`` equals ``5.00``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tracker.domain.enums import Direction

GOALPOST_FIELDS = (
    "original_text",
    "baseline_value",
    "baseline_date",
    "target_value",
    "target_date",
    "metric",
    "unit",
    "direction",
)

# Plain English for the commitment's history, the board pack and the public page.
LABELS = {
    "original_text": "wording",
    "baseline_value": "baseline",
    "baseline_date": "baseline date",
    "target_value": "target value",
    "target_date": "deadline",
    "metric": "what is measured",
    "unit": "unit",
    "direction": "direction",
}


@dataclass(frozen=True)
class TargetFields:
    """What a commitment promised: its wording and its SMART target fields."""

    title: str | None
    original_text: str | None
    metric: str | None
    unit: str | None
    baseline_value: Decimal | None
    baseline_date: date | None
    target_value: Decimal | None
    target_date: date | None
    direction: Direction | None


@dataclass(frozen=True)
class FieldChange:
    """One goalpost changed: the field, its plain-English label, and old and new as text."""

    field: str
    label: str
    old: str | None
    new: str | None

    @property
    def is_addition(self) -> bool:
        """A goalpost set where there was none: not a moved goalpost."""
        return self.old is None and self.new is not None


def goalpost_changes(before: TargetFields, after: TargetFields) -> list[FieldChange]:
    """Every goalpost that differs between ``before`` and ``after``, in GOALPOST_FIELDS order."""
    changes = []
    for field in GOALPOST_FIELDS:
        old, new = getattr(before, field), getattr(after, field)
        if _comparable(old) != _comparable(new):
            changes.append(FieldChange(field, LABELS[field], _render(old), _render(new)))
    return changes


def moved_goalposts(
    before: TargetFields, after: TargetFields, *, has_been_reported: bool
) -> list[FieldChange]:
    """The goalpost changes that need a stated reason (none before any report)."""
    if not has_been_reported:
        return []
    return [change for change in goalpost_changes(before, after) if not change.is_addition]


def needs_reason(before: TargetFields, after: TargetFields, *, has_been_reported: bool) -> bool:
    """Whether this edit moves a goalpost already reported against, so a reason is required."""
    return bool(moved_goalposts(before, after, has_been_reported=has_been_reported))


def _comparable(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, str):
        return " ".join(value.split()) or None
    if isinstance(value, Direction):
        return value.value
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _render(value: object) -> str | None:
    comparable = _comparable(value)
    if comparable is None:
        return None
    if isinstance(value, str):
        # The history shows what was typed, not the collapsed form used to compare.
        return value.strip()
    if isinstance(comparable, Decimal):
        # 400.0000 from a Numeric(18, 4) column reads as 400; 1E+3 as 1000.
        return f"{comparable.normalize() + 0:f}"
    if isinstance(comparable, date):
        return comparable.isoformat()
    return str(comparable)
