"""Every scheduled job and its timing, declared in one place.

Each entry names a job, when it runs (an APScheduler trigger, in the place's time zone) and
the function it calls with the day it runs for. ``tracker jobs list`` shows them, ``tracker
jobs run-once NAME`` runs one now, and the scheduler (``tracker jobs run``) runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs import tasks

TIMEZONE = "Europe/London"


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    description: str
    # When it runs, as people read it (the trigger is built from configuration).
    when: str
    trigger: BaseTrigger
    func: Callable[[date], Any]
    # Runs so often that missing one needs no catch-up.
    frequent: bool = False
    # The scheduler's thread pool it runs in: "default" runs one job at a time in the order
    # they fall due; "files" is the open-data build's own, so a long rebuild (20 s for a region)
    # never holds up the mail or the reminders.
    executor: str = "default"


def scheduled_jobs(config: Mapping[str, Any]) -> tuple[ScheduledJob, ...]:
    """The jobs, in the order a day runs them, with timings from configuration."""
    hour = config.get("REMINDER_HOUR", 7)
    every = config.get("MAIL_SEND_EVERY_SECONDS", 30)
    open_data_every = config.get("OPEN_DATA_EVERY_MINUTES", 5)
    return (
        ScheduledJob(
            id="deliver-email",
            description="Send queued emails in batches; retry temporary failures with backoff",
            when=f"every {every} second{'s' if every != 1 else ''}",
            trigger=IntervalTrigger(seconds=every, timezone=TIMEZONE),
            func=tasks.deliver_email,
            frequent=True,
        ),
        ScheduledJob(
            id="sync-periods",
            description="Make next quarter's period; open and close periods on their dates",
            when="daily at 00:05",
            trigger=CronTrigger(hour=0, minute=5, timezone=TIMEZONE),
            func=tasks.sync_periods,
        ),
        ScheduledJob(
            id="update-reporting-status",
            description="Mark organisations active, late or non-communicating",
            when="daily at 00:15",
            trigger=CronTrigger(hour=0, minute=15, timezone=TIMEZONE),
            func=tasks.update_reporting_status,
        ),
        ScheduledJob(
            id="build-board-summaries",
            description="Build the board summary of each period once it has closed",
            when="daily at 00:30",
            trigger=CronTrigger(hour=0, minute=30, timezone=TIMEZONE),
            func=tasks.build_board_summaries,
        ),
        ScheduledJob(
            id="send-reminders",
            description="The reminder ladder: open, due soon, overdue, deputy or sponsor, admins",
            when=f"daily at {hour:02d}:00",
            trigger=CronTrigger(hour=hour, minute=0, timezone=TIMEZONE),
            func=tasks.remind,
        ),
        ScheduledJob(
            id="prune-job-runs",
            description="Forget job runs older than 90 days",
            when="daily at 03:30",
            trigger=CronTrigger(hour=3, minute=30, timezone=TIMEZONE),
            func=tasks.prune_job_runs,
        ),
        ScheduledJob(
            id="prune-account-records",
            description="Empty sent invitation and reset emails after a week; forget old throttles",
            when="daily at 03:40",
            trigger=CronTrigger(hour=3, minute=40, timezone=TIMEZONE),
            func=tasks.prune_account_records,
        ),
        ScheduledJob(
            id="prune-evidence-files",
            description="Delete uploaded files no update holds, a day after they were chosen",
            when="daily at 03:45",
            trigger=CronTrigger(hour=3, minute=45, timezone=TIMEZONE),
            func=tasks.prune_evidence_files,
        ),
        ScheduledJob(
            id="open-data",
            description="Rebuild the open-data files when what is published changed",
            when=f"every {open_data_every} minute{'s' if open_data_every != 1 else ''}",
            trigger=IntervalTrigger(minutes=open_data_every, timezone=TIMEZONE),
            func=tasks.refresh_open_data,
            frequent=True,
            executor="files",
        ),
    )


def job_named(config: Mapping[str, Any], name: str) -> ScheduledJob:
    for job in scheduled_jobs(config):
        if job.id == name:
            return job
    names = ", ".join(job.id for job in scheduled_jobs(config))
    raise LookupError(f"no job called {name!r}: the jobs are {names}")
