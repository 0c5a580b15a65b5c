"""The quarterly cycle: reporting periods, returns, and one update per commitment per return."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.domain.calendar import Quarter
from tracker.domain.enums import (
    DeliveryStatus,
    Direction,
    EvidenceGrade,
    PeriodState,
    ReturnEventKind,
    ReturnState,
)
from tracker.models.base import Base, Timestamped, enum_check, enum_column, utcnow
from tracker.models.pledge import Amount

if TYPE_CHECKING:
    from tracker.models.organisation import Organisation
    from tracker.models.pledge import Commitment
    from tracker.models.user import User


class ReportingPeriod(Timestamped, Base):
    """A quarter of the UK financial year and its return window."""

    __tablename__ = "reporting_periods"
    __table_args__ = (
        UniqueConstraint("year", "quarter"),
        enum_check("state", PeriodState),
        CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter_in_range"),
        CheckConstraint("starts_on < ends_on", name="starts_before_ends"),
        CheckConstraint("opens_on <= due_on AND due_on <= closes_on", name="window_in_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(20), unique=True)
    # The calendar year the financial year starts in: 2024 for 2024/25.
    year: Mapped[int]
    quarter: Mapped[int]
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    opens_on: Mapped[date]
    due_on: Mapped[date]
    closes_on: Mapped[date]
    state: Mapped[PeriodState] = mapped_column(
        enum_column(PeriodState), default=PeriodState.UPCOMING
    )
    version: Mapped[int] = mapped_column(default=1)

    returns: Mapped[list[Return]] = relationship(back_populates="period")

    __mapper_args__ = {"version_id_col": version}

    @property
    def as_quarter(self) -> Quarter:
        return Quarter(self.year, self.quarter)

    @property
    def label(self) -> str:
        return self.as_quarter.label

    def __repr__(self) -> str:
        return f"<ReportingPeriod {self.slug}>"


class Return(Timestamped, Base):
    """One organisation's submission for one period."""

    __tablename__ = "returns"
    __table_args__ = (
        UniqueConstraint("organisation_id", "period_id"),
        enum_check("state", ReturnState),
        CheckConstraint(
            "state NOT IN ('submitted', 'accepted') OR submitted_at IS NOT NULL",
            name="submitted_has_time",
        ),
        CheckConstraint(
            "state <> 'returned' OR length(coalesce(review_comment, '')) > 0",
            name="returned_has_comment",
        ),
        CheckConstraint(
            "extended_due_on IS NULL OR length(coalesce(extension_reason, '')) > 0",
            name="extension_has_reason",
        ),
        Index("ix_returns_period_state", "period_id", "state"),
        # The feeds of accepted updates read the newest acceptances first.
        Index("ix_returns_state_reviewed_at", "state", "reviewed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    period_id: Mapped[int] = mapped_column(ForeignKey("reporting_periods.id", ondelete="CASCADE"))
    state: Mapped[ReturnState] = mapped_column(
        enum_column(ReturnState), default=ReturnState.NOT_STARTED
    )
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    review_comment: Mapped[str | None] = mapped_column(Text)
    extended_due_on: Mapped[date | None]
    extension_reason: Mapped[str | None] = mapped_column(Text)
    # An admin recorded that this return will not come: the window closed without it. It leaves
    # the admin's work list; it still counts as missed. An extension clears it.
    missed_at: Mapped[datetime | None]
    missed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)

    organisation: Mapped[Organisation] = relationship()
    period: Mapped[ReportingPeriod] = relationship(back_populates="returns")
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    updates: Mapped[list[CommitmentUpdate]] = relationship(
        back_populates="return_", cascade="all, delete-orphan"
    )
    events: Mapped[list[ReturnEvent]] = relationship(
        back_populates="return_",
        cascade="all, delete-orphan",
        order_by="(ReturnEvent.occurred_at, ReturnEvent.id)",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def deadline(self) -> date:
        due = self.period.due_on
        return max(due, self.extended_due_on) if self.extended_due_on else due


class ReturnEvent(Base):
    """One step in a return's history: each submission, send-back, acceptance, extension.

    A submission keeps a snapshot of every update as it was sent (``data``), so a reviewer can
    see what changed between one submission and the next. Append-only.
    """

    __tablename__ = "return_events"
    __table_args__ = (
        enum_check("kind", ReturnEventKind),
        Index("ix_return_events_return_id_occurred_at", "return_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    kind: Mapped[ReturnEventKind] = mapped_column(enum_column(ReturnEventKind))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    comment: Mapped[str | None] = mapped_column(Text)
    # For a submission: {"updates": {commitment id: {field: value}}}; None when recorded
    # before submissions kept their snapshot.
    data: Mapped[dict[str, Any] | None]

    return_: Mapped[Return] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class CommitmentUpdate(Timestamped, Base):
    """One commitment's progress in one return."""

    __tablename__ = "commitment_updates"
    __table_args__ = (
        UniqueConstraint("return_id", "commitment_id"),
        enum_check("status", DeliveryStatus, nullable=True),
        enum_check("evidence_grade", EvidenceGrade),
        enum_check("reported_direction", Direction, nullable=True),
        CheckConstraint(
            "NOT complete OR status NOT IN ('at_risk', 'off_track', 'discontinued')"
            " OR length(coalesce(narrative, '')) > 0",
            name="explained_when_not_on_track",
        ),
        CheckConstraint("NOT complete OR status IS NOT NULL", name="complete_has_status"),
        CheckConstraint("unchanged_quarters >= 0", name="unchanged_quarters_not_negative"),
        CheckConstraint(
            "evidence_grade <> 'verified' OR verified_at IS NOT NULL", name="verified_has_time"
        ),
        # The latest verification, for the API's Last-Modified (tracker/services/public.py).
        Index("ix_commitment_updates_verified_at", "verified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitments.id", ondelete="CASCADE"))
    # The return's quarter as year × 4 + quarter number, copied from it when the update is
    # made (a return never changes quarter, an update never changes return): it puts each
    # commitment's updates in quarter order in one index.
    period_ordinal: Mapped[int]
    # A draft may be saved half done ("save and come back later"); a complete one has passed
    # every rule, and a return is submitted only when all its updates are complete.
    status: Mapped[DeliveryStatus | None] = mapped_column(enum_column(DeliveryStatus))
    complete: Mapped[bool] = mapped_column(default=False)
    progress_value: Mapped[Decimal | None] = mapped_column(Amount)
    narrative: Mapped[str | None] = mapped_column(Text)
    evidence_url: Mapped[str | None] = mapped_column(String(2000))
    evidence_grade: Mapped[EvidenceGrade] = mapped_column(
        enum_column(EvidenceGrade), default=EvidenceGrade.SELF_DECLARED
    )
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None]
    risks: Mapped[str | None] = mapped_column(Text)
    # A note for the programme team's reviewer: never published, unlike the narrative and
    # evidence link once the return is accepted (tracker/services/public.py).
    reviewer_note: Mapped[str | None] = mapped_column(Text)
    # "No change since last quarter": counts as reporting; the run of such quarters is kept.
    no_change: Mapped[bool] = mapped_column(default=False)
    unchanged_quarters: Mapped[int] = mapped_column(default=0)
    # The target this figure was reported against, fixed when the return is submitted: a
    # goalpost moved later must not rewrite how far along this quarter was.
    reported_target_value: Mapped[Decimal | None] = mapped_column(Amount)
    reported_baseline_value: Mapped[Decimal | None] = mapped_column(Amount)
    reported_direction: Mapped[Direction | None] = mapped_column(enum_column(Direction))
    reported_unit: Mapped[str | None] = mapped_column(String(50))
    reported_target_date: Mapped[date | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(default=1)

    return_: Mapped[Return] = relationship(back_populates="updates")
    commitment: Mapped[Commitment] = relationship()
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    # Uploaded files, oldest first. Removing one from the list deletes its row; the stored file
    # itself is deleted by whoever removed it, once that change is committed.
    evidence_files: Mapped[list[EvidenceFile]] = relationship(
        back_populates="update",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(EvidenceFile.uploaded_at, EvidenceFile.id)",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def has_evidence(self) -> bool:
        """A link or at least one file: what "evidence attached" means."""
        return bool(self.evidence_url or self.evidence_files)


class EvidenceFile(Base):
    """One uploaded file of an update, kept outside the web root under a random key.

    The bytes live in the evidence store (tracker/evidence.py); this row is what makes a stored
    file part of an update. A stored file no row names is a pending upload or a leftover, and
    is deleted once it is a day old (``tracker.services.evidence_files.prune_unattached``).
    """

    __tablename__ = "evidence_files"
    __table_args__ = (CheckConstraint("size >= 0", name="size_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(
        ForeignKey("commitment_updates.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    update: Mapped[CommitmentUpdate] = relationship(back_populates="evidence_files")
    uploaded_by: Mapped[User | None] = relationship()


# Each commitment's updates newest quarter first, with what the board summary reads of them: the
# summary's status rows come from this index alone, in the order its window numbers them, without
# joining returns or sorting any update (tracker/services/board.py); the public pages' latest
# accepted update is numbered the same way. Also serves look-ups by commitment.
Index(
    "ix_commitment_updates_commitment_id_period_ordinal",
    CommitmentUpdate.commitment_id,
    CommitmentUpdate.period_ordinal.desc(),
    postgresql_include=["status", "progress_value", "no_change", "return_id"],
)


@event.listens_for(CommitmentUpdate, "before_insert")
def _copy_the_return_quarter(mapper: Any, connection: Any, update: CommitmentUpdate) -> None:
    """Fill ``period_ordinal`` from the update's return, in the INSERT itself, whoever makes it."""
    if update.period_ordinal is None:
        update.period_ordinal = (  # type: ignore[assignment]  # an SQL expression, run by the INSERT
            select(ReportingPeriod.year * 4 + ReportingPeriod.quarter)
            .join(Return, Return.period_id == ReportingPeriod.id)
            .where(Return.id == update.return_id)
            .scalar_subquery()
        )
