"""The open-data downloads served from files the scheduler builds, with an ETag (issue 17).

A file is served only while its ETag — a digest of what is published now — is current; else the
live build is streamed, so a change is public at once and the job catches the file up.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from jobs import tasks
from tests.factories import (
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_update,
    make_user,
)
from tests.support.commands import run_tracker
from tests.support.databases import migrate_to_head, seconds_another_writer_waits
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, JobOutcome, ReturnState, Role
from tracker.extensions import db
from tracker.models import JobRun, Place, Return, User
from tracker.services import open_data_files
from tracker.services.job_runs import run_job
from tracker.services.open_data import iter_csv, iter_json
from tracker.services.returns import accept

URLS = ("/open-data.json", "/open-data.csv")
NOW = datetime(2024, 8, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def files(app, monkeypatch, tmp_path) -> Path:
    """A folder of the test's own: no file leaks between tests sharing the app."""
    monkeypatch.setitem(app.config, "OPEN_DATA_DIR", str(tmp_path / "open-data"))
    return tmp_path / "open-data"


@pytest.fixture
def world(db_session):
    place = make_place(db_session)
    org = make_organisation(db_session, name="Hearth Housing", slug="hearth")
    homes = make_commitment(
        db_session,
        org,
        title="Build 400 homes",
        target_value=Decimal(400),
        unit="homes",
        primary_priority_id=place.priorities[0].id,
    )
    trees = make_commitment(db_session, org, title="Plant trees")
    period = make_period(db_session, Quarter(2024, 1))
    first = make_return(
        db_session, org, period, state=ReturnState.ACCEPTED, submitted_at=NOW, reviewed_at=NOW
    )
    make_update(db_session, first, homes, narrative="Forty homes so far", progress_value=40)
    later = make_period(db_session, Quarter(2024, 2))
    waiting = make_return(db_session, org, later, state=ReturnState.SUBMITTED, submitted_at=NOW)
    make_update(
        db_session, waiting, homes, status=DeliveryStatus.AT_RISK, narrative="Fresh words 7781"
    )
    admin = make_user(db_session, Role.ADMIN)
    return {
        "waiting_id": waiting.id,
        "admin_id": admin.id,
        "org": org,
        "homes": homes,
        "trees": trees,
        "waiting": waiting,
        "admin": admin,
    }


