"""Test databases: find PostgreSQL, wipe a schema, migrate, and make scratch databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import sqlalchemy as sa
from flask import Flask

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tracker_test"


@cache
def postgres_url_or_reason() -> tuple[str | None, str]:
    """The PostgreSQL URL to test against, or None and why it cannot be used."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        first_line = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return None, f"cannot connect to {sa.make_url(url).render_as_string()}: {first_line}"
    finally:
        engine.dispose()
    return url, ""


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
