"""The lead's quarter and the admin's review in a real browser, every page checked by axe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.browser.conftest import pass_second_factor
from tests.factories import (
    PASSWORD,
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_user,
)
from tracker.domain.calendar import period_for
from tracker.domain.enums import Role
from tracker.extensions import db

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def quarter(browser_app):
    today = datetime.now(UTC).date()
    with browser_app.app_context():
        place = make_place(db.session)
        org = make_organisation(db.session, name="Journey Trust", slug="journey-trust")
        make_commitment(
            db.session,
            org,
            title="Build 400 homes",
            target_value=Decimal(400),
            unit="homes",
            primary_priority_id=place.priorities[0].id,
        )
        make_commitment(
            db.session, org, title="Plant 500 trees", primary_priority_id=place.priorities[3].id
        )
        quarter = period_for(today).previous()
        period = make_period(
            db.session,
            quarter,
            opens_on=today - timedelta(days=5),
            due_on=today + timedelta(days=10),
            closes_on=today + timedelta(days=30),
        )
        lead = make_user(
            db.session, Role.LEAD, organisations=[org], email="journey.lead@example.org"
        )
        admin = make_user(db.session, Role.ADMIN, email="journey.admin@example.org")
        db.session.commit()
        return {
            "period": period.slug,
            "label": period.label,
            "lead": lead.email,
            "admin": admin.email,
        }


def sign_in(page, live_server, email):
    page.goto(live_server + "/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    pass_second_factor(page)


def test_the_leads_quarter_then_the_admins_review(live_server, page, check_accessibility, quarter):
    sign_in(page, live_server, quarter["lead"])
    assert page.url.endswith("/returns")
    check_accessibility(page, "returns-mine")
    page.get_by_role("link", name=f"Journey Trust — {quarter['label']}").click()
    check_accessibility(page, "return-task-list")

    page.get_by_role("link", name="Build 400 homes").click()
    page.get_by_label("Off track").check()
    page.get_by_role("button", name="Save and continue").click()
    assert page.title().startswith("Error:")
    check_accessibility(page, "return-update-errors")
    page.get_by_label("Progress so far").fill("120")
    page.get_by_label("Progress update").fill("Two sites are delayed by planning.")
    page.get_by_role("button", name="Save and continue").click()

    # Straight on to the next commitment still to do.
    assert page.get_by_role("heading", level=1).inner_text() == "Plant 500 trees"
    check_accessibility(page, "return-update")
    page.get_by_label("On track").check()
    page.get_by_role("button", name="Save and continue").click()

    assert "Check your answers" in page.get_by_role("heading", level=1).inner_text()
    check_accessibility(page, "return-check")
    page.get_by_role("button", name="Submit the").click()
    page.get_by_role("heading", name="Return submitted").wait_for()  # is_visible() would not wait
    check_accessibility(page, "return-submitted")
    page.get_by_role("button", name="Sign out").first.click()

    sign_in(page, live_server, quarter["admin"])
    page.goto(live_server + f"/admin/returns/{quarter['period']}")
    check_accessibility(page, "admin-review-queue")
    page.get_by_role("link", name="Review Journey Trust").click()
    check_accessibility(page, "admin-review-return")
    page.get_by_role("button", name="Accept").click()
    page.get_by_text("Accepted Journey Trust").wait_for()  # is_visible() would not wait
    for path, name in [("/admin/periods", "admin-periods"), ("/admin", "admin-overview-period")]:
        page.goto(live_server + path)
        check_accessibility(page, name)
    page.goto(live_server + f"/admin/periods/{quarter['period']}")
    check_accessibility(page, "admin-period-dates")