def statements_during(client, url: str, **headers: str):  # type: ignore[no-untyped-def]
    """The response (read to the end) and every SQL statement the request issued."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    db.session.expunge_all()
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(url, headers=headers)
        body = response.get_data()
        response.close()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return response, body, seen


def reads_updates(statements: list[str]) -> bool:
    """Whether any statement read the accepted updates themselves (the live build does)."""
    return any("commitment_updates.narrative" in s for s in statements)


def without_generated_at(body: bytes) -> object:
    """The JSON parsed without the second it was made (two live builds may straddle one)."""
    if not body.startswith(b"{"):
        return body
    document = json.loads(body)
    document.pop("generated_at")
    return document


def etags(client) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return tuple(client.head(url).headers["ETag"] for url in URLS)  # type: ignore[return-value]


# ETag and conditional requests -----------------------------------------------------------------


def test_both_downloads_answer_a_conditional_request_with_304(client, db_session, world, files):
    for url in URLS:
        first = client.get(url)
        assert first.status_code == 200
        assert first.headers["ETag"].startswith('"') and first.last_modified is not None
        assert first.headers["Cache-Control"] == "public, no-cache"
        again, body, statements = statements_during(
            client, url, **{"If-None-Match": first.headers["ETag"]}
        )
        assert again.status_code == 304 and body == b""
        assert not reads_updates(statements)  # nothing was built to answer it
        since = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
        assert since.status_code == 304
        other = client.get(url, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200
        assert without_generated_at(other.get_data()) == without_generated_at(first.get_data())
    json_tag, csv_tag = etags(client)
    assert json_tag != csv_tag


def test_the_etag_changes_with_everything_published(client, db_session, world, files):
    seen = [etags(client)]
    assert etags(client) == seen[0]  # and stays put while nothing changes

    waiting = world["waiting"]
    accept(waiting, version=waiting.version, actor=world["admin"], now=datetime.now(UTC))
    db_session.flush()
    seen.append(etags(client))

    world["org"].name = "Hearth Homes"
    db_session.flush()
    seen.append(etags(client))

    world["trees"].removed_from_page_at = datetime.now(UTC)  # retired from its pledge
    db_session.flush()
    seen.append(etags(client))

    world["homes"].target_value = Decimal(500)
    db_session.flush()
    seen.append(etags(client))

    world["org"].pledges[0].statement = "We will house the town"
    db_session.flush()
    seen.append(etags(client))

    assert len(set(seen)) == len(seen), seen


def test_a_priority_renamed_changes_the_etag(client, db_session, world, files):
    """Priorities carry no timestamp: the ETag reads them whole (a handful of rows)."""
    before = etags(client)
    place = db_session.scalars(sa.select(Place)).one()
    place.priorities[0].name = "A town for everyone"
    db_session.flush()
    assert etags(client) != before


# The cached file ------------------------------------------------------------------------------


def test_a_fresh_file_is_served_without_reading_any_update(client, db_session, world, files):
    live = {url: client.get(url).get_data() for url in URLS}
    outcome = run_job("open-data", tasks.refresh_open_data, started_by="scheduler")
    assert outcome.outcome == JobOutcome.SUCCEEDED
    assert outcome.summary.startswith("rebuilt open-data.json and open-data.csv in ")
    assert sorted(p.name.split("-")[0] + p.suffix for p in files.iterdir()) == [
        "open.csv",
        "open.json",
    ]
    for url in URLS:
        response, body, statements = statements_during(client, url)
        assert response.status_code == 200
        # send_file: from disk, with its length known and ranges honoured.
        assert response.headers["Accept-Ranges"] == "bytes"
        assert int(response.headers["Content-Length"]) == len(body)
        assert not reads_updates(statements), statements
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        if url.endswith(".json"):
            document, expected = json.loads(body), json.loads(live[url])
            document.pop("generated_at"), expected.pop("generated_at")
            assert document == expected
            assert response.mimetype == "application/json"
        else:
            assert body == live[url]
            assert response.mimetype == "text/csv"
            assert 'filename="open-data.csv"' in response.headers["Content-Disposition"]
        # The file answers conditional requests, with the same ETag as the live build.
        again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304
        again.close()

    # Run again with nothing changed: nothing is built, and the run says so in the idle words.
    idle = run_job("open-data", tasks.refresh_open_data, started_by="scheduler")
    assert idle.summary == open_data_files.UP_TO_DATE


def test_the_file_equals_the_live_build(db_session, world, files):
    at = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    json_path, _ = open_data_files.build(open_data_files.FORMATS["json"], now=at)
    csv_path, _ = open_data_files.build(open_data_files.FORMATS["csv"], now=at)
    assert json_path.read_text(encoding="utf-8") == "".join(iter_json(at))
    assert csv_path.read_bytes() == "".join(iter_csv()).encode()
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert {r["latest_update_narrative"] for r in rows} == {"Forty homes so far", ""}
    assert not list(files.glob(".*.tmp"))  # the temporary files were renamed into place


def test_a_stale_file_is_bypassed_and_the_job_rebuilds_it(client, db_session, world, files):
    run_job("open-data", tasks.refresh_open_data, started_by="scheduler")
    [old_json] = files.glob("open-data-*.json")
    before, body, _ = statements_during(client, "/open-data.json")
    assert before.headers["Accept-Ranges"] == "bytes" and b"Fresh words 7781" not in body

    # Counting statements emptied the session: read the return and its reviewer again.
    waiting, admin = (
        db_session.get(Return, world["waiting_id"]),
        db_session.get(User, world["admin_id"]),
    )
    accept(waiting, version=waiting.version, actor=admin, now=datetime.now(UTC))
    db_session.flush()
    # Before the job runs: the live build, with the new narrative.
    for url in URLS:
        response, body, statements = statements_during(client, url)
        assert response.status_code == 200
        assert "Accept-Ranges" not in response.headers  # streamed as it is built
        assert reads_updates(statements)
        assert b"Fresh words 7781" in body

    outcome = run_job("open-data", tasks.refresh_open_data, started_by="scheduler")
    assert outcome.summary.startswith("rebuilt open-data.json and open-data.csv")
    assert not old_json.exists()  # the stale file is gone; only the current one is kept
    assert len(list(files.glob("open-data-*.json"))) == 1
    for url in URLS:
        response, body, statements = statements_during(client, url)
        assert response.headers["Accept-Ranges"] == "bytes" and not reads_updates(statements)
        assert b"Fresh words 7781" in body
    run = db_session.scalars(sa.select(JobRun).order_by(JobRun.id.desc())).first()
    assert run.job == "open-data" and run.outcome == JobOutcome.SUCCEEDED


def test_a_build_that_fails_leaves_the_last_file_and_no_half_file(
    db_session, world, files, monkeypatch
):
    form = open_data_files.FORMATS["csv"]
    good, _ = open_data_files.build(form)
    world["org"].name = "Renamed"
    db_session.flush()

    def broken(_at):  # type: ignore[no-untyped-def]
        yield "organisation,organisation_slug\n"
        raise RuntimeError("database went away")

    monkeypatch.setitem(
        open_data_files.FORMATS,
        "csv",
        open_data_files.Format("csv", form.filename, form.mimetype, broken),
    )
    with pytest.raises(RuntimeError):
        open_data_files.build(open_data_files.FORMATS["csv"])
    assert [p.name for p in files.iterdir()] == [good.name]
    version = open_data_files.current_version()
    assert open_data_files.cached_file(form, version) is None  # stale, so never served


def test_unpublished_open_data_is_not_built(client, db_session, world, files):
    db_session.scalars(sa.select(Place)).one().publish_publicly = False
    db_session.flush()
    outcome = run_job("open-data", tasks.refresh_open_data, started_by="scheduler")
    assert outcome.summary == open_data_files.NOT_PUBLISHED
    assert not files.exists()
    assert client.get("/open-data.json").status_code == 404


# The command ----------------------------------------------------------------------------------


def test_the_command_builds_the_files_and_says_so_on_stderr(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    instance = tmp_path / "instance"
    assert run_tracker("db", "upgrade", instance=instance, DATABASE_URL=url).returncode == 0
    result = run_tracker("open-data", "build", instance=instance, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "open-data.json: building" in result.stderr
    assert "Rebuilt open-data.json and open-data.csv" in result.stderr
    assert len(list((instance / "open-data").glob("open-data-*.json"))) == 1
    again = run_tracker("open-data", "build", instance=instance, DATABASE_URL=url)
    assert again.returncode == 0 and "Open data up to date" in again.stderr


def test_the_command_fails_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"  # never migrated: no tables
    result = run_tracker("open-data", "build", instance=tmp_path / "instance", DATABASE_URL=url)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tracker: open data not built: OperationalError: no such table")


def test_idle_runs_are_pruned_like_the_mail_jobs(db_session):
    from tracker.services.job_runs import prune

    day = datetime(2024, 8, 10, tzinfo=UTC)
    for days, summary in ((3, open_data_files.UP_TO_DATE), (3, "rebuilt open-data.json in 1 s")):
        db_session.add(
            JobRun(
                job="open-data",
                run_for=(day - timedelta(days=days)).date(),
                started_by="scheduler",
                host="test",
                started_at=day - timedelta(days=days),
                finished_at=day - timedelta(days=days),
                outcome=JobOutcome.SUCCEEDED,
                summary=summary,
            )
        )
    db_session.flush()
    assert prune(day.date()) == 1
    assert [r.summary for r in db_session.scalars(sa.select(JobRun))] == [
        "rebuilt open-data.json in 1 s"
    ]


def test_the_field_guide_says_how_fresh_the_files_are_and_what_the_etag_gives(client, db_session):
    from tests.support.pages import get_page

    make_place(db_session)
    page = get_page(client, "/open-data")
    text = " ".join(page.soup.get_text().split())
    assert "rebuilt within a few minutes of any change" in text
    assert "never out of date" in text
    for header in ["ETag", "If-None-Match", "304 Not Modified"]:
        assert page.soup.find("code", string=header) is not None, header


def test_two_builders_at_once_leave_one_whole_file(db_session, world, files, monkeypatch):
    """The second builder finishes while the first is half way: each renames a whole file."""
    form = open_data_files.FORMATS["csv"]
    version = open_data_files.current_version()

    def slow(_at):  # type: ignore[no-untyped-def]
        chunks = iter_csv()
        yield next(chunks)  # the header is written to the first builder's temporary file…
        assert len(list(files.glob(".open-data.csv.*.tmp"))) == 1
        monkeypatch.setitem(open_data_files.FORMATS, "csv", form)
        open_data_files.build(form, version)  # …when another builder writes the whole file
        yield from chunks

    monkeypatch.setitem(
        open_data_files.FORMATS,
        "csv",
        open_data_files.Format("csv", form.filename, form.mimetype, slow),
    )
    path, _ = open_data_files.build(open_data_files.FORMATS["csv"], version)
    assert [p.name for p in files.iterdir()] == [path.name]  # no temporary file left
    assert path.read_bytes() == "".join(iter_csv()).encode()
    assert open_data_files.cached_file(form, version) == path


def test_the_jobs_page_lists_rebuilds_but_not_idle_checks(client, db_session, world, files):
    from tests.support.auth import sign_in
    from tests.support.pages import get_page

    run_job("open-data", tasks.refresh_open_data, started_by="scheduler")
    for _ in range(35):
        run_job("open-data", tasks.refresh_open_data, started_by="scheduler")
    sign_in(client, world["admin"])
    page = get_page(client, "/admin/jobs")
    recent = page.soup.find("h2", string="Recent runs").find_next("tbody").text
    assert "rebuilt open-data.json and open-data.csv" in recent
    assert open_data_files.UP_TO_DATE not in recent


def test_a_build_removes_older_files_but_not_one_written_while_it_ran(
    db_session, world, files, monkeypatch
):
    """A builder that began later may hold newer data: not the slower one's to remove."""
    form = open_data_files.FORMATS["csv"]
    files.mkdir()
    older = files / "open-data-older.csv"
    older.write_text("stale")
    newer = files / "open-data-newer.csv"

    def slow(_at):  # type: ignore[no-untyped-def]
        newer.write_text("written by a builder that began after this one")
        yield from iter_csv()

    monkeypatch.setitem(
        open_data_files.FORMATS,
        "csv",
        open_data_files.Format("csv", form.filename, form.mimetype, slow),
    )
    os.utime(older, (1, 1))  # written long before
    path, _ = open_data_files.build(open_data_files.FORMATS["csv"])
    assert not older.exists()
    assert newer.exists() and path.exists()


