"""The ``tracker`` command: Flask's CLI group with the product's own commands."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, run_command
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tracker.config import PROJECT_ROOT, ConfigError


def _create_app() -> Flask:
    from tracker import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, load_dotenv=False)
def cli() -> None:
    """Pledge Tracker: load pledges, run the web app and the scheduler, export open data."""


def _run_without_debugger_in_production() -> None:
    """``tracker run`` as Flask's, except that production refuses ``--debugger``.

    FLASK_DEBUG is refused by the settings; the flag turns Werkzeug's debugger on by itself, and
    the debugger is a Python console for whoever reaches the page.
    """
    serve = run_command.callback
    assert serve is not None

    def guarded(**options: Any) -> Any:
        if options.get("debugger"):
            app = click.get_current_context().ensure_object(ScriptInfo).load_app()
            if app.config["TRACKER_ENV"] == "production":
                raise ConfigError(
                    "--debugger: production refuses to start the debugger, which would let "
                    "anyone who reaches it run code on the server"
                )
        return serve(**options)

    command = copy.copy(run_command)
    command.callback = guarded
    cli.add_command(command, "run")


def _add_feature_commands() -> None:
    from tracker.board.commands import summary

    cli.add_command(summary)


@cli.group()
def jobs() -> None:
    """The scheduler process and its jobs."""


@jobs.command("run")
def jobs_run() -> None:
    """Run the scheduler (one active process: a second waits for the first's lock)."""
    from flask import current_app

    from jobs.scheduler import SchedulerNotReady, run_scheduler

    try:
        run_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]
    except SchedulerNotReady as error:
        click.echo(f"tracker: {error}", err=True)
        sys.exit(1)


@jobs.command("run-once")
@click.argument("name")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Run as if it were this day (YYYY-MM-DD); default: today in the place's time zone.",
)
def jobs_run_once(name: str, today: Any) -> None:
    """Run one job now, recorded like a scheduled run (for cron, Kubernetes and tests)."""
    from jobs.schedule import job_named
    from tracker.domain.enums import JobOutcome
    from tracker.services.job_runs import run_job

    try:
        job = job_named(current_app.config, name)
    except LookupError as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"Running {job.id}: {job.description}…")
    outcome = run_job(
        job.id, job.func, today=today.date() if today else None, started_by="command line"
    )
    if outcome.outcome != JobOutcome.SUCCEEDED:
        click.echo(f"tracker: {job.id} failed: {outcome.summary}", err=True)
        sys.exit(1)
    click.echo(f"{job.id}: {outcome.summary}")


@jobs.command("list")
def jobs_list() -> None:
    """Each job: when it runs, its last run and outcome, and its next run."""
    from datetime import UTC, datetime

    from jobs.schedule import scheduled_jobs
    from tracker.services.job_runs import last_runs
    from tracker.templating import london_time

    now = datetime.now(UTC)
    runs = last_runs()
    for job in scheduled_jobs(current_app.config):
        click.echo(f"{job.id}: {job.description}")
        click.echo(f"  runs     {job.when}")
        run = runs.get(job.id)
        if run is None:
            click.echo("  last run never")
        else:
            click.echo(
                f"  last run {london_time(run.started_at)} by {run.started_by}: {run.outcome}"
                f" — {run.summary or run.error or ''}".rstrip(" —")
            )
        upcoming = job.trigger.get_next_fire_time(None, now)
        click.echo(f"  next run {london_time(upcoming) if upcoming else 'never'}")


@cli.group()
def seed() -> None:
    """Load a pledge page into organisations, pledges and commitments."""


@seed.command("load")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show the report without writing anything.")
@click.option(
    "--place",
    "place_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=PROJECT_ROOT / "seed" / "luton-2040-place.json",
    show_default=True,
    help="JSON naming the place and its priorities.",
)
@click.option("--if-empty", is_flag=True, help="Do nothing if organisations already exist.")
def seed_load(path: Path, dry_run: bool, place_file: Path, if_empty: bool) -> None:
    """Import the pledge page at PATH (safe to repeat: the same page changes nothing)."""
    from sqlalchemy import func, select

    from tracker.domain.pledge_page import PledgePageError, decode_pledge_page, parse_pledge_page
    from tracker.extensions import db
    from tracker.models import Organisation
    from tracker.services.pledge_import import (
        PlaceFileError,
        import_pledge_page,
        read_place_file,
        report_lines,
    )

    if if_empty and db.session.scalar(select(func.count()).select_from(Organisation)):
        click.echo("Organisations are already loaded: skipping the seed.")
        return
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except OSError as error:
        raise click.ClickException(f"{path}: cannot read it ({error.strerror})") from None
    try:
        page = parse_pledge_page(decode_pledge_page(data))
        place = read_place_file(place_file)
    except (PledgePageError, PlaceFileError) as error:
        raise click.ClickException(f"{path}: {error}") from None

    with click.progressbar(
        length=len(page.organisations), label="Importing organisations", file=sys.stderr
    ) as bar:
        try:
            report = import_pledge_page(
                page, place, source=path.name, progress=lambda _: bar.update(1)
            )
        except Exception:
            db.session.rollback()
            raise
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    click.echo("\n".join(report_lines(report, dry_run=dry_run)))


