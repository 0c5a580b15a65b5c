"""The scheduler process: ``tracker jobs run``. Never started inside web workers."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from jobs.lock import lock_for
from jobs.schedule import JOBS
from tracker.extensions import db

log = logging.getLogger("tracker.scheduler")

JOB_DEFAULTS = {
    # After downtime run a missed job once, not once per missed firing…
    "coalesce": True,
    # …and still run it hours late: the default of one second would silently skip it.
    "misfire_grace_time": 6 * 60 * 60,
    "max_instances": 1,
}


def build_scheduler(app: Flask) -> BlockingScheduler:
    """A scheduler with every job from ``jobs.schedule`` registered under its own id."""
    scheduler = BlockingScheduler(timezone=app.config["TIMEZONE"], job_defaults=JOB_DEFAULTS)
    for job in JOBS:
        scheduler.add_job(
            _in_app_context(app, job.func),
            trigger=job.trigger,
            id=job.id,
            name=job.description,
            replace_existing=True,
        )
    return scheduler


def _in_app_context(app: Flask, func):  # type: ignore[no-untyped-def]
    def run() -> None:
        with app.app_context():
            func()

    return run


def run_scheduler(app: Flask) -> None:
    """Wait for the scheduler lock, then run jobs until stopped."""
    poll_seconds = app.config["SCHEDULER_POLL_SECONDS"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with app.app_context():
        engine = db.engine
    lock = lock_for(engine, Path(app.config["SCHEDULER_LOCK_FILE"]))
    scheduler = build_scheduler(app)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("stopping (signal %s)", signum)
        if scheduler.running:
            scheduler.shutdown(wait=False)
        lock.release()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)

    waiting_said = False
    while not lock.try_acquire():
        if not waiting_said:
            log.info("another scheduler holds the %s; waiting to take over", lock.description)
            print("scheduler: another scheduler is active; waiting to take over", flush=True)
            waiting_said = True
        time.sleep(poll_seconds)
    log.info("holding the %s; %d job(s) scheduled", lock.description, len(JOBS))
    print(f"scheduler: running ({len(JOBS)} job(s)); holding the {lock.description}", flush=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        lock.release()
