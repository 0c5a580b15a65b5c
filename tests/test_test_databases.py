"""The test suite finds its own PostgreSQL database: ``make test`` and ``make bench`` create the
database named in TEST_DATABASE_URL when the server is there and the database is not; with no
server the PostgreSQL tests are skipped and say why, and under CI they fail instead."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import require
from tests.support.databases import check_postgres, postgres_url_or_reason

ROOT = Path(__file__).resolve().parent.parent


def databases_on(server_url: str) -> set[str]:
    engine = sa.create_engine(server_url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(sa.text("SELECT datname FROM pg_database")))
    finally:
        engine.dispose()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/tracker_test"


@pytest.fixture
def server_url() -> str:
    url, reason = postgres_url_or_reason()
    if url is None:
        require("PostgreSQL", reason)
    return url


def test_a_missing_database_is_created_when_the_server_is_there(server_url):
    # A name that needs quoting, as a developer's TEST_DATABASE_URL might hold.
    name = f"tracker_test-Made_{uuid.uuid4().hex[:8]}"
    wanted = sa.make_url(server_url).set(database=name)
    assert name not in databases_on(server_url)
    # The plain postgresql:// form people copy from their hosting works too.
    plain = wanted.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        check = check_postgres(plain)
        assert check.url is not None and check.created, check.reason
        assert name in databases_on(server_url)
        engine = sa.create_engine(check.url)
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT current_database()")) == name
        engine.dispose()
        # The next run finds it and creates nothing.
        again = check_postgres(plain)
        assert again.url == check.url and not again.created
    finally:
        admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_no_server_is_a_reason_to_skip_not_an_error():
    url = closed_port_url()
    check = check_postgres(url)
    assert check.url is None and not check.created
    assert check.reason.startswith("cannot connect to postgresql+psycopg://postgres@127.0.0.1:")


def run_one_database_test(*, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["TEST_DATABASE_URL"] = closed_port_url()
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",  # not -q: the header says what happened to PostgreSQL
            "-p",
            "no:cacheprovider",
            "tests/test_site.py::test_unknown_page_is_a_gov_uk_404",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_a_server_a_laptop_skips_postgresql_and_says_so_but_ci_fails():
    laptop = run_one_database_test(ci=False)
    assert laptop.returncode == 0, laptop.stdout + laptop.stderr
    assert "PostgreSQL tests: SKIPPED (cannot connect to" in laptop.stdout
    assert "1 passed, 1 skipped" in laptop.stdout
    assert "PostgreSQL not available: cannot connect to" in laptop.stdout  # the skip reason

    ci = run_one_database_test(ci=True)
    assert ci.returncode == 1, ci.stdout + ci.stderr
    assert "PostgreSQL is required in CI: cannot connect to" in ci.stdout
    assert "1 passed" in ci.stdout and "1 error" in ci.stdout
