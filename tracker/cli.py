"""The ``tracker`` command: Flask's CLI group with the product's own commands."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tracker.config import ConfigError


def _create_app() -> Flask:
    from tracker import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, load_dotenv=False)
def cli() -> None:
    """Pledge Tracker: load pledges, run the web app and the scheduler, export open data."""


@cli.group()
def jobs() -> None:
    """The scheduler process and its jobs."""


@jobs.command("run")
def jobs_run() -> None:
    """Run the scheduler (one active process: a second waits for the first's lock)."""
    from flask import current_app

    from jobs.scheduler import run_scheduler

    run_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    """Commands that need the app are registered on the group above; nothing per app yet."""


def _database_target(app_url: str | None) -> str:
    if not app_url:
        return "the database"
    url = make_url(app_url)
    if url.get_backend_name() == "sqlite":
        return f"the SQLite database at {url.database}"
    return f"the database server at {url.host or 'localhost'}:{url.port or 5432}"


def _configured_database_url() -> str | None:
    try:
        from tracker.config import load

        return load()["SQLALCHEMY_DATABASE_URI"]
    except ConfigError:
        return None


def main(argv: list[str] | None = None) -> Any:
    """Entry point: one clear line and a non-zero exit for bad configuration, no traceback."""
    try:
        return cli.main(args=argv, prog_name="tracker")
    except ConfigError as error:
        click.echo(f"tracker: configuration error: {error}", err=True)
        sys.exit(2)
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        target = _database_target(_configured_database_url())
        click.echo(f"tracker: could not reach {target} (DATABASE_URL): {reason}", err=True)
        sys.exit(3)
