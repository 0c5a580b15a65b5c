"""The lead's quarter and the admin's review in a real browser, every page checked by axe."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

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


def resubmit(browser_app, quarter) -> None:  # type: ignore[no-untyped-def]
    """Another admin sends Journey Trust's return back; its lead submits it again, unchanged."""
    from tracker.models import Organisation, User
    from tracker.services import returns as service
    from tracker.services.periods import period_by_slug

    with browser_app.app_context(), browser_app.test_request_context():
        org = db.session.query(Organisation).filter_by(slug="journey-trust").one()
        period = period_by_slug(quarter["period"])
        lead = db.session.query(User).filter_by(email=quarter["lead"]).one()
        admin = db.session.query(User).filter_by(email=quarter["admin"]).one()
        return_ = service.find_return(org, period)
        now = datetime.now(UTC)
        assert service.send_back(
            return_, "Which sites?", version=return_.version, actor=admin, now=now
        )
        assert service.submit(org, period, actor=lead, now=now + timedelta(minutes=1)).submitted
        db.session.commit()
        db.session.remove()


def sign_in(page, live_server, email):
    page.goto(live_server + "/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    pass_second_factor(page)


def test_the_leads_quarter_then_the_admins_review(
    live_server, page, check_accessibility, quarter, browser_app
):
    sign_in(page, live_server, quarter["lead"])
    assert page.url.endswith("/returns")
    check_accessibility(page, "returns-mine")
    page.get_by_role("link", name=f"Journey Trust — {quarter['label']}").click()
    check_accessibility(page, "return-task-list")

    page.get_by_role("link", name="Build 400 homes").click()
    page.get_by_label("Off track").check()
    page.get_by_role("button", name="Save and continue").click()
    # Waits for the answer's title: read at once, it was sometimes still the empty one of the
    # page being loaded (a failure in CI on a busy machine).
    expect(page).to_have_title(re.compile("^Error:"))
    check_accessibility(page, "return-update-errors")
    page.get_by_label("Progress so far").fill("120")
    page.get_by_label("Progress update").fill("Two sites are delayed by planning.")
    page.get_by_label("Note for the reviewer (not published)").fill("The planning officer left.")
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
    page.get_by_text("Note for the reviewer (not published): The planning officer left.").wait_for()
    check_accessibility(page, "admin-review-return")

    # Meanwhile another admin sends it back and the lead submits it again: this page's Accept
    # is refused, and the page shows the return as it is now.
    resubmit(browser_app, quarter)
    page.get_by_role("button", name="Accept").click()
    expect(page).to_have_title(re.compile("^Error:"))
    expect(page.locator(".govuk-error-summary")).to_contain_text("submitted this return again")
    check_accessibility(page, "admin-review-return-conflict")
    page.get_by_role("button", name="Accept").click()
    page.get_by_text("Accepted Journey Trust").wait_for()  # is_visible() would not wait
    for path, name in [("/admin/periods", "admin-periods"), ("/admin", "admin-overview-period")]:
        page.goto(live_server + path)
        check_accessibility(page, name)
    page.goto(live_server + f"/admin/periods/{quarter['period']}")
    check_accessibility(page, "admin-period-dates")


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def evidence_quarter(browser_app, quarter):
    """Another organisation in the same open quarter, for the evidence journey."""
    with browser_app.app_context():
        place = make_place(db.session)
        org = make_organisation(db.session, name="Evidence Trust", slug="evidence-trust")
        make_commitment(
            db.session,
            org,
            title="Insulate 200 homes",
            target_value=Decimal(200),
            unit="homes",
            primary_priority_id=place.priorities[3].id,
        )
        lead = make_user(
            db.session, Role.LEAD, organisations=[org], email="evidence.lead@example.org"
        )
        db.session.commit()
        return {"period": quarter["period"], "lead": lead.email}


def test_one_round_of_errors_keeps_the_chosen_file_then_lists_each_file(
    live_server, page, check_accessibility, evidence_quarter
):
    sign_in(page, live_server, evidence_quarter["lead"])
    page.goto(f"{live_server}/organisations/evidence-trust/returns/{evidence_quarter['period']}")
    page.get_by_role("link", name="Insulate 200 homes").click()

    page.get_by_label("At risk").check()
    page.get_by_label("Progress so far").fill("lots")
    page.get_by_label("Link to evidence (optional)").fill("not a link")
    page.get_by_label("Add a file as evidence (optional)").set_input_files(
        {"name": "survey.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name="Save and continue").click()

    summary = page.locator(".govuk-error-summary")
    # expect() waits for the page the click loads; a loaded machine is slow to answer.
    expect(summary.locator("li")).to_have_text(
        [
            "Progress so far must be a number, like 120 or 45.5",
            "Explain what is holding the commitment back",
            "Enter the evidence link in the correct format, like https://www.example.org/report",
        ]
    )
    expect(
        page.get_by_text("You chose survey.pdf. It will be attached when you save.")
    ).to_be_visible()
    check_accessibility(page, "return-update-errors-with-pending-file")
    # The summary's links take the keyboard to each field.
    summary.get_by_role("link", name="Explain what is holding the commitment back").click()
    assert page.evaluate("document.activeElement.id") == "narrative"

    page.get_by_label("Progress so far").fill("60")
    page.get_by_label("Progress update").fill("The contractor started late.")
    page.get_by_label("Link to evidence (optional)").fill("https://example.org/plan")
    page.get_by_role("button", name="Save as draft").click()
    page.get_by_text("Your draft has been saved").wait_for()

    # A second file on another save: both are listed, each a download, each removable.
    page.get_by_role("link", name="Insulate 200 homes").click()
    page.get_by_label("Add a file as evidence (optional)").set_input_files(
        {"name": "photos.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name="Save as draft").click()
    page.get_by_text("Your draft has been saved").wait_for()
    page.get_by_role("link", name="Insulate 200 homes").click()
    files = page.locator("#evidence-files a")
    expect(files).to_have_text(["survey.pdf", "photos.pdf"])
    check_accessibility(page, "return-update-with-files")
    with page.expect_download() as download:
        files.first.click()
    assert download.value.suggested_filename == "survey.pdf"

    page.get_by_label("survey.pdf").check()
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Check your answers")
    expect(page.get_by_role("link", name="photos.pdf")).to_be_visible()
    assert page.get_by_role("link", name="survey.pdf").count() == 0
