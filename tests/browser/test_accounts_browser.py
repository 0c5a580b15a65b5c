"""Signing in and the admin pages in a real browser, each checked by axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

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
