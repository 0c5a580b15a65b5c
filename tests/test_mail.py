"""The outbox: every email is a row first, then goes out once, through outages and failures."""

from __future__ import annotations

import random
import smtplib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from itertools import count
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import make_test_app, require
from tests.support.databases import (
    migrate_to_head,
    postgres_url_or_reason,
    scratch_postgres_database,
)
from tests.support.smtp import SmtpServer, smtp_server  # noqa: F401  (the fixture)
from tracker import mail
from tracker.domain.enums import NotificationState
from tracker.extensions import db
from tracker.mail import (
    IN_FLIGHT_PER_CONNECTION,
    MAX_ATTEMPTS,
    MESSAGES_PER_CONNECTION,
    STUCK_AFTER,
    DeliveryResult,
    backoff,
    deliver_all,
    deliver_queued,
    queue_email,
    resend,
    safe_header,
)
from tracker.models import Notification

NOW = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
SENDER = "Luton 2040 Pledge Tracker <no-reply@pledges.example.org>"
_keys = count(1)


def email_fields(**fields: Any) -> dict[str, Any]:
    """The arguments of a valid ``queue_email`` call; tests name only what matters to them."""
    email: dict[str, Any] = {
        "kind": "reminder",
        "idempotency_key": f"reminder:org-1:2024-25-q1:lead@example.org:step-{next(_keys)}",
        "to_email": "lead@example.org",
        "to_name": "Ada Lead",
        "subject": "Your 2024/25 Q1 return is due in 7 days",
        "text": "Please submit your return.",
        "html": "<p>Please submit your return.</p>",
    }
    email.update(fields)
    return email


def queue(**fields: Any) -> Notification:
    notification = queue_email(**email_fields(**fields))
    assert notification is not None
    return notification


def rows_with_key(session: Any, key: str) -> int:
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.idempotency_key == key)
    )


@pytest.fixture
def smtp_config(app, smtp_server: SmtpServer) -> dict[str, Any]:  # noqa: F811
    return {
        **app.config,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": smtp_server.port,
        "MAIL_DEFAULT_SENDER": SENDER,
    }


def deliver(config: dict[str, Any], now: datetime = NOW) -> DeliveryResult:
    return deliver_queued(now=now, config=config, rng=random.Random(2040))


# Queueing ------------------------------------------------------------------------------------


def test_queueing_twice_with_one_key_keeps_one_row(db_session):
    first = queue(idempotency_key="reminder:org-7:2024-25-q1:lead@example.org:due-7")
    again = queue_email(
        **email_fields(
            idempotency_key="reminder:org-7:2024-25-q1:lead@example.org:due-7",
            subject="A second try at the same reminder",
        )
    )

    assert again is None
    assert rows_with_key(db_session, first.idempotency_key) == 1
    db_session.refresh(first)
    assert first.subject == "Your 2024/25 Q1 return is due in 7 days"
    assert (first.state, first.attempts) == (NotificationState.QUEUED, 0)


def test_queueing_leaves_the_commit_to_the_caller(db_session):
    notification = queue()
    key = notification.idempotency_key

    db_session.rollback()

    assert rows_with_key(db_session, key) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Reminder\r\nBcc: attacker@example.com"),
        ("subject", "Reminder\nBcc: attacker@example.com"),
        ("to_name", "Ada\r\nBcc: attacker@example.com"),
        ("to_name", "Ada\x00Lead"),
        ("to_email", "lead@example.org\r\nBcc: attacker@example.com"),
        ("to_email", "not an address"),
        ("kind", "../../etc/passwd"),
    ],
)
def test_header_injection_is_refused_before_anything_is_written(db_session, field, value):
    key = f"injection:{field}:{value!r}"
    with pytest.raises(ValueError, match=field):
        queue(idempotency_key=key, **{field: value})
    assert rows_with_key(db_session, key) == 0


def test_safe_header_collapses_line_breaks_and_control_characters():
    assert safe_header("Luton Foods\r\nBcc: attacker@example.com") == (
        "Luton Foods Bcc: attacker@example.com"
    )
    assert safe_header("  Ada\t\tLead\x00of\u2028Luton\x85 ") == "Ada Lead of Luton"
    assert safe_header("Café — ‘Luton’") == "Café — ‘Luton’"


