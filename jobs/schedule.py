"""Every scheduled job and its timing, declared in one place.

Each entry names a job, when it runs (an APScheduler trigger in Europe/London time) and the
function it calls; the function calls one service and is tested by calling it directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs import tasks


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    description: str
    trigger: BaseTrigger
    func: Callable[..., Any]


JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        id="deliver-email",
        description="Send queued emails, retrying temporary failures with backoff",
        trigger=IntervalTrigger(seconds=30),
        func=tasks.deliver_email,
    ),
    ScheduledJob(
        id="sync-periods",
        description="Make next quarter's reporting period; open and close periods on their dates",
        trigger=CronTrigger(hour=0, minute=5),
        func=tasks.sync_periods,
    ),
)
