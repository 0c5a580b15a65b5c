"""Job bodies: each calls one service and is tested by calling it directly."""

from __future__ import annotations

from datetime import UTC, datetime

from tracker.mail import DeliveryResult, deliver_queued


def deliver_email(now: datetime | None = None) -> DeliveryResult:
    """Send what the outbox holds (the mail layer commits per message)."""
    return deliver_queued(now=now or datetime.now(UTC))