@cli.command("export")
@click.option(
    "--format", "format_", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    help="Write to this file instead of standard output.",
)
def export(format_: str, output: Path | None) -> None:
    """Export the open data: every organisation and commitment, as JSON or CSV."""
    from datetime import UTC, datetime

    from tracker.extensions import begin_reading
    from tracker.services.open_data import iter_csv, iter_json

    begin_reading()  # on SQLite, the app's writers do not wait for the export
    chunks = iter_json(datetime.now(UTC)) if format_ == "json" else iter_csv()
    if output is None:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
        partial.replace(output)  # a reader never sees half a file
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"{output}: cannot write it ({error.strerror})") from None
    click.echo(f"Wrote {output}", err=True)


@cli.group("open-data")
def open_data_group() -> None:
    """The files /open-data.json and /open-data.csv are served from."""


@open_data_group.command("build")
@click.option("--force", is_flag=True, help="Rebuild even the files that are up to date.")
def open_data_build(force: bool) -> None:
    """Rebuild the open-data files whose ETag is no longer current (progress on stderr)."""
    from tracker.services.open_data_files import folder, refresh

    def say(line: str) -> None:
        click.echo(line, err=True)

    try:
        built, seconds = refresh(force=force, say=say)
    except Exception as error:
        cause = getattr(error, "orig", None) or error
        first = (str(cause).strip().splitlines() or [""])[0]
        reason = f"{type(cause).__name__}: {first}" if first else type(cause).__name__
        click.echo(f"tracker: open data not built: {reason}", err=True)
        sys.exit(1)
    where = folder()
    if built:
        say(f"Rebuilt {' and '.join(built)} in {seconds:.1f} s, in {where}")
    else:
        say(f"Open data up to date in {where}")


@cli.group()
def users() -> None:
    """Create accounts and print two-factor codes from the command line."""


