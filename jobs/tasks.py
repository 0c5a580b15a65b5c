"""Job bodies: each calls one service and is tested by calling it directly."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tracker.mail import DeliveryResult, deliver_queued


def deliver_email(now: datetime | None = None) -> DeliveryResult:
    """Send what the outbox holds (the mail layer commits per message)."""
    return deliver_queued(now=now or datetime.now(UTC))


def sync_periods(today: date | None = None) -> list[str]:
    """Make next quarter's period and move periods' states on by date (daily)."""
    from flask import current_app

    from tracker.config import window_rules
    from tracker.extensions import db
    from tracker.services.periods import ensure_periods

    changes = ensure_periods(today or datetime.now(UTC).date(), window_rules(current_app.config))
    db.session.commit()
    return changes
