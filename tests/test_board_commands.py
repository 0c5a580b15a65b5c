"""``tracker summary build`` and ``tracker summary publish``, run as an operator runs them: in a
child process, on the real clock, on SQLite and on PostgreSQL.

Run in-process with an app context already open, the commands hid that they had none of their
own (QA round 2, finding 1): every real quarter crashed with a 50-line traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.factories import make_commitment, make_organisation, make_period, make_place, make_user
from tests.support.commands import run_tracker
from tracker.domain.calendar import Quarter, WindowRules, period_for
from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.models import AuditEvent, BoardSummary, Notification, ReportingPeriod


@pytest.fixture
def quarters(command_app: Flask) -> dict[str, Quarter]:
    """A town reporting since three quarters before this one, with a board member.

    The commands use today's date, so the quarters are chosen from it: ``closed`` and
    ``earlier`` closed long ago, ``open`` is this quarter with its window open today, and
    ``upcoming`` is next quarter's.
    """
    today = datetime.now(UTC).date()
    this = period_for(today)
    named = {
        "earlier": this.previous().previous().previous(),
        "closed": this.previous().previous(),
        "open": this,
        "upcoming": this.next(),
    }
    with command_app.app_context():
        session = db.session
        place = make_place(session)
        place.reporting_starts_on = named["earlier"].starts_on
        for quarter in (named["earlier"], named["closed"], this.previous(), named["upcoming"]):
            make_period(session, quarter)
        # This quarter's window opens two weeks before it ends: open it today, whatever the day.
        make_period(session, this, opens_on=min(this.window(WindowRules()).opens_on, today))
        make_commitment(session, make_organisation(session, name="Hearth Housing"))
        make_user(session, Role.BOARD, name="Bo Board", email="bo@example.org")
        session.commit()
        session.remove()
    return named


@pytest.fixture
def tracker(command_app: Flask, tmp_path: Path) -> Callable[..., CompletedProcess[str]]:
    """Run ``tracker …`` on the test's database, as an operator would."""

    def run(*args: str) -> CompletedProcess[str]:
        return run_tracker(
            *args,
            instance=tmp_path / "instance",
            DATABASE_URL=command_app.config["SQLALCHEMY_DATABASE_URI"],
        )

    return run