@pytest.fixture
def sqlite_file_app(tmp_path):  # type: ignore[no-untyped-def]
    """A file SQLite database (WAL, as deployed), with published data and nothing else."""
    from tests.conftest import make_test_app

    app = make_test_app(
        f"sqlite:///{tmp_path / 'tracker.db'}",
        tmp_path,
        OPEN_DATA_DIR=str(tmp_path / "open-data"),
    )
    migrate_to_head(app)
    with app.app_context():
        make_place(db.session)
        make_commitment(db.session, make_organisation(db.session, slug="hearth"))
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_on_sqlite_a_long_open_data_build_never_holds_up_writers(sqlite_file_app, monkeypatch):
    """Every other SQLite transaction takes the write lock at BEGIN; the build only reads."""
    waited: list[float] = []
    real_fsync = os.fsync

    def write_while_building(fd: int) -> None:  # the whole file is written, not yet in place
        waited.append(seconds_another_writer_waits(sqlite_file_app))
        real_fsync(fd)

    monkeypatch.setattr(open_data_files.os, "fsync", write_while_building)
    with sqlite_file_app.app_context():
        built, _ = open_data_files.refresh()
        assert built == ["open-data.json", "open-data.csv"]
    assert len(waited) == 2 and max(waited) < 5


def test_on_sqlite_a_streamed_live_build_never_holds_up_writers(sqlite_file_app):
    client = sqlite_file_app.test_client()
    response = client.get("/open-data.json", buffered=False)  # no file yet: the live build
    assert response.status_code == 200
    chunks = iter(response.response)
    first = next(chunks)  # half way: the request's transaction is open
    assert seconds_another_writer_waits(sqlite_file_app) < 5
    body = first + b"".join(chunks)
    response.close()
    assert json.loads(body)["organisations"][0]["slug"] == "hearth"
