"""Pledge Tracker: holds the organisations of a town to their public pledges."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from flask import Flask
from govuk_frontend_wtf.main import WTFormsHelpers
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tracker import config as config_module
from tracker.config import PROJECT_ROOT, ConfigError
from tracker.extensions import READER

__all__ = ["ConfigError", "create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web application; ``config`` overrides settings read from the environment."""
    settings = config_module.load()
    if config:
        settings.update(config)
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(Path(__file__).parent / "static"),
    )
    app.config.update(settings)
    from tracker.templating import Environment

    app.jinja_environment = Environment  # Jinja as Flask makes it, cheaper for GOV.UK macros
    # The embedded database, development secret and mail files live here.
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    app.jinja_loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(str(PROJECT_ROOT / "templates")),
            jinja2.PrefixLoader(
                {
                    "govuk_frontend_jinja": jinja2.PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": jinja2.PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.undefined = jinja2.ChainableUndefined
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    _init_extensions(app)
    from tracker.services import tallies

    tallies.listen()  # every flush keeps the stored tallies true (services.tallies)
    from tracker import routing

    routing.init_app(app)  # before the blueprints, whose rules use the converters
    _register_blueprints(app)

    from tracker import cli, security, templating
    from tracker.auth import access, session

    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    session.init_app(app)
    access.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    cli.init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
    from tracker import models  # noqa: F401  (every model registered before Alembic looks)
    from tracker.extensions import csrf, db, login_manager, migrate

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(PROJECT_ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = None
    WTFormsHelpers(app)

    from tracker.auth.session import load_user

    login_manager.user_loader(load_user)


@event.listens_for(Engine, "connect")
def _sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        # SQLite ignores foreign keys unless each connection asks for them.
        cursor.execute("PRAGMA foreign_keys=ON")
        # The web app's threads and the scheduler share one file: a writer waits up to 15 s
        # for the one before it rather than fail at once.
        cursor.execute("PRAGMA busy_timeout=15000")
        # Write-ahead logging: readers never wait for a writer, nor a writer for readers. It
        # is kept in the file, so it is switched on once, by the first connection to see the
        # file in another mode (an in-memory database stays "memory").
        (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
        if mode.lower() not in {"wal", "memory"}:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
        # Python's sqlite3 module opens and commits transactions on its own, which breaks
        # SAVEPOINTs; let SQLAlchemy say BEGIN itself (see _sqlite_begin).
        dbapi_connection.isolation_level = None


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: Any) -> None:
    if connection.dialect.name == "sqlite":
        # Every transaction takes the write lock when it starts. A deferred transaction that
        # reads and then writes cannot wait for the lock: if another writer went first, SQLite
        # refuses it at once ("database is locked"), busy timeout or not. Taking the lock at
        # BEGIN makes writers queue instead. Reads take it too: which transaction will write is
        # not known at BEGIN, and here they are a few milliseconds long. The long reads (the
        # open-data build) say so with ``begin_reading()`` and begin deferred: a reader in WAL
        # mode holds nobody up.
        reader = connection.get_execution_options().get(READER, False)
        connection.exec_driver_sql("BEGIN" if reader else "BEGIN IMMEDIATE")


def _register_blueprints(app: Flask) -> None:
    from tracker.admin.routes import bp as admin
    from tracker.api.routes import bp as api
    from tracker.auth.routes import bp as auth
    from tracker.board.routes import bp as board
    from tracker.commitments.routes import bp as commitments
    from tracker.public.routes import bp as public
    from tracker.returns.routes import bp as returns
    from tracker.site.routes import bp as site

    for blueprint in (site, public, api, auth, admin, commitments, returns, board):
        app.register_blueprint(blueprint)
