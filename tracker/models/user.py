"""People who sign in: admins, organisation leads and board members."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.domain.enums import Role
from tracker.models.base import Base, Timestamped, enum_check, enum_column

if TYPE_CHECKING:
    from tracker.models.organisation import Organisation

# A lead may look after several organisations; an organisation may have several leads.
organisation_leads = Table(
    "organisation_leads",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True),
    # The key leads with the user; an organisation's leads are looked up by organisation.
    Index("ix_organisation_leads_organisation_id", "organisation_id"),
)


class User(UserMixin, Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (
        enum_check("role", Role),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("session_version >= 1", name="session_version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    # None until the invitee sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on sign-out, password change and deactivation: older sessions stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    last_signed_in_at: Mapped[datetime | None]
    # TOTP (RFC 6238) second factor: the shared secret (base32) once set up, when it was
    # confirmed, and the last time step accepted (a code is refused a second time).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    organisations: Mapped[list[Organisation]] = relationship(
        secondary=organisation_leads, back_populates="leads", order_by="Organisation.name"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return self.active

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret is not None

    def get_id(self) -> str:
        # The session version travels with the id, so bumping it signs out every other session.
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
