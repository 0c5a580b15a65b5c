"""The board's pages, PDF pack, CSV and XLSX, the admin's rebuild and publish, and the command."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import pytest
import sqlalchemy as sa
import time_machine
from click.testing import CliRunner
from openpyxl import load_workbook
from PIL import Image, ImageStat

from tests.factories import make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tests.test_board import AFTER_Q2
from tests.test_board import region as region  # the crafted region fixture
from tracker.board.commands import summary as summary_command
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, ReturnState, Role
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    BoardSummary,
    Commitment,
    CommitmentUpdate,
    Notification,
    Organisation,
    Pledge,
    Return,
)
from tracker.services import board as service

PDFTOPPM = shutil.which("pdftoppm") or "/usr/bin/pdftoppm"


@pytest.fixture
def people(db_session):
    made = {
        "admin": make_user(db_session, Role.ADMIN, name="Ada Admin"),
        "board": make_user(db_session, Role.BOARD, name="Bo Board"),
        "lead": make_user(db_session, Role.LEAD, name="Lee Lead"),
    }
    db_session.commit()
    return made


@pytest.fixture
def built(region, db_session):
    summary = service.build_summary(region["q2"], actor=None, now=AFTER_Q2)
    db_session.commit()
    return summary


def publish(summary):
    service.publish_summary(summary, actor=None, now=AFTER_Q2)
    db.session.flush()


@time_machine.travel(AFTER_Q2, tick=False)
def test_board_members_read_published_summaries_exceptions_first(client, built, people):
    sign_in(client, people["board"])
    # Not published yet: the board member sees nothing, and the quarter's page is not there.
    assert "No summary has been published yet" in get_page(client, "/board").text
    get_page(client, "/board/2024-25-q2", status=404)
    publish(built)

    page = get_page(client, "/board")
    assert page.h1 == "Place Board summary 2024/25 Q2"
    assert page.title.startswith("Place Board summary 2024/25 Q2")
    sections = [h.get_text(strip=True) for h in page.soup.select("main h2.govuk-heading-l")]
    assert sections[:3] == [
        "Needs the board's attention",
        "What changed since last quarter",
        "At a glance",
    ]
    assert "1 off track, 1 at risk and 1 stalled of 7 commitments" in page.text
    assert "Costs rose 20%" in page.text and "Staff short" in page.text
    assert "Gamma Ltd" in page.text and "Budget moved a year" in page.text
    assert "Real Living Wage" in page.text
    # Charts are SVG images named by their title and description, each with a table too.
    charts = page.soup.select("svg[role=img]")
    assert len(charts) == 2
    for chart in charts:
        title_id, desc_id = chart["aria-labelledby"].split()
        assert chart.find(id=title_id) and chart.find(id=desc_id)
    assert "Commitments by status and priority (the chart's figures)" in page.text
    assert not page.soup.select("form[action$='/publish']")
    assert "Rebuild the" not in page.text
    assert get_page(client, "/board/2024-25-q2").h1 == page.h1


@time_machine.travel(AFTER_Q2, tick=False)
def test_the_snapshot_never_changes_with_later_edits(client, built, people, region, db_session):
    publish(built)
    region["a1"].title = "A renamed commitment"
    db_session.flush()
    sign_in(client, people["board"])
    page = get_page(client, "/board/2024-25-q2")
    assert "Pay the Real Living Wage" in page.text and "A renamed commitment" not in page.text


def test_leads_cannot_read_the_board_pages(client, built, people):
    sign_in(client, people["lead"])
    for url in ["/board", "/board/2024-25-q2", "/board/2024-25-q2.pdf", "/board/2024-25-q2.csv"]:
        assert client.get(url).status_code == 403, url
    assert client.post("/board/2024-25-q2/publish").status_code == 403


def test_board_members_cannot_rebuild_or_publish(client, built, people):
    publish(built)
    sign_in(client, people["board"])
    assert client.get("/board/2024-25-q2/rebuild").status_code == 403
    assert client.post("/board/2024-25-q2/rebuild", data={"reason": "x"}).status_code == 403
    assert client.post("/board/2024-25-q2/build").status_code == 403


def test_unknown_periods_are_not_found(client, built, people):
    sign_in(client, people["admin"])
    for url in ["/board/2024-25-q4", "/board/not-a-period", "/board/2099-00-q1.csv"]:
        assert client.get(url).status_code == 404, url


@time_machine.travel(AFTER_Q2, tick=False)
def test_an_admin_builds_rebuilds_with_a_reason_and_publishes(client, region, people, db_session):
    sign_in(client, people["admin"])
    page = get_page(client, "/board")
    assert "No summary has been built yet" in page.text
    page = get_page(client, "/board/2024-25-q2")
    assert "has not been built yet" in page.text
    assert client.post("/board/2024-25-q2/build").status_code == 302
    page = get_page(client, "/board/2024-25-q2")
    assert "Revision 1" in page.text and "Not published" in page.text

    # Bad input gets a GOV.UK error summary naming the field; nothing is built.
    response = client.post("/board/2024-25-q2/rebuild", data={"reason": "   "})
    assert response.status_code == 200
    page = get_page(client, "/board/2024-25-q2/rebuild")
    html = response.get_data(as_text=True)
    assert "govuk-error-summary" in html and "Give the reason for rebuilding the summary" in html
    assert page.h1 == "Rebuild the 2024/25 Q2 summary"
    response = client.post("/board/2024-25-q2/rebuild", data={"reason": "x" * 1001})
    assert "1,000 characters or fewer" in response.get_data(as_text=True)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(BoardSummary)) == 1

    response = client.post(
        "/board/2024-25-q2/rebuild", data={"reason": "Beta's return was accepted"}
    )
    assert response.status_code == 302
    page = get_page(client, "/board/2024-25-q2")
    assert "Revision 2" in page.text and "Beta's return was accepted" in page.text

    response = client.post("/board/2024-25-q2/publish")
    assert response.status_code == 302
    page = get_page(client, "/board/2024-25-q2")
    assert "Published revision 2: 1 board member will be emailed" in page.text
    client.post("/board/2024-25-q2/publish")
    assert "already published" in get_page(client, "/board/2024-25-q2").text
    actions = db_session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.entity_type == "board_summary")
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["built board summary", "rebuilt board summary", "published board summary"]


@time_machine.travel(AFTER_Q2, tick=False)
def test_publishing_past_a_board_member_whose_address_is_not_one(client, built, people, db_session):
    # QA round 2, #2: the publish button answered 500 for everyone.
    make_user(db_session, Role.BOARD, name="Dee Typo", email="not-an-email")
    db_session.commit()
    sign_in(client, people["admin"])
    response = client.post("/board/2024-25-q2/publish")
    assert response.status_code == 302
    page = get_page(client, "/board/2024-25-q2")
    banners = [b.get_text(" ", strip=True) for b in page.soup.select(".govuk-notification-banner")]
    assert banners == [
        "Success Published revision 1: 1 board member will be emailed",
        "Important Not emailed, because the email address on their account is not valid: "
        "Dee Typo (not-an-email). Deactivate the account and invite them again with the "
        "right address.",
    ]
    db_session.refresh(built)
    assert built.published_at is not None
    emailed = db_session.scalars(sa.select(Notification.recipient_email)).all()
    assert emailed == [people["board"].email]


def test_the_board_pack_is_a_pdf_whose_pages_are_not_blank(client, built, people, tmp_path):
    sign_in(client, people["admin"])
    response = client.get("/board/2024-25-q2.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "board-pack-2024-25-q2.pdf" in response.headers["Content-Disposition"]
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(response.data)
    subprocess.run(
        [PDFTOPPM, "-png", "-r", "40", str(pdf), str(tmp_path / "page")], check=True, timeout=60
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3  # a cover with contents, then a page per section
    for png in pages:
        with Image.open(png) as image:
            grey = image.convert("L")
            # Something is printed: not all white, and more than a stray mark.
            assert ImageStat.Stat(grey).extrema[0][0] < 128, png.name
            assert sum(grey.histogram()[:200]) > 200, png.name


def test_csv_and_xlsx_hold_the_same_figures_safely(client, built, people, region, db_session):
    # A narrative a spreadsheet would run as a formula, frozen into a rebuilt summary.
    db_session.execute(
        sa.update(CommitmentUpdate)
        .where(CommitmentUpdate.narrative == "Costs rose 20%")
        .values(narrative='=HYPERLINK("http://evil")')
    )
    service.build_summary(region["q2"], actor=None, reason="test", now=AFTER_Q2)
    sign_in(client, people["admin"])
    response = client.get("/board/2024-25-q2.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "Quarter",
        "Section",
        "Item",
        "Organisation",
        "Priority",
        "Status",
        "Count",
        "Detail",
    ]
    off_track = [r for r in rows if r[1] == "Off track"]
    assert off_track == [
        [
            "2024/25 Q2",
            "Off track",
            "Pay the Real Living Wage",
            "Alpha Trust",
            "Inclusive economy",
            "Off track",
            "",
            '\'=HYPERLINK("http://evil")',
        ]
    ]
    assert ["2024/25 Q2", "Returns", "Missing", "", "", "", "1", ""] in rows
    assert ["2024/25 Q2", "Headline", "Commitments", "", "", "", "7", ""] in rows

    response = client.get("/board/2024-25-q2.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data))
    assert {"Off track", "Headline", "Grid", "Trend", "Theme"} <= set(workbook.sheetnames)
    cell = workbook["Off track"]["H2"]
    assert cell.value == '\'=HYPERLINK("http://evil")' and cell.data_type == "s"


def count_statements(action) -> int:  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    db.session.expunge_all()
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


def bulk_region(session, organisations: int, first_id: int, period, priorities) -> None:  # type: ignore[no-untyped-def]
    """Organisations with three commitments each and an accepted return, in a few INSERTs."""
    now = AFTER_Q2
    ids = range(first_id, first_id + organisations)
    session.execute(
        sa.insert(Organisation),
        [{"id": i, "name": f"Org {i}", "slug": f"org-{i}", "version": 1} for i in ids],
    )
    session.execute(sa.insert(Pledge), [{"id": i, "organisation_id": i} for i in ids])
    statuses = [DeliveryStatus.ON_TRACK, DeliveryStatus.OFF_TRACK, DeliveryStatus.COMPLETED]
    commitments = [
        {
            "id": i * 3 + n,
            "pledge_id": i,
            "organisation_id": i,
            "key": f"k{n}",
            "original_text": f"Commitment {n} of {i}",
            "title": f"Commitment {n} of {i}",
            "primary_priority_id": priorities[n].id,
            "version": 1,
        }
        for i in ids
        for n in range(3)
    ]
    session.execute(sa.insert(Commitment), commitments)
    session.execute(
        sa.insert(Return),
        [
            {
                "id": i,
                "organisation_id": i,
                "period_id": period.id,
                "state": ReturnState.ACCEPTED,
                "submitted_at": now,
                "version": 1,
            }
            for i in ids
        ],
    )
    session.execute(
        sa.insert(CommitmentUpdate),
        [
            {
                "return_id": c["organisation_id"],
                "commitment_id": c["id"],
                "period_ordinal": period.year * 4 + period.quarter,
                "status": statuses[c["id"] % 3],
                "narrative": "Explained",
                "complete": True,
                "version": 1,
            }
            for c in commitments
        ],
    )
    session.flush()


@time_machine.travel(AFTER_Q2, tick=False)
def test_statement_counts_are_the_same_for_10_and_500_organisations(client, db_session, people):
    from tests.factories import make_period, make_place

    place = make_place(db_session)
    period = make_period(db_session, Quarter(2024, 2))
    sign_in(client, people["admin"])

    def measure(organisations: int, reason: str | None) -> tuple[int, int]:
        def build() -> None:
            found = db.session.get(type(period), period.id)
            service.build_summary(found, actor=None, reason=reason, now=AFTER_Q2)
            db.session.commit()

        building = count_statements(build)
        summary = db_session.scalar(
            sa.select(BoardSummary).order_by(BoardSummary.revision.desc()).limit(1)
        )
        assert summary.data["headline"]["commitments"] == 3 * organisations
        get_page(client, "/board/2024-25-q2")  # warm up whatever the first request does once
        reading = count_statements(lambda: get_page(client, "/board/2024-25-q2"))
        return building, reading

    bulk_region(db_session, 10, 1_000_000, period, place.priorities)
    few = measure(10, None)
    bulk_region(db_session, 490, 1_000_010, period, place.priorities)
    many = measure(500, "Another 490 organisations")
    assert few == many
    building, reading = many
    assert building <= 25 and reading <= 8
    # Readable in two minutes: the page cuts the grid of 500; the downloads have them all.
    page = get_page(client, "/board/2024-25-q2")
    grid = page.soup.find(id="grid").find_next("table")
    assert len(grid.tbody.find_all("tr")) == 50
    assert "Showing the first 50 of 500 organisations" in page.text
    off_track = page.soup.find(id="off-track")
    assert off_track.text.strip() == "Off track (500)"
    assert len(off_track.find_next("table").tbody.find_all("tr")) == 50
    assert "Showing the first 50 of 500 commitments" in page.text


def read_board_page(client, url: str = "/board/2024-25-q2"):  # type: ignore[no-untyped-def]
    """The page as a fresh request reads it (nothing in the session), and its statements."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    db.session.expunge_all()
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        page = get_page(client, url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return page, statements


@time_machine.travel(AFTER_Q2, tick=False)
def test_the_page_reads_its_stored_part_not_the_whole_document(client, db_session, people):
    from tests.factories import make_period, make_place

    place = make_place(db_session)
    period = make_period(db_session, Quarter(2024, 2))
    bulk_region(db_session, 60, 1_000_000, period, place.priorities)
    service.build_summary(period, actor=None, now=AFTER_Q2)
    db_session.commit()
    sign_in(client, people["admin"])
    page, statements = read_board_page(client)

    assert not [s for s in statements if "board_summaries.data" in s]
    assert "Showing the first 50 of 60 organisations" in page.text
    assert page.soup.find(id="off-track").text.strip() == "Off track (60)"
    # The downloads still have every one.
    csv = client.get("/board/2024-25-q2.csv").text
    assert csv.count("Org 1000059") >= 1


@time_machine.travel(AFTER_Q2, tick=False)
def test_a_summary_is_rendered_once_and_each_build_shows_its_own_figures(
    client, db_session, people
):
    """The page keeps a summary's rendering; a rebuild, or a build rolled back and made again
    with other figures (SQLite gives it the same id), is never shown from another's."""
    from tests.factories import make_period, make_place

    place = make_place(db_session)
    period = make_period(db_session, Quarter(2024, 2))
    sign_in(client, people["admin"])

    def read() -> tuple[str, list[str]]:
        page, statements = read_board_page(client)
        return page.soup.find(id="off-track").text.strip(), statements

    # A build that is rolled back, and another in its place with more organisations.
    rolled_back = db_session.begin_nested()
    bulk_region(db_session, 4, 1_000_000, period, place.priorities)
    first = service.build_summary(period, actor=None, now=AFTER_Q2)
    db_session.flush()
    assert read()[0] == "Off track (4)"
    first_id = first.id
    rolled_back.rollback()
    db_session.expire_all()
    bulk_region(db_session, 6, 2_000_000, period, place.priorities)
    again = service.build_summary(period, actor=None, now=AFTER_Q2)
    db_session.commit()
    if db_session.bind.dialect.name == "sqlite":
        assert again.id == first_id  # the case a cache keyed by id alone would get wrong
    off_track, statements = read()
    assert off_track == "Off track (6)"
    # Read again: the worker's rendering, without the stored page part.
    off_track, statements = read()
    assert off_track == "Off track (6)"
    assert not [s for s in statements if "board_summaries.page" in s]

    # A rebuild is a new revision: its own figures at once.
    bulk_region(db_session, 3, 3_000_000, period, place.priorities)
    service.build_summary(period, actor=None, reason="Three joined", now=AFTER_Q2)
    db_session.commit()
    assert read()[0] == "Off track (9)"


def test_the_command_builds_publishes_and_writes_the_pack(app, built, db_session, tmp_path):
    runner = CliRunner()
    result = runner.invoke(summary_command, ["build", "--period", "2024-25-q2"])
    assert result.exit_code == 1 and "give the reason" in result.output
    pdf = tmp_path / "pack.pdf"
    result = runner.invoke(
        summary_command,
        ["build", "--period", "2024-25-q2", "--reason", "scripted", "--pdf", str(pdf)],
    )
    assert result.exit_code == 0, result.output
    assert "Built revision 2 of the 2024/25 Q2 summary" in result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    result = runner.invoke(summary_command, ["build", "--period", "2030-31-q9"])
    assert result.exit_code == 1 and "no reporting period" in result.output

    make_user(db_session, Role.BOARD)
    with time_machine.travel(AFTER_Q2, tick=False):
        result = runner.invoke(summary_command, ["publish", "--period", "2024-25-q2"])
    assert result.exit_code == 0, result.output
    assert "Published revision 2 of 2024/25 Q2: 1 email(s) queued." in result.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 1
