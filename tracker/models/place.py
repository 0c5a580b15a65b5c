"""The place an instance serves, and its priorities (data, not code)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, Timestamped


class Place(Timestamped, Base):
    """The partnership this instance serves, e.g. Luton 2040. One per instance."""

    __tablename__ = "places"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    vision: Mapped[str | None] = mapped_column(Text)
    publish_publicly: Mapped[bool] = mapped_column(default=True)
    open_data_licence: Mapped[str] = mapped_column(
        String(200), default="Open Government Licence v3.0"
    )
    # The first day of the first quarter anyone reports for. None until the first reporting
    # periods are made, which start it at that quarter (``services.periods``); an admin may
    # move it. No return, lateness or reminder exists for a quarter before it.
    reporting_starts_on: Mapped[date | None]

    priorities: Mapped[list[Priority]] = relationship(
        back_populates="place", order_by="Priority.position", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Place {self.slug}>"


class Priority(Base):
    """One of the place's priorities, e.g. ``net-zero-town``."""

    __tablename__ = "priorities"
    __table_args__ = (
        UniqueConstraint("place_id", "code"),
        CheckConstraint("position >= 0", name="position_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    place_id: Mapped[int] = mapped_column(ForeignKey("places.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)

    place: Mapped[Place] = relationship(back_populates="priorities")

    def __repr__(self) -> str:
        return f"<Priority {self.code}>"
