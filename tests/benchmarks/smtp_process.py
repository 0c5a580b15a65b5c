"""An SMTP server (aiosmtpd) in a process of its own, as a real relay would be.

In the benchmark's own process the server competes with the sender for one interpreter lock
and the figure says more about that than about delivery. Like a relay, it does not parse the
messages it accepts (the tests' ``SmtpServer`` does, with Python's email package, which costs
more than sending them): it keeps each one's Message-ID, to check each went once.
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.smtp import free_port

HOST = "127.0.0.1"
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class _Relay:
    """Accepts every message and notes its Message-ID (aiosmtpd's handler hook)."""

    def __init__(self) -> None:
        self.message_ids: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = envelope.original_content.split(b"\r\n\r\n", 1)[0]
        found = _MESSAGE_ID.search(head)
        self.message_ids.append(found.group(1).decode() if found else "")
        return "250 Message accepted for delivery"


def _serve(port: int, control: Connection) -> None:
    relay = _Relay()
    controller = Controller(relay, hostname=HOST, port=port)
    controller.start()
    control.send("listening")
    while control.recv() == "message ids":
        control.send(list(relay.message_ids))
    controller.stop()


@dataclass
class SmtpProcess:
    host: str
    port: int
    control: Connection

    def message_ids(self) -> list[str]:
        """The Message-ID of everything received so far, repeats included."""
        self.control.send("message ids")
        return self.control.recv()


@contextmanager
def smtp_server_process() -> Iterator[SmtpProcess]:
    port = free_port()
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(port, theirs), daemon=True
    )
    process.start()
    try:
        if not ours.poll(30) or ours.recv() != "listening":
            raise RuntimeError("the SMTP server process did not start")
        yield SmtpProcess(HOST, port, ours)
    finally:
        ours.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()