def one_line_error(result: CompletedProcess[str], message: str) -> None:
    """A refusal an operator can read: one ``Error:`` line naming the problem, a non-zero exit."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"Error: {message}"], result.stderr


def stored(app: Flask, statement: Any) -> list[Any]:
    """What the database holds now, read outside any test transaction."""
    with app.app_context():
        rows = list(db.session.scalars(statement))
        db.session.remove()
    return rows


def revisions(app: Flask, quarter: Quarter) -> list[int]:
    return stored(
        app,
        sa.select(BoardSummary.revision)
        .join(ReportingPeriod, BoardSummary.period_id == ReportingPeriod.id)
        .where(ReportingPeriod.slug == quarter.slug)
        .order_by(BoardSummary.revision),
    )


def test_build_rebuild_write_the_pack_and_publish_a_closed_quarter(
    tracker, command_app, quarters, tmp_path
):
    closed = quarters["closed"]
    built = tracker("summary", "build", "--period", closed.slug)
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith(f"Built revision 1 of the {closed.label} summary in ")
    assert "1 commitments, 0 off track, 0 at risk, 1 returns missing." in built.stdout

    again = tracker("summary", "build", "--period", closed.slug)
    one_line_error(
        again, f"{closed.label} already has a summary: give the reason for rebuilding it"
    )
    rebuilt = tracker("summary", "build", "--period", closed.slug, "--reason", "Late return")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.startswith(f"Built revision 2 of the {closed.label} summary")

    pack = tmp_path / "pack.pdf"
    with_pack = tracker(
        "summary", "build", "--period", closed.slug, "--reason", "For the meeting",
        "--pdf", str(pack),
    )  # fmt: skip
    assert with_pack.returncode == 0, with_pack.stderr
    assert f"Built revision 3 of the {closed.label} summary" in with_pack.stdout
    assert f"Wrote {pack}" in with_pack.stdout
    assert pack.read_bytes().startswith(b"%PDF")
    assert revisions(command_app, closed) == [1, 2, 3]

    published = tracker("summary", "publish", "--period", closed.slug)
    assert published.returncode == 0, published.stderr
    assert published.stdout.strip() == (
        f"Published revision 3 of {closed.label}: 1 email(s) queued."
    )
    twice = tracker("summary", "publish", "--period", closed.slug)
    assert twice.returncode == 0, twice.stderr
    assert twice.stdout.strip() == f"Revision 3 of {closed.label} was already published."
    assert stored(command_app, sa.select(Notification.recipient_email)) == ["bo@example.org"]
    actions = stored(
        command_app,
        sa.select(AuditEvent.action)
        .where(AuditEvent.entity_type == "board_summary")
        .order_by(AuditEvent.id),
    )
    assert actions == [
        "built board summary",
        "rebuilt board summary",
        "rebuilt board summary",
        "published board summary",
    ]


def test_a_quarter_whose_window_is_open_is_built_but_not_published(tracker, command_app, quarters):
    open_ = quarters["open"]
    built = tracker("summary", "build", "--period", open_.slug)
    assert built.returncode == 0, built.stderr
    refused = tracker("summary", "publish", "--period", open_.slug)
    closes_on = open_.window(WindowRules()).closes_on
    one_line_error(
        refused,
        f"{open_.label}'s return window is still open: publish after it closes "
        f"on {closes_on:%-d %B %Y}",
    )
    assert stored(command_app, sa.select(BoardSummary.published_at)) == [None]


def test_bad_periods_get_one_line_and_change_nothing(tracker, command_app, quarters):
    upcoming, earlier = quarters["upcoming"], quarters["earlier"]
    before_reporting = earlier.previous().slug
    unknown = " (periods look like 2024-25-q1)"
    for args, message in [
        (["build", "--period", "nonsense"], f"no reporting period 'nonsense'{unknown}"),
        (["build", "--period", "2031-32-q9"], f"no reporting period '2031-32-q9'{unknown}"),
        (["publish", "--period", "2039-40-q1"], f"no reporting period '2039-40-q1'{unknown}"),
        (
            ["publish", "--period", before_reporting],
            f"no reporting period '{before_reporting}'{unknown}",
        ),
        (
            ["build", "--period", upcoming.slug],
            f"{upcoming.label} has not opened yet: there is nothing to summarise",
        ),
        (
            ["publish", "--period", earlier.slug],
            f"{earlier.label} has no summary yet: run tracker summary build --period "
            f"{earlier.slug}",
        ),
    ]:
        one_line_error(tracker("summary", *args), message)
    assert stored(command_app, sa.select(BoardSummary.id)) == []


def test_a_pack_that_cannot_be_written_leaves_no_revision_behind(
    tracker, command_app, quarters, tmp_path
):
    closed = quarters["closed"]
    missing = tmp_path / "no-such-folder" / "pack.pdf"
    failed = tracker("summary", "build", "--period", closed.slug, "--pdf", str(missing))
    one_line_error(failed, f"{missing}: cannot write it (No such file or directory)")
    assert revisions(command_app, closed) == []

    # The operator fixes the path and runs the same command again: no reason is asked for.
    pack = tmp_path / "pack.pdf"
    retried = tracker("summary", "build", "--period", closed.slug, "--pdf", str(pack))
    assert retried.returncode == 0, retried.stderr
    assert f"Built revision 1 of the {closed.label} summary" in retried.stdout
    assert pack.read_bytes().startswith(b"%PDF")
    assert not list(tmp_path.glob("*.partial"))
    assert revisions(command_app, closed) == [1]


def test_a_board_member_whose_address_is_not_one_is_named_and_the_rest_are_emailed(
    tracker, command_app, quarters
):
    # Made before addresses were checked (QA round 2, #2): publishing used to fail for everyone.
    with command_app.app_context():
        make_user(db.session, Role.BOARD, name="Dee Typo", email="not-an-email")
        db.session.commit()
        db.session.remove()
    closed = quarters["closed"]
    assert tracker("summary", "build", "--period", closed.slug).returncode == 0
    published = tracker("summary", "publish", "--period", closed.slug)
    assert published.returncode == 0, published.stderr
    assert published.stdout.strip() == (
        f"Published revision 1 of {closed.label}: 1 email(s) queued."
    )
    assert published.stderr.strip() == (
        "Not emailed, because the email address on their account is not valid: "
        "Dee Typo (not-an-email). Deactivate the account and invite them again with the "
        "right address."
    )
    assert stored(command_app, sa.select(Notification.recipient_email)) == ["bo@example.org"]
