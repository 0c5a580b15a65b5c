"""Frozen board summaries: what the Place Board saw for a period, never rewritten by later edits."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.models.base import Base, utcnow
from tracker.models.reporting import ReportingPeriod


def _new_fingerprint() -> str:
    return secrets.token_hex(16)


class BoardSummary(Base):
    __tablename__ = "board_summaries"
    __table_args__ = (
        UniqueConstraint("period_id", "revision"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        CheckConstraint(
            "revision = 1 OR length(coalesce(reason, '')) > 0", name="rebuild_has_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("reporting_periods.id", ondelete="CASCADE"))
    # A rebuild adds a revision with a reason; earlier revisions stay as they were.
    revision: Mapped[int] = mapped_column(default=1)
    reason: Mapped[str | None] = mapped_column(Text)
    built_at: Mapped[datetime] = mapped_column(default=utcnow)
    built_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None]
    # Plain JSON, not JSONB: the document is written once and read whole, never queried
    # inside, and decomposing a region's 5 MB into JSONB cost more than building it.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What the summary page shows (domain.summary.page_part), frozen with ``data`` at build
    # time: the page reads this alone. NULL for summaries built before it was kept.
    page: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    # A random token given at build time: the page keeps its rendering of this frozen summary
    # under it (tracker.board.rendering). Ids are not enough: SQLite reuses a rolled-back one.
    fingerprint: Mapped[str | None] = mapped_column(String(32), default=_new_fingerprint)

    period: Mapped[ReportingPeriod] = relationship()
