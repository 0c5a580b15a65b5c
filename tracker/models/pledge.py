"""Pledges, the commitments in them, the shared theme catalogue, and moved goalposts."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.domain.enums import Confidence, DeliveryStatus, Direction, ProposalState
from tracker.domain.smart import SmartScore, smart_score
from tracker.models.base import Base, Timestamped, enum_check, enum_column, utcnow

if TYPE_CHECKING:
    from tracker.models.organisation import Organisation
    from tracker.models.place import Priority
    from tracker.models.user import User

# Up to 14 significant digits with 4 decimal places: money, counts, tonnes and percentages.
Amount = Numeric(18, 4)


class Pledge(Timestamped, Base):
    """An organisation's public statement and the commitments that follow it."""

    __tablename__ = "pledges"
    # (id, organisation_id) is unique so commitments can point at both and never disagree
    # with their pledge about which organisation they belong to.
    __table_args__ = (UniqueConstraint("id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    statement: Mapped[str | None] = mapped_column(Text)
    signed_on: Mapped[date | None]
    source: Mapped[str | None] = mapped_column(String(500))
    # Edited in the app: a re-import keeps it rather than put the page's wording back.
    statement_maintained_in_app: Mapped[bool] = mapped_column(default=False, server_default=false())

    organisation: Mapped[Organisation] = relationship(back_populates="pledges")
    commitments: Mapped[list[Commitment]] = relationship(
        back_populates="pledge", order_by="Commitment.position", cascade="all, delete-orphan"
    )


commitment_themes = Table(
    "commitment_themes",
    Base.metadata,
    Column("commitment_id", ForeignKey("commitments.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_id", ForeignKey("themes.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Theme(Timestamped, Base):
    """A shared catalogue entry many organisations pledge to, e.g. Real Living Wage."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)

    commitments: Mapped[list[Commitment]] = relationship(
        secondary=commitment_themes, back_populates="themes"
    )


class Commitment(Timestamped, Base):
    """One trackable promise. The original wording is kept untouched beside the working fields."""

    __tablename__ = "commitments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["pledge_id", "organisation_id"],
            ["pledges.id", "pledges.organisation_id"],
            name="fk_commitments_pledge_organisation",
            ondelete="CASCADE",
        ),
        UniqueConstraint("organisation_id", "key"),
        enum_check("current_status", DeliveryStatus),
        enum_check("direction", Direction, nullable=True),
        enum_check("priority_confidence", Confidence, nullable=True),
        CheckConstraint(
            "secondary_priority_id IS NULL OR secondary_priority_id <> primary_priority_id",
            name="secondary_differs",
        ),
        CheckConstraint(
            "baseline_date IS NULL OR target_date IS NULL OR baseline_date <= target_date",
            name="baseline_before_target",
        ),
        CheckConstraint("position >= 0", name="position_not_negative"),
        CheckConstraint("duplicates_folded >= 0", name="duplicates_folded_not_negative"),
        Index("ix_commitments_primary_priority_status", "primary_priority_id", "current_status"),
        # A priority's public page lists the commitments that name it second, too.
        Index("ix_commitments_secondary_priority_id", "secondary_priority_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # Stable across re-imports: derived from the normalised wording.
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)
    original_text: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(500))

    primary_priority_id: Mapped[int | None] = mapped_column(
        ForeignKey("priorities.id", ondelete="SET NULL")
    )
    secondary_priority_id: Mapped[int | None] = mapped_column(
        ForeignKey("priorities.id", ondelete="SET NULL")
    )
    priority_confidence: Mapped[Confidence | None] = mapped_column(enum_column(Confidence))

    owner_name: Mapped[str | None] = mapped_column(String(200))
    owner_email: Mapped[str | None] = mapped_column(String(320))

    metric: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(50))
    baseline_value: Mapped[Decimal | None] = mapped_column(Amount)
    baseline_date: Mapped[date | None]
    target_value: Mapped[Decimal | None] = mapped_column(Amount)
    target_date: Mapped[date | None]
    direction: Mapped[Direction | None] = mapped_column(enum_column(Direction))

    # Derived from the latest accepted update; kept here so lists and summaries need no join.
    current_status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus), default=DeliveryStatus.NOT_STARTED
    )

    # Import flags: a person looks at these.
    needs_review: Mapped[bool] = mapped_column(default=False)
    is_heading: Mapped[bool] = mapped_column(default=False)
    is_truncated: Mapped[bool] = mapped_column(default=False)
    duplicates_folded: Mapped[int] = mapped_column(default=0)
    # Set when a re-import no longer finds the wording on the page, or an admin retires it
    # (with a reason); kept, never deleted, so its earlier updates stay in the record.
    removed_from_page_at: Mapped[datetime | None]
    retired_reason: Mapped[str | None] = mapped_column(Text)
    # Added, reworded, split or merged in the app: a re-import neither retires it for being
    # absent from the page nor puts the page's wording back.
    maintained_in_app: Mapped[bool] = mapped_column(default=False)
    # The first quarter a return reports on it (added once reporting had begun); None: from the
    # organisation's first quarter.
    reports_from: Mapped[date | None]

    version: Mapped[int] = mapped_column(default=1)

    pledge: Mapped[Pledge] = relationship(back_populates="commitments")
    organisation: Mapped[Organisation] = relationship(viewonly=True)
    primary_priority: Mapped[Priority | None] = relationship(foreign_keys=[primary_priority_id])
    secondary_priority: Mapped[Priority | None] = relationship(foreign_keys=[secondary_priority_id])
    themes: Mapped[list[Theme]] = relationship(
        secondary=commitment_themes, back_populates="commitments", order_by="Theme.name"
    )
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="commitment", order_by="Milestone.due_on", cascade="all, delete-orphan"
    )
    target_changes: Mapped[list[TargetChange]] = relationship(
        back_populates="commitment", order_by="TargetChange.changed_at"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def smart(self) -> SmartScore:
        return smart_score(
            title=self.title,
            metric=self.metric,
            target_value=self.target_value,
            owner=self.owner_name,
            priority=self.primary_priority_id,
            target_date=self.target_date,
        )

    @property
    def retired(self) -> bool:
        return self.removed_from_page_at is not None

    @property
    def flags(self) -> list[str]:
        """The open-data flag words that apply."""
        flags = []
        if self.needs_review:
            flags.append("needs_review")
        if self.duplicates_folded:
            flags.append("duplicate")
        if self.is_heading:
            flags.append("heading")
        if self.is_truncated:
            flags.append("truncated")
        if self.removed_from_page_at is not None:
            flags.append("removed_from_page")
        return flags

    def __repr__(self) -> str:
        return f"<Commitment {self.id} of organisation {self.organisation_id}>"


class Milestone(Timestamped, Base):
    """A dated step on the way to a commitment's target."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    due_on: Mapped[date | None]
    completed_on: Mapped[date | None]

    commitment: Mapped[Commitment] = relationship(back_populates="milestones")


class TargetChange(Base):
    """A moved goalpost: a target, baseline, deadline or wording changed after reporting began.

    Kept apart from the audit log because the board pack and the public page show them.
    """

    __tablename__ = "target_changes"
    __table_args__ = (CheckConstraint("length(reason) > 0", name="reason_given"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE"), index=True
    )
    period_id: Mapped[int | None] = mapped_column(
        ForeignKey("reporting_periods.id", ondelete="SET NULL"), index=True
    )
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    field: Mapped[str] = mapped_column(String(50))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)

    commitment: Mapped[Commitment] = relationship(back_populates="target_changes")
    changed_by: Mapped[User | None] = relationship()


class CommitmentProposal(Timestamped, Base):
    """A lead's proposed new commitment, or change to one, waiting for an admin's decision.

    ``changes`` holds the proposed values as text (field name → value, "" to clear); approving
    applies them through the same rules as an admin's edit, so moved goalposts are recorded.
    ``base_version`` is the commitment's version the lead saw: a commitment changed since is
    not silently overwritten.
    """

    __tablename__ = "commitment_proposals"
    __table_args__ = (
        enum_check("state", ProposalState),
        CheckConstraint("length(reason) > 0", name="reason_given"),
        Index("ix_commitment_proposals_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    # None for a new commitment until it is approved; then the commitment it made.
    commitment_id: Mapped[int | None] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE"), index=True
    )
    is_new: Mapped[bool] = mapped_column(default=False)
    base_version: Mapped[int | None]
    changes: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[ProposalState] = mapped_column(
        enum_column(ProposalState), default=ProposalState.PENDING
    )
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)

    organisation: Mapped[Organisation] = relationship()
    commitment: Mapped[Commitment | None] = relationship()
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
