"""``tracker summary …``: build and publish the board summary from scripts.

``tracker summary build --period 2024-25-q1 [--reason TEXT] [--pdf FILE]`` builds a revision
(the first needs no reason; a rebuild does) and can write the board pack too;
``tracker summary publish --period 2024-25-q1`` publishes the latest revision and emails the
board. Each command is one transaction: it commits only when everything worked, and with
``--pdf`` that includes writing the pack, so a path that cannot be written leaves no revision
behind (running the same command again then needs no ``--reason``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup


# An AppGroup, like the groups made with ``@cli.group()``: each command runs inside the app's
# context. A plain click group added to the Flask CLI runs its commands without one.
@click.group(cls=AppGroup)
def summary() -> None:
    """Build and publish the Place Board's quarterly summary."""


def _period(slug: str):  # type: ignore[no-untyped-def]
    from tracker.services.periods import period_by_slug

    found = period_by_slug(slug)
    if found is None:
        raise click.ClickException(f"no reporting period {slug!r} (periods look like 2024-25-q1)")
    return found


@summary.command("build")
@click.option("--period", "slug", required=True, help="The quarter, like 2024-25-q1.")
@click.option("--reason", default=None, help="Why it is being rebuilt (needed after the first).")
@click.option(
    "--pdf",
    "pdf",
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    default=None,
    help="Also write the board pack to this PDF file.",
)
def build(slug: str, reason: str | None, pdf: Path | None) -> None:
    """Build a new revision of a quarter's board summary."""
    import time

    from flask import current_app

    from tracker.board.pack import render_pack
    from tracker.board.views import view_of
    from tracker.extensions import db
    from tracker.services.board import SummaryError, build_summary

    period = _period(slug)
    started = time.perf_counter()
    try:
        made = build_summary(period, actor=None, reason=reason, now=datetime.now(UTC))
    except SummaryError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    if pdf is not None:
        with current_app.test_request_context():
            pack = render_pack(view_of(made))
        _write_pack(pdf, pack)
    db.session.commit()
    headline = made.data["headline"]
    click.echo(
        f"Built revision {made.revision} of the {period.label} summary in "
        f"{time.perf_counter() - started:.1f} s: {headline['commitments']} commitments, "
        f"{headline['status_counts']['off_track']} off track, "
        f"{headline['status_counts']['at_risk']} at risk, "
        f"{headline['returns']['missing']} returns missing."
    )
    if pdf is not None:
        click.echo(f"Wrote {pdf}")


def _write_pack(pdf: Path, pack: bytes) -> None:
    """Write the pack before the revision is committed; a reader never sees half a file."""
    from tracker.extensions import db

    partial = pdf.with_name(pdf.name + ".partial")
    try:
        partial.write_bytes(pack)
        partial.replace(pdf)
    except OSError as error:
        partial.unlink(missing_ok=True)
        db.session.rollback()
        raise click.ClickException(f"{pdf}: cannot write it ({error.strerror})") from None


@summary.command("publish")
@click.option("--period", "slug", required=True, help="The quarter, like 2024-25-q1.")
def publish(slug: str) -> None:
    """Publish a quarter's latest summary and email the board members."""
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import BoardSummary
    from tracker.services.board import SummaryError, publish_summary

    period = _period(slug)
    latest = db.session.scalar(
        select(BoardSummary)
        .where(BoardSummary.period_id == period.id)
        .order_by(BoardSummary.revision.desc())
        .limit(1)
    )
    if latest is None:
        raise click.ClickException(
            f"{period.label} has no summary yet: run tracker summary build --period {slug}"
        )
    if latest.published_at is not None:
        click.echo(f"Revision {latest.revision} of {period.label} was already published.")
        return
    try:
        published = publish_summary(latest, actor=None, now=datetime.now(UTC))
    except SummaryError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(
        f"Published revision {latest.revision} of {period.label}: "
        f"{published.queued} email(s) queued."
    )
    warning = published.warning()
    if warning:
        click.echo(warning, err=True)
