"""One active scheduler: whoever holds the lock runs jobs; anyone else waits to take over.

APScheduler 3 runs every job once per process that starts it (two schedulers on one job store
both run every job), so the process itself must be elected. On PostgreSQL the lock is a
session-level advisory lock on a dedicated connection: if the holder dies its connection closes
and the lock is free. On SQLite, a lock file beside the database (``flock``), which the kernel
releases when the holder dies.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text

# An arbitrary constant: "pledge" on a phone keypad, well clear of other applications' keys.
ADVISORY_LOCK_KEY = 7533430


class SchedulerLock(Protocol):
    description: str

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...


class PostgresAdvisoryLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.description = f"PostgreSQL advisory lock {ADVISORY_LOCK_KEY}"
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self._connection is None:
            # Autocommit: a session-level advisory lock must not sit inside an open transaction.
            self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = self._connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
        ).scalar_one()
        return bool(got)

    def is_held(self) -> bool:
        """Whether our dedicated connection still answers (and so still holds the lock)."""
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
            finally:
                self._connection.close()
                self._connection = None


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"lock file {path}"
        self._file: IO[str] | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115  (held open for the process's life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def is_held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def lock_for(engine: Engine, lock_file: Path) -> PostgresAdvisoryLock | FileLock:
    """The right lock for the database this instance uses."""
    if engine.dialect.name == "postgresql":
        return PostgresAdvisoryLock(engine)
    return FileLock(lock_file)
