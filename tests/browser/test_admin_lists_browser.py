"""The admin's long lists in a real browser: a search typed into the box and kept on the next
page, a search that finds nothing, a search too long, and a page of one kind of pledge item to
check. axe checks each."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.test_returns_browser import sign_in
from tests.factories import make_organisation, make_user
from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.models import Organisation, User

pytestmark = pytest.mark.browser

CROWD = 55  # more than a page of fifty


@pytest.fixture(scope="module")
def crowd(browser_app):
    """An admin, and more people and organisations than fit on a page; gone afterwards, so
    other modules' pages count what they made themselves."""
    with browser_app.app_context():
        admin = make_user(db.session, Role.ADMIN, name="Lists Admin")
        for n in range(CROWD):
            make_organisation(db.session, f"Crowd Org {n:02d}", slug=f"crowd-org-{n:02d}")
            make_user(
                db.session,
                Role.BOARD,
                name=f"Crowd Person {n:02d}",
                email=f"crowd{n:02d}@example.org",
                with_password=False,
            )
        db.session.commit()
        found = {"admin": admin.email}
    yield found
    with browser_app.app_context():
        db.session.execute(sa.delete(User).where(User.email.like("crowd%@example.org")))
        db.session.execute(sa.delete(Organisation).where(Organisation.slug.like("crowd-org-%")))
        db.session.commit()


def test_searching_and_paging_the_admins_lists(live_server, page, check_accessibility, crowd):
    sign_in(page, live_server, crowd["admin"])
    page.goto(live_server + "/admin/users")
    page.get_by_label("Search people").fill("CROWD")
    page.get_by_role("button", name="Search").click()
    caption = page.locator("caption")
    expect(caption).to_have_text("55 people match ‘CROWD’, showing 1 to 50")
    check_accessibility(page, "admin-users-searched")
    page.get_by_role("link", name="Next page").click()
    expect(caption).to_have_text("55 people match ‘CROWD’, showing 51 to 55")
    assert "q=CROWD" in page.url
    expect(page.get_by_label("Search people")).to_have_value("CROWD")
    check_accessibility(page, "admin-users-searched-page-2")

    page.goto(live_server + "/admin/organisations?q=crowd&page=2")
    expect(caption).to_have_text("55 organisations match ‘crowd’, showing 51 to 55")
    check_accessibility(page, "admin-organisations-searched-page-2")
    page.get_by_label("Search organisations").fill("no such place")
    page.get_by_role("button", name="Search").click()
    expect(
        page.get_by_text("No organisation’s name or web address has ‘no such place’")
    ).to_be_visible()
    check_accessibility(page, "admin-organisations-found-nothing")

    page.get_by_label("Search organisations").fill("x" * 101)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_title(re.compile("^Error: Organisations"))
    check_accessibility(page, "admin-organisations-search-errors")
    page.get_by_role("link", name="Search must be 100 characters or fewer").click()
    assert page.evaluate("document.activeElement.name") == "q"

    page.goto(live_server + "/admin/pledges/review/priorities")
    expect(page.get_by_role("heading", level=1)).to_have_text("Priorities to choose or check")
    check_accessibility(page, "pledges-review-priorities")