@users.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The person's full name.")
@click.option(
    "--role", type=click.Choice(["admin", "lead", "board"]), required=True, help="What they do."
)
@click.option(
    "--organisation",
    "organisation_slugs",
    multiple=True,
    metavar="SLUG",
    help="An organisation a lead reports for (repeat for several).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read a password from standard input instead of printing an invitation link.",
)
def users_create(
    email: str, name: str, role: str, organisation_slugs: tuple[str, ...], password_stdin: bool
) -> None:
    """Create an account and print its invitation link (or set its password from stdin)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from tracker.domain.enums import Role
    from tracker.domain.passwords import password_problem
    from tracker.extensions import db
    from tracker.models import Organisation
    from tracker.services import accounts

    found = {
        o.slug: o
        for o in db.session.scalars(
            select(Organisation).where(Organisation.slug.in_(organisation_slugs))
        )
    }
    missing = [slug for slug in organisation_slugs if slug not in found]
    if missing:
        raise click.ClickException(f"no organisation with the slug {', '.join(missing)}")
    if role == "lead" and not organisation_slugs:
        raise click.ClickException("a lead needs at least one --organisation SLUG")
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        problem = password_problem(password, user_inputs=(name, email))
        if problem:
            raise click.ClickException(problem)
    try:
        user = accounts.create_user(
            email=email,
            name=name,
            role=Role(role),
            organisations=[found[slug] for slug in organisation_slugs],
            actor_label="command line",
        )
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None
    if password is not None:
        accounts.set_password(user, password)
        db.session.commit()
        click.echo(f"Created {user.email} ({role}); they can sign in now.")
        return
    with current_app.test_request_context():
        link = accounts.invite(user, actor=None, now=datetime.now(UTC))
    db.session.commit()
    click.echo(f"Created {user.email} ({role}). Invitation link (works once, for 7 days):")
    click.echo(link)


@users.command("code")
@click.argument("email")
def users_code(email: str) -> None:
    """Print EMAIL's current two-factor code, turning two-factor on for them first if needed.

    For operators and scripts on the server, whose shell can read the database anyway. The code
    is the only thing on standard output; anything else goes to standard error.
    """
    from datetime import UTC, datetime

    from tracker.extensions import db
    from tracker.services import accounts, two_factor

    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"no account for {email}")
    now = datetime.now(UTC)
    if two_factor.enrol_for_operator(user, now=now, actor_label="command line"):
        db.session.commit()
        click.echo(
            f"Two-factor authentication is now on for {user.email}; they can add it to an"
            " authenticator app from /account/two-factor once signed in.",
            err=True,
        )
    left = 30 - int(now.timestamp()) % 30
    click.echo(f"(valid for {left} more seconds, and once)", err=True)
    click.echo(two_factor.current_code(user, now))


@users.command("demo")
def users_demo() -> None:
    """Create the demo accounts (development only) and print how to sign in."""
    from tracker.extensions import db
    from tracker.services import demo as demo_data

    if current_app.config["TRACKER_ENV"] == "production":
        raise click.ClickException("demo accounts are for development: not in production")
    try:
        demo_data.ensure_demo_accounts()
    except demo_data.DemoError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo("\n".join(demo_data.demo_account_lines()))


@cli.command("demo")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Play the history up to this day (YYYY-MM-DD) instead of today.",
)
@click.option(
    "--seed",
    "random_seed",
    type=int,
    default=2040,
    show_default=True,
    help="Random seed: the same seed makes the same history.",
)
def demo(today: Any, random_seed: int) -> None:
    """Fill an empty database with the seed, accounts, a year of returns, board summaries and mail.

    Not in production.

    Safe on every start: once any return exists it changes nothing.
    """
    from datetime import datetime

    from tracker.config import ladder_rules, window_rules
    from tracker.extensions import db
    from tracker.services import demo as demo_data

    if current_app.config["TRACKER_ENV"] == "production":
        raise click.ClickException("demo data is for development: not in production")
    day = today.date() if today else datetime.now(demo_data.LONDON).date()
    try:
        if demo_data.needs_seed():
            page, place = demo_data.read_seed()
            with click.progressbar(
                length=len(page.organisations), label="Importing organisations", file=sys.stderr
            ) as bar:
                demo_data.load_seed(page, place, progress=lambda _: bar.update(1))
        demo_data.prepare(day, window_rules(current_app.config))
        if demo_data.has_history():
            db.session.commit()
            click.echo("Returns already exist: the demo history is not added again.")
        else:
            with click.progressbar(
                length=demo_data.history_size(day), label="Playing out returns", file=sys.stderr
            ) as bar:
                summary = demo_data.generate_history(day, seed=random_seed, progress=bar.update)
            db.session.commit()
            if summary is not None:
                click.echo("\n".join(summary.lines()))
                # The ladder commits as it goes, so it runs once the history is safely in.
                lines = demo_data.bring_to_today(day, ladder_rules(current_app.config))
                click.echo("\n".join(lines))
    except demo_data.DemoError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    except Exception:
        db.session.rollback()
        raise
    click.echo("\n".join(demo_data.demo_account_lines()))


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


@cli.group()
def periods() -> None:
    """Reporting periods."""


@periods.command("sync")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="Pretend it is this day.")
def periods_sync(today: Any) -> None:
    """Make the reporting periods up to next quarter and move their states on by date."""
    from datetime import UTC, datetime

    from tracker.config import window_rules
    from tracker.extensions import db
    from tracker.services.periods import ensure_periods

    day = today.date() if today else datetime.now(UTC).date()
    changes = ensure_periods(day, window_rules(current_app.config))
    db.session.commit()
    click.echo("\n".join(changes) if changes else "Reporting periods are up to date.")


@periods.command("start")
@click.argument("quarter")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="Pretend it is this day.")
def periods_start(quarter: str, today: Any) -> None:
    """Say which quarter reporting began with (like 2025-26-q3): nothing is owed before it."""
    from datetime import UTC, datetime

    from tracker.config import window_rules
    from tracker.domain.calendar import Quarter
    from tracker.extensions import db
    from tracker.services.periods import StartError, ensure_periods, set_reporting_start

    try:
        chosen = Quarter.from_slug(quarter)
        set_reporting_start(chosen, actor=None, actor_label="command line")
    except (ValueError, StartError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    day = today.date() if today else datetime.now(UTC).date()
    ensure_periods(day, window_rules(current_app.config))
    db.session.commit()
    click.echo(f"Reporting begins with {chosen.label}.")


_add_feature_commands()
_run_without_debugger_in_production()
