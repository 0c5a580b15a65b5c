"""The layout in a real browser: GOV.UK styles load, JavaScript starts, axe finds nothing."""

from __future__ import annotations

import pytest

from tests.factories import make_commitment, make_organisation
from tracker.extensions import db

pytestmark = pytest.mark.browser


def test_home_page_is_styled_and_accessible(browser_app, live_server, page, check_accessibility):
    with browser_app.app_context():
        make_commitment(
            db.session, make_organisation(db.session, "Active Luton", slug="active-luton")
        )
        db.session.commit()
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    responses = []
    page.on("response", lambda response: responses.append((response.url, response.status)))
    errors = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )

    page.goto(live_server + "/")
    page.wait_for_load_state("networkidle")

    assert page.title() == "Pledges – Luton 2040 Pledge Tracker"
    # GOV.UK Frontend's stylesheet applied: the transport font, and the JS marked the body.
    font = page.eval_on_selector("h1", "el => getComputedStyle(el).fontFamily")
    assert "GDS Transport" in font
    assert "govuk-frontend-supported" in page.get_attribute("body", "class")
    assert page.get_by_role("row", name="Active Luton 1").count() == 1
    assert not failed, failed
    assert all(status < 400 for _, status in responses), responses
    assert any("/assets/fonts/" in url and status == 200 for url, status in responses)
    assert not errors, errors  # nothing refused by the content security policy
    check_accessibility(page, "home")


# /sign-out only takes a POST: opened from the address bar, it is the 405 page.
@pytest.mark.parametrize("path", ["/accessibility-statement", "/no-such-page", "/sign-out"])
def test_other_pages_are_accessible(live_server, page, check_accessibility, path):
    page.goto(live_server + path)
    check_accessibility(page, path.strip("/"))


def test_pages_work_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Luton 2040 pledges"
    page.get_by_role("link", name="Accessibility statement").wait_for()
    context.close()
