"""An admin chases an overdue organisation and reads the jobs page, in a real browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.browser.test_returns_browser import sign_in
from tests.factories import make_commitment, make_organisation, make_period, make_user
from tracker.domain.calendar import period_for
from tracker.domain.enums import Role
from tracker.extensions import db

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def overdue(browser_app):
    today = datetime.now(UTC).date()
    with browser_app.app_context():
        org = make_organisation(db.session, name="Tardy Trust", slug="tardy-trust")
        make_commitment(db.session, org, title="Open a community fridge")
        make_user(db.session, Role.LEAD, organisations=[org], email="tardy.lead@example.org")
        # A quarter no other module uses (six back), still open and five days overdue.
        quarter = period_for(today)
        for _ in range(6):
            quarter = quarter.previous()
        period = make_period(
            db.session,
            quarter,
            opens_on=today - timedelta(days=30),
            due_on=today - timedelta(days=5),
            closes_on=today + timedelta(days=20),
        )
        admin = make_user(db.session, Role.ADMIN, email="chasing.admin@example.org")
        db.session.commit()
        return {"period": period.slug, "admin": admin.email}


def test_an_admin_chases_an_overdue_organisation(live_server, page, check_accessibility, overdue):
    sign_in(page, live_server, overdue["admin"])
    page.goto(live_server + f"/admin/chase/{overdue['period']}/tardy-trust")
    assert page.get_by_role("heading", level=1).inner_text() == "Chase Tardy Trust"
    check_accessibility(page, "admin-chase")

    page.get_by_label("Add a note to the email (optional)").fill("x" * 1001)
    page.get_by_role("button", name="Send the reminder now").click()
    page.locator(".govuk-error-summary").wait_for()
    check_accessibility(page, "admin-chase-errors")

    page.get_by_label("Add a note to the email (optional)").fill("The board meets on Friday.")
    page.get_by_role("button", name="Send the reminder now").click()
    page.get_by_text("Chased Tardy Trust: 1 email on the way").wait_for()
    check_accessibility(page, "admin-overview-chased")

    page.goto(live_server + f"/admin/chase/{overdue['period']}")
    check_accessibility(page, "admin-chase-all")
    page.goto(live_server + "/admin/organisations/tardy-trust")
    page.get_by_text("The board meets on Friday.").wait_for()
    check_accessibility(page, "admin-organisation-chased")
    page.goto(live_server + "/admin/jobs")
    check_accessibility(page, "admin-jobs")
