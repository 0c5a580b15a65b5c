"""Migrations: one head, upgrade from empty, down to base and up again, and models == migrations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from tests.conftest import make_test_app, require
from tests.support.databases import postgres_url_or_reason, scratch_postgres_database
from tracker.config import PROJECT_ROOT
from tracker.extensions import db
from tracker.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url, reason = postgres_url_or_reason()
    if url is None:
        require("PostgreSQL", reason)
    with scratch_postgres_database(url) as scratch:
        yield scratch


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def schema_differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrations_have_a_single_head() -> None:
    config = Config(str(PROJECT_ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_from_empty_down_to_base_and_up_again(empty_database_url: str, tmp_path: Path):
    app = make_test_app(empty_database_url, tmp_path / "instance")
    with app.app_context():
        engine = db.engine
        assert table_names(engine) == set()

        upgrade()
        assert table_names(engine) == set(Base.metadata.tables)
        assert schema_differences(engine) == []

        downgrade(revision="base")
        assert table_names(engine) == set()

        upgrade()
        assert schema_differences(engine) == []
        upgrade()  # a second run changes nothing
        assert schema_differences(engine) == []
        engine.dispose()
