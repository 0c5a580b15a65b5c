"""One active scheduler: a second process waits, and takes over when the first dies."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from jobs.lock import FileLock, PostgresAdvisoryLock
from jobs.schedule import scheduled_jobs
from jobs.scheduler import JOB_DEFAULTS, build_scheduler
from tests.conftest import make_test_app, require
from tests.support.commands import run_tracker, tracker_env
from tests.support.databases import (
    migrate_to_head,
    postgres_url_or_reason,
    scratch_postgres_database,
)
from tracker.config import PROJECT_ROOT
from tracker.extensions import db


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
    migrate_to_head(app)
    now = datetime(2024, 7, 10, 12, 0, tzinfo=UTC)
    scheduler = build_scheduler(app, now=now)
    assert str(scheduler.timezone) == "Europe/London"
    assert JOB_DEFAULTS["coalesce"] is True
    assert JOB_DEFAULTS["misfire_grace_time"] >= 3600
    # Nothing has ever run: every daily job runs once straight away; the frequent ones (mail,
    # open data) on their own.
    due = {
        job.id: job.next_run_time for job in scheduler.get_jobs() if hasattr(job, "next_run_time")
    }
    # In the order declared (periods before reminders), all within a second of now.
    assert sorted(due, key=due.get) == [
        job.id for job in scheduled_jobs(app.config) if not job.frequent
    ]
    assert all(now <= at < now + timedelta(seconds=1) for at in due.values())


def test_a_long_open_data_build_does_not_hold_up_the_mail(tmp_path, monkeypatch):
    """The region's open-data rebuild takes ~20 s: the mail must go out meanwhile."""
    from jobs import tasks

    app = make_test_app(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    migrate_to_head(app)
    building, finish_building, delivered = threading.Event(), threading.Event(), threading.Event()

    def slow_build(today):  # type: ignore[no-untyped-def]
        building.set()
        finish_building.wait(20)
        return "rebuilt open-data.json"

    def deliver(today):  # type: ignore[no-untyped-def]
        delivered.set()
        return "no email waiting"

    monkeypatch.setattr(tasks, "refresh_open_data", slow_build)
    monkeypatch.setattr(tasks, "deliver_email", deliver)
    now = datetime.now(UTC)
    scheduler = build_scheduler(app, now=now)
    for job in scheduler.get_jobs():
        if job.id not in {"open-data", "deliver-email"}:
            scheduler.remove_job(job.id)
    # The build starts first; the mail falls due while it is still running.
    scheduler.modify_job("open-data", next_run_time=now)
    scheduler.modify_job("deliver-email", next_run_time=now + timedelta(milliseconds=200))
    scheduler.start()
    try:
        assert building.wait(10), "the open-data build never started"
        # The build cannot finish before this test lets it: the mail went out meanwhile.
        assert delivered.wait(10), "the mail waited for the open-data build"
    finally:
        finish_building.set()
        scheduler.shutdown(wait=True)
    with app.app_context():
        runs = dict(db.session.execute(sa.text("SELECT job, outcome FROM job_runs")).all())
        db.engine.dispose()
    assert runs == {"open-data": "succeeded", "deliver-email": "succeeded"}


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
    with ExitStack() as stack:
        if backend == "postgresql":
            url = stack.enter_context(scratch_postgres_database(postgres_or_skip()))
            # Separate instance folders: only the database can elect the scheduler.
            first_instance, second_instance = tmp_path / "a", tmp_path / "b"
        else:
            url = f"sqlite:///{tmp_path / 'shared.db'}"
            first_instance = second_instance = tmp_path / "instance"
        env = {"DATABASE_URL": url}
        assert run_tracker("db", "upgrade", instance=tmp_path, **env).returncode == 0

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


def test_the_scheduler_will_not_start_on_a_database_that_is_not_set_up(tmp_path):
    result = run_tracker(
        "jobs", "run", instance=tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}"
    )
    assert result.returncode == 1
    assert "run `tracker db upgrade` first" in result.stderr


def test_sigterm_stops_the_scheduler_cleanly_even_during_catch_up(tmp_path):
    # A SIGTERM landing while the catch-up jobs start used to hang the process (2 runs in 10):
    # each run here starts on a fresh database, so every start catches up, and is stopped at once.
    template = tmp_path / "template.db"
    upgrade = run_tracker("db", "upgrade", instance=tmp_path, DATABASE_URL=f"sqlite:///{template}")
    assert upgrade.returncode == 0
    for attempt in range(5):
        database = tmp_path / f"run-{attempt}.db"
        shutil.copyfile(template, database)
        scheduler = SchedulerProcess(
            tmp_path / f"instance-{attempt}", DATABASE_URL=f"sqlite:///{database}"
        )
        try:
            scheduler.wait_for("scheduler: running")
            scheduler.process.send_signal(signal.SIGTERM)
            # Read to the end (a full pipe would block the child); a hang bound, not a speed check.
            scheduler.read(60)
            assert scheduler.process.wait(timeout=5) == 0, scheduler.output
        finally:
            scheduler.kill()


def job_runs_by_process(url: str) -> dict[int, list[str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT host, job FROM job_runs ORDER BY id")).all()
    finally:
        engine.dispose()
    found: dict[int, list[str]] = {}
    for host, job in rows:
        found.setdefault(int(host.rsplit(":", 1)[1]), []).append(job)
    return found


def wait_for_runs(url: str, pid: int, job: str, *, times: int, timeout: float = 30):  # type: ignore[no-untyped-def]
    """Job runs by process once ``pid`` has run ``job`` at least ``times`` times."""
    deadline = time.monotonic() + timeout
    while True:
        runs = job_runs_by_process(url)
        if runs.get(pid, []).count(job) >= times or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


def test_two_schedulers_started_at_once_on_postgresql_run_jobs_in_one_only(tmp_path):
    server = postgres_or_skip()
    with scratch_postgres_database(server) as url:
        upgraded = run_tracker("db", "upgrade", instance=tmp_path, DATABASE_URL=url)
        assert upgraded.returncode == 0, upgraded.stderr
        env = {"DATABASE_URL": url, "MAIL_SEND_EVERY_SECONDS": "1"}
        pair = [SchedulerProcess(tmp_path / "a", **env), SchedulerProcess(tmp_path / "b", **env)]
        try:
            deadline = time.monotonic() + 30
            while not any("scheduler: running" in p.output for p in pair):
                assert time.monotonic() < deadline, [p.output for p in pair]
                for p in pair:
                    p.read(0.3)
            active, waiting = pair if "scheduler: running" in pair[0].output else pair[::-1]
            waiting.wait_for("waiting to take over")
            # Let the active one catch up on the daily jobs and send mail a few times.
            runs = wait_for_runs(url, active.process.pid, "deliver-email", times=2)
            assert "scheduler: running" not in waiting.read(0.5)
            assert list(runs) == [active.process.pid], runs
            assert runs[active.process.pid].count("sync-periods") == 1
            assert runs[active.process.pid].count("deliver-email") >= 2

            active.kill()  # no clean shutdown: the database frees the lock
            waiting.wait_for("scheduler: running")
            runs = wait_for_runs(url, waiting.process.pid, "deliver-email", times=1)
            assert set(runs) == {active.process.pid, waiting.process.pid}
            # The new scheduler delivers mail; the daily jobs already ran today, so it does
            # not run them again.
            assert "deliver-email" in runs[waiting.process.pid]
            assert "sync-periods" not in runs[waiting.process.pid]
        finally:
            for p in pair:
                p.kill()
