"""The scheduler process: ``tracker jobs run``. Never started inside web workers.

APScheduler 3 keeps its schedule in memory: it forgets on restart what it ran, and marks a run
done before it finishes. So each run goes through ``run_job``, which records it in the
database, and on start a daily job whose last successful run is older than its latest firing
time runs once straight away (catch-up after downtime: once, however many firings were missed).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy import inspect

from jobs.lock import lock_for
from jobs.schedule import TIMEZONE, ScheduledJob, scheduled_jobs
from tracker.extensions import db
from tracker.services.job_runs import IDLE_SUMMARIES, last_success, run_job

log = logging.getLogger("tracker.scheduler")

JOB_DEFAULTS = {
    # A missed firing while this process runs (a long job, a paused VM) runs once, not once per
    # missed firing…
    "coalesce": True,
    # …and still runs hours late: the default of one second would silently skip it.
    "misfire_grace_time": 6 * 60 * 60,
    "max_instances": 1,
}
LOCK_CHECK_SECONDS = 30


class SchedulerNotReady(Exception):
    """The scheduler cannot start; the message says what to do."""


def build_scheduler(app: Flask, *, now: datetime | None = None) -> BackgroundScheduler:
    """A scheduler with every job registered under its own id, missed daily jobs due now."""
    scheduler = BackgroundScheduler(
        timezone=TIMEZONE,
        job_defaults=JOB_DEFAULTS,
        # One job at a time, in the order they fall due: after downtime the catch-up runs
        # sync-periods before the reminders, and no two jobs fight over SQLite's one writer.
        # The open-data build has a thread of its own: it reads and writes files, and its only
        # database writes are its run record, so running beside the mail costs no waiting.
        executors={
            "default": ThreadPoolExecutor(max_workers=1),
            "files": ThreadPoolExecutor(max_workers=1),
        },
    )
    now = now or datetime.now(UTC)
    for position, job in enumerate(scheduled_jobs(app.config)):
        options = {}
        if catch_up_needed(app, job, now):
            # A millisecond apart, so catch-up keeps the declared order (periods first).
            options["next_run_time"] = now + timedelta(milliseconds=position)
        scheduler.add_job(
            _recorded(app, job),
            trigger=job.trigger,
            id=job.id,
            name=job.description,
            executor=job.executor,
            replace_existing=True,
            **options,
        )
    return scheduler


def catch_up_needed(app: Flask, job: ScheduledJob, now: datetime) -> bool:
    """Whether a daily job missed a firing since its last successful run (or never ran)."""
    if job.frequent:
        return False
    with app.app_context():
        last = last_success(job.id)
        db.session.remove()
    if last is None:
        return True
    missed = job.trigger.get_next_fire_time(None, last.started_at)
    return missed is not None and missed <= now


def _recorded(app: Flask, job: ScheduledJob):  # type: ignore[no-untyped-def]
    def run() -> None:
        with app.app_context():
            try:
                outcome = run_job(job.id, job.func, started_by="scheduler")
            except Exception:
                # The database itself is unreachable: say so and try at the next firing.
                log.exception("could not run or record job %s", job.id)
                return
            finally:
                db.session.remove()
            if not job.frequent or outcome.summary not in IDLE_SUMMARIES:
                log.info("%s: %s (%s)", job.id, outcome.outcome, outcome.summary)

    return run


def run_scheduler(app: Flask) -> None:
    """Wait for the scheduler lock, then run jobs until stopped."""
    poll_seconds = app.config["SCHEDULER_POLL_SECONDS"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # APScheduler says "Running job…" twice a minute; our own lines say what each job did.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    with app.app_context():
        engine = db.engine
        if not inspect(engine).has_table("job_runs"):
            raise SchedulerNotReady(
                "the database is not set up for this version: run `tracker db upgrade` first"
            )
    lock = lock_for(engine, Path(app.config["SCHEDULER_LOCK_FILE"]))
    # The signal handler only raises a flag the main thread watches. It used to shut the
    # scheduler down and raise SystemExit from inside the handler: a SIGTERM that landed while
    # the catch-up jobs were starting hung the process (2 runs in 10 here).
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    waiting_said = False
    while not lock.try_acquire():
        if not waiting_said:
            log.info("another scheduler holds the %s; waiting to take over", lock.description)
            print("scheduler: another scheduler is active; waiting to take over", flush=True)
            waiting_said = True
        if _sleep_unless(stopping, poll_seconds):
            log.info("stopping (signal) while waiting for the %s", lock.description)
            return
    try:
        # Built only once elected: catch-up must look at the runs the previous holder recorded.
        scheduler = build_scheduler(app)
        jobs = scheduler.get_jobs()
        # Before the start, only the jobs given a first run time (catch-up) have one.
        due_now = [job.id for job in jobs if getattr(job, "next_run_time", None)]
        log.info("holding the %s; %d job(s) scheduled", lock.description, len(jobs))
        running = f"scheduler: running ({len(jobs)} job(s)); holding the {lock.description}"
        print(running, flush=True)
        if due_now:
            print(f"scheduler: catching up now: {', '.join(due_now)}", flush=True)
        scheduler.start()
        next_lock_check = time.monotonic() + LOCK_CHECK_SECONDS
        while not _sleep_unless(stopping, 0.5):
            if time.monotonic() >= next_lock_check:
                next_lock_check = time.monotonic() + LOCK_CHECK_SECONDS
                # The lock lives on one connection: if the database dropped it, another
                # scheduler may have taken over, so this one stops (its supervisor restarts it,
                # and it waits).
                if not lock.is_held():
                    log.error("lost the %s; stopping so only one scheduler runs", lock.description)
                    break
        else:
            log.info("stopping (signal)")
        # A job already running finishes (each commits per item, so stopping mid-way is safe
        # too); nothing new starts.
        scheduler.shutdown(wait=True)
    finally:
        lock.release()


def _sleep_unless(stopping: threading.Event, seconds: float) -> bool:
    """Sleep up to ``seconds`` in short steps; whether a stop was asked for.

    Plain sleeps in the main thread, so the signal handler's flag is seen promptly and nothing
    waits on a lock the handler might need.
    """
    deadline = time.monotonic() + seconds
    while not stopping.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, 0.1))
    return True
