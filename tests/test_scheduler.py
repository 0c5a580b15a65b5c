"""One active scheduler: a second process waits, and takes over when the first dies."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from jobs.lock import FileLock, PostgresAdvisoryLock
from jobs.scheduler import JOB_DEFAULTS, build_scheduler
from tests.conftest import make_test_app, require
from tests.support.commands import tracker_env
from tests.support.databases import postgres_url_or_reason
from tracker.config import PROJECT_ROOT


def postgres_or_skip() -> str:
    url, reason = postgres_url_or_reason()
    if url is None:
        require("PostgreSQL", reason)
    return url


def test_file_lock_admits_one_holder_at_a_time(tmp_path):
    first, second = FileLock(tmp_path / "s.lock"), FileLock(tmp_path / "s.lock")
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_advisory_lock_admits_one_holder_at_a_time():
    engine = sa.create_engine(postgres_or_skip())
    first, second = PostgresAdvisoryLock(engine), PostgresAdvisoryLock(engine)
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        first.release()
        assert second.try_acquire()
    finally:
        first.release()
        second.release()
        engine.dispose()


def test_jobs_never_silently_skip_after_downtime(tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    scheduler = build_scheduler(app)
    assert str(scheduler.timezone) == "Europe/London"
    assert JOB_DEFAULTS["coalesce"] is True
    assert JOB_DEFAULTS["misfire_grace_time"] >= 3600


class SchedulerProcess:
    """``tracker jobs run`` in a child process, with its output read as it arrives."""

    def __init__(self, instance: Path, **env: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "jobs", "run"],
            cwd=PROJECT_ROOT,
            env=tracker_env(instance, SCHEDULER_POLL_SECONDS="1", **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.output = ""

    def read(self, seconds: float, until: str | None = None) -> str:
        """Collect output for up to ``seconds`` (stopping early once ``until`` shows)."""
        # Raw reads from the pipe: a buffered readline could hold a line the selector never
        # reports again.
        fd = self.process.stdout.fileno()
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline and not (until and until in self.output):
                if selector.select(timeout=0.2):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    self.output += chunk.decode(errors="replace")
        finally:
            selector.close()
        return self.output

    def wait_for(self, text: str, timeout: float = 30) -> None:
        self.read(timeout, until=text)
        assert text in self.output, f"never saw {text!r}; output was:\n{self.output}"

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process.stdout.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_second_scheduler_waits_and_takes_over_when_the_first_dies(tmp_path, backend):
    if backend == "postgresql":
        env = {"DATABASE_URL": postgres_or_skip()}
        # Separate instance folders: only the database can elect the scheduler.
        first_instance, second_instance = tmp_path / "a", tmp_path / "b"
    else:
        env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}"}
        first_instance = second_instance = tmp_path / "instance"

    first = SchedulerProcess(first_instance, **env)
    second = None
    try:
        first.wait_for("scheduler: running")
        second = SchedulerProcess(second_instance, **env)
        second.wait_for("waiting to take over")
        # It keeps waiting while the first is alive (it polls every second).
        assert "scheduler: running" not in second.read(2.5)

        first.kill()  # no clean shutdown: the lock must be freed by the process dying
        second.wait_for("scheduler: running")
    finally:
        first.kill()
        if second:
            second.kill()


def test_sigterm_stops_the_scheduler_cleanly(tmp_path):
    scheduler = SchedulerProcess(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    try:
        scheduler.wait_for("scheduler: running")
        scheduler.process.send_signal(signal.SIGTERM)
        assert scheduler.process.wait(timeout=10) == 0
    finally:
        scheduler.kill()
