"""Job bodies, called directly as the scheduler would."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs import tasks
from jobs.schedule import JOBS
from tracker.domain.enums import NotificationState
from tracker.mail import queue_email


def test_every_job_has_a_readable_id_and_description():
    ids = [job.id for job in JOBS]
    assert len(ids) == len(set(ids))
    for job in JOBS:
        assert job.id == job.id.lower() and " " not in job.id
        assert job.description


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
    result = tasks.deliver_email(now=datetime.now(UTC))
    assert result.sent == 1
    assert notification.state == NotificationState.SENT
    [eml] = list((tmp_path / "mail").glob("*.eml"))
    text = eml.read_text()
    assert "Subject: Hello from development" in text
    assert "To: " in text and "dev@example.org" in text
