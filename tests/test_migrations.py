"""Migrations: one head, upgrade from empty, down to base and up again, and models == migrations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
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


def _row(connection: sa.Connection, table: str, **values: object) -> None:
    """Insert one row by raw table name: the models describe head, not the schema at 0007."""
    types = {
        date: sa.Date(),
        datetime: sa.DateTime(timezone=True),
        bool: sa.Boolean(),
        int: sa.Integer(),
        str: sa.String(),
    }
    columns = [sa.column(name, types[type(value)]) for name, value in values.items()]
    connection.execute(sa.insert(sa.table(table, *columns)).values(**values))


def _an_update_with_a_file_at_0007(connection: sa.Connection) -> None:
    now = datetime(2024, 7, 10, 9, 30, tzinfo=UTC)
    stamps = {"created_at": now, "updated_at": now}
    _row(
        connection,
        "users",
        id=1,
        email="lead@example.org",
        name="Lee",
        role="lead",
        active=True,
        session_version=1,
        **stamps,
    )
    _row(
        connection,
        "organisations",
        id=1,
        slug="active-luton",
        name="Active Luton",
        reporting_status="active",
        name_needs_review=False,
        version=1,
        **stamps,
    )
    _row(connection, "pledges", id=1, organisation_id=1, **stamps)
    for commitment_id in (1, 2):
        _row(
            connection,
            "commitments",
            id=commitment_id,
            pledge_id=1,
            organisation_id=1,
            key=f"k{commitment_id}",
            position=commitment_id,
            original_text="Plant trees",
            current_status="not_started",
            needs_review=False,
            is_heading=False,
            is_truncated=False,
            duplicates_folded=0,
            version=1,
            **stamps,
        )
    _row(
        connection,
        "reporting_periods",
        id=1,
        slug="2024-25-q1",
        year=2024,
        quarter=1,
        starts_on=date(2024, 4, 1),
        ends_on=date(2024, 6, 30),
        opens_on=date(2024, 6, 16),
        due_on=date(2024, 7, 21),
        closes_on=date(2024, 8, 11),
        state="open",
        version=1,
        **stamps,
    )
    _row(
        connection,
        "returns",
        id=1,
        organisation_id=1,
        period_id=1,
        state="draft",
        version=1,
        **stamps,
    )
    update = {
        "return_id": 1,
        "evidence_grade": "evidence_attached",
        "no_change": False,
        "unchanged_quarters": 0,
        "complete": False,
        "version": 3,
        **stamps,
    }
    _row(
        connection,
        "commitment_updates",
        id=1,
        commitment_id=1,
        evidence_file_key="K" * 32,
        evidence_file_name="Site survey.pdf",
        evidence_file_type="application/pdf",
        evidence_file_size=2048,
        updated_by_id=1,
        **update,
    )
    _row(connection, "commitment_updates", id=2, commitment_id=2, **update)  # no file


def test_0008_moves_an_updates_file_into_evidence_files_and_back(
    empty_database_url: str, tmp_path: Path
):
    app = make_test_app(empty_database_url, tmp_path / "instance")
    with app.app_context():
        engine = db.engine
        upgrade(revision="0007")
        with engine.begin() as connection:
            _an_update_with_a_file_at_0007(connection)

        upgrade(revision="0008")
        with engine.connect() as connection:
            files = connection.execute(
                sa.text(
                    "SELECT update_id, key, name, content_type, size, uploaded_by_id,"
                    " uploaded_at FROM evidence_files"
                )
            ).all()
            columns = {c["name"] for c in sa.inspect(connection).get_columns("commitment_updates")}
        assert [tuple(f)[:6] for f in files] == [
            (1, "K" * 32, "Site survey.pdf", "application/pdf", 2048, 1)
        ]
        assert files[0].uploaded_at is not None
        assert not {c for c in columns if c.startswith("evidence_file")}

        # A second file, then back down: the first file returns to the old columns.
        with engine.begin() as connection:
            _row(
                connection,
                "evidence_files",
                update_id=1,
                key="L" * 32,
                name="Later photo.png",
                content_type="image/png",
                size=10,
                uploaded_at=datetime(2024, 7, 11, tzinfo=UTC),
            )
        downgrade(revision="0007")
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT id, evidence_file_key, evidence_file_name, evidence_file_type,"
                    " evidence_file_size FROM commitment_updates ORDER BY id"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            (1, "K" * 32, "Site survey.pdf", "application/pdf", 2048),
            (2, None, None, None, None),
        ]
        engine.dispose()
