"""Test databases: find PostgreSQL (creating the test database if the server has none), wipe a
schema, migrate, and make scratch databases."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from flask import Flask

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tracker_test"


@dataclass(frozen=True)
class PostgresCheck:
    """Whether the tests can use PostgreSQL: the URL, or None and why not."""

    url: str | None
    reason: str = ""
    created: bool = False  # the server was there but the database was not: this run made it


@cache
def postgres_check() -> PostgresCheck:
    """The PostgreSQL database named by TEST_DATABASE_URL, created if missing (checked once)."""
    return check_postgres(configured_postgres_url())


def configured_postgres_url() -> str:
    """TEST_DATABASE_URL, or the default; in a pytest-xdist worker, that worker's own database.

    Each worker (``make test`` runs two) migrates and resets its database at the start, so two
    cannot share one: worker ``gw0`` of ``tracker_test`` gets ``tracker_test_gw0``, created
    like any missing test database.
    """
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    parsed = sa.make_url(url)
    if not worker or not parsed.database:
        return url
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


def postgres_url_or_reason() -> tuple[str | None, str]:
    """The PostgreSQL URL to test against, or None and why it cannot be used."""
    check = postgres_check()
    return check.url, check.reason


def check_postgres(url: str) -> PostgresCheck:
    """Connect to the database in ``url``; when the server answers but has no such database,
    create it (``make test`` and ``make bench`` on a fresh machine need no ``createdb``)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    error = _connection_error(url)
    if error is None:
        return PostgresCheck(url)
    name = sa.make_url(url).database
    maintenance = _maintenance_url(url)
    if not name or maintenance is None:
        return PostgresCheck(None, error)  # no server, wrong password: nothing to create
    admin = sa.create_engine(
        maintenance, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as connection:
            exists = connection.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if exists:
                return PostgresCheck(None, error)  # it is there: the failure was something else
            quoted = connection.dialect.identifier_preparer.quote(name)
            try:
                connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
            except sa.exc.ProgrammingError as create_error:
                # Another run may have made it in the meantime; anything else is a reason.
                if getattr(create_error.orig, "sqlstate", None) != DUPLICATE_DATABASE:
                    return PostgresCheck(
                        None,
                        f"{error}; creating the database {name} failed: "
                        f"{_first_line(create_error)}",
                    )
    finally:
        admin.dispose()
    error = _connection_error(url)
    return PostgresCheck(url, created=True) if error is None else PostgresCheck(None, error)


DUPLICATE_DATABASE = "42P04"


def _connection_error(url: str) -> str | None:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        return f"cannot connect to {sa.make_url(url).render_as_string()}: {_first_line(error)}"
    finally:
        engine.dispose()
    return None


def _maintenance_url(url: str) -> str | None:
    """A database on the same server to create others from, if the server lets us in."""
    for database in ("postgres", "template1"):
        candidate = sa.make_url(url).set(database=database).render_as_string(hide_password=False)
        if _connection_error(candidate) is None:
            return candidate
    return None


def _first_line(error: sa.exc.DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig else str(error)


def reset_database(engine: sa.Engine) -> None:
    """Drop every table (and Alembic's record) so the next migration starts from empty."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        else:
            metadata = sa.MetaData()
            metadata.reflect(connection)
            connection.execute(sa.text("PRAGMA foreign_keys=OFF"))
            metadata.drop_all(connection)
            connection.execute(sa.text("PRAGMA foreign_keys=ON"))


def migrate_to_head(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


@contextmanager
def scratch_postgres_database(server_url: str) -> Iterator[str]:
    """A fresh, empty database on the same server, dropped afterwards."""
    name = f"tracker_scratch_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seconds_another_writer_waits(app: Flask, limit: float = 10) -> float:
    """Seconds a write from another thread took (it renames every organisation), at most
    ``limit``: to call while a long read is half done, proving on SQLite that it holds no write
    lock (the busy timeout is 15 s, so a writer queued behind it fails the assertion)."""
    from tracker.extensions import db

    took: list[float] = []

    def write() -> None:
        with app.app_context():
            started = time.monotonic()
            db.session.execute(sa.text("UPDATE organisations SET name = name || ' '"))
            db.session.commit()
            took.append(time.monotonic() - started)
            db.session.remove()

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(limit)
    assert took, f"the write waited more than {limit:.0f} s (SQLite's busy timeout: 15 s)"
    return took[0]
