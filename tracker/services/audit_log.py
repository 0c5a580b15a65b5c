"""Reading the audit log, for the admins' audit page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import AuditEvent, Organisation

PAGE_SIZE = 50
LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class AuditPage:
    events: list[tuple[AuditEvent, str | None]]  # the event and its organisation's name
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LONDON).astimezone(UTC)


def audit_events(
    *,
    organisation_id: int | None = None,
    actor_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
) -> AuditPage:
    """Events newest first, filtered; days are London days, as people mean them."""
    conditions = []
    if organisation_id is not None:
        conditions.append(AuditEvent.organisation_id == organisation_id)
    if actor_id is not None:
        conditions.append(AuditEvent.actor_id == actor_id)
    if since is not None:
        conditions.append(AuditEvent.occurred_at >= _start_of(since))
    if until is not None:
        conditions.append(AuditEvent.occurred_at < _start_of(until + timedelta(days=1)))
    total = db.session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions))
    # A page past the end shows the last: an offset beyond the rows is no use to anyone.
    page = min(max(1, page), max(1, -(-(total or 0) // PAGE_SIZE)))
    rows = db.session.execute(
        select(AuditEvent, Organisation.name)
        .outerjoin(Organisation, Organisation.id == AuditEvent.organisation_id)
        .where(*conditions)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return AuditPage(events=[(event, name) for event, name in rows], total=total or 0, page=page)
