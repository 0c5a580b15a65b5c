"""Run the ``tracker`` command as a user would, in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tracker.config import PROJECT_ROOT


def tracker_env(instance: Path, **env: str) -> dict[str, str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "TRACKER_", "SECRET_KEY", "MAIL_"))
    }
    base.update({"TRACKER_INSTANCE_PATH": str(instance), "PYTHONWARNINGS": "ignore"})
    base.update(env)
    return base


def run_tracker(
    *args: str, instance: Path, timeout: float = 120, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracker", *args],
        cwd=PROJECT_ROOT,
        env=tracker_env(instance, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
    )
