"""A visitor finds an organisation and reads how its pledge is going; axe checks each page."""

from __future__ import annotations

import re

import pytest

from tests.test_public import build_world
from tracker.extensions import db
from tracker.services import public as public_service

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def world(browser_app):
    with browser_app.app_context():
        build_world(db.session)
        db.session.commit()


def test_a_visitor_filters_the_list_and_opens_an_organisation(
    live_server, page, check_accessibility, world
):
    page.goto(live_server + "/organisations")
    page.get_by_role("heading", name="Organisations", exact=True).wait_for()
    check_accessibility(page, "public-organisations")

    page.get_by_label("Town priority").select_option(label="Inclusive economy")
    page.get_by_role("button", name="Apply filters").click()
    # Other browser tests share this database, so the count is theirs too: wait for the result.
    page.get_by_role(
        "heading", name=re.compile(r"organisations? match(es)? the filters")
    ).wait_for()
    assert "priority=inclusive-economy" in page.url
    check_accessibility(page, "public-organisations-filtered")

    page.get_by_role("link", name="Greenway Trust").click()
    page.get_by_role("heading", name="Greenway Trust", level=1).wait_for()
    assert page.url.endswith("/organisations/greenway-trust")
    assert page.get_by_text("Reason: We took on more staff in the summer").count() == 1
    check_accessibility(page, "public-organisation")

    # Every quarter of one commitment, from its card.
    page.get_by_role("link", name="Quarter by quarter for Pay the Real Living Wage").click()
    page.get_by_role("heading", name="Pay the Real Living Wage", level=1).wait_for()
    page.get_by_role("heading", name="Quarter by quarter").wait_for()
    assert page.get_by_role("link", name="https://greenway.example.org/wages").count() == 1
    check_accessibility(page, "public-commitment")


def test_a_visitor_reaches_the_next_page_without_javascript(
    live_server, browser, page, check_accessibility, world, monkeypatch
):
    # One organisation a page, so the few organisations the browser tests share make pages.
    monkeypatch.setattr(public_service, "COLLECTION_PAGE_SIZE", 1)
    context = browser.new_context(java_script_enabled=False)
    without_javascript = context.new_page()
    try:
        without_javascript.goto(live_server + "/organisations?priority=net-zero-town")
        without_javascript.get_by_text("Showing organisations 1 to 1 of").wait_for()
        without_javascript.get_by_role("link", name="Next page").click()
        without_javascript.get_by_text("Showing organisations 2 to 2 of").wait_for()
        second = without_javascript.url
    finally:
        context.close()
    assert "page=2" in second
    assert "priority=net-zero-town" in second  # the filter is kept

    # axe runs in the page's JavaScript: it checks the same page in a browser that has it.
    page.goto(second)
    page.get_by_text("Showing organisations 2 to 2 of").wait_for()
    assert page.get_by_label("Town priority").input_value() == "net-zero-town"
    assert page.get_by_role("link", name="Previous page").count() == 1
    check_accessibility(page, "public-organisations-page-2")


def test_a_bad_filter_shows_an_error_summary(live_server, page, check_accessibility, world):
    page.goto(live_server + "/organisations?sector=spaceship")
    page.get_by_role("heading", name="There is a problem").wait_for()
    assert page.title().startswith("Error:")
    check_accessibility(page, "public-organisations-error")


@pytest.mark.parametrize(
    "path",
    [
        "/priorities",
        "/priorities/net-zero-town",
        "/themes",
        "/themes/real-living-wage",
        "/open-data",
        "/",
    ],
)
def test_the_other_public_pages_pass_axe(live_server, page, check_accessibility, world, path):
    page.goto(live_server + path)
    page.locator("h1").wait_for()
    check_accessibility(page, "public" + path.replace("/", "-").rstrip("-"))
