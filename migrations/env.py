"""Alembic's environment, run by ``tracker db …`` (Flask-Migrate) inside the app."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from flask import current_app

from tracker.models import Base
from tracker.models.base import StrEnumType, UTCDateTime

config = context.config
if config.config_file_name and not config.attributes.get("skip_logging_config"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def _no_empty_revisions(context, revision, directives):  # type: ignore[no-untyped-def]
    # `tracker db migrate` with no model changes writes nothing rather than an empty file.
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def _render_item(type_, obj, autogen_context):  # type: ignore[no-untyped-def]
    # Migrations name plain SQLAlchemy types, so they never import application code that may
    # change after they were written.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, StrEnumType):
        return f"sa.String(length={obj.impl.length})"
    if type_ == "type" and isinstance(obj, sa.JSON) and obj._variant_mapping:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


@contextmanager
def _sqlite_rebuilds_keep_rows(connection: sa.Connection) -> Iterator[None]:
    """Turn SQLite's foreign keys off while batch mode rebuilds tables, and check them after.

    A rebuild drops the old table; with foreign keys on, that deletes every row referring to it
    through ON DELETE CASCADE (a return's updates, an organisation's commitments). This is
    SQLite's own procedure for altering a table (sqlite.org/lang_altertable.html): the pragma
    only takes effect outside a transaction, so it is set before the migration's begins.
    """
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        yield
        return
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left rows with broken foreign keys: {broken[:5]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _run(connection: sa.Connection, configure_args: dict) -> None:  # type: ignore[type-arg]
    with _sqlite_rebuilds_keep_rows(connection):
        context.configure(connection=connection, target_metadata=Base.metadata, **configure_args)
        with context.begin_transaction():
            context.run_migrations()


def run_migrations_online() -> None:
    configure_args = dict(current_app.extensions["migrate"].configure_args)
    configure_args.setdefault("process_revision_directives", _no_empty_revisions)
    configure_args.setdefault("render_item", _render_item)
    # Tests hand in a connection of their own; otherwise use the app's engine.
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection, configure_args)
        return
    engine = current_app.extensions["migrate"].db.engine
    with engine.connect() as connection:
        _run(connection, configure_args)


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them against a database")
run_migrations_online()
