"""A real SMTP server in the test process (aiosmtpd) that can refuse mail and go down on demand.

Use the ``smtp_server`` fixture; ``tests/conftest.py`` exposes it to every test with
``pytest_plugins = ["tests.support.smtp"]``.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal, cast

import pytest
from aiosmtpd.controller import Controller

Stage = Literal["RCPT", "DATA"]


@dataclass(frozen=True)
class Envelope:
    """What the client said outside the message: MAIL FROM and RCPT TO."""

    mail_from: str
    rcpt_tos: tuple[str, ...]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (aiosmtpd's ``port=0`` fails on these machines)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """An SMTP server on 127.0.0.1 that keeps what it receives in ``messages``."""

    host = "127.0.0.1"

    def __init__(self, *, smtputf8: bool = False) -> None:
        self.port = free_port(self.host)
        # Whether it offers SMTPUTF8, for addresses outside ASCII (aiosmtpd's default: no).
        self.smtputf8 = smtputf8
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self._failures: dict[Stage, deque[str]] = {"RCPT": deque(), "DATA": deque()}
        # The server answers in its own thread; tests read and arrange from theirs.
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Listen (again) on the same port, as a server coming back after an outage does."""
        if self._controller is not None:
            return
        # A stopped controller has closed its event loop, so each start needs a new one.
        controller = Controller(
            self, hostname=self.host, port=self.port, enable_SMTPUTF8=self.smtputf8
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening: clients now get "connection refused"."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def fail_next(self, code: int, text: str, count: int = 1, *, stage: Stage = "DATA") -> None:
        """Answer the next ``count`` DATA (or RCPT) commands with ``code text`` instead of 250."""
        with self._lock:
            self._failures[stage].extend([f"{code} {text}"] * count)

    @property
    def message_ids(self) -> list[str]:
        """The Message-ID of every message received, in order, repeats included."""
        with self._lock:
            return [str(message["Message-ID"]) for message in self.messages]

    # aiosmtpd's handler hooks (its names), called in the server's thread.

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        failure = self._take_failure("RCPT")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        failure = self._take_failure("DATA")
        if failure:
            return failure
        message = cast(EmailMessage, message_from_bytes(envelope.content, policy=policy.default))
        with self._lock:
            # Recorded before the 250 goes out, so a client that got its answer finds it here.
            self.messages.append(message)
            self.envelopes.append(Envelope(envelope.mail_from, tuple(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def _take_failure(self, stage: Stage) -> str | None:
        with self._lock:
            failures = self._failures[stage]
            return failures.popleft() if failures else None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server for one test, stopped afterwards."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
