"""Running a scheduled job and recording the run: the scheduler's memory across restarts.

Each run is a ``JobRun`` row, committed before the job starts (so a crash leaves a trace) and
finished with its outcome and a one-line summary of what it did. A row still ``running`` when
a newer run of the same job starts belonged to a process that died: it is marked
``interrupted``. The jobs themselves are idempotent, so the next run finishes what a crashed
one left.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, func, select, update

from tracker.domain.enums import JobOutcome
from tracker.extensions import db
from tracker.models import JobRun

log = logging.getLogger("tracker.jobs")

KEEP_RUNS = timedelta(days=90)
KEEP_IDLE_RUNS = timedelta(days=2)
IDLE_SUMMARY = "nothing to send"
# What the frequent jobs say when they had nothing to do (mail every 30 s, open data every 5 min).
IDLE_SUMMARIES = (
    IDLE_SUMMARY,
    "open data up to date",
    "open data not published: nothing built",
)


def today_in_place(now: datetime | None = None) -> date:
    """The date where the place is (the scheduler's days are Europe/London days)."""
    now = now or datetime.now(UTC)
    return now.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()


@dataclass(frozen=True)
class Outcome:
    run_id: int
    outcome: JobOutcome
    summary: str


def run_job(job_id: str, func, *, today: date | None = None, started_by: str) -> Outcome:  # type: ignore[no-untyped-def]
    """Run one job for ``today`` (the place's today by default) and record how it went."""
    run_for = today or today_in_place()
    now = datetime.now(UTC)
    db.session.execute(
        update(JobRun)
        .where(JobRun.job == job_id, JobRun.outcome == JobOutcome.RUNNING)
        .values(
            outcome=JobOutcome.INTERRUPTED,
            finished_at=now,
            error="the process running it stopped before it finished",
        )
        .execution_options(synchronize_session=False)
    )
    run = JobRun(
        job=job_id,
        run_for=run_for,
        started_by=started_by,
        host=f"{socket.gethostname()}:{os.getpid()}"[:200],
        started_at=now,
        outcome=JobOutcome.RUNNING,
    )
    db.session.add(run)
    db.session.flush()
    # Read before the commit: reading it after would begin a transaction that lasts the whole
    # job, and on SQLite every transaction holds the write lock (``tracker._sqlite_begin``).
    run_id = run.id
    db.session.commit()
    try:
        result = func(run_for)
    except Exception as error:
        db.session.rollback()
        log.exception("job %s failed", job_id)
        _finish(run_id, JobOutcome.FAILED, error=_error_text(error))
        return Outcome(run_id, JobOutcome.FAILED, _one_line(error))
    summary = str(result) if result is not None else "done"
    _finish(run_id, JobOutcome.SUCCEEDED, summary=summary)
    return Outcome(run_id, JobOutcome.SUCCEEDED, summary)


def _finish(run_id: int, outcome: JobOutcome, **values: str) -> None:
    db.session.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(outcome=outcome, finished_at=datetime.now(UTC), **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _one_line(error: BaseException) -> str:
    """The error in one short line (a database error's own words, not its SQL and values)."""
    cause = getattr(error, "orig", None) or error
    first = (str(cause).strip().splitlines() or [""])[0]
    text = f"{type(cause).__name__}: {first}" if first else type(cause).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def _error_text(error: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text[:2000]


def last_runs() -> dict[str, JobRun]:
    """The latest run of each job."""
    latest = select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    return {
        run.job: run
        for run in db.session.scalars(select(JobRun).join(latest, latest.c.id == JobRun.id))
    }


def last_success(job_id: str) -> JobRun | None:
    return db.session.scalar(
        select(JobRun)
        .where(JobRun.job == job_id, JobRun.outcome == JobOutcome.SUCCEEDED)
        .order_by(JobRun.id.desc())
        .limit(1)
    )


def prune(today: date) -> int:
    """Delete runs older than 90 days, and idle frequent runs older than 2; returns how many."""
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    old = JobRun.started_at < midnight - KEEP_RUNS
    # The mail job runs every 30 seconds, the open-data job every 5 minutes; a run that found
    # nothing to do is not history.
    idle = (
        (JobRun.started_at < midnight - KEEP_IDLE_RUNS)
        & (JobRun.summary.in_(IDLE_SUMMARIES))
        & (JobRun.outcome == JobOutcome.SUCCEEDED)
    )
    return db.session.execute(
        delete(JobRun)
        .where(old | idle, JobRun.outcome != JobOutcome.RUNNING)
        .execution_options(synchronize_session=False)
    ).rowcount
