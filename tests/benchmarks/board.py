"""The board summary on a synthetic region: build time beside one hand-written aggregate query.

Run: ``python -m tests.benchmarks.board``. Makes a scratch PostgreSQL database, fills it with
``tests.benchmarks.region`` (2,000 organisations, 40,000 commitments, 8 quarters), then times
``build_summary`` for the latest quarter (median of several runs, each rolled back) beside one
hand-written SQL that answers the headline question alone: how many commitments of each
priority are in each status, from the latest accepted update. Targets: the build in 2 s or
less, and within 2× of the hand-written query. Figures are printed, never asserted.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from tests.benchmarks import targets
from tests.benchmarks.region import RegionFacts, generate_region
from tests.conftest import make_test_app
from tests.support.databases import (
    migrate_to_head,
    postgres_url_or_reason,
    scratch_postgres_database,
)
from tracker.extensions import db

RUNS = 5

HAND_WRITTEN = """
SELECT c.primary_priority_id, coalesce(latest.status, 'not_started') AS status, count(*)
FROM commitments c
LEFT JOIN (
    SELECT DISTINCT ON (u.commitment_id) u.commitment_id, u.status
    FROM commitment_updates u
    JOIN returns r ON r.id = u.return_id
    JOIN reporting_periods p ON p.id = r.period_id
    WHERE r.state = 'accepted' AND u.status IS NOT NULL AND p.year * 4 + p.quarter <= :ordinal
    ORDER BY u.commitment_id, p.year * 4 + p.quarter DESC
) latest ON latest.commitment_id = c.id
WHERE NOT c.is_heading AND c.removed_from_page_at IS NULL
GROUP BY 1, 2
"""


def timed(action: Callable[[], object], runs: int = RUNS) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def describe(facts: RegionFacts) -> str:
    return (
        f"{facts.organisations:,} organisations, {facts.commitments:,} commitments, "
        f"{len(facts.periods)} quarters ({facts.periods[0]} to {facts.latest_period}), "
        f"{facts.returns:,} returns, {facts.updates:,} updates, "
        f"{facts.target_changes} moved goalposts; generated in {facts.seconds:.1f} s"
    )


def main() -> int:
    url, reason = postgres_url_or_reason()
    if url is None:
        print(f"Board summary benchmark: skipped ({reason})")
        return 0
    from datetime import UTC, datetime
    from datetime import time as clock

    from tracker.services.board import build_summary
    from tracker.services.periods import period_by_slug

    with tempfile.TemporaryDirectory() as folder, scratch_postgres_database(url) as scratch:
        app = make_test_app(scratch, Path(folder))
        migrate_to_head(app)
        with app.app_context():
            facts = generate_region(db.engine)
            print(f"Board summary on a synthetic region: {describe(facts)}")
            period = period_by_slug(facts.latest_period)
            assert period is not None
            ordinal = period.year * 4 + period.quarter
            now = datetime.combine(facts.today, clock(9), UTC)

            def build() -> None:
                build_summary(period, actor=None, now=now)
                db.session.rollback()

            def hand_written() -> None:
                db.session.execute(sa.text(HAND_WRITTEN), {"ordinal": ordinal}).all()
                db.session.rollback()

            build()  # warm the caches once, as a long-running server would be
            hand_written()
            build_times = timed(build)
            sql_times = timed(hand_written)
            summary = build_summary(period, actor=None, now=now)
            stored = db.session.scalar(
                sa.text("SELECT pg_column_size(data) FROM board_summaries WHERE id = :id"),
                {"id": summary.id},
            )
            db.session.rollback()
        with app.app_context():
            db.engine.dispose()

    build_median = statistics.median(build_times)
    sql_median = statistics.median(sql_times)
    ratio = build_median / sql_median
    print(
        f"  build_summary({facts.latest_period})              median {build_median:6.3f} s"
        f"  min {min(build_times):6.3f} s"
    )
    print(
        f"  hand-written status-by-priority SQL        median {sql_median:6.3f} s"
        f"  min {min(sql_times):6.3f} s"
    )
    print(f"  ratio build / hand-written                 {ratio:5.2f}×")
    print(f"  stored snapshot (JSON, compressed)          {stored / 1024:,.0f} KiB")
    targets.figure("summary build, median", build_median, "s")
    targets.figure("hand-written status-by-priority SQL, median", sql_median, "s")
    targets.figure("summary build / hand-written SQL", ratio, "×")
    targets.target("summary build ≤ 2.0 s", build_median <= 2.0, f"{build_median:.2f} s")
    targets.target(
        "summary build ≤ 2× the hand-written SQL", ratio <= 2.0, f"{ratio:.2f}× the SQL's"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
