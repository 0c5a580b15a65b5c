"""Every scheduled job and its timing, declared in one place.

Each entry names a job, when it runs (an APScheduler trigger in Europe/London time) and the
function it calls; the function calls one service and is tested by calling it directly.
The jobs themselves arrive with the scheduled-jobs issue; the process runs with an empty list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.base import BaseTrigger


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    description: str
    trigger: BaseTrigger
    func: Callable[..., Any]


JOBS: tuple[ScheduledJob, ...] = ()
