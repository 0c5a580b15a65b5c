"""The outbox: every email the system sends or will send, recorded before it is sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tracker.domain.enums import NotificationState
from tracker.models.base import Base, Timestamped, enum_check, enum_column


class Notification(Timestamped, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        enum_check("state", NotificationState),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("state <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
        # The sender's claim query: queued rows whose next try is due.
        Index("ix_notifications_state_next_attempt_at", "state", "next_attempt_at"),
        # The outbox page: the newest emails in one state (failed, say), two hundred at a time.
        Index("ix_notifications_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    # (kind, organisation, period, recipient, step): a reminder is sent at most once per key.
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    recipient_email: Mapped[str] = mapped_column(String(320))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    recipient_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    period_id: Mapped[int | None] = mapped_column(
        ForeignKey("reporting_periods.id", ondelete="SET NULL")
    )
    # An invitation or reset: the body holds a placeholder where the link goes, and the sender
    # puts the link in from this token at delivery time (the raw link is never stored).
    user_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_tokens.id", ondelete="SET NULL")
    )
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    state: Mapped[NotificationState] = mapped_column(
        enum_column(NotificationState), default=NotificationState.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
