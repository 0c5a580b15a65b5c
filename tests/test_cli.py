"""The ``tracker`` command: migrations from the shell, and one clear line for bad configuration."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from tests.support.commands import run_tracker
from tracker.extensions import db
from tracker.models import User


def test_db_upgrade_creates_the_schema_and_a_second_run_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first = run_tracker("db", "upgrade", instance=tmp_path / "instance", DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert "Running upgrade  -> 0001" in first.stderr

    with sqlite3.connect(tmp_path / "x.db") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"organisations", "commitments", "returns", "notifications", "audit_events"} <= tables

    second = run_tracker("db", "upgrade", instance=tmp_path / "instance", DATABASE_URL=url)
    assert second.returncode == 0, second.stderr
    assert "Running upgrade" not in second.stderr


def test_the_default_database_lives_in_the_instance_folder(tmp_path):
    result = run_tracker("db", "upgrade", instance=tmp_path / "instance")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "instance" / "tracker.db").exists()
    assert (tmp_path / "instance" / "secret_key").exists()


def test_an_unreachable_database_server_is_named_in_one_line(tmp_path):
    result = run_tracker(
        "db",
        "upgrade",
        instance=tmp_path,
        DATABASE_URL="postgresql://postgres@127.0.0.1:1/tracker",
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tracker: could not reach the database server at 127.0.0.1:1")


def test_an_unopenable_sqlite_file_is_named(tmp_path):
    result = run_tracker(
        "db", "upgrade", instance=tmp_path, DATABASE_URL="sqlite:////no/such/folder/x.db"
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "/no/such/folder/x.db" in result.stderr


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    for command in (["db", "upgrade"], ["run"], ["jobs", "run"]):
        result = run_tracker(*command, instance=tmp_path, TRACKER_ENV="production")
        assert result.returncode == 2, command
        assert "Traceback" not in result.stderr
        assert result.stderr.strip() == (
            "tracker: configuration error: SECRET_KEY is not set: production refuses to start "
            'without one (make one with: python -c "import secrets; print(secrets.token_hex(32))")'
        )


def test_bad_settings_get_one_line(tmp_path):
    result = run_tracker("db", "upgrade", instance=tmp_path, MAIL_PORT="twenty-five")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "tracker: configuration error: MAIL_PORT must be a whole number, not 'twenty-five'"
    )


def test_help_lists_the_commands(tmp_path):
    result = run_tracker("--help", instance=tmp_path)
    assert result.returncode == 0
    for command in ("db", "run", "jobs"):
        assert f"  {command} " in result.stdout


def test_seed_load_dry_run_writes_nothing_and_a_real_load_twice_changes_nothing(tmp_path):
    instance = tmp_path / "instance"
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    assert run_tracker("db", "upgrade", instance=instance, DATABASE_URL=url).returncode == 0

    dry = run_tracker(
        "seed",
        "load",
        "seed/luton-2040-pledges.txt",
        "--dry-run",
        instance=instance,
        DATABASE_URL=url,
    )
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Dry run of luton-2040-pledges.txt: nothing was written.")
    with sqlite3.connect(tmp_path / "seed.db") as connection:
        assert connection.execute("SELECT count(*) FROM organisations").fetchone() == (0,)

    first = run_tracker(
        "seed", "load", "seed/luton-2040-pledges.txt", instance=instance, DATABASE_URL=url
    )
    assert first.returncode == 0, first.stderr
    assert "Organisations: 40 (40 new, 0 changed, 0 unchanged)" in first.stdout
    assert "Importing organisations" in first.stderr  # the progress bar

    second = run_tracker(
        "seed",
        "load",
        "seed/luton-2040-pledges.txt",
        "--if-empty",
        instance=instance,
        DATABASE_URL=url,
    )
    assert second.stdout.strip() == "Organisations are already loaded: skipping the seed."

    again = run_tracker(
        "seed", "load", "seed/luton-2040-pledges.txt", instance=instance, DATABASE_URL=url
    )
    assert "Organisations: 40 (0 new, 0 changed, 40 unchanged)" in again.stdout

    exported = run_tracker(
        "export",
        "--format",
        "csv",
        "--output",
        str(tmp_path / "o.csv"),
        instance=instance,
        DATABASE_URL=url,
    )
    assert exported.returncode == 0, exported.stderr
    assert len((tmp_path / "o.csv").read_text().splitlines()) > 338
    as_json = run_tracker("export", "--format", "json", instance=instance, DATABASE_URL=url)
    assert as_json.stdout.startswith('{"schema": "pledge-tracker/open-data/v1"')


def test_bad_pledge_pages_get_one_line_and_write_nothing(tmp_path):
    instance = tmp_path / "instance"
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    assert run_tracker("db", "upgrade", instance=instance, DATABASE_URL=url).returncode == 0
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.bin").write_bytes(b"\x00\x01\x02PNG\x00\x00" * 50)
    (tmp_path / "prose.txt").write_text("Just a paragraph.\nAnd another one.\n")
    cases = {
        tmp_path / "missing.txt": "no such file",
        tmp_path / "empty.txt": "The pledge page is empty.",
        tmp_path / "binary.bin": "looks like a binary file",
        tmp_path / "prose.txt": "No organisations found",
    }
    for path, message in cases.items():
        result = run_tracker("seed", "load", str(path), instance=instance, DATABASE_URL=url)
        assert result.returncode == 1, path
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
        assert "Traceback" not in result.stderr
    with sqlite3.connect(tmp_path / "bad.db") as connection:
        assert connection.execute("SELECT count(*) FROM organisations").fetchone() == (0,)
        assert connection.execute("SELECT count(*) FROM places").fetchone() == (0,)


def test_users_create_prints_an_invitation_or_takes_a_password(tmp_path):
    instance = tmp_path / "instance"
    url = f"sqlite:///{tmp_path / 'users.db'}"
    assert run_tracker("db", "upgrade", instance=instance, DATABASE_URL=url).returncode == 0
    invited = run_tracker(
        "users",
        "create",
        "Admin@Example.org",
        "--name",
        "Ada",
        "--role",
        "admin",
        instance=instance,
        DATABASE_URL=url,
    )
    assert invited.returncode == 0, invited.stderr
    assert "http://127.0.0.1:5000/invitations/" in invited.stdout

    scripted = run_tracker(
        "users",
        "create",
        "board@example.org",
        "--name",
        "Bo",
        "--role",
        "board",
        "--password-stdin",
        instance=instance,
        DATABASE_URL=url,
        input="a long board password\n",
    )
    assert scripted.returncode == 0, scripted.stderr
    assert "they can sign in now" in scripted.stdout

    for args, message in [
        (["admin@example.org", "--name", "Again", "--role", "admin"], "already has an account"),
        (["x@example.org", "--name", "X", "--role", "lead"], "needs at least one --organisation"),
        (
            ["y@example.org", "--name", "Y", "--role", "lead", "--organisation", "nope"],
            "no organisation with the slug nope",
        ),
    ]:
        result = run_tracker("users", "create", *args, instance=instance, DATABASE_URL=url)
        assert result.returncode == 1
        assert message in result.stderr and "Traceback" not in result.stderr
    weak = run_tracker(
        "users",
        "create",
        "w@example.org",
        "--name",
        "W",
        "--role",
        "board",
        "--password-stdin",
        instance=instance,
        DATABASE_URL=url,
        input="password\n",
    )
    assert weak.returncode == 1 and "too common" in weak.stderr


def test_demo_accounts_need_the_seed_and_are_printed(tmp_path):
    instance = tmp_path / "instance"
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    run_tracker("db", "upgrade", instance=instance, DATABASE_URL=url)
    early = run_tracker("users", "demo", instance=instance, DATABASE_URL=url)
    assert early.returncode == 1 and "load the seed first" in early.stderr
    run_tracker("seed", "load", "seed/luton-2040-pledges.txt", instance=instance, DATABASE_URL=url)
    demo = run_tracker("users", "demo", instance=instance, DATABASE_URL=url)
    assert demo.returncode == 0
    assert "lead@example.org     lead of active-luton" in demo.stdout
    again = run_tracker("users", "demo", instance=instance, DATABASE_URL=url)
    assert again.returncode == 0  # safe to repeat


@pytest.mark.parametrize(
    "password",
    [None, "purple elephant trombone weather\n"],
    ids=["invitation-link", "password-stdin"],
)
def test_users_create_refuses_an_address_that_is_not_one_in_one_line(
    command_app, tmp_path, password
):
    # QA round 2, #2: with --password-stdin the account was made; without, a traceback.
    args = ["users", "create", "not-an-email", "--name", "Bo Board", "--role", "board"]
    result = run_tracker(
        *args,
        *(["--password-stdin"] if password else []),
        instance=tmp_path / "instance",
        DATABASE_URL=command_app.config["SQLALCHEMY_DATABASE_URI"],
        input=password,
    )
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip().splitlines() == [
        "Error: not-an-email is not an email address in the correct format, like name@example.com"
    ]
    with command_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
        db.session.remove()
