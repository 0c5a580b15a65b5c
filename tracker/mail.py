"""The one mail layer: every email is first a row in the outbox, then delivered.

The ``notifications`` table *is* the outbox, and this module keeps RELIABILITY.md's
"Nothing lost" rules for it:

- ``queue_email`` records an email inside the caller's transaction and only flushes, so "a
  change, its audit row and any email it queues commit together or not at all". Each email
  carries an idempotency key (kind, organisation, period, recipient, step); a second email with
  a key already there is not recorded, so each reminder is sent at most once per key, even when
  two jobs race (``INSERT … ON CONFLICT DO NOTHING``).
- ``deliver_queued`` is the sender: the body of the scheduler's mail job, and its own
  transaction boundary. It claims a batch in one commit and records outcomes as they come
  back: each failure in a commit of its own, the sent marks a few at a time (see the end), so
  a crash never loses a sent mark for long and never sends again what it has already marked
  sent, and one message's failure never holds up another's record. States only move forward,
  ``queued → sending → sent | failed``, and rows are never deleted. A sender claims rows with
  ``FOR UPDATE SKIP LOCKED``, so two senders at once never claim the same row.
- Temporary SMTP errors retry with exponential backoff and jitter; permanent errors stop
  (the admin outbox page shows them, and ``resend`` queues one again).
- An SMTP outage delays mail, never drops it: when the server cannot be reached, the claimed
  rows go back to the queue without using up their attempts.
- A sweeper re-queues rows stuck in ``sending`` (a sender that crashed mid-batch).
- The notification id is the ``Message-ID``.
- A batch goes out over SMTP connections kept open for the batch, one sending thread each: one
  connection for a small batch, a few at once for a big one (``MAIL_CONNECTIONS``, at most one
  per ``MESSAGES_PER_CONNECTION`` messages). Only the sending runs in those threads: building
  each message (``tracker.mime``) and recording each outcome stay in the caller's thread and
  session. A connection the server refuses (a limit on connections) just leaves fewer; when
  none is left, the untried rows go back to the queue.
- An invitation or password reset is stored with a placeholder where its link's token goes
  (``tracker.domain.tokens``): the sender rebuilds the token from the secret key at delivery
  time, so no stored row holds a usable link, and a retry later still carries a working one. A
  link that stopped working before it could be sent (used, replaced, expired, or its person
  deactivated) is not sent: the row fails and says so. ``prune_link_emails`` empties the
  bodies of these emails a week after they went.

The one duplicate this cannot rule out: a crash after the server accepted a message but before
its sent mark committed. The sweeper then sends it again, with the same ``Message-ID``, which
lets mail clients fold the copies. Each connection has at most ``IN_FLIGHT_PER_CONNECTION`` (2)
messages built, being sent, or accepted but not yet marked: so at most two per connection
(eight with the default four connections) can be in that state at the moment of a crash.
Accepted messages are marked sent in groups of one per connection, an UPDATE and a commit each.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import re
import smtplib
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.utils import format_datetime, parseaddr
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from flask import current_app
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tracker import mime
from tracker.domain.enums import NotificationState
from tracker.domain.tokens import LINK_PLACEHOLDER, fill_link, link_token
from tracker.extensions import db, rows_kept_after_commit
from tracker.models import Notification, UserToken

__all__ = [
    "MAX_ATTEMPTS",
    "STUCK_AFTER",
    "DeliveryResult",
    "FileTransport",
    "SmtpTransport",
    "backoff",
    "build_message",
    "deliver_all",
    "deliver_queued",
    "message_id",
    "prune_link_emails",
    "queue_email",
    "resend",
    "safe_header",
    "transport_for",
]

log = logging.getLogger(__name__)

# Eight tries with doubling delays span about four hours before a message is given up on.
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
BACKOFF_JITTER = 0.2
# Far longer than a batch normally takes, so only a sender that died leaves rows this old.
STUCK_AFTER = timedelta(minutes=10)
SMTP_TIMEOUT_SECONDS = 30
# A second connection is opened only for a batch with at least this many more messages: small
# batches (and every test that counts on order) go over one connection.
MESSAGES_PER_CONNECTION = 25
# Messages built ahead, being sent, or sent but not yet marked, per connection: the most a crash
# can leave accepted by the server but still ``sending``, to go again after the sweep.
IN_FLIGHT_PER_CONNECTION = 2
FALLBACK_MESSAGE_ID_DOMAIN = "pledge-tracker.invalid"

# Column sizes in the notifications table: PostgreSQL refuses longer values, SQLite would not.
_MAX_LENGTHS = {
    "kind": 60,
    "idempotency_key": 255,
    "to_email": 320,
    "to_name": 200,
    "subject": 300,
}
# C0 and C1 controls (CR and LF among them) and Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
# A kind names the development mail file, so it must be safe in a file name.
_KIND = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
# An address of dot-atoms on both sides of the @ (RFC 5322 3.2.3, 3.4.1): what nearly every
# address looks like, and always one the email package accepts. Others go through its parser.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*")

# The emails that carry a single-use link, and how long their bodies are kept once sent.
LINK_KINDS = ("invitation", "password_reset")
LINK_EMAIL_BODIES_KEPT = timedelta(days=7)
PRUNED_BODY = "(This email carried a single-use link; its text was removed after it was sent.)"

# Errors that mean "the server or the network said no", as opposed to a bug in this code.
_SMTP_ERRORS = (smtplib.SMTPException, OSError)
# ``email`` reports a malformed address as any of these.
_ADDRESS_ERRORS = (ValueError, IndexError, MessageError)


# Queueing ------------------------------------------------------------------------------------


def absolute_url(endpoint: str, **values: object) -> str:
    """A link for an email, built without a request (jobs run outside one)."""
    adapter = current_app.url_map.bind("localhost")
    return current_app.config["PUBLIC_BASE_URL"] + adapter.build(endpoint, values)


def safe_header(text: str) -> str:
    """Collapse runs of whitespace and control characters (CR/LF among them) to single spaces."""
    return _WHITESPACE_OR_CONTROL.sub(" ", text).strip()


def queue_email(
    *,
    kind: str,
    idempotency_key: str,
    to_email: str,
    to_name: str | None,
    subject: str,
    text: str,
    html: str | None = None,
    organisation_id: int | None = None,
    period_id: int | None = None,
    user_id: int | None = None,
    user_token_id: int | None = None,
) -> Notification | None:
    """Record an email in the outbox (flush only); None if its idempotency key is already there.

    With ``user_token_id``, the bodies hold ``LINK_PLACEHOLDER`` where that link's token goes.
    """
    _check_kind(kind)
    _check_header("idempotency_key", idempotency_key)
    _check_address(to_email)
    if to_name:
        _check_header("to_name", to_name)
    _check_header("subject", subject)

    row = {
        "kind": kind,
        "idempotency_key": idempotency_key,
        "recipient_email": to_email,
        "recipient_name": to_name or None,
        "recipient_user_id": user_id,
        "user_token_id": user_token_id,
        "organisation_id": organisation_id,
        "period_id": period_id,
        "subject": subject,
        "body_text": text,
        "body_html": html,
    }
    return db.session.scalars(_queue_statement(), row).one_or_none()


# The INSERT for each dialect, built once: building it with the values in took longer than
# running it (cProfile of queueing the ladder: 6 of 12.5 s in queue_email).
_QUEUE_STATEMENTS: dict[str, Any] = {}


def _queue_statement() -> Any:
    dialect = db.session.get_bind().dialect.name
    statement = _QUEUE_STATEMENTS.get(dialect)
    if statement is None:
        columns = (
            "kind",
            "idempotency_key",
            "recipient_email",
            "recipient_name",
            "recipient_user_id",
            "user_token_id",
            "organisation_id",
            "period_id",
            "subject",
            "body_text",
            "body_html",
        )
        statement = _QUEUE_STATEMENTS[dialect] = (
            _insert_for_dialect(dialect)(Notification)
            .values(
                **{column: bindparam(column) for column in columns},
                state=NotificationState.QUEUED,
                attempts=0,
            )
            # Checking first and inserting after would let two racing jobs both insert; the
            # unique key settles the race inside the database, and the loser's insert does
            # nothing.
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            # The new row itself, in the same round trip (None when the key was already there).
            .returning(Notification)
        )
    return statement


def _insert_for_dialect(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"queue_email supports PostgreSQL and SQLite, not {dialect}")


def _check_header(field: str, value: str) -> None:
    if not value or not value.strip():
        raise ValueError(f"{field} is empty")
    if _CONTROL.search(value):
        # Callers build subjects and names from user text: a CR/LF there would let that text
        # add headers (Bcc: …) to the email. Refuse loudly; safe_header() is the clean-up.
        raise ValueError(f"{field} contains a line break or control character: {value!r}")
    limit = _MAX_LENGTHS[field]
    if len(value) > limit:
        raise ValueError(f"{field} is longer than {limit} characters")


def _check_kind(kind: str) -> None:
    _check_header("kind", kind)
    if not _KIND.fullmatch(kind):
        raise ValueError(f"kind must be lower-case letters, digits, '_', '-' or '.': {kind!r}")


def address_problem(address: str) -> str | None:
    """Why the outbox would refuse to send to ``address``; None if it would not.

    For callers that skip one recipient rather than fail for all of them (an address stored
    before accounts' addresses were checked), and for checking an address before it is kept.
    """
    try:
        _check_address(address)
    except ValueError as error:
        return str(error)
    return None


def _check_address(address: str) -> None:
    _check_header("to_email", address)
    if _PLAIN_ADDRESS.fullmatch(address):
        # The usual shape, a valid address for certain: parsing it costs more than sending it.
        return
    try:
        parsed = Address(addr_spec=address)
    except _ADDRESS_ERRORS as error:
        raise ValueError(f"to_email is not an email address: {address!r} ({error})") from None
    if not parsed.username or not parsed.domain:
        raise ValueError(f"to_email is not an email address: {address!r}")


# Building ------------------------------------------------------------------------------------


class LinkNoLongerWorks(ValueError):
    """An email's single-use link was used, replaced or expired before the email could go."""


def _bodies(
    notification: Notification, config: Mapping[str, Any], now: datetime
) -> tuple[str, str | None]:
    """The text and HTML to send, with a single-use link's token put in where it goes."""
    text, html = notification.body_text, notification.body_html
    if notification.user_token_id is None:
        if LINK_PLACEHOLDER in text and notification.kind in LINK_KINDS:
            raise LinkNoLongerWorks("its link no longer exists: send a new one")
        return text, html
    from tracker.services.accounts import is_live

    token = db.session.get(UserToken, notification.user_token_id)
    if token is None or token.link_nonce is None or not is_live(token, now):
        raise LinkNoLongerWorks(
            "its link was used, replaced or expired, or the account deactivated, before it"
            " could be sent: send a new one if it is still needed"
        )
    raw = link_token(config["SECRET_KEY"], token.link_nonce)
    return fill_link(text, raw), fill_link(html, raw) if html else html


@dataclass(frozen=True)
class OutgoingEmail:
    """An email ready to go: the one envelope recipient and the message's bytes."""

    recipient: str
    data: bytes
    # An address outside ASCII: the server must offer SMTPUTF8.
    international: bool = False


@dataclass(frozen=True)
class _Letterhead:
    """What every email of a batch shares: its sender and its date, encoded once."""

    sender: Address
    from_header: str
    date_header: str

    @classmethod
    def of(cls, config: Mapping[str, Any], now: datetime) -> _Letterhead:
        sender = _sender(config)
        return cls(
            sender=sender,
            from_header=mime.address_header(sender.display_name, sender.addr_spec),
            date_header=format_datetime(now),
        )


def build_message(
    notification: Notification,
    config: Mapping[str, Any],
    *,
    now: datetime | None = None,
    letterhead: _Letterhead | None = None,
) -> OutgoingEmail:
    """The email for an outbox row: headers, a plain-text part and an optional HTML alternative."""
    # Rows may have been written by something other than queue_email: check them again.
    _check_address(notification.recipient_email)
    if notification.recipient_name:
        _check_header("to_name", notification.recipient_name)
    _check_header("subject", notification.subject)
    now = now or datetime.now(UTC)
    text, html = _bodies(notification, config, now)
    letterhead = letterhead or _Letterhead.of(config, now)
    headers = [
        ("From", letterhead.from_header),
        ("To", mime.address_header(notification.recipient_name, notification.recipient_email)),
        ("Subject", mime.text_header("Subject", notification.subject)),
        ("Date", letterhead.date_header),
        ("Message-ID", message_id(notification, letterhead.sender.domain)),
        # RFC 3834: mail robots and out-of-office responders should not answer a reminder.
        ("Auto-Submitted", "auto-generated"),
    ]
    return OutgoingEmail(
        recipient=notification.recipient_email,
        data=mime.compose(headers, text, html or None),
        international=mime.is_international(
            letterhead.sender.addr_spec, notification.recipient_email
        ),
    )


def message_id(notification: Notification, domain: str) -> str:
    """The Message-ID of a notification: its id, then a short hash of its idempotency key."""
    # The hash keeps ids apart across databases: one that was reset counts from 1 again.
    digest = hashlib.sha256(notification.idempotency_key.encode()).hexdigest()[:12]
    if not _DOMAIN.fullmatch(domain or ""):
        domain = FALLBACK_MESSAGE_ID_DOMAIN
    return f"<notification-{notification.id}.{digest}@{domain}>"


def _sender(config: Mapping[str, Any]) -> Address:
    name, address = parseaddr(config["MAIL_DEFAULT_SENDER"])
    try:
        return Address(display_name=name, addr_spec=address)
    except _ADDRESS_ERRORS as error:
        raise ValueError(f"MAIL_DEFAULT_SENDER is not an email address ({error})") from None


# Transports ----------------------------------------------------------------------------------


class Transport(Protocol):
    """Delivers messages over one connection, opened on entering and closed on leaving."""

    @property
    def connected(self) -> bool: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def send(self, email: OutgoingEmail, notification: Notification) -> None: ...


class SmtpTransport:
    """Sends through an SMTP server: one connection per batch, TLS and login as configured."""

    def __init__(self, config: Mapping[str, Any], *, timeout: float = SMTP_TIMEOUT_SECONDS):
        self.host: str = config["MAIL_SERVER"]
        self.port = int(config["MAIL_PORT"])
        self.use_ssl = bool(config.get("MAIL_USE_SSL"))
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.username: str | None = config.get("MAIL_USERNAME")
        self.password: str | None = config.get("MAIL_PASSWORD")
        self.envelope_from = _sender(config).addr_spec
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    @property
    def connected(self) -> bool:
        # smtplib drops its socket when the server hangs up (a 421, say), mid-batch or not.
        return self._smtp is not None and self._smtp.sock is not None

    def __enter__(self) -> Self:
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.use_tls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except _SMTP_ERRORS:
            # The server already hung up: nothing is lost, the results are in the outbox.
            smtp.close()

    def send(self, email: OutgoingEmail, notification: Notification) -> None:
        if self._smtp is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        # An explicit envelope: the one recipient on the row, whatever the headers say. Without
        # SMTPUTF8 on the server, smtplib refuses an international email (a permanent failure).
        self._smtp.sendmail(
            self.envelope_from,
            [email.recipient],
            email.data,
            mail_options=["SMTPUTF8"] if email.international else [],
        )


class FileTransport:
    """Writes each message to ``MAIL_FILE_DIR/{id:06d}-{kind}.eml`` (development)."""

    connected = True

    def __init__(self, config: Mapping[str, Any]):
        self.folder = Path(config["MAIL_FILE_DIR"])

    def __enter__(self) -> Self:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def send(self, email: OutgoingEmail, notification: Notification) -> None:
        path = self.folder / self.file_name(notification)
        # Write then rename, so whoever reads the folder never sees half a message.
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(email.data)
        partial.replace(path)

    @staticmethod
    def file_name(notification: Notification) -> str:
        """The file a notification is written to."""
        # queue_email checks kinds; a row written some other way must not escape the folder.
        kind = re.sub(r"[^a-z0-9_-]+", "-", notification.kind.lower()).strip("-") or "email"
        return f"{notification.id:06d}-{kind}.eml"


def transport_for(config: Mapping[str, Any]) -> SmtpTransport | FileTransport:
    """The transport MAIL_BACKEND names: ``smtp`` or ``file``."""
    backend = config["MAIL_BACKEND"]
    if backend == "smtp":
        return SmtpTransport(config)
    if backend == "file":
        return FileTransport(config)
    raise ValueError(f"MAIL_BACKEND must be smtp or file, not {backend!r}")


# Delivering ----------------------------------------------------------------------------------


Outcome = Literal["sent", "retried", "failed"]


@dataclass
class DeliveryResult:
    """What one run of the sender did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    stuck_requeued: int = 0

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def __str__(self) -> str:
        if self == DeliveryResult():
            return "nothing to send"
        parts = [f"{self.sent} sent"]
        if self.retried:
            parts.append(f"{self.retried} to retry")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.stuck_requeued:
            parts.append(f"{self.stuck_requeued} stuck re-queued")
        return ", ".join(parts)


def backoff(attempts: int, rng: random.Random) -> timedelta:
    """How long to wait after the ``attempts``-th try: 1 min × 2^(attempts-1), at most 6 h, ±20%."""
    # The exponent stops growing long after the cap is reached, so the arithmetic stays small.
    doublings = min(max(attempts, 1) - 1, 20)
    delay = min(BACKOFF_BASE * 2**doublings, BACKOFF_CAP)
    # Jitter spreads a burst of failures (a greylisting server, say) over time.
    return delay * rng.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)


def deliver_queued(
    *,
    now: datetime,
    batch_size: int = 50,
    config: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> DeliveryResult:
    """Send the queued emails that are due (the mail job); commits as each outcome is known."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    config = current_app.config if config is None else config
    # Jitter needs no secrecy, only spread.
    rng = rng or random.Random()  # noqa: S311
    # A configuration mistake stops the run here, before any row is claimed.
    letterhead = _Letterhead.of(config, now)
    transport: Transport = transport_for(config)
    result = DeliveryResult()

    result.stuck_requeued, result.failed = _sweep_stuck(now)
    with rows_kept_after_commit():
        # Each claimed row is read once; the commits as outcomes come in must not expire the
        # whole batch (a query per row, and work that grows with the square of the batch).
        claimed = _claim(now, batch_size)
        if claimed:
            width = _connections(config, len(claimed))
            transports = [transport, *(transport_for(config) for _ in range(width - 1))]
            batch = _Batch(config, now, rng, letterhead, result)
            batch.deliver(transports, deque(claimed))
    # The outcomes were written with UPDATEs: whoever holds these rows reads them afresh.
    for row in claimed:
        db.session.expire(row)
    if result != DeliveryResult():
        log.info("mail delivery: %s", result)
    return result


def deliver_all(
    *,
    now: datetime,
    seconds: float,
    batch_size: int | None = None,
    config: Mapping[str, Any] | None = None,
    rng: random.Random | None = None,
) -> DeliveryResult:
    """Deliver batch after batch until nothing due is left or ``seconds`` have gone (the job).

    Everything due at ``now`` goes in one run, however many reminders a quarter's first day
    queued, instead of one batch per run of the job.
    """
    config = current_app.config if config is None else config
    batch_size = batch_size or int(config.get("MAIL_BATCH_SIZE", 200))
    started = time.monotonic()
    total = DeliveryResult()
    while True:
        result = deliver_queued(now=now, batch_size=batch_size, config=config, rng=rng)
        for field in ("sent", "retried", "failed", "stuck_requeued"):
            setattr(total, field, getattr(total, field) + getattr(result, field))
        tried = result.sent + result.retried + result.failed
        # A batch that was not full was the last; a batch of nothing but retries (the server is
        # down) waits for the next run rather than spinning.
        if tried < batch_size or result.sent == 0 or time.monotonic() - started >= seconds:
            return total


def _connections(config: Mapping[str, Any], messages: int) -> int:
    """How many connections a batch of ``messages`` is sent over."""
    if config["MAIL_BACKEND"] != "smtp":
        return 1
    most = max(1, int(config.get("MAIL_CONNECTIONS", 1)))
    return max(1, min(most, messages // MESSAGES_PER_CONNECTION))


# What a sending thread answers: ("sent" | "error" | "crash", row, error), then ("gone", None,
# why it stopped or None) once, when it stops.
_Answer = tuple[str, Notification | None, BaseException | None]
_Work = queue.SimpleQueue[tuple[Notification, OutgoingEmail] | None]


def _sender_thread(transport: Transport, work: _Work, answers: queue.SimpleQueue[_Answer]) -> None:
    """Send what ``work`` holds over one connection (reconnecting after a hang-up)."""
    why: BaseException | None = None
    try:
        while True:
            try:
                transport.__enter__()
            except _SMTP_ERRORS as error:
                why = error
                return
            try:
                while transport.connected:
                    item = work.get()
                    if item is None:
                        return
                    row, email = item
                    try:
                        transport.send(email, row)
                    except _SMTP_ERRORS as error:
                        answers.put(("error", row, error))
                    except BaseException as error:  # a bug: the caller re-raises it
                        answers.put(("crash", row, error))
                        return
                    else:
                        answers.put(("sent", row, None))
            finally:
                transport.__exit__(None, None, None)
    finally:
        answers.put(("gone", None, why))


@dataclass
class _Batch:
    """One claimed batch going out: built and recorded in this thread, sent in others."""

    config: Mapping[str, Any]
    now: datetime
    rng: random.Random
    letterhead: _Letterhead
    result: DeliveryResult

    def deliver(self, transports: list[Transport], pending: deque[Notification]) -> None:
        """Send ``pending`` over a thread per transport, and record the outcomes.

        Each connection has at most ``IN_FLIGHT_PER_CONNECTION`` messages that are built, being
        sent, or accepted by the server but not yet marked sent: that many per connection is all
        a crash can leave to be sent again. Accepted messages are marked in groups, one UPDATE
        and one commit for half that allowance, while the other half keeps the connections busy.
        Failures are recorded one by one as they come back.
        """
        work: _Work = queue.SimpleQueue()
        answers: queue.SimpleQueue[_Answer] = queue.SimpleQueue()
        threads = [
            threading.Thread(
                target=_sender_thread, args=(t, work, answers), name="mail-sender", daemon=True
            )
            for t in transports
        ]
        for thread in threads:
            thread.start()
        live, in_flight = len(threads), 0
        allowance = IN_FLIGHT_PER_CONNECTION * len(threads)
        # Accepted by the server, not yet marked sent: they count against the allowance.
        accepted: list[Notification] = []
        unreachable: BaseException | None = None
        crash: BaseException | None = None
        try:
            while True:
                while pending and live and crash is None and in_flight + len(accepted) < allowance:
                    row = pending.popleft()
                    email = self._email_or_failure(row)
                    if email is not None:
                        work.put((row, email))
                        in_flight += 1
                if not in_flight:
                    self._mark_sent(accepted)
                    if not pending or not live or crash is not None:
                        break
                    continue
                for kind, row, error in _answers_waiting(answers):
                    if kind == "gone":
                        live -= 1
                        if error is not None:
                            unreachable = error
                            if live:
                                log.info("mail server took fewer connections: %s", error)
                        continue
                    in_flight -= 1
                    assert row is not None
                    if kind == "crash":
                        crash = crash or error
                    elif kind == "sent":
                        accepted.append(row)
                    else:
                        self.result.count(_record(row, error, self.now, self.rng))
                if not live:
                    # Every answer a thread gave came before its "gone": what is left in the
                    # work queue was never tried.
                    self._mark_sent(accepted)
                    break
                if 2 * len(accepted) >= allowance:
                    self._mark_sent(accepted)
        finally:
            untried = _drain(work)
            for _ in threads:
                work.put(None)
            for thread in threads:
                thread.join()
        if crash is not None:
            raise crash
        untried.extend(pending)
        if untried:
            reason = _describe(unreachable)[1] if unreachable else "no connection left"
            log.warning("mail server unreachable, %d emails wait: %s", len(untried), reason)
            self.result.retried += _release(untried, self.now, self.rng, reason)

    def _mark_sent(self, accepted: list[Notification]) -> None:
        """Record the accepted messages as sent (one statement, one commit) and forget them."""
        self.result.sent += _record_sent(accepted, self.now)
        accepted.clear()

    def _email_or_failure(self, row: Notification) -> OutgoingEmail | None:
        """The email for a claimed row, or None once the row is marked failed (and counted)."""
        try:
            return build_message(row, self.config, now=self.now, letterhead=self.letterhead)
        except LinkNoLongerWorks as error:
            reason = _short(str(error))
        except _ADDRESS_ERRORS as error:
            # A row no message can be made from (written by hand, say) will never go: say why.
            reason = _short(f"bad email: {error}")
        _finish(row, self.now, state=NotificationState.FAILED, last_error=reason)
        self.result.count("failed")
        return None


def _answers_waiting(answers: queue.SimpleQueue[_Answer]) -> list[_Answer]:
    """The next answer (waiting for it), and every other answer already there."""
    waiting = [answers.get()]
    while True:
        try:
            waiting.append(answers.get_nowait())
        except queue.Empty:
            return waiting


def _drain(work: _Work) -> list[Notification]:
    rows = []
    while True:
        try:
            item = work.get_nowait()
        except queue.Empty:
            return rows
        if item is not None:
            rows.append(item[0])


def resend(notification_id: int) -> Notification:
    """Queue a failed email again with a fresh set of attempts (an admin's "resend"); flush only."""
    notification = db.session.get(Notification, notification_id, with_for_update=True)
    if notification is None:
        raise LookupError(f"no notification {notification_id}")
    if notification.state != NotificationState.FAILED:
        # Resending a queued or sent email would send it twice.
        raise ValueError(f"only a failed email can be resent, not a {notification.state} one")
    notification.state = NotificationState.QUEUED
    notification.next_attempt_at = None
    # A fresh budget: otherwise an email that ran out of attempts would fail on its first
    # temporary error. The audit row the caller writes keeps the history.
    notification.attempts = 0
    db.session.flush()
    return notification


def _sweep_stuck(now: datetime) -> tuple[int, int]:
    """Re-queue rows a crashed sender left in ``sending``; give up on those that keep crashing."""
    stuck = (Notification.state == NotificationState.SENDING) & (
        Notification.claimed_at < now - STUCK_AFTER
    )
    gave_up = db.session.execute(
        update(Notification)
        .where(stuck, Notification.attempts >= MAX_ATTEMPTS)
        .values(
            state=NotificationState.FAILED,
            last_error=f"the sender stopped while sending it, {MAX_ATTEMPTS} times",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    requeued = db.session.execute(
        update(Notification)
        .where(stuck)
        .values(
            state=NotificationState.QUEUED,
            next_attempt_at=None,
            last_error="re-queued: the sender stopped before recording the result",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if requeued or gave_up:
        log.warning("re-queued %d emails stuck in sending, gave up on %d", requeued, gave_up)
    return requeued, gave_up


def _claim(now: datetime, batch_size: int) -> list[Notification]:
    """Take up to ``batch_size`` due rows for this sender, in the order they were queued."""
    due = (
        select(Notification.id)
        .where(
            Notification.state == NotificationState.QUEUED,
            or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
        )
        .order_by(Notification.id)
        .limit(batch_size)
        # Another sender's rows are skipped rather than waited for (PostgreSQL; SQLite has one
        # writer at a time and ignores it).
        .with_for_update(skip_locked=True)
    )
    # One statement for the batch, rather than a read and an UPDATE per row.
    rows = db.session.scalars(
        update(Notification)
        .where(Notification.id.in_(due.scalar_subquery()))
        .values(
            state=NotificationState.SENDING,
            claimed_at=now,
            # Counted before the try, so a message that crashes the sender still runs out.
            attempts=Notification.attempts + 1,
        )
        .returning(Notification),
        # Rows this session already holds (a test's, say) take the claimed values too.
        execution_options={"synchronize_session": False, "populate_existing": True},
    ).all()
    db.session.commit()
    return sorted(rows, key=lambda row: row.id)


_outbox = Notification.__table__
# Built once rather than for every few messages: making the statement cost more than running it.
_MARK_SENT = (
    update(_outbox)
    # Only the claims this sender made, as in _finish.
    .where(
        _outbox.c.id.in_(bindparam("ids", expanding=True)),
        _outbox.c.state == NotificationState.SENDING,
        _outbox.c.claimed_at == bindparam("claim"),
    )
    .values(state=NotificationState.SENT, sent_at=bindparam("sent"), last_error=None)
)


def _record_sent(rows: list[Notification], now: datetime) -> int:
    """Mark sent the rows the server accepted, in one statement and one commit; how many."""
    if not rows:
        return 0
    ids = [row.id for row in rows]
    changed = db.session.execute(_MARK_SENT, {"ids": ids, "claim": now, "sent": now}).rowcount
    db.session.commit()
    if changed != len(ids):
        log.warning(
            "%d of emails %s were re-claimed while this sender held them", len(ids) - changed, ids
        )
    return len(ids)


def _record(
    row: Notification, error: BaseException | None, now: datetime, rng: random.Random
) -> Outcome:
    """Record a sending error: ``failed`` if permanent or out of attempts, else ``retried``."""
    assert error is not None
    permanent, reason = _describe(error)
    log.warning("email %d not sent (attempt %d): %s", row.id, row.attempts, reason)
    if permanent:
        _finish(row, now, state=NotificationState.FAILED, last_error=reason)
        return "failed"
    if row.attempts >= MAX_ATTEMPTS:
        reason = _short(f"gave up after {row.attempts} attempts: {reason}")
        _finish(row, now, state=NotificationState.FAILED, last_error=reason)
        return "failed"
    _finish(
        row,
        now,
        state=NotificationState.QUEUED,
        next_attempt_at=now + backoff(row.attempts, rng),
        last_error=reason,
    )
    return "retried"


def _finish(row: Notification, claimed_at: datetime, **values: Any) -> None:
    """Record one row's outcome and commit, if this sender still holds the row."""
    changed = db.session.execute(
        update(Notification)
        # Only the claim this sender made: if it took so long that the sweeper handed the row
        # to another sender, that sender's record stands.
        .where(
            Notification.id == row.id,
            Notification.state == NotificationState.SENDING,
            Notification.claimed_at == claimed_at,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not changed:
        log.warning("email %d was re-claimed while this sender held it", row.id)


def _release(rows: Iterable[Notification], now: datetime, rng: random.Random, reason: str) -> int:
    """Put claimed rows that were never tried back in the queue, undoing the claim's attempt."""
    ids = [row.id for row in rows]
    released = db.session.execute(
        update(Notification)
        .where(
            Notification.id.in_(ids),
            Notification.state == NotificationState.SENDING,
            Notification.claimed_at == now,
        )
        .values(
            state=NotificationState.QUEUED,
            # The server, not the message, is the problem: an outage of any length must not
            # use up the message's attempts, so it waits and goes when the server is back.
            attempts=Notification.attempts - 1,
            next_attempt_at=now + backoff(1, rng),
            last_error=_short(f"mail server unreachable: {reason}"),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return released


def _describe(error: BaseException) -> tuple[bool, str]:
    """Whether a sending error is permanent, and a short message for the outbox page."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        answers = list(error.recipients.values())
        permanent = bool(answers) and all(500 <= code < 600 for code, _ in answers)
        text = "; ".join(f"{code} {_decode(reply)}" for code, reply in answers)
        return permanent, _short(f"recipient refused: {text}")
    if isinstance(error, smtplib.SMTPResponseException):
        permanent = 500 <= error.smtp_code < 600
        return permanent, _short(f"{error.smtp_code} {_decode(error.smtp_error)}")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        # The server lacks something the message needs (SMTPUTF8): trying again won't help.
        return True, _short(str(error))
    return False, _short(f"{type(error).__name__}: {error}")


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _short(text: str, limit: int = 500) -> str:
    text = safe_header(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def prune_link_emails(now: datetime) -> int:
    """Empty the bodies of invitation and reset emails sent over a week ago (flush only).

    Their links never were stored (see the module's notes); what is left is a person's name
    and who invited them, which the outbox no longer needs once the link has expired.
    """
    pruned = db.session.execute(
        update(Notification)
        .where(
            Notification.kind.in_(LINK_KINDS),
            Notification.state == NotificationState.SENT,
            Notification.sent_at < now - LINK_EMAIL_BODIES_KEPT,
            Notification.body_text != PRUNED_BODY,
        )
        .values(body_text=PRUNED_BODY, body_html=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.flush()
    return pruned
