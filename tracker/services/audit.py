"""Writing the audit log. Every change records who, what, before and after, in the same flush."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tracker.extensions import db
from tracker.models import AuditEvent, User

SYSTEM = "system"


def _plain(value: Any) -> Any:
    """JSON-safe values for before/after snapshots."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item) for item in value]
    return value


def record(
    action: str,
    entity_type: str,
    entity_id: int | str,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    organisation_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit event to the session; it commits or rolls back with the change it describes."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_label=actor_label or (actor.email if actor else SYSTEM),
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        organisation_id=organisation_id,
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
    )
    db.session.add(event)
    return event
