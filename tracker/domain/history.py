"""What changed in one commitment's update: between two submissions, or since last quarter.

A reviewer reading a return wants to see, for each commitment, what is new: against the
submission they sent back, and against last quarter. Updates are compared as snapshots — plain
JSON values, as ``services.returns.update_snapshot`` writes them when a return is submitted —
so a submission from months ago compares the same way as today's answer:

    {"status": "on_track", "progress_value": "120", "narrative": "…", "evidence_url": "…",
     "evidence_files": ["report.pdf"], "risks": "…", "reviewer_note": "…", "no_change": false,
     "target": {"value": "400", "baseline": "0", "direction": "increase", "unit": "homes",
                "due": "2027-03-31"}}

Text is compared with runs of whitespace collapsed (re-wrapping is not a change). A change of
target (value, baseline, direction, unit or deadline) is a moved goalpost and is flagged so the
page can highlight it.

Pure functions: no database, no Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from tracker.domain.enums import DeliveryStatus

Snapshot = Mapping[str, Any]

LABELS = {
    "status": "Status",
    "progress_value": "Progress",
    "narrative": "Progress update",
    "evidence": "Evidence",
    "risks": "Risks or support needed",
    "reviewer_note": "Note for the reviewer",
    "target": "Target",
}


@dataclass(frozen=True)
class Change:
    """One field that differs: its label and the old and new values as people read them."""

    field: str
    label: str
    before: str | None
    after: str | None
    moved_goalpost: bool = False

    @property
    def long_text(self) -> bool:
        """Narratives and risks are shown in full, not as ``old → new`` on one line."""
        return self.field in {"narrative", "risks", "reviewer_note"}


def changes_between(before: Snapshot | None, after: Snapshot | None) -> list[Change]:
    """Every field that differs from ``before`` to ``after``, in the form's order."""
    before, after = before or {}, after or {}
    unit = (after.get("target") or before.get("target") or {}).get("unit")
    changes = []
    fields = (
        "status",
        "progress_value",
        "narrative",
        "evidence",
        "risks",
        "reviewer_note",
        "target",
    )
    for field in fields:
        old, new = _value(before, field), _value(after, field)
        if _comparable(old) == _comparable(new):
            continue
        changes.append(
            Change(
                field=field,
                label=LABELS[field],
                before=_readable(field, old, unit),
                after=_readable(field, new, unit),
                moved_goalpost=field == "target" and _has_target(before),
            )
        )
    return changes


def _value(snapshot: Snapshot, field: str) -> Any:
    if field == "progress_value":
        return _number(snapshot.get(field))
    if field == "evidence":
        links = [snapshot.get("evidence_url")] if snapshot.get("evidence_url") else []
        return tuple(links + list(snapshot.get("evidence_files") or []))
    if field == "target":
        target = snapshot.get("target") or {}
        return tuple(
            _number(target.get(key)) if key in {"value", "baseline"} else target.get(key)
            for key in ("value", "baseline", "direction", "unit", "due")
        )
    return snapshot.get(field)


def _has_target(snapshot: Snapshot) -> bool:
    target = snapshot.get("target") or {}
    return any(target.get(key) not in (None, "") for key in ("value", "baseline", "due"))


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.split()) or None
    if isinstance(value, tuple):
        return tuple(_comparable(item) for item in value)
    if isinstance(value, Decimal):
        return value.normalize()
    return value if value != () else None


def _number(text: Any) -> Decimal | None:
    if text in (None, ""):
        return None
    try:
        number = Decimal(str(text))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _amount(number: Decimal | None, unit: str | None) -> str | None:
    if number is None:
        return None
    text = f"{number.normalize() + 0:,f}"
    return f"{text} {unit}".strip() if unit and unit != "%" else f"{text}{unit or ''}"


def _readable(field: str, value: Any, unit: str | None) -> str | None:
    if value in (None, "", ()):
        return None
    if field == "status":
        try:
            return DeliveryStatus(value).label
        except ValueError:
            return str(value)
    if field == "progress_value":
        return _amount(value, unit)
    if field == "evidence":
        return ", ".join(str(item) for item in value)
    if field == "target":
        return target_text(*value)
    return str(value)


def target_text(
    value: Decimal | None,
    baseline: Decimal | None,
    direction: str | None,
    unit: str | None,
    due: str | None,
) -> str | None:
    """``500 homes by 31 March 2027, from 120`` (None when nothing is set)."""
    if value is None and baseline is None and not due:
        return None
    parts = [_amount(value, unit) or "No target figure"]
    if due:
        try:
            parts.append(f"by {date.fromisoformat(due):%-d %B %Y}")
        except ValueError:
            parts.append(f"by {due}")
    text = " ".join(parts)
    if baseline is not None:
        text += f", from {_amount(baseline, unit)}"
    if direction == "decrease":
        text += " (to go down)"
    return text
