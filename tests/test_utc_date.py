"""``utc_date``: the UTC day of a stored time, the same on SQLite and PostgreSQL whatever the
session's time zone, and the same as Python's ``astimezone(UTC).date()``.

Whether a retired commitment still counted in a quarter compares that day with the quarter's
window (``periods.counted_in``); a database session in another zone must not move it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from tests.factories import make_commitment
from tracker.models import Commitment
from tracker.models.base import utc_date


def test_the_day_is_utcs_in_any_session_time_zone(db_session):
    late_evening = datetime(2024, 8, 11, 23, 30, tzinfo=UTC)  # 12 August in Kiritimati
    commitment = make_commitment(db_session, removed_from_page_at=late_evening)
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(sa.text("SET LOCAL TIME ZONE 'Pacific/Kiritimati'"))
    day = db_session.scalar(
        sa.select(utc_date(Commitment.removed_from_page_at)).where(Commitment.id == commitment.id)
    )
    assert day == date(2024, 8, 11) == late_evening.astimezone(UTC).date()
