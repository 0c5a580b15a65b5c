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


def test_0007_starts_reporting_where_returns_start_and_keeps_what_was_reported(
    empty_database_url: str, tmp_path: Path
):
    """An existing place starts where its returns start; submitted updates keep the target in
    force when they were submitted; reviewed returns get the history their columns show."""
    app = make_test_app(empty_database_url, tmp_path / "instance")
    with app.app_context():
        engine = db.engine
        upgrade(revision="0006")
        stamp = "2024-05-01 09:00:00+00:00"
        with engine.begin() as connection:
            run = lambda sql, **values: connection.execute(sa.text(sql), values)  # noqa: E731
            run(
                "INSERT INTO places (id, slug, name, publish_publicly, open_data_licence,"
                " created_at, updated_at) VALUES (1, 'luton-2040', 'Luton 2040', true, 'OGL',"
                " :t, :t)",
                t=stamp,
            )
            run(
                "INSERT INTO users (id, email, name, role, active, session_version, created_at,"
                " updated_at) VALUES (1, 'ada@example.org', 'Ada', 'admin', true, 1, :t, :t)",
                t=stamp,
            )
            run(
                "INSERT INTO organisations (id, slug, name, reporting_status, name_needs_review,"
                " version, created_at, updated_at) VALUES (1, 'hearth', 'Hearth', 'active',"
                " false, 1, :t, :t)",
                t=stamp,
            )
            run(
                "INSERT INTO pledges (id, organisation_id, created_at, updated_at)"
                " VALUES (1, 1, :t, :t)",
                t=stamp,
            )
            run(
                "INSERT INTO commitments (id, pledge_id, organisation_id, key, position,"
                " original_text, current_status, needs_review, is_heading, is_truncated,"
                " duplicates_folded, version, created_at, updated_at, target_value,"
                " baseline_value, unit, target_date) VALUES (1, 1, 1, 'k', 0, 'Homes',"
                " 'on_track', false, false, false, 0, 1, :t, :t, 500, 0, 'homes', '2030-03-31')",
                t=stamp,
            )
            for n, (year, quarter, starts, ends) in enumerate(
                [(2023, 4, "2024-01-01", "2024-03-31"), (2024, 1, "2024-04-01", "2024-06-30")]
            ):
                run(
                    "INSERT INTO reporting_periods (id, slug, year, quarter, starts_on, ends_on,"
                    " opens_on, due_on, closes_on, state, version, created_at, updated_at)"
                    " VALUES (:id, :slug, :year, :quarter, :starts, :ends, :ends, :ends, :ends,"
                    " 'closed', 1, :t, :t)",
                    id=n + 1,
                    slug=f"{year}-{(year + 1) % 100:02d}-q{quarter}",
                    year=year,
                    quarter=quarter,
                    starts=starts,
                    ends=ends,
                    t=stamp,
                )
            run(
                "INSERT INTO returns (id, organisation_id, period_id, state, version, created_at,"
                " updated_at, submitted_at, submitted_by_id, reviewed_at, reviewed_by_id,"
                " review_comment) VALUES (1, 1, 2, 'returned', 1, :t, :t,"
                " '2024-07-10 09:00:00+00:00', 1, '2024-07-12 09:00:00+00:00', 1,"
                " 'Add the figures')",
                t=stamp,
            )
            run(
                "INSERT INTO commitment_updates (id, return_id, commitment_id, status,"
                " progress_value, evidence_grade, no_change, unchanged_quarters, version,"
                " created_at, updated_at, complete) VALUES (1, 1, 1, 'on_track', 104,"
                " 'self_declared', false, 0, 1, :t, :t, true)",
                t=stamp,
            )
            # The target was 400 when the return was submitted; raised to 500 a month later.
            run(
                "INSERT INTO target_changes (id, commitment_id, changed_at, field, old_value,"
                " new_value, reason) VALUES (1, 1, '2024-08-20 09:00:00+00:00',"
                " 'target_value', '400', '500', 'Raised')",
            )
        upgrade(revision="0007")
        with engine.connect() as connection:
            start = connection.scalar(sa.text("SELECT reporting_starts_on FROM places"))
            assert str(start) == "2024-04-01"  # Q1, where the returns start; not 2023/24 Q4
            reported = connection.execute(
                sa.text(
                    "SELECT reported_target_value, reported_baseline_value, reported_unit,"
                    " reported_target_date FROM commitment_updates"
                )
            ).one()
            assert float(reported[0]) == 400 and float(reported[1]) == 0
            assert reported[2] == "homes" and str(reported[3]) == "2030-03-31"
            events = connection.execute(
                sa.text("SELECT kind, actor_id, comment FROM return_events ORDER BY occurred_at")
            ).all()
            assert [tuple(e) for e in events] == [
                ("submitted", 1, None),
                ("sent_back", 1, "Add the figures"),
            ]
        downgrade(revision="0006")
        engine.dispose()
