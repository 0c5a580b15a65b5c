"""How long a sign-in must wait after failures: a progressive delay, never a lock to renew.

ASVS 5.0 V6.3 and NIST SP 800-63B §5.2.2 ask that guessing be limited without letting an
attacker lock a real person out. So a few failures cost nothing; after that each further try
waits twice as long as the last, up to a cap. An attacker's failures slow the guessing down,
but a real person on a device that signed in before is counted on that device alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FIRST_DELAY = timedelta(minutes=1)
LONGEST_DELAY = timedelta(minutes=30)
# Failures older than this are forgotten: an attack last week does not slow someone today.
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Limit:
    """What is counted (an account, a client address, a device) and how many tries are free."""

    kind: str
    free: int

    def key(self, value: str) -> str:
        return f"{self.kind}:{value}"[:400]


ACCOUNT = Limit("account", free=5)
# Higher, because many people may share an address (an office, a college): one person's
# typos must not slow their colleagues. A guessing address still slows down.
CLIENT = Limit("client", free=30)
DEVICE = Limit("device", free=5)


def delay_after(failures: int, free: int) -> timedelta:
    """The wait before the next try after ``failures`` failures in a row."""
    if failures < free:
        return timedelta(0)
    # The exponent stops growing long after the cap is reached, so the arithmetic stays small.
    doublings = min(failures - free, 20)
    return min(FIRST_DELAY * 2**doublings, LONGEST_DELAY)


def current_failures(failures: int, last_failure_at: datetime | None, now: datetime) -> int:
    """The failures that still count: none once the last one is older than FORGET_AFTER."""
    if last_failure_at is None or last_failure_at <= now - FORGET_AFTER:
        return 0
    return failures
