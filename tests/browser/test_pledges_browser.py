"""Keeping pledges current in a real browser (issue 15): the admin imports a changed page through
the preview, puts flagged items right and maintains commitments; a lead proposes a revision and
an admin approves it. axe checks every new page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.test_returns_browser import sign_in
from tests.factories import make_commitment, make_organisation, make_place, make_user
from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.models import AuditEvent, Commitment, Organisation, Theme
from tracker.models.pledge import commitment_themes

pytestmark = pytest.mark.browser

FIRST = """Luton 2040 pledges

Browser Alpha Trust
We are a charity in Luton and we pledge to support the 2040 vision.
- Pay the Real Living Wage to all our staff
- Building a more inclusive economy including
- recruiting local people into our jobs
- Plant 100 trees in Luton by 2030

Browser Zeta Bakery is committed to feeding Luton well and to the town's vision.
- Bake with local flour from Bedfordshire mills
- Hold a monthly community tea party

Browser Beta College
Our college will support the vision of the town.
- Offer 50 apprenticeships to young people each year
"""

# Browser Beta College has left the page; Browser Gamma Foods has joined.
SECOND = (
    FIRST.split("Browser Beta College")[0]
    + """Browser Gamma Foods
Our company will support the vision of the town.
- Buy from Luton suppliers first
"""
)

SLUGS = (
    "browser-alpha-trust",
    "browser-zeta-bakery",
    "browser-beta-college",
    "browser-gamma-foods",
    "browser-icb",
)


@pytest.fixture(scope="module")
def people(browser_app):
    with browser_app.app_context():
        themes_before = set(db.session.scalars(sa.select(Theme.id)))
        make_place(db.session)
        admin = make_user(db.session, Role.ADMIN, name="Pledge Admin")
        icb = make_organisation(db.session, "Browser ICB", slug="browser-icb")
        commitment = make_commitment(
            db.session, icb, title="Reduce waiting times", target_value=Decimal(100)
        )
        lead = make_user(db.session, Role.LEAD, organisations=[icb], name="Pledge Lead")
        db.session.commit()
        found = {
            "admin": admin.email,
            "lead": lead.email,
            "commitment": commitment.id,
        }
    yield found
    # Retired, these organisations pledge nothing, so they owe no return in other modules'
    # quarters (the audit log is append-only: organisations with a history stay).
    with browser_app.app_context():
        db.session.execute(
            sa.update(Commitment)
            .where(
                Commitment.organisation.has(Organisation.slug.in_(SLUGS)),
                Commitment.removed_from_page_at.is_(None),
            )
            .values(
                removed_from_page_at=datetime.now(UTC), retired_reason="End of the browser test"
            )
        )
        # The import made the theme catalogue; other modules make their own themes.
        made = set(db.session.scalars(sa.select(Theme.id))) - themes_before
        db.session.execute(
            sa.delete(commitment_themes).where(commitment_themes.c.theme_id.in_(made))
        )
        db.session.execute(sa.delete(Theme).where(Theme.id.in_(made)))
        db.session.commit()


def upload(page, live_server, path):  # type: ignore[no-untyped-def]
    page.goto(live_server + "/admin/pledges/import")
    page.get_by_label("Upload the pledge page as a text file").set_input_files(str(path))
    page.get_by_role("button", name="Preview the import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the import")


def section(page, heading):  # type: ignore[no-untyped-def]
    return page.locator(f"h2:has-text('{heading}') + ul li").all_inner_texts()


def test_an_admin_imports_a_changed_page_through_the_preview_and_keeps_the_pledges(
    live_server, page, check_accessibility, people, browser_app, tmp_path
):
    first, second = tmp_path / "pledges.txt", tmp_path / "pledges-v2.txt"
    first.write_text(FIRST, encoding="utf-8")
    second.write_text(SECOND, encoding="utf-8")
    sign_in(page, live_server, people["admin"])

    page.goto(live_server + "/admin/pledges/import")
    check_accessibility(page, "pledges-import")
    page.get_by_role("button", name="Preview the import").click()
    expect(page).to_have_title(re.compile("^Error:"))
    check_accessibility(page, "pledges-import-errors")

    upload(page, live_server, first)
    check_accessibility(page, "pledges-preview")
    page.get_by_role("button", name="Import these changes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pledge items to check")
    check_accessibility(page, "pledges-review")

    upload(page, live_server, second)
    assert section(page, "New organisations") == ["Browser Gamma Foods"]
    assert "Browser Beta College" in section(page, "Organisations not on this page")
    page.get_by_role("button", name="Import these changes").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Imported pledges-v2.txt")
    with browser_app.app_context():
        slugs = set(db.session.scalars(sa.select(Organisation.slug)))
        assert {"browser-gamma-foods", "browser-beta-college"} <= slugs

    # Triage: the name read from a paragraph, a priority, the lead-in bullet.
    page.get_by_role("link", name="Browser Zeta Bakery").click()
    check_accessibility(page, "pledges-review-name")
    page.get_by_role("button", name="Confirm the name").click()
    page.get_by_role("link", name="Bake with local flour from Bedfordshire mills").click()
    check_accessibility(page, "pledges-review-priority")
    page.get_by_label("Inclusive economy").check()
    page.get_by_role("button", name="Save the priority").click()
    page.get_by_role("link", name="Building a more inclusive economy including").click()
    check_accessibility(page, "pledges-review-lead-in")
    page.get_by_label("Merge it into the commitment after it").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Merged into the commitment after it"
    )

    # The organisation's pledge: add, move and retire commitments.
    page.goto(live_server + "/admin/organisations/browser-alpha-trust")
    check_accessibility(page, "organisation-pledge")
    page.get_by_role("link", name="Add a commitment").click()
    check_accessibility(page, "commitment-new")
    page.get_by_label("Commitment", exact=True).fill("Sponsor a youth football team")
    page.get_by_label("Empowered community").check()
    page.get_by_role("button", name="Add the commitment").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Added a commitment")
    added = page.locator("ol.app-commitment-list > li").filter(has_text="Sponsor a youth")
    added.get_by_role("button", name="Move up").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Moved the commitment")
    items = page.locator("ol.app-commitment-list > li > a").all_inner_texts()
    assert items.index("Sponsor a youth football team") == len(items) - 2
    page.get_by_role("link", name="Retire Sponsor a youth football team").click()
    check_accessibility(page, "commitment-retire")
    page.get_by_label("Why is it being retired?").fill("The club closed")
    page.get_by_role("button", name="Retire the commitment").click()
    expect(page.locator("main")).to_contain_text("The club closed")
    # The public still reads it, apart from the pledge, with why it went.
    page.goto(live_server + "/organisations/browser-alpha-trust")
    retired = page.locator("#retired ~ .govuk-summary-card").filter(has_text="Sponsor a youth")
    expect(retired).to_contain_text("The club closed")
    check_accessibility(page, "public-organisation-retired")
    retired.get_by_role("link", name="Quarter by quarter").click()
    expect(page.locator("#retired")).to_contain_text("Reason: The club closed")
    check_accessibility(page, "public-commitment-retired")
    page.goto(live_server + "/admin/organisations/browser-alpha-trust")
    page.get_by_role("link", name="Edit the statement").click()
    check_accessibility(page, "statement-form")
    page.goto(live_server + "/admin/organisations/new")
    check_accessibility(page, "organisation-new-with-pledge")
    with browser_app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
        assert {"imported the pledge page", "retired", "moved up", "name confirmed"} <= actions


def test_a_lead_proposes_a_revision_and_an_admin_approves_it(
    live_server, page, check_accessibility, people, browser_app
):
    sign_in(page, live_server, people["lead"])
    page.goto(live_server + f"/organisations/browser-icb/commitments/{people['commitment']}")
    expect(page.locator(".govuk-breadcrumbs")).to_contain_text("Your returns")
    check_accessibility(page, "commitment-lead")
    page.get_by_role("link", name="Propose a change to the wording or target").click()
    check_accessibility(page, "proposal-form")
    page.get_by_role("button", name="Send the proposal").click()
    expect(page).to_have_title(re.compile("^Error:"))
    check_accessibility(page, "proposal-form-errors")
    page.get_by_label("Target value (optional)").fill("80")
    page.get_by_label("Why this revision?").fill("Revised to include SMART targets")
    page.get_by_role("button", name="Send the proposal").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Proposed revisions")
    check_accessibility(page, "proposals-lead")
    page.get_by_role("link", name="Propose a new commitment").click()
    check_accessibility(page, "proposal-new-form")
    page.get_by_role("button", name="Sign out").first.click()
    page.get_by_text("You have signed out").wait_for()

    sign_in(page, live_server, people["admin"])
    page.goto(live_server + "/admin")
    page.get_by_role("link", name="1 proposed revision waiting").click()
    check_accessibility(page, "proposals-admin")
    page.get_by_role("link", name="Change to: Reduce waiting times").click()
    check_accessibility(page, "proposal-decision")
    page.get_by_label("Approve and apply it").check()
    page.get_by_label("Comment for the lead").fill("Agreed at the board")
    page.get_by_role("button", name="Save the decision").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Approved")
    with browser_app.app_context():
        commitment = db.session.get(Commitment, people["commitment"])
        assert commitment.target_value == Decimal(80)