def test_backoff_doubles_with_bounded_jitter_up_to_six_hours():
    rng = random.Random(1)
    for attempts in range(1, 15):
        expected = min(timedelta(minutes=2 ** (attempts - 1)), timedelta(hours=6))
        delay = backoff(attempts, rng)
        assert expected * 0.8 <= delay <= expected * 1.2, attempts


# Delivering ----------------------------------------------------------------------------------


def test_delivers_to_an_smtp_server(db_session, smtp_server, smtp_config):  # noqa: F811
    organisation_name = "Zoë's Café, Luton\r\nBcc: attacker@example.com"
    notification = queue(
        to_name="Zoë O'Brien, MBE",
        subject=safe_header(f"{organisation_name}: your return is due"),
        text="Please submit your return.\n",
        html="<p>Please submit your return.</p>\n",
    )

    assert deliver(smtp_config) == DeliveryResult(sent=1)

    [message] = smtp_server.messages
    [recipient] = message["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == ("Zoë O'Brien, MBE", "lead@example.org")
    assert message["From"].addresses[0].addr_spec == "no-reply@pledges.example.org"
    assert message["Subject"] == ("Zoë's Café, Luton Bcc: attacker@example.com: your return is due")
    assert message["Bcc"] is None
    assert smtp_server.envelopes[0].rcpt_tos == ("lead@example.org",)
    assert message.get_body(("plain",)).get_content().rstrip() == "Please submit your return."
    assert message.get_body(("html",)).get_content().rstrip() == "<p>Please submit your return.</p>"
    assert message["Message-ID"].startswith(f"<notification-{notification.id}.")
    assert message["Message-ID"].endswith("@pledges.example.org>")
    assert message["Date"].datetime == NOW
    assert message["Auto-Submitted"] == "auto-generated"

    assert notification.state == NotificationState.SENT
    assert notification.sent_at == NOW
    assert notification.attempts == 1
    assert notification.last_error is None
    assert deliver(smtp_config, NOW + timedelta(days=1)) == DeliveryResult()
    assert len(smtp_server.messages) == 1


def test_file_backend_writes_a_readable_eml(db_session, app, tmp_path):
    config = {**app.config, "MAIL_BACKEND": "file", "MAIL_FILE_DIR": str(tmp_path / "mail")}
    notification = queue(kind="invitation", html=None)

    assert deliver(config) == DeliveryResult(sent=1)

    path = tmp_path / "mail" / f"{notification.id:06d}-invitation.eml"
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Your 2024/25 Q1 return is due in 7 days"
    assert message["To"].addresses[0].addr_spec == "lead@example.org"
    assert message.get_content().strip() == "Please submit your return."
    assert [p.name for p in (tmp_path / "mail").iterdir()] == [path.name]
    assert notification.state == NotificationState.SENT


def test_temporary_failure_retries_after_a_backoff_and_sends_once(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
):
    notification = queue()
    smtp_server.fail_next(451, "4.3.0 Try again later")

    assert deliver(smtp_config) == DeliveryResult(retried=1)
    assert notification.state == NotificationState.QUEUED
    assert notification.attempts == 1
    assert "451" in notification.last_error
    wait = notification.next_attempt_at - NOW
    assert timedelta(seconds=48) <= wait <= timedelta(seconds=72)

    due = notification.next_attempt_at
    assert deliver(smtp_config, due - timedelta(seconds=1)) == DeliveryResult()
    assert smtp_server.messages == []

    assert deliver(smtp_config, due) == DeliveryResult(sent=1)
    assert deliver(smtp_config, due + timedelta(hours=1)) == DeliveryResult()
    assert smtp_server.message_ids == [smtp_server.messages[0]["Message-ID"]]
    assert notification.state == NotificationState.SENT
    assert notification.attempts == 2
    assert notification.last_error is None


def test_gives_up_after_the_last_temporary_failure(db_session, smtp_server, smtp_config):  # noqa: F811
    notification = queue()
    smtp_server.fail_next(452, "4.2.2 Mailbox full", count=MAX_ATTEMPTS)

    now = NOW
    for attempt in range(1, MAX_ATTEMPTS):
        assert deliver(smtp_config, now) == DeliveryResult(retried=1)
        assert notification.attempts == attempt
        now = notification.next_attempt_at
    assert deliver(smtp_config, now) == DeliveryResult(failed=1)

    assert notification.state == NotificationState.FAILED
    assert notification.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts: 452")
    assert smtp_server.messages == []


@pytest.mark.parametrize("stage", ["DATA", "RCPT"])
def test_permanent_failure_stops_until_an_admin_resends(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
    stage,
):
    notification = queue()
    smtp_server.fail_next(550, "5.1.1 No such mailbox", stage=stage)

    assert deliver(smtp_config) == DeliveryResult(failed=1)
    assert notification.state == NotificationState.FAILED
    assert "550 5.1.1 No such mailbox" in notification.last_error
    assert deliver(smtp_config, NOW + timedelta(days=7)) == DeliveryResult()
    assert smtp_server.messages == []

    resend(notification.id)
    assert notification.state == NotificationState.QUEUED
    assert notification.next_attempt_at is None
    assert deliver(smtp_config, NOW + timedelta(days=7)) == DeliveryResult(sent=1)
    assert notification.state == NotificationState.SENT
    assert len(smtp_server.messages) == 1


def test_only_a_failed_email_can_be_resent(db_session):
    notification = queue()
    with pytest.raises(ValueError, match="only a failed email"):
        resend(notification.id)
    with pytest.raises(LookupError):
        resend(notification.id + 1000)


def test_smtp_outage_delays_mail_and_never_drops_it(db_session, smtp_server, smtp_config):  # noqa: F811
    notifications = [queue() for _ in range(3)]
    smtp_server.stop()

    # Longer than every retry there is: an outage of any length must not use up the attempts.
    now = NOW
    for _ in range(MAX_ATTEMPTS + 4):
        assert deliver(smtp_config, now) == DeliveryResult(retried=3)
        now += timedelta(hours=1)
    for notification in notifications:
        assert notification.state == NotificationState.QUEUED
        assert notification.attempts == 0
        assert "mail server unreachable" in notification.last_error

    smtp_server.start()
    assert deliver(smtp_config, now) == DeliveryResult(sent=3)
    assert deliver(smtp_config, now + timedelta(hours=1)) == DeliveryResult()

    assert Counter(smtp_server.message_ids) == {
        smtp_server.messages[i]["Message-ID"]: 1 for i in range(3)
    }
    assert {m["Message-ID"].split(".")[0] for m in smtp_server.messages} == {
        f"<notification-{n.id}" for n in notifications
    }
    assert all(n.state == NotificationState.SENT for n in notifications)


def test_a_server_that_hangs_up_mid_batch_gets_a_new_connection(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
):
    first, *rest = [queue() for _ in range(3)]
    smtp_server.fail_next(421, "4.3.2 Closing connection")

    assert deliver(smtp_config) == DeliveryResult(sent=2, retried=1)

    assert first.state == NotificationState.QUEUED
    assert first.last_error.startswith("421")
    assert [n.state for n in rest] == [NotificationState.SENT] * 2
    assert len(smtp_server.messages) == 2


def test_rows_stuck_in_sending_are_requeued_and_delivered(db_session, smtp_server, smtp_config):  # noqa: F811
    stuck, busy, poison = queue(), queue(), queue()
    for notification, claimed_minutes_ago, attempts in [
        (stuck, 11, 1),  # a sender crashed mid-batch
        (busy, 5, 1),  # another sender is still at it
        (poison, 11, MAX_ATTEMPTS),  # crashed the sender every time
    ]:
        notification.state = NotificationState.SENDING
        notification.claimed_at = NOW - timedelta(minutes=claimed_minutes_ago)
        notification.attempts = attempts
    db_session.flush()

    assert deliver(smtp_config) == DeliveryResult(sent=1, failed=1, stuck_requeued=1)

    assert stuck.state == NotificationState.SENT
    assert busy.state == NotificationState.SENDING
    assert poison.state == NotificationState.FAILED
    assert [m["Message-ID"].split(".")[0] for m in smtp_server.messages] == [
        f"<notification-{stuck.id}"
    ]


# A big batch over several connections --------------------------------------------------------


def received_ids(server: SmtpServer) -> Counter[int]:
    """How many times the server got each notification (its id is in the Message-ID)."""
    return Counter(int(m.removeprefix("<notification-").split(".")[0]) for m in server.message_ids)


def parallel(config: dict[str, Any], connections: int = 3) -> dict[str, Any]:
    return {**config, "MAIL_CONNECTIONS": connections}


def test_a_big_batch_goes_over_several_connections_each_email_once(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
):
    notifications = [queue() for _ in range(3 * MESSAGES_PER_CONNECTION)]
    connections = Counter()
    original = smtp_server.handle_DATA

    async def note_connection(server, session, envelope):  # type: ignore[no-untyped-def]
        connections[session.peer] += 1
        return await original(server, session, envelope)

    smtp_server.handle_DATA = note_connection

    result = deliver_queued(now=NOW, batch_size=100, config=parallel(smtp_config))

    assert result == DeliveryResult(sent=len(notifications))
    assert len(connections) == 3
    assert received_ids(smtp_server) == Counter({n.id: 1 for n in notifications})
    assert all(n.state == NotificationState.SENT and n.attempts == 1 for n in notifications)


def test_hang_ups_and_refusals_in_a_parallel_batch_are_recorded_one_by_one(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
):
    notifications = [queue() for _ in range(2 * MESSAGES_PER_CONNECTION)]
    smtp_server.fail_next(421, "4.3.2 Closing connection", count=2)
    smtp_server.fail_next(550, "5.1.1 No such mailbox", stage="RCPT")

    result = deliver_queued(now=NOW, batch_size=100, config=parallel(smtp_config, 2))

    assert result == DeliveryResult(sent=len(notifications) - 3, retried=2, failed=1)
    states = Counter(n.state for n in notifications)
    assert states == {
        NotificationState.SENT: len(notifications) - 3,
        NotificationState.QUEUED: 2,
        NotificationState.FAILED: 1,
    }
    sent = [n for n in notifications if n.state == NotificationState.SENT]
    assert received_ids(smtp_server) == Counter({n.id: 1 for n in sent})


def test_an_outage_during_a_parallel_batch_delays_the_rest_without_using_attempts(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
):
    notifications = [queue() for _ in range(2 * MESSAGES_PER_CONNECTION)]
    smtp_server.stop()

    assert deliver_queued(
        now=NOW, batch_size=100, config=parallel(smtp_config, 2)
    ) == DeliveryResult(retried=len(notifications))
    assert all(n.state == NotificationState.QUEUED and n.attempts == 0 for n in notifications)

    smtp_server.start()
    later = NOW + timedelta(hours=1)
    assert deliver_queued(
        now=later, batch_size=100, config=parallel(smtp_config, 2)
    ) == DeliveryResult(sent=len(notifications))
    assert len(set(smtp_server.message_ids)) == len(smtp_server.message_ids) == len(notifications)


def test_a_server_that_takes_fewer_connections_gets_everything_over_the_ones_it_took(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
    monkeypatch,
):
    notifications = [queue() for _ in range(3 * MESSAGES_PER_CONNECTION)]
    opened = count()
    real_enter = mail.SmtpTransport.__enter__

    def one_connection_only(self):  # type: ignore[no-untyped-def]
        # Like a server that answers "421 too many connections" to all but the first.
        if next(opened) >= 1:
            raise smtplib.SMTPConnectError(421, b"4.7.0 Too many connections")
        return real_enter(self)

    monkeypatch.setattr(mail.SmtpTransport, "__enter__", one_connection_only)

    result = deliver_queued(now=NOW, batch_size=100, config=parallel(smtp_config))

    assert result == DeliveryResult(sent=len(notifications))
    assert len(set(smtp_server.message_ids)) == len(notifications)


class SenderDied(BaseException):
    """The sending process stopping dead (killed, out of memory) between two statements."""


@pytest.mark.parametrize("connections", [1, 3])
def test_a_crash_sends_again_at_most_two_messages_per_connection(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
    monkeypatch,
    connections,
):
    notifications = [queue() for _ in range(3 * MESSAGES_PER_CONNECTION)]
    marks = count()
    real_record_sent = mail._record_sent

    def dies_at_the_fourth_mark(rows, now):  # type: ignore[no-untyped-def]
        if next(marks) == 3:
            raise SenderDied
        return real_record_sent(rows, now)

    monkeypatch.setattr(mail, "_record_sent", dies_at_the_fourth_mark)

    with pytest.raises(SenderDied):
        deliver_queued(now=NOW, batch_size=100, config=parallel(smtp_config, connections))

    # What the server took but the outbox does not know went: these go again after the sweep.
    db_session.expire_all()
    received = received_ids(smtp_server)
    unmarked = {n.id for n in notifications if n.state == NotificationState.SENDING} & set(received)
    assert 1 <= len(unmarked) <= IN_FLIGHT_PER_CONNECTION * connections
    marked = [n for n in notifications if n.state == NotificationState.SENT]
    assert marked
    assert all(received[n.id] == 1 for n in marked)

    monkeypatch.setattr(mail, "_record_sent", real_record_sent)
    later = NOW + STUCK_AFTER + timedelta(minutes=1)
    result = deliver_all(now=later, seconds=60, batch_size=100, config=smtp_config)

    assert result.stuck_requeued == len(notifications) - len(marked)
    assert all(n.state == NotificationState.SENT for n in notifications)
    received = received_ids(smtp_server)
    assert set(received) == {n.id for n in notifications}
    assert {n for n, times in received.items() if times > 1} == unmarked
    assert max(received.values()) == 2


def test_an_address_outside_ascii_goes_only_to_a_server_that_takes_smtputf8(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
):
    notification = queue(to_email="zoe@exämple.org", to_name="Zoë")

    assert deliver(smtp_config) == DeliveryResult(failed=1)
    assert "SMTPUTF8" in notification.last_error
    assert smtp_server.messages == []

    international = SmtpServer(smtputf8=True)
    international.start()
    try:
        resend(notification.id)
        assert deliver({**smtp_config, "MAIL_PORT": international.port}) == DeliveryResult(sent=1)
    finally:
        international.stop()
    [message] = international.messages
    assert international.envelopes[0].rcpt_tos == ("zoe@exämple.org",)
    [recipient] = message["To"].addresses
    # The address is in the header as UTF-8 (RFC 6532), which the parser keeps as raw bytes.
    assert recipient.addr_spec.encode("ascii", "surrogateescape").decode() == "zoe@exämple.org"
    assert recipient.display_name == "Zoë"


def test_the_mail_job_sends_everything_due_batch_after_batch(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
):
    notifications = [queue() for _ in range(12)]

    result = deliver_all(now=NOW, seconds=60, batch_size=5, config=smtp_config)

    assert result == DeliveryResult(sent=12)
    assert all(n.state == NotificationState.SENT for n in notifications)
    assert len(smtp_server.messages) == 12


def test_the_mail_job_stops_when_the_server_is_down_instead_of_spinning(
    db_session,
    smtp_server,  # noqa: F811
    smtp_config,
):
    [queue() for _ in range(12)]
    smtp_server.stop()

    # The first batch goes back to the queue; the job leaves the rest to its next run.
    result = deliver_all(now=NOW, seconds=60, batch_size=5, config=smtp_config)

    assert result == DeliveryResult(retried=5)


# Two senders at once (PostgreSQL) -------------------------------------------------------------


@pytest.mark.postgres
def test_concurrent_senders_deliver_each_email_exactly_once(tmp_path, smtp_server):  # noqa: F811
    server_url, reason = postgres_url_or_reason()
    if server_url is None:
        require("PostgreSQL", reason)
    senders = 3
    keys = [f"reminder:org-{n}:2024-25-q1:lead@example.org:due-7" for n in range(60)]

    with scratch_postgres_database(server_url) as url:
        app = make_test_app(
            url,
            tmp_path,
            MAIL_BACKEND="smtp",
            MAIL_SERVER=smtp_server.host,
            MAIL_PORT=smtp_server.port,
            MAIL_DEFAULT_SENDER=SENDER,
        )
        migrate_to_head(app)
        # A timeout, so one thread's failure fails the test rather than hanging it.
        start = threading.Barrier(senders, timeout=30)

        def queue_all() -> int:
            # Every sender queues the same reminders at once: the keys keep one of each.
            with app.app_context():
                start.wait()
                queued = [queue_email(**email_fields(idempotency_key=key)) for key in keys]
                db.session.commit()
                return sum(1 for n in queued if n is not None)

        def send_all(seed: int) -> int:
            with app.app_context():
                start.wait()
                sent = 0
                while True:
                    result = deliver_queued(now=NOW, batch_size=7, rng=random.Random(seed))
                    sent += result.sent
                    if result == DeliveryResult():
                        return sent

        try:
            with ThreadPoolExecutor(senders) as pool:
                assert sum(pool.map(lambda _: queue_all(), range(senders))) == len(keys)
            with ThreadPoolExecutor(senders) as pool:
                assert sum(pool.map(send_all, range(senders))) == len(keys)

            with app.app_context():
                states = db.session.scalars(sa.select(Notification.state)).all()
        finally:
            with app.app_context():
                db.engine.dispose()

    assert Counter(states) == {NotificationState.SENT: len(keys)}
    received = Counter(smtp_server.message_ids)
    assert len(received) == len(keys)
    assert set(received.values()) == {1}
