"""Job bodies: each takes the day it runs for, calls services, commits, and says what it did.

Each is idempotent — run twice, nothing happens twice — and tested by calling it directly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from tracker.config import ladder_rules, window_rules
from tracker.extensions import db
from tracker.mail import DeliveryResult, deliver_all
from tracker.models import BoardSummary, Organisation, ReportingPeriod
from tracker.services import audit
from tracker.services.reminders import ReminderRun, send_reminders

# One run of the mail job sends everything due, unless that takes longer than this.
DELIVERY_SECONDS = 300


def deliver_email(today: date | None = None) -> DeliveryResult:
    """Send what the outbox holds, batch after batch (the mail layer commits per message)."""
    return deliver_all(now=datetime.now(UTC), seconds=DELIVERY_SECONDS)


def refresh_open_data(today: date | None = None) -> str:
    """Rebuild the open-data files whose ETag is no longer current (after any published change).

    Files are renamed into place whole, each named by its ETag, so a second builder at the same
    moment (``tracker open-data build`` beside the scheduler) cannot leave a wrong or half file.
    """
    from tracker.extensions import begin_reading
    from tracker.services.open_data import is_published
    from tracker.services.open_data_files import NOT_PUBLISHED, UP_TO_DATE, refresh

    begin_reading()  # seconds of reading: on SQLite, writers must not queue behind it
    if not is_published():
        return NOT_PUBLISHED
    built, seconds = refresh()
    if not built:
        return UP_TO_DATE
    return f"rebuilt {' and '.join(built)} in {seconds:.1f} s"


def sync_periods(today: date) -> str:
    """Make next quarter's period, and open and close periods on their dates."""
    from tracker.services.periods import ensure_periods

    changes = ensure_periods(today, window_rules(current_app.config))
    db.session.commit()
    return "; ".join(changes) if changes else "periods up to date"


def remind(today: date) -> ReminderRun:
    """The reminder ladder for every live period (each organisation commits on its own)."""
    return send_reminders(today, ladder_rules(current_app.config))


def update_reporting_status(today: date) -> str:
    """Mark each organisation active, late or non-communicating, as its returns show today."""
    from tracker.services.returns import reporting_statuses

    changed = []
    current = dict(db.session.execute(select(Organisation.id, Organisation.reporting_status)).all())
    for organisation_id, status in reporting_statuses(today).items():
        if current.get(organisation_id) == status:
            continue
        # A plain UPDATE: the organisation's version (admins' optimistic lock on its details)
        # must not move because a job recomputed a derived status overnight.
        db.session.execute(
            update(Organisation)
            .where(Organisation.id == organisation_id)
            .values(reporting_status=status)
            .execution_options(synchronize_session=False)
        )
        audit.record(
            "reporting status changed",
            "organisation",
            organisation_id,
            actor_label="scheduler",
            organisation_id=organisation_id,
            before={"reporting_status": current.get(organisation_id)},
            after={"reporting_status": status},
        )
        changed.append(status)
    db.session.commit()
    if not changed:
        return "no reporting status changed"
    counts = {status: changed.count(status) for status in sorted(set(changed))}
    return "now " + ", ".join(f"{n} {status.replace('_', '-')}" for status, n in counts.items())


RECENT_CLOSE = timedelta(days=92)


def build_board_summaries(today: date) -> str:
    """After a period closes, build its board summary once (admins review and publish it)."""
    try:
        from tracker.services.board import ensure_summary
    except ImportError:  # the board summary is not part of this build
        return "no summary builder: nothing built"
    from tracker.services.periods import reporting_began

    closed = db.session.scalars(
        select(ReportingPeriod)
        .where(
            ReportingPeriod.closes_on < today,
            # Only quarters that closed lately: a quarter from before the service was in use
            # (or long forgotten) is built by hand if wanted, `tracker summary build`.
            ReportingPeriod.closes_on >= today - RECENT_CLOSE,
            reporting_began(),
            ~select(BoardSummary.id).where(BoardSummary.period_id == ReportingPeriod.id).exists(),
        )
        .order_by(ReportingPeriod.opens_on)
    ).all()
    built = []
    for period in closed:
        if ensure_summary(period) is not None:
            built.append(period.slug)
        db.session.commit()
    return f"built {', '.join(built)}" if built else "no closed period without a summary"


def prune_job_runs(today: date) -> str:
    """Forget job runs older than 90 days (the outbox and audit log keep what they did)."""
    from tracker.services.job_runs import prune

    removed = prune(today)
    db.session.commit()
    return f"removed {removed} old job run{'s' if removed != 1 else ''}"


def prune_account_records(today: date | None = None) -> str:
    """Empty sent invitation and reset emails after a week; forget expired sign-in throttles."""
    from tracker.mail import prune_link_emails
    from tracker.services import throttle

    now = datetime.now(UTC)
    emails = prune_link_emails(now)
    throttles = throttle.prune(now)
    db.session.commit()
    return (
        f"emptied {emails} sent link email{'s' if emails != 1 else ''}, "
        f"forgot {throttles} sign-in throttle{'s' if throttles != 1 else ''}"
    )


def prune_evidence_files(today: date) -> str:
    """Delete stored evidence files no update holds: uploads chosen on a form never saved."""
    from tracker.services.evidence_files import prune_unattached

    removed = prune_unattached(datetime.now(UTC))
    return f"deleted {removed} unattached evidence file{'s' if removed != 1 else ''}"
