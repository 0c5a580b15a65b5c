"""Organisations that pledged, with their leads and optional deputy or sponsor contacts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.domain.enums import ContactRole, ReportingStatus, Sector
from tracker.models.base import Base, Timestamped, enum_check, enum_column
from tracker.models.user import organisation_leads

if TYPE_CHECKING:
    from tracker.models.pledge import Pledge
    from tracker.models.user import User


class Organisation(Timestamped, Base):
    __tablename__ = "organisations"
    __table_args__ = (
        enum_check("sector", Sector, nullable=True),
        enum_check("reporting_status", ReportingStatus),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[Sector | None] = mapped_column(enum_column(Sector))
    website: Mapped[str | None] = mapped_column(String(500))
    reporting_status: Mapped[ReportingStatus] = mapped_column(
        enum_column(ReportingStatus), default=ReportingStatus.ACTIVE
    )
    # The first day of the first quarter it reports for: the quarter it joined. None for an
    # organisation that was there when reporting began (it follows the place's start).
    reports_from: Mapped[date | None]
    # Set by the importer when the page had no heading line and the name was read from the
    # paragraph; cleared when a person confirms it.
    name_needs_review: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)

    leads: Mapped[list[User]] = relationship(
        secondary=organisation_leads, back_populates="organisations", order_by="User.name"
    )
    contacts: Mapped[list[OrganisationContact]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )
    pledges: Mapped[list[Pledge]] = relationship(
        back_populates="organisation", order_by="Pledge.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    def contact(self, role: ContactRole) -> OrganisationContact | None:
        return next((c for c in self.contacts if c.role == role), None)

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"


class OrganisationContact(Timestamped, Base):
    """A deputy or sponsor who is told when the organisation's return is overdue.

    They need not have an account: escalation is by email only.
    """

    __tablename__ = "organisation_contacts"
    __table_args__ = (UniqueConstraint("organisation_id", "role"), enum_check("role", ContactRole))

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    role: Mapped[ContactRole] = mapped_column(enum_column(ContactRole))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))

    organisation: Mapped[Organisation] = relationship(back_populates="contacts")
