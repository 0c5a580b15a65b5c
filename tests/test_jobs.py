"""Job bodies, called directly as the scheduler would."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from jobs import tasks
from jobs.schedule import job_named, scheduled_jobs
from jobs.scheduler import catch_up_needed
from tests.factories import make_commitment, make_organisation, make_period, make_return
from tests.support.commands import run_tracker
from tracker.domain.calendar import Quarter
from tracker.domain.enums import JobOutcome, NotificationState, ReportingStatus
from tracker.mail import queue_email
from tracker.models import AuditEvent, BoardSummary, JobRun
from tracker.services.job_runs import last_runs, prune, run_job


def test_every_job_has_a_readable_id_description_and_timing(app):
    jobs = scheduled_jobs(app.config)
    ids = [job.id for job in jobs]
    assert len(ids) == len(set(ids))
    for job in jobs:
        assert job.id == job.id.lower() and " " not in job.id
        assert job.description and job.when
    assert job_named(app.config, "send-reminders").when == "daily at 07:00"
    with pytest.raises(LookupError, match="the jobs are deliver-email, sync-periods"):
        job_named(app.config, "nope")


def test_development_mail_lands_in_the_instance_folder(app, db_session, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "file")
    monkeypatch.setitem(app.config, "MAIL_FILE_DIR", str(tmp_path / "mail"))
    notification = queue_email(
        kind="invitation",
        idempotency_key="jobs-test",
        to_email="dev@example.org",
        to_name="Dev <Person>",
        subject="Hello from development",
        text="Plain words",
        html="<p>Plain words</p>",
    )
    db_session.flush()
    result = tasks.deliver_email(date(2024, 7, 1))
    assert result.sent == 1
    assert notification.state == NotificationState.SENT
    [eml] = list((tmp_path / "mail").glob("*.eml"))
    text = eml.read_text()
    assert "Subject: Hello from development" in text
    assert "To: " in text and "dev@example.org" in text


# Recording runs --------------------------------------------------------------------------------


def test_a_run_is_recorded_with_what_it_did(app, db_session):
    outcome = run_job("sync-periods", tasks.sync_periods, today=date(2024, 7, 1), started_by="test")
    assert outcome.outcome == JobOutcome.SUCCEEDED
    run = db_session.get(JobRun, outcome.run_id)
    assert run.run_for == date(2024, 7, 1) and run.started_by == "test"
    assert run.finished_at is not None and "made 2024/25 Q1" in run.summary
    assert last_runs()["sync-periods"].id == run.id


def test_a_failing_job_is_recorded_as_failed_and_does_not_stop_the_scheduler(app, db_session):
    def broken(today):
        queue_email(
            kind="test",
            idempotency_key="half-done",
            to_email="x@example.org",
            to_name=None,
            subject="never sent",
            text="",
        )
        raise RuntimeError("the disk is on fire")

    outcome = run_job("broken", broken, today=date(2024, 7, 1), started_by="test")
    assert outcome.outcome == JobOutcome.FAILED
    run = db_session.get(JobRun, outcome.run_id)
    assert run.error == "RuntimeError: the disk is on fire"
    # What the job did before it failed was rolled back with it.
    from tracker.models import Notification

    assert db_session.scalar(select(Notification)) is None


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(app, db_session):
    dead = JobRun(job="send-reminders", run_for=date(2024, 7, 1), started_by="scheduler", host="x")
    db_session.add(dead)
    db_session.flush()
    run_job("send-reminders", lambda today: "ok", today=date(2024, 7, 2), started_by="test")
    db_session.refresh(dead)
    assert dead.outcome == JobOutcome.INTERRUPTED


def test_catch_up_runs_a_daily_job_once_when_a_firing_was_missed(app, db_session):
    job = job_named(app.config, "send-reminders")  # daily at 07:00 London time
    now = datetime(2024, 7, 10, 12, 0, tzinfo=UTC)
    # Never ran: run it now.
    assert catch_up_needed(app, job, now)

    def ran_at(started: datetime) -> None:
        db_session.add(
            JobRun(
                job=job.id,
                run_for=started.date(),
                started_by="scheduler",
                host="x",
                started_at=started,
                outcome=JobOutcome.SUCCEEDED,
            )
        )
        db_session.flush()

    ran_at(datetime(2024, 7, 8, 6, 0, 5, tzinfo=UTC))  # 07:00:05 London on 8 July
    assert catch_up_needed(app, job, now)  # 9 and 10 July missed: one run catches up
    # Killed mid-run today: it never finished, so the next start runs it again.
    db_session.add(
        JobRun(
            job=job.id,
            run_for=date(2024, 7, 10),
            started_by="scheduler",
            host="x",
            started_at=datetime(2024, 7, 10, 6, 0, 5, tzinfo=UTC),
        )
    )
    db_session.flush()
    assert catch_up_needed(app, job, now)
    ran_at(datetime(2024, 7, 10, 6, 0, 5, tzinfo=UTC))
    assert not catch_up_needed(app, job, now)
    # The mail job runs every 30 seconds anyway.
    assert not catch_up_needed(app, job_named(app.config, "deliver-email"), now)


def test_old_runs_are_pruned(app, db_session):
    today = date(2024, 12, 1)
    for days, summary in ((100, "made a period"), (3, "nothing to send"), (1, "nothing to send")):
        started = datetime.combine(today - timedelta(days=days), datetime.min.time(), tzinfo=UTC)
        db_session.add(
            JobRun(
                job="x",
                run_for=started.date(),
                started_by="scheduler",
                host="x",
                started_at=started,
                outcome=JobOutcome.SUCCEEDED,
                summary=summary,
            )
        )
    db_session.flush()
    assert prune(today) == 2
    assert [r.summary for r in db_session.scalars(select(JobRun))] == ["nothing to send"]


# Evidence files nobody saved ---------------------------------------------------------------------


def test_files_no_update_holds_are_deleted_once_a_day_old(app, db_session, tmp_path, monkeypatch):
    import io
    import os

    from tests.factories import make_commitment, make_evidence_file, make_update
    from tracker import evidence

    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))
    now = datetime(2024, 7, 10, 12, 0, tzinfo=UTC)

    def stored(name: str, age: timedelta) -> str:
        kept = evidence.store(io.BytesIO(b"%PDF-1.4 x"), name, max_bytes=1024)
        moment = (now - age).timestamp()
        os.utime(evidence.path_for(kept.key), (moment, moment))
        return kept.key

    chosen_yesterday = stored("never saved.pdf", timedelta(days=2))
    chosen_today = stored("still pending.pdf", timedelta(hours=3))
    attached_long_ago = stored("attached.pdf", timedelta(days=400))
    organisation = make_organisation(db_session)
    update = make_update(
        db_session,
        make_return(db_session, organisation, make_period(db_session, Quarter(2024, 1))),
        make_commitment(db_session, organisation),
    )
    make_evidence_file(db_session, update, key=attached_long_ago)
    # Something that is not a stored file is never touched.
    stray = tmp_path / "evidence" / "README"
    stray.write_text("left alone")

    with time_machine.travel(now, tick=False):
        assert tasks.prune_evidence_files(now.date()) == "deleted 1 unattached evidence file"
        assert not evidence.path_for(chosen_yesterday).exists()
        assert evidence.path_for(chosen_today).exists()
        assert evidence.path_for(attached_long_ago).exists()
        assert stray.exists()
        assert tasks.prune_evidence_files(now.date()) == "deleted 0 unattached evidence files"
    assert job_named(app.config, "prune-evidence-files").when == "daily at 03:45"


# Reporting status ------------------------------------------------------------------------------


def test_organisations_that_stop_reporting_are_marked_without_touching_their_version(
    app, db_session
):
    first, second = (
        make_period(db_session, Quarter(2024, 1)),
        make_period(db_session, Quarter(2024, 2)),
    )
    silent = make_organisation(db_session, "Silent")
    late = make_organisation(db_session, "Late")
    # Only organisations with something to report on owe returns.
    make_commitment(db_session, silent)
    make_commitment(db_session, late)
    make_return(db_session, late, first, submitted_at=datetime(2024, 7, 20, tzinfo=UTC))
    version = silent.version

    # The day after the second period's return was due.
    today = second.due_on + timedelta(days=1)
    assert tasks.update_reporting_status(today) == "now 1 late, 1 non-communicating"
    db_session.expire_all()
    assert silent.reporting_status == ReportingStatus.NON_COMMUNICATING
    assert late.reporting_status == ReportingStatus.LATE
    assert silent.version == version
    event = db_session.scalar(
        select(AuditEvent).where(
            AuditEvent.organisation_id == silent.id,
            AuditEvent.action == "reporting status changed",
        )
    )
    assert event.after == {"reporting_status": "non_communicating"}
    assert tasks.update_reporting_status(today) == "no reporting status changed"


# The command line ------------------------------------------------------------------------------


def test_run_once_and_list_from_the_command_line(tmp_path):
    database = f"sqlite:///{tmp_path / 'jobs.db'}"
    assert run_tracker("db", "upgrade", instance=tmp_path, DATABASE_URL=database).returncode == 0
    once = run_tracker(
        "jobs",
        "run-once",
        "sync-periods",
        "--today",
        "2024-07-01",
        instance=tmp_path,
        DATABASE_URL=database,
    )
    assert once.returncode == 0, once.stderr
    assert "sync-periods: made 2024/25 Q1" in once.stdout

    listed = run_tracker("jobs", "list", instance=tmp_path, DATABASE_URL=database)
    assert listed.returncode == 0, listed.stderr
    block = listed.stdout.split("sync-periods:")[1].split("update-reporting-status:")[0]
    assert "runs     daily at 00:05" in block
    assert "by command line: succeeded" in block
    assert "next run " in block
    assert "send-reminders" in listed.stdout and "last run never" in listed.stdout

    unknown = run_tracker("jobs", "run-once", "nope", instance=tmp_path, DATABASE_URL=database)
    assert unknown.returncode == 2
    assert "no job called 'nope'" in unknown.stderr


# The board summary after close ------------------------------------------------------------------


def test_a_closed_period_gets_its_board_summary_once(app, db_session):
    period = make_period(db_session, Quarter(2024, 1))
    make_period(db_session, Quarter(2024, 2))  # still open on the day: no summary yet
    today = period.closes_on + timedelta(days=1)
    assert tasks.build_board_summaries(period.closes_on) == "no closed period without a summary"
    # Long after: a quarter from before anyone used the service is left to a person.
    long_after = period.closes_on + timedelta(days=200)
    assert tasks.build_board_summaries(long_after) == "no closed period without a summary"
    assert tasks.build_board_summaries(today) == "built 2024-25-q1"
    [summary] = db_session.scalars(select(BoardSummary)).all()
    assert summary.period_id == period.id and summary.revision == 1
    assert summary.published_at is None  # an admin reads it, then publishes
    assert tasks.build_board_summaries(today) == "no closed period without a summary"
