"""Stored tallies: counts the admin's work list would otherwise recount from thousands of rows.

A tally is kept under a key (``returns:<period id>``: a quarter's expected returns grouped by
the facts the rules read; ``commitments``: the pledges' figures). Whoever changes what a tally
counts adds one to its ``version`` as its transaction commits, every tally it changed in one
statement in key order, so two writers lock the rows in the same order and never deadlock
(``services.tallies``). The reader rebuilds a tally whose ``built_version`` is behind and stores
what it counted with the version it read first, so a change that commits while it counts leaves
the tally behind, not wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.models.base import Base


class Tally(Base):
    __tablename__ = "tallies"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)  # one more for every change counted
    built_version: Mapped[int | None]  # the version ``data`` was counted at; None: never
    data: Mapped[dict[str, Any] | None]
    built_at: Mapped[datetime | None]
