"""The Place Board summary in a real browser: an admin publishes, a board member reads and
downloads the pack; axe checks every page."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.browser.conftest import pass_second_factor
from tests.factories import (
    PASSWORD,
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_user,
)
from tracker.domain.calendar import period_for
from tracker.domain.enums import DeliveryStatus, ReturnState, Role
from tracker.extensions import db
from tracker.models import CommitmentUpdate
from tracker.services.board import build_summary

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def board_quarter(browser_app):
    now = datetime.now(UTC)
    with browser_app.app_context():
        place = make_place(db.session)
        quarter = period_for(now.date()).previous().previous()  # its window has closed
        period = make_period(db.session, quarter)
        org = make_organisation(db.session, name="Harbour Foods", slug="harbour-foods")
        homes = make_commitment(
            db.session,
            org,
            title="Pay the Real Living Wage",
            target_value=Decimal(100),
            primary_priority_id=place.priorities[0].id,
        )
        trees = make_commitment(
            db.session, org, title="Plant 500 trees", primary_priority_id=place.priorities[3].id
        )
        return_ = make_return(
            db.session,
            org,
            period,
            state=ReturnState.ACCEPTED,
            submitted_at=datetime.combine(period.due_on, datetime.min.time(), UTC),
        )
        for commitment, status, narrative in [
            (homes, DeliveryStatus.OFF_TRACK, "Margins fell; the board meets in March."),
            (trees, DeliveryStatus.ON_TRACK, None),
        ]:
            db.session.add(
                CommitmentUpdate(
                    return_id=return_.id,
                    commitment_id=commitment.id,
                    status=status,
                    narrative=narrative,
                    complete=True,
                )
            )
        db.session.flush()
        build_summary(period, actor=None, now=now)
        admin = make_user(db.session, Role.ADMIN, email="board.admin@example.org")
        member = make_user(db.session, Role.BOARD, email="board.member@example.org")
        db.session.commit()
        return {
            "period": period.slug,
            "label": period.label,
            "admin": admin.email,
            "member": member.email,
        }


def sign_in(page, live_server, email):
    page.goto(live_server + "/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    pass_second_factor(page)
    page.get_by_role("button", name="Sign out").first.wait_for()


def test_an_admin_publishes_and_a_board_member_reads_and_downloads(
    live_server, page, check_accessibility, board_quarter
):
    slug, label = board_quarter["period"], board_quarter["label"]
    sign_in(page, live_server, board_quarter["admin"])
    page.goto(f"{live_server}/board/{slug}")
    check_accessibility(page, "board-summary-admin")

    page.get_by_role("link", name=f"Rebuild the {label} summary").click()
    page.get_by_role("button", name="Rebuild the summary").click()
    page.get_by_text("There is a problem").wait_for()  # is_visible() would not wait
    assert page.title().startswith("Error:")
    check_accessibility(page, "board-rebuild-errors")

    page.goto(f"{live_server}/board/{slug}")
    page.get_by_role("button", name="Publish revision 1 and email the board").click()
    page.get_by_text("Published revision 1").wait_for()
    check_accessibility(page, "board-summary-published")
    page.get_by_role("button", name="Sign out").first.click()
    page.get_by_role("heading", name="Sign in").wait_for()

    sign_in(page, live_server, board_quarter["member"])
    page.goto(f"{live_server}/board")
    assert label in page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("heading", name="Needs the board's attention").wait_for()
    assert page.get_by_text("Margins fell; the board meets in March.").count() >= 1
    assert page.locator("svg[role=img]").count() == 2
    check_accessibility(page, "board-summary")

    with page.expect_download() as pdf:
        page.get_by_role("link", name="Download the board pack (PDF)").click()
    with open(pdf.value.path(), "rb") as file:
        assert file.read(5) == b"%PDF-"
    with page.expect_download() as figures:
        page.get_by_role("link", name="Download the figures (CSV)").click()
    with open(figures.value.path(), encoding="utf-8") as file:
        text = file.read()
    assert text.startswith("Quarter,Section,Item") and "Pay the Real Living Wage" in text
