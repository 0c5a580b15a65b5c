"""Throttling guesses at passwords and codes, from the database, so it holds across workers.

Each attempt locks one row per thing it is counted against (the account, the client address,
and the browser if it is a recognised device), checks whether any of them must still wait, and
records the outcome before the transaction ends. The rows are locked in one order (by key), so
parallel attempts queue instead of deadlocking, and eight guesses at once get the same checks
as eight in a row. On PostgreSQL the lock is ``SELECT … FOR UPDATE``; SQLite has one writer at a
time, and the ``INSERT`` that makes sure each row exists takes the write lock first.

A recognised device (a browser this person signed in on before: see ``tracker.auth.devices``)
is counted on its own row only, so an attacker guessing at an account from elsewhere cannot keep
its owner out.

The rules (how many tries are free, how the delay grows) are in ``tracker.domain.throttling``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from tracker.domain.throttling import (
    ACCOUNT,
    CLIENT,
    DEVICE,
    FORGET_AFTER,
    Limit,
    current_failures,
    delay_after,
)
from tracker.extensions import db, insert_ignoring_conflicts
from tracker.models import SignInThrottle


@dataclass(frozen=True)
class Device:
    """A browser's claim to be a device a person signed in on (from a signed cookie)."""

    user_id: int
    id: str


@dataclass
class Gate:
    """The locked throttle rows for one attempt: whether it may go ahead, then its outcome."""

    now: datetime
    rows: dict[str, tuple[Limit, SignInThrottle]]
    # The rows whose limits apply to this attempt (a recognised device: its own row only).
    checked: list[str] = field(default_factory=list)
    device: Device | None = None

    def recognise(self, user_id: int | None) -> bool:
        """Exempt this attempt from the account's and address's limits if its device claim was
        issued to ``user_id`` (the account's owner); its device's own limit still applies."""
        if self.device is None or user_id is None or self.device.user_id != user_id:
            return False
        self.checked = [DEVICE.key(self.device.id)]
        return True

    @property
    def retry_after(self) -> timedelta | None:
        """How long this attempt must wait, or None if it may be checked now."""
        waits = []
        for key in self.checked:
            _, row = self.rows[key]
            still_counts = current_failures(row.failures, row.last_failure_at, self.now)
            if still_counts and row.retry_at is not None and row.retry_at > self.now:
                waits.append(row.retry_at - self.now)
        return max(waits) if waits else None

    def failed(self) -> None:
        """Count a failure on every row; the next try on each waits as the rules say."""
        for limit, row in self.rows.values():
            row.failures = current_failures(row.failures, row.last_failure_at, self.now) + 1
            row.last_failure_at = self.now
            wait = delay_after(row.failures, limit.free)
            row.retry_at = self.now + wait if wait else None
        db.session.flush()

    def succeeded(self) -> None:
        """Clear the rows that gated this attempt (never a shared address's row)."""
        for key in self.checked:
            limit, row = self.rows[key]
            if limit is not CLIENT:
                row.failures, row.last_failure_at, row.retry_at = 0, None, None
        db.session.flush()


def must_wait(
    *, account: str, client: str, device: Device | None, user_id: int | None, now: datetime
) -> timedelta | None:
    """How long an attempt must wait as the rows stand, read without locking them (or None).

    A look before the costly part of an attempt (the password hash), so one that must wait
    costs nothing; ``gate`` decides, under the lock, once that part is done.
    """
    wanted = {ACCOUNT.key(account): ACCOUNT, CLIENT.key(client): CLIENT}
    if device is not None:
        wanted[DEVICE.key(device.id)] = DEVICE
    rows = db.session.scalars(select(SignInThrottle).where(SignInThrottle.key.in_(wanted))).all()
    found = {row.key: (wanted[row.key], row) for row in rows}
    look = Gate(now=now, rows=found, checked=[ACCOUNT.key(account), CLIENT.key(client)])
    look.device = device
    look.recognise(user_id)
    look.checked = [key for key in look.checked if key in found]  # no row: never failed
    return look.retry_after


def gate(*, account: str, client: str, device: Device | None, now: datetime) -> Gate:
    """Lock the throttle rows of an attempt on ``account`` from ``client`` (flush only).

    Do the attempt's slow work (the password hash) before it, after ``must_wait``: the rows stay
    locked until the transaction ends, and others from the same address queue on them. (On
    SQLite each transaction takes the write lock when it begins, so nothing upgrades a read
    lock here.) Then ``recognise`` the account's owner, which exempts a device of theirs from
    the account's and address's limits.
    """
    wanted = {ACCOUNT.key(account): ACCOUNT, CLIENT.key(client): CLIENT}
    if device is not None:
        wanted[DEVICE.key(device.id)] = DEVICE
    keys = sorted(wanted)
    for key in keys:
        db.session.execute(
            insert_ignoring_conflicts(SignInThrottle, index_elements=["key"], key=key, failures=0)
        )
    rows = db.session.scalars(
        select(SignInThrottle)
        .where(SignInThrottle.key.in_(keys))
        .order_by(SignInThrottle.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    found = {row.key: (wanted[row.key], row) for row in rows}
    checked = [ACCOUNT.key(account), CLIENT.key(client)]
    return Gate(now=now, rows=found, checked=checked, device=device)


def prune(now: datetime) -> int:
    """Forget throttle rows whose failures no longer count (flush only)."""
    removed = db.session.execute(
        delete(SignInThrottle).where(
            (SignInThrottle.last_failure_at.is_(None))
            | (SignInThrottle.last_failure_at <= now - FORGET_AFTER)
        )
    ).rowcount
    db.session.flush()
    return removed
