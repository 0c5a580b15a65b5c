"""Shared fixtures: the app on SQLite and on PostgreSQL, one transaction per test.

Every test that takes ``app``, ``db_session`` or ``client`` runs twice: on SQLite and on the
PostgreSQL server named by ``TEST_DATABASE_URL`` (default: the local server's
``tracker_test`` database, created if the server is there and it is not). Without that server
the PostgreSQL half is skipped and says why; under CI (``CI`` set) a missing server fails the
run instead.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.globals import _cv_app as flask_app_context
from flask.testing import FlaskClient
from sqlalchemy.orm import scoped_session, sessionmaker

from tests.support.databases import (
    migrate_to_head,
    postgres_check,
    postgres_url_or_reason,
    reset_database,
    scratch_postgres_database,
)
from tracker import create_app
from tracker.extensions import db

pytest_plugins = ["tests.support.smtp"]

BACKENDS = ["sqlite", "postgresql"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec else {}
        if "postgresql" in (params.get("database_url"), params.get("command_app")):
            item.add_marker(pytest.mark.postgres)


# With pytest-xdist (``make test`` runs two workers), the tests go to whichever worker is free,
# one at a time, except these groups, each run by one worker in the suite's order (by node id):
ONE_WORKER_GROUPS = {
    # One Chromium, and one served app and database that each module adds its data to.
    "tests/browser/": "browser",
    # The demo's year, played out once on each database (module fixtures, about a minute).
    "tests/test_demo.py::": "demo",
}


class OneWorkerGroups:
    @pytest.hookimpl
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: object) -> object:
        # Not xdist's --dist loadgroup: it groups tests by renaming them, which has no effect
        # under pytest 9 (each test of a group went to either worker).
        if config.getvalue("dist") != "load":
            return None  # a --dist asked for by name
        from xdist.scheduler import LoadScopeScheduling

        class Scheduler(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                for prefix, group in ONE_WORKER_GROUPS.items():
                    if nodeid.startswith(prefix):
                        return group
                return nodeid  # a test of its own

        return Scheduler(config, log)


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(OneWorkerGroups(), "tracker-one-worker-groups")


def pytest_report_header(config: pytest.Config) -> list[str]:
    check = postgres_check()
    if check.url:
        url = sa.make_url(check.url)
        created = f"; {url.database} was missing and is now created" if check.created else ""
        workers = config.getoption("numprocesses", None)
        if workers:
            created += f"; each of the {workers} workers on its own: {url.database}_gw0 …"
        return [f"PostgreSQL tests: on ({url.render_as_string(hide_password=True)}{created})"]
    return [f"PostgreSQL tests: SKIPPED ({check.reason})"]


def require(component: str, reason: str) -> None:
    """Skip on a laptop without ``component``; fail under CI, where it must be there."""
    if os.environ.get("CI"):
        pytest.fail(f"{component} is required in CI: {reason}", pytrace=False)
    pytest.skip(f"{component} not available: {reason}")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    url, reason = postgres_url_or_reason()
    if url is None:
        require("PostgreSQL", reason)
    return url


class IsolatedClient(FlaskClient):
    """A test client whose every request starts with a clean ``g``, as a real request does.

    Tests hold an app context open (for the rolled-back session), and Flask reuses it for the
    requests they make, so without this one browser's signed-in user would leak into another's.
    """

    def open(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def, override]
        context = flask_app_context.get(None)
        if context is not None:
            context.g.__dict__.clear()
        return super().open(*args, **kwargs)


def make_test_app(database_url: str, instance_path: Path, **overrides: object) -> Flask:
    config: dict[str, object] = {
        "TRACKER_ENV": "test",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(instance_path),
        "MAIL_FILE_DIR": str(instance_path / "mail"),
        "SCHEDULER_LOCK_FILE": str(instance_path / "scheduler.lock"),
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    _new_apps.append(app)
    return app


# The apps whose pooled connections are closed after each test. Those made since the last test
# ended are held here until it has, so none is collected with a connection still open (psycopg
# warns, and warnings are errors); after that, only while something else keeps them (the
# session's apps, a module's): a test's own app is forgotten with it, not disposed ever after.
_new_apps: list[Flask] = []
_live_apps: weakref.WeakSet[Flask] = weakref.WeakSet()


@contextmanager
def postgres_app(instance_path: Path, **overrides: object) -> Iterator[Flask]:
    """An app on a fresh, migrated PostgreSQL database of its own, dropped afterwards.

    For tests that race real connections (row locks, conditional updates): give the pool
    enough connections for every thread at once in ``SQLALCHEMY_ENGINE_OPTIONS``.
    """
    url, reason = postgres_url_or_reason()
    if url is None:
        require("PostgreSQL", reason)
    with scratch_postgres_database(url) as scratch:
        app = make_test_app(scratch, instance_path, **overrides)
        migrate_to_head(app)
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture(params=BACKENDS)
def command_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on a migrated database of its own, on SQLite and on PostgreSQL, for tests that run
    the ``tracker`` command in a child process: what the test sets up must be committed, since
    the command reads the database from outside the test's transaction. Run commands with
    ``DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"]`` and ``instance=tmp_path / "instance"``.
    """
    if request.param == "sqlite":
        app = make_test_app(f"sqlite:///{tmp_path / 'command.db'}", tmp_path / "instance")
        migrate_to_head(app)
        yield app
        return
    with postgres_app(tmp_path / "instance") as app:
        yield app


@pytest.fixture(autouse=True)
def _close_database_connections() -> Iterator[None]:
    """Close every pooled connection after each test: nothing leaks into the next one."""
    yield
    for made in [*_new_apps, *_live_apps]:
        with made.app_context():
            for engine in db.engines.values():
                engine.dispose()
    _live_apps.update(_new_apps)
    _new_apps.clear()


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app on a database migrated once per session from empty to head."""
    app = make_test_app(database_url, tmp_path_factory.mktemp("instance"))
    with app.app_context():
        reset_database(db.engine)
        migrate_to_head(app)
        db.engine.dispose()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def db_session(app: Flask) -> Iterator[scoped_session]:
    """A session inside a transaction that is rolled back after the test.

    Code under test may commit: its commits become savepoints of the outer transaction.
    """
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
        )
        db.session = session
        try:
            yield session
        finally:
            session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask, db_session: scoped_session) -> FlaskClient:
    return app.test_client()
