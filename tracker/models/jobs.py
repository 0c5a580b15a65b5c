"""What the scheduler did: each job run, and each rung of each organisation's reminder ladder."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracker.domain.enums import JobOutcome, ReminderOutcome
from tracker.models.base import Base, enum_check, enum_column, utcnow


class JobRun(Base):
    """One run of a scheduled job, recorded by the job itself.

    APScheduler marks a run done before it finishes and forgets it on restart, so this table is
    how ``tracker jobs list`` knows the last run and how the scheduler catches up after downtime.
    """

    __tablename__ = "job_runs"
    __table_args__ = (
        enum_check("outcome", JobOutcome),
        Index("ix_job_runs_job_started_at", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    # The day the job ran for (``--today`` for a run-once), in the place's time zone.
    run_for: Mapped[date]
    # scheduler, catch-up or command line
    started_by: Mapped[str] = mapped_column(String(30))
    host: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[JobOutcome] = mapped_column(enum_column(JobOutcome), default=JobOutcome.RUNNING)
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class ReminderRecord(Base):
    """A rung of the ladder dealt with for one organisation and period: never dealt with twice.

    The outbox's idempotency key keeps each email to each recipient single; this row keeps the
    rung itself single, including rungs skipped by catch-up, which send nothing.
    """

    __tablename__ = "reminder_records"
    __table_args__ = (
        UniqueConstraint("organisation_id", "period_id", "step"),
        enum_check("outcome", ReminderOutcome),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    period_id: Mapped[int] = mapped_column(
        ForeignKey("reporting_periods.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[ReminderOutcome] = mapped_column(enum_column(ReminderOutcome))
    recipients: Mapped[int] = mapped_column(default=0)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
