"""``make bench``: queueing and delivering the reminder ladder for 2,000 organisations.

On PostgreSQL (a scratch database): 2,000 organisations with five commitments and a lead each,
a deputy for every third. It times the reminder job on the day the window opens (one email per
lead) and on the day deputies hear (3 days overdue: one email per deputy), then the mail job
delivering everything to a local SMTP server (aiosmtpd, in a process of its own) as the mail
job does: the leads' emails over one connection (as before issue 17), the deputies' over the
configured number of connections at once. Figures are messages per second; nothing is asserted.

Run alone: ``python -m tests.benchmarks.ladder``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from tests.benchmarks import targets
from tests.benchmarks.smtp_process import SmtpProcess, smtp_server_process
from tests.conftest import make_test_app
from tests.support.databases import (
    migrate_to_head,
    postgres_url_or_reason,
    scratch_postgres_database,
)
from tracker.config import ladder_rules
from tracker.domain.calendar import Quarter, WindowRules
from tracker.domain.enums import ContactRole, NotificationState, PeriodState, Role
from tracker.extensions import db
from tracker.mail import deliver_all
from tracker.models import (
    Commitment,
    Notification,
    Organisation,
    OrganisationContact,
    Pledge,
    ReportingPeriod,
    User,
)
from tracker.models.user import organisation_leads
from tracker.services.reminders import send_reminders

ORGANISATIONS = 2_000
TARGET_PER_SECOND = 200
COMMITMENTS_EACH = 5


def populate(organisations: int) -> ReportingPeriod:
    """Bulk-insert the organisations, commitments, leads, deputies and one period."""
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    db.session.execute(
        insert(Organisation),
        [
            {
                "id": n,
                "slug": f"org-{n}",
                "name": f"Organisation {n}",
                "reporting_status": "active",
                "name_needs_review": False,
                "version": 1,
                **stamps,
            }
            for n in range(1, organisations + 1)
        ],
    )
    db.session.execute(
        insert(Pledge),
        [{"id": n, "organisation_id": n, **stamps} for n in range(1, organisations + 1)],
    )
    db.session.execute(
        insert(Commitment),
        [
            {
                "pledge_id": n,
                "organisation_id": n,
                "key": f"c-{n}-{i}",
                "position": i,
                "original_text": f"Commitment {i} of organisation {n}",
                "title": f"Commitment {i} of organisation {n}",
                "current_status": "not_started",
                "needs_review": False,
                "is_heading": False,
                "is_truncated": False,
                "duplicates_folded": 0,
                "version": 1,
                **stamps,
            }
            for n in range(1, organisations + 1)
            for i in range(COMMITMENTS_EACH)
        ],
    )
    db.session.execute(
        insert(User),
        [
            {
                "id": n,
                "email": f"lead{n}@example.org",
                "name": f"Lead {n}",
                "role": Role.LEAD.value,
                "active": True,
                "session_version": 1,
                **stamps,
            }
            for n in range(1, organisations + 1)
        ],
    )
    db.session.execute(
        insert(organisation_leads),
        [{"user_id": n, "organisation_id": n} for n in range(1, organisations + 1)],
    )
    db.session.execute(
        insert(OrganisationContact),
        [
            {
                "organisation_id": n,
                "role": ContactRole.DEPUTY.value,
                "name": f"Deputy {n}",
                "email": f"deputy{n}@example.org",
                **stamps,
            }
            for n in range(1, organisations + 1, 3)
        ],
    )
    quarter = Quarter(2024, 1)
    window = quarter.window(WindowRules())
    period = ReportingPeriod(
        slug=quarter.slug,
        year=quarter.year,
        quarter=quarter.number,
        starts_on=quarter.starts_on,
        ends_on=quarter.ends_on,
        opens_on=window.opens_on,
        due_on=window.due_on,
        closes_on=window.closes_on,
        state=PeriodState.OPEN,
    )
    db.session.add(period)
    db.session.commit()
    # The bulk inserts gave explicit ids: move the sequences past them.
    for table in ("organisations", "pledges", "users"):
        db.session.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
    db.session.commit()
    return period


def queued() -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.state == NotificationState.QUEUED)
    )


def deliver(label: str, connections: int, smtp: SmtpProcess, app: Any) -> tuple[str, float]:
    """Deliver everything queued as the mail job does, over at most ``connections``."""
    total = queued()
    config = {**app.config, "MAIL_CONNECTIONS": connections}
    start = time.perf_counter()
    while queued():
        deliver_all(now=datetime.now(UTC), seconds=600, config=config)
    seconds = time.perf_counter() - start
    rate = total / seconds
    return (
        f"  deliver {label:<30} {total:>6} emails in {seconds:6.2f} s  = {rate:7.0f} emails/s"
        f"  (batches of {app.config['MAIL_BATCH_SIZE']}, {connections} connection(s) at most)"
    ), rate


def measure(
    database_url: str,
    instance: Path,
    organisations: int = ORGANISATIONS,
    verdicts: list[float] | None = None,
) -> list[str]:
    verdicts = [] if verdicts is None else verdicts
    lines = []
    with smtp_server_process() as smtp:
        app = make_test_app(
            database_url,
            instance,
            MAIL_BACKEND="smtp",
            MAIL_SERVER=smtp.host,
            MAIL_PORT=smtp.port,
            MAIL_DEFAULT_SENDER="Pledge Tracker <tracker@example.org>",
        )
        migrate_to_head(app)
        with app.app_context():
            period = populate(organisations)
            rules = ladder_rules(app.config)
            rates = []
            for label, day, connections in (
                ("window opens (leads)", period.opens_on, 1),
                ("3 days overdue (deputies)", period.due_on + timedelta(days=3), 0),
            ):
                before = db.session.scalar(select(func.count()).select_from(Notification))
                start = time.perf_counter()
                run = send_reminders(day, rules)
                seconds = time.perf_counter() - start
                made = db.session.scalar(select(func.count()).select_from(Notification)) - before
                lines.append(
                    f"  queue the ladder, {label:<28} {made:>6} emails in {seconds:6.2f} s"
                    f"  = {made / seconds:7.0f} emails/s  ({run})"
                )
                line, rate = deliver(
                    "one connection" if connections == 1 else "as configured",
                    connections or app.config["MAIL_CONNECTIONS"],
                    smtp,
                    app,
                )
                lines.append(line)
                rates.append(rate)
            total = db.session.scalar(select(func.count()).select_from(Notification))
            received = Counter(smtp.message_ids())
            once = len(received) == total and set(received.values()) == {1}
            lines.append(f"  received by the server: {received.total()} (each once: {once})")
            lines.append(
                "  (the SMTP server is aiosmtpd in a process of its own on this machine; the first"
                " line is one connection as before issue 17, the second the job's settings)"
            )
            targets.figure("reminder delivery, one connection", rates[0], "emails/s")
            targets.figure("reminder delivery, as configured", rates[-1], "emails/s")
            verdicts.append(rates[-1])
            db.engine.dispose()
    return lines


def main() -> int:
    print(f"Reminder ladder for {ORGANISATIONS:,} organisations (PostgreSQL)")
    url, reason = postgres_url_or_reason()
    if url is None:
        print(f"  skipped: {reason}")
        return 0
    verdicts: list[float] = []
    with tempfile.TemporaryDirectory() as folder, scratch_postgres_database(url) as scratch:
        for line in measure(scratch, Path(folder), verdicts=verdicts):
            print(line)
    rate = verdicts[-1] if verdicts else None
    targets.target(
        f"reminder delivery to a local SMTP server ≥ {TARGET_PER_SECOND} emails/s",
        None if rate is None else rate >= TARGET_PER_SECOND,
        "not measured" if rate is None else f"{rate:.0f} emails/s",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
