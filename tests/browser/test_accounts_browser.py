"""Signing in and the admin pages in a real browser, each checked by axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import pass_second_factor
from tests.factories import PASSWORD, make_organisation, make_user
from tests.support.auth import current_code
from tracker.domain.enums import Role
from tracker.extensions import db

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def admin(browser_app):
    with browser_app.app_context():
        user = make_user(db.session, Role.ADMIN, email="browser.admin@example.org")
        make_organisation(db.session, name="Browser Trust", slug="browser-trust")
        db.session.commit()
        return user.email


@pytest.fixture(scope="module")
def board_member(browser_app):
    with browser_app.app_context():
        user = make_user(db.session, Role.BOARD, email="browser.board@example.org")
        db.session.commit()
        return user.email


def test_sign_in_errors_then_admin_pages(live_server, page, check_accessibility, admin):
    page.goto(live_server + "/admin/users")
    assert "/sign-in" in page.url  # sent to sign in first
    page.get_by_role("button", name="Sign in").click()
    # expect() waits for the answer's title; page.title() read at once could get the empty one
    # of the page still loading (as in test_returns_browser, on a busy machine).
    expect(page).to_have_title(re.compile("^Error: Sign in"))
    check_accessibility(page, "sign-in-errors")
    # The error summary links to the field it names.
    page.get_by_role("link", name="Enter an email address").click()
    assert page.evaluate("document.activeElement.id") == "email"

    page.get_by_label("Email address").fill(admin)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # Admins enter a code from their authenticator app next.
    page.get_by_role("heading", name="Enter your code").wait_for()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_title(re.compile("^Error: Enter your code"))
    check_accessibility(page, "two-factor-code-errors")
    page.get_by_label("Code from your authenticator app").fill(current_code())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()
    assert page.url.endswith("/admin/users")  # back where they were going
    check_accessibility(page, "admin-users")

    page.get_by_role("link", name="Invite someone").click()
    page.get_by_role("button", name="Send invitation").click()
    expect(page).to_have_title(re.compile("^Error: Invite someone"))
    check_accessibility(page, "admin-invite-errors")

    for path, name in [
        ("/admin", "admin-overview"),
        ("/admin/organisations", "admin-organisations"),
        ("/admin/organisations/browser-trust", "admin-organisation-edit"),
        ("/admin/audit", "admin-audit"),
        ("/admin/notifications", "admin-notifications"),
        ("/account", "account"),
        ("/account/password", "change-password"),
        ("/account/two-factor", "two-factor-manage"),
        ("/password-reset", "password-reset"),
    ]:
        page.goto(live_server + path)
        check_accessibility(page, name)

    page.get_by_role("button", name="Sign out").first.click()
    assert page.url.endswith("/sign-in")
    page.get_by_text("You have signed out").wait_for()  # is_visible() would not wait


def test_setting_up_two_factor(live_server, page, check_accessibility, board_member):
    page.goto(live_server + "/sign-in")
    page.get_by_label("Email address").fill(board_member)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").first.wait_for()
    page.goto(live_server + "/account")
    page.get_by_role("link", name="Set up two-factor authentication").click()
    page.get_by_role("heading", name="Set up two-factor authentication").wait_for()
    check_accessibility(page, "two-factor-set-up")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page).to_have_title(re.compile("^Error: Set up two-factor authentication"))
    check_accessibility(page, "two-factor-set-up-errors")

    key = page.locator("#setup-key").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill(current_code(key))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    assert page.locator("#recovery-codes li").count() == 10
    check_accessibility(page, "two-factor-recovery-codes")
    page.get_by_role("link", name="I have saved my recovery codes").click()
    page.get_by_role("button", name="Sign out").first.wait_for()


@pytest.fixture(scope="module")
def region_admin(browser_app):
    with browser_app.app_context():
        user = make_user(db.session, Role.ADMIN, email="browser.region@example.org")
        for name, slug in [
            ("Plover Works", "plover-works"),
            ("Plover Trust", "plover-trust"),
            ("Lapwing Housing", "lapwing-housing"),
        ]:
            make_organisation(db.session, name=name, slug=slug)
        db.session.commit()
        return user.email


def test_a_regions_admin_types_the_organisations_a_lead_leads(
    live_server, page, check_accessibility, region_admin, monkeypatch
):
    """Beyond 50 organisations the user forms take names, not a checkbox for each."""
    from tracker.admin import routes

    monkeypatch.setattr(routes, "ORGANISATION_CHECKBOXES_UP_TO", 1)
    page.goto(live_server + "/sign-in")
    page.get_by_label("Email address").fill(region_admin)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    pass_second_factor(page)

    page.goto(live_server + "/admin/users/new")
    page.get_by_label("Email address").fill("plover.lead@example.org")
    page.get_by_label("Full name").fill("Pip Plover")
    page.get_by_label("Organisation lead").check()
    page.get_by_label("Organisations they lead").fill("plover\nNowhere at all")
    page.get_by_role("button", name="Send invitation").click()
    expect(page).to_have_title(re.compile("^Error: Invite someone"))
    message = (
        "‘plover’ matches 2 organisations (Plover Trust, Plover Works): type more of the name. "
        "No organisation called ‘Nowhere at all’"
    )
    expect(page.locator(".govuk-error-summary li")).to_have_text(message)
    check_accessibility(page, "admin-invite-by-name-errors")
    page.get_by_role("link", name=message).click()
    assert page.evaluate("document.activeElement.id") == "add_organisations"
    page.get_by_label("Organisations they lead").fill("Plover Works\nlapwing-housing")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to plover.lead@example.org").wait_for()

    page.get_by_role("link", name="Pip Plover").click()
    expect(page.get_by_label("Lapwing Housing")).to_be_checked()
    expect(page.get_by_label("Plover Works")).to_be_checked()
    check_accessibility(page, "admin-lead-by-name")
    page.get_by_label("Lapwing Housing").uncheck()
    page.get_by_label("Add organisations they lead").fill("plover trust")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved changes to Pip Plover").wait_for()
    row = page.get_by_role("row").filter(has_text="Pip Plover")
    expect(row.get_by_role("cell").nth(2)).to_have_text("Plover Trust, Plover Works")

    page.goto(live_server + "/admin/audit")
    page.get_by_label("Organisation (name or slug)").fill("plover")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_title(re.compile("^Error: Audit log"))
    check_accessibility(page, "admin-audit-filter-errors")
    page.get_by_label("Organisation (name or slug)").fill("plover-trust")
    page.get_by_label("Person (name or email)").fill(region_admin)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("caption")).to_contain_text("for Plover Trust by")
