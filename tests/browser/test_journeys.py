"""The product's four users end to end in a real browser, with axe on every page they visit.

A lead files a quarter (with the mouse, then again with the keyboard only), an admin chases,
reviews and publishes, a board member reads and downloads the pack, and a visitor finds an
organisation. The browser database is shared with the other browser modules, so this module
makes its own organisations, people and quarters, and asserts nothing about how many there are.

Quarters (counting back from today's): the admin's open, overdue quarter is today's own, so it is
the one ``/admin`` shows; the leads file an older one whose window is open, after a closed
quarter they reported on (so "no change since last quarter" is offered); the admin publishes the
closed quarter's summary and the board reads the one before, already published. Today's quarter
is closed again at the end, so the other modules still see their own quarter as the current one.
"""

from __future__ import annotations

import re
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
    make_return,
    make_user,
)
from tracker.domain.calendar import period_for
from tracker.domain.enums import DeliveryStatus, ReturnState, Role
from tracker.extensions import db
from tracker.models import CommitmentUpdate, ReportingPeriod
from tracker.services.board import build_summary, publish_summary

pytestmark = pytest.mark.browser


def _back(quarter, n):
    for _ in range(n):
        quarter = quarter.previous()
    return quarter


def _accepted(session, organisation, period, statuses):
    """An accepted return with one complete update per (commitment, status, narrative)."""
    return_ = make_return(
        session,
        organisation,
        period,
        state=ReturnState.ACCEPTED,
        submitted_at=datetime.combine(period.due_on, datetime.min.time(), UTC),
    )
    for commitment, status, narrative in statuses:
        session.add(
            CommitmentUpdate(
                return_id=return_.id,
                commitment_id=commitment.id,
                status=status,
                narrative=narrative,
                complete=True,
            )
        )
    session.flush()


def _submitted(session, organisation, period, commitments):
    return_ = make_return(
        session,
        organisation,
        period,
        state=ReturnState.SUBMITTED,
        submitted_at=datetime.combine(period.due_on - timedelta(days=1), datetime.min.time(), UTC),
    )
    for commitment in commitments:
        session.add(
            CommitmentUpdate(
                return_id=return_.id,
                commitment_id=commitment.id,
                status=DeliveryStatus.ON_TRACK,
                complete=True,
            )
        )
    session.flush()


@pytest.fixture(scope="module")
def journeys(browser_app):
    today = datetime.now(UTC).date()
    now = datetime.now(UTC)
    this_quarter = period_for(today)
    with browser_app.app_context():
        session = db.session
        place = make_place(session)
        economy, wellbeing, _, net_zero, _ = place.priorities[:5]
        # Today's quarter, five days overdue: what the admin sees on /admin.
        overdue = make_period(
            session,
            this_quarter,
            opens_on=today - timedelta(days=40),
            due_on=today - timedelta(days=5),
            closes_on=today + timedelta(days=20),
        )
        # The leads' quarter, open and not yet due; the closed one before it; and an older one.
        filing = make_period(
            session,
            _back(this_quarter, 3),
            opens_on=today - timedelta(days=5),
            due_on=today + timedelta(days=10),
            closes_on=today + timedelta(days=30),
        )
        closed = make_period(
            session,
            _back(this_quarter, 4),
            opens_on=today - timedelta(days=120),
            due_on=today - timedelta(days=90),
            closes_on=today - timedelta(days=60),
        )
        published = make_period(
            session,
            _back(this_quarter, 5),
            opens_on=today - timedelta(days=210),
            due_on=today - timedelta(days=180),
            closes_on=today - timedelta(days=150),
        )

        leads = {}
        for name, slug, email in [
            ("Kestrel Works", "kestrel-works", "kestrel.lead@example.org"),
            ("Kingfisher Trust", "kingfisher-trust", "kingfisher.lead@example.org"),
        ]:
            org = make_organisation(session, name=name, slug=slug)
            fleet = make_commitment(
                session,
                org,
                title="Cut fleet emissions",
                target_value=Decimal(40),
                unit="vans",
                primary_priority_id=net_zero.id,
            )
            wage = make_commitment(
                session, org, title="Pay the Real Living Wage", primary_priority_id=economy.id
            )
            clubs = make_commitment(
                session, org, title="Run holiday clubs", primary_priority_id=wellbeing.id
            )
            _accepted(
                session,
                org,
                closed,
                [
                    (fleet, DeliveryStatus.ON_TRACK, None),
                    (wage, DeliveryStatus.AT_RISK, "Waiting for the pay review in spring."),
                    (clubs, DeliveryStatus.ON_TRACK, None),
                ],
            )
            leads[slug] = make_user(session, Role.LEAD, organisations=[org], email=email).email

        osprey = make_organisation(session, name="Osprey Care", slug="osprey-care")
        make_commitment(session, osprey, title="Visit lonely neighbours")
        make_user(session, Role.LEAD, organisations=[osprey], email="osprey.lead@example.org")
        for name, slug in [("Heron Homes", "heron-homes"), ("Wren Foods", "wren-foods")]:
            org = make_organisation(session, name=name, slug=slug)
            lunches = make_commitment(
                session, org, title="Serve free school lunches", primary_priority_id=wellbeing.id
            )
            solar = make_commitment(
                session, org, title="Put solar on the depot", primary_priority_id=net_zero.id
            )
            make_user(session, Role.LEAD, organisations=[org], email=f"{slug}.lead@example.org")
            _submitted(session, org, overdue, [lunches, solar])
            _accepted(
                session,
                org,
                published,
                [
                    (lunches, DeliveryStatus.ON_TRACK, None),
                    (solar, DeliveryStatus.OFF_TRACK, f"{name}: the roof needs repair first."),
                ],
            )
        session.flush()
        build_summary(closed, actor=None, now=now)
        board_pack = build_summary(published, actor=None, now=now)
        admin = make_user(session, Role.ADMIN, email="journeys.admin@example.org")
        board = make_user(session, Role.BOARD, email="journeys.board@example.org")
        publish_summary(board_pack, actor=admin, now=now)
        names = {
            "overdue": overdue.slug,
            "overdue_label": overdue.label,
            "filing": filing.slug,
            "filing_label": filing.label,
            "closed": closed.slug,
            "published": published.slug,
            "published_label": published.label,
            "leads": leads,
            "admin": admin.email,
            "board": board.email,
        }
        session.commit()
    # Out of the app context while the browser runs: an open read would lock SQLite's file.
    yield names
    with browser_app.app_context():
        # Today's quarter closed again: the other modules' open quarter is the current one.
        period = db.session.scalar(
            db.select(ReportingPeriod).where(ReportingPeriod.slug == names["overdue"])
        )
        period.closes_on = today - timedelta(days=1)
        db.session.commit()


def sign_in(page, live_server, email):
    page.goto(live_server + "/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    pass_second_factor(page)
    page.get_by_role("button", name="Sign out").first.wait_for()


def sign_out(page):
    page.get_by_role("button", name="Sign out").first.click()
    page.get_by_role("heading", name="Sign in").wait_for()


def heading(page, text):
    page.get_by_role("heading", name=text, level=1).wait_for()


# The lead --------------------------------------------------------------------------------------


def test_the_leads_quarter(live_server, page, check_accessibility, journeys):
    sign_in(page, live_server, journeys["leads"]["kestrel-works"])
    check_accessibility(page, "journey-lead-returns")
    page.goto(f"{live_server}/organisations/kestrel-works/returns/{journeys['filing']}")
    heading(page, f"{journeys['filing_label']} return")
    check_accessibility(page, "journey-lead-task-list")

    # Off track needs a narrative: the error first, then the fix.
    page.get_by_role("link", name="Cut fleet emissions").click()
    heading(page, "Cut fleet emissions")
    page.get_by_label("Off track").check()
    page.get_by_label("Progress so far").fill("12")
    page.get_by_role("button", name="Save and continue").click()
    page.locator(".govuk-error-summary").wait_for()
    assert page.title().startswith("Error:")
    check_accessibility(page, "journey-lead-update-error")
    page.get_by_label("Progress update").fill("Two of the new vans were delivered late.")
    page.get_by_role("button", name="Save and continue").click()

    # Straight on to the next one still to do: nothing has changed there since last quarter.
    heading(page, "Pay the Real Living Wage")
    check_accessibility(page, "journey-lead-update")
    page.get_by_role("button", name="No change since last quarter").click()

    heading(page, "Run holiday clubs")
    check_accessibility(page, "journey-lead-update-last")
    page.get_by_label("On track").check()
    page.get_by_role("button", name="Save and continue").click()

    heading(page, re.compile("Check your answers"))
    assert page.get_by_text("Two of the new vans were delivered late.").count() == 1
    assert page.get_by_text("Waiting for the pay review in spring.").count() >= 1  # carried over
    check_accessibility(page, "journey-lead-check")
    page.get_by_role("button", name=f"Submit the {journeys['filing_label']} return").click()
    heading(page, "Return submitted")
    check_accessibility(page, "journey-lead-submitted")


# The admin -------------------------------------------------------------------------------------


def test_the_admins_quarter(live_server, page, check_accessibility, journeys):
    sign_in(page, live_server, journeys["admin"])
    page.goto(live_server + "/admin")
    # Who is overdue with today's quarter: Osprey Care has not started. (Other modules' older
    # quarters are on the work list too, each in its own section.)
    today_s = page.locator(f"section[aria-labelledby='work-{journeys['overdue']}']")
    today_s.get_by_role("heading", name=re.compile(r"^Overdue \(\d+\)$")).wait_for()
    check_accessibility(page, "journey-admin-overview")
    # The overview names the first few of each kind; every overdue one is on its own page
    # (other modules' organisations may come first).
    page.goto(live_server + f"/admin/work/{journeys['overdue']}/overdue")
    page.get_by_role("link", name="Chase now Osprey Care").click()
    heading(page, "Chase Osprey Care")
    check_accessibility(page, "journey-admin-chase")
    page.get_by_label("Add a note to the email (optional)").fill("The board meets on Friday.")
    page.get_by_role("button", name="Send the reminder now").click()
    page.get_by_text("Chased Osprey Care: 1 email on the way").wait_for()
    check_accessibility(page, "journey-admin-chased")

    page.get_by_role("link", name=f"Review {journeys['overdue_label']} returns").click()
    page.get_by_role("link", name="Review Heron Homes").wait_for()
    check_accessibility(page, "journey-admin-review-queue")

    # Sent back: a comment is needed, and the error says so.
    page.get_by_role("link", name="Review Heron Homes").click()
    heading(page, "Heron Homes")
    check_accessibility(page, "journey-admin-review")
    page.get_by_role("button", name="Send back to the organisation").click()
    page.locator(".govuk-error-summary").wait_for()
    check_accessibility(page, "journey-admin-send-back-error")
    page.get_by_label("What needs changing?").fill("Please add a link to the solar survey.")
    page.get_by_role("button", name="Send back to the organisation").click()
    page.get_by_text("Sent back to Heron Homes with your comment").wait_for()
    check_accessibility(page, "journey-admin-sent-back")

    page.goto(f"{live_server}/admin/returns/{journeys['overdue']}")
    page.get_by_role("link", name="Review Wren Foods").click()
    heading(page, "Wren Foods")
    check_accessibility(page, "journey-admin-review-to-accept")
    page.get_by_role("button", name="Accept").click()
    page.get_by_text("Accepted Wren Foods").wait_for()
    check_accessibility(page, "journey-admin-accepted")

    # The closed quarter's summary, built by the job overnight: the admin publishes it.
    page.goto(f"{live_server}/board/{journeys['closed']}")
    check_accessibility(page, "journey-admin-board-unpublished")
    page.get_by_role("button", name="Publish revision 1 and email the board").click()
    page.get_by_text("Published revision 1").wait_for()
    check_accessibility(page, "journey-admin-board-published")


# The board member ------------------------------------------------------------------------------


def test_the_board_members_read(live_server, page, check_accessibility, journeys):
    sign_in(page, live_server, journeys["board"])
    page.goto(f"{live_server}/board/{journeys['published']}")
    heading(page, f"Place Board summary {journeys['published_label']}")
    page.get_by_text("Wren Foods: the roof needs repair first.").first.wait_for()
    check_accessibility(page, "journey-board-summary")

    with page.expect_download() as pdf:
        page.get_by_role("link", name="Download the board pack (PDF)").click()
    with open(pdf.value.path(), "rb") as file:
        assert file.read(5) == b"%PDF-"
    with page.expect_download() as figures:
        page.get_by_role("link", name="Download the figures (CSV)").click()
    with open(figures.value.path(), encoding="utf-8") as file:
        assert "Put solar on the depot" in file.read()
    # What the links serve, as a browser is told.
    for suffix, kind in [(".pdf", "application/pdf"), (".csv", "text/csv")]:
        response = page.request.get(f"{live_server}/board/{journeys['published']}{suffix}")
        assert response.ok and response.headers["content-type"].startswith(kind)


# The public ------------------------------------------------------------------------------------


def test_the_public_visitor(live_server, page, check_accessibility, journeys):
    page.goto(live_server + "/organisations")
    heading(page, "Organisations")
    check_accessibility(page, "journey-public-organisations")
    page.get_by_label("Town priority").select_option(label="Net zero town")
    page.get_by_role("button", name="Apply filters").click()
    page.get_by_role(
        "heading", name=re.compile(r"organisations? match(es)? the filters")
    ).wait_for()
    assert "priority=net-zero-town" in page.url
    check_accessibility(page, "journey-public-filtered")

    page.get_by_role("link", name="Wren Foods", exact=True).click()
    heading(page, "Wren Foods")
    page.get_by_text("Put solar on the depot").first.wait_for()
    check_accessibility(page, "journey-public-organisation")


# The lead again, with the keyboard only --------------------------------------------------------

# What the focused element is called, and whether it shows that it has focus: GOV.UK Frontend
# draws focus as a yellow background or a box shadow (on a radio or checkbox, around its label).
FOCUSED = """() => {
  const el = document.activeElement;
  const label = el.labels && el.labels.length ? el.labels[0].innerText : "";
  const style = getComputedStyle(el);
  let shown = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0
    || style.boxShadow !== "none" || style.backgroundColor === "rgb(255, 221, 0)";
  if (el.type === "radio" || el.type === "checkbox") {
    const box = el.nextElementSibling && getComputedStyle(el.nextElementSibling, "::before");
    shown = !!box && box.boxShadow !== "none";
  }
  return {
    name: (label || el.innerText || el.value || el.getAttribute("aria-label") || "").trim(),
    tag: el.tagName, checked: !!el.checked, visible: el.matches(":focus-visible") && shown,
  };
}"""


def focused(page):
    return page.evaluate(FOCUSED)


def tab_to(page, name, *, key="Tab", limit=40):
    """Press Tab until the element named ``name`` has focus, and check the focus shows."""
    seen = []
    for _ in range(limit):
        page.keyboard.press(key)
        now = focused(page)
        seen.append(now["name"][:40])
        if now["name"].startswith(name):
            assert now["visible"], f"focus on {name!r} is not visible"
            return now
    raise AssertionError(f"{name!r} never took focus; tabbed through {seen}")


def test_the_leads_quarter_with_the_keyboard_only(live_server, page, check_accessibility, journeys):
    page.goto(live_server + "/sign-in")
    check_accessibility(page, "journey-keyboard-sign-in")
    page.keyboard.press("Tab")
    first = focused(page)
    assert first["name"] == "Skip to main content" and first["visible"]
    page.keyboard.press("Enter")  # to the main content, past the header's links
    tab_to(page, "Email address")
    page.keyboard.type(journeys["leads"]["kingfisher-trust"])
    tab_to(page, "Password")
    page.keyboard.type(PASSWORD)
    tab_to(page, "Sign in")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Sign out").first.wait_for()
    check_accessibility(page, "journey-keyboard-returns")

    page.goto(f"{live_server}/organisations/kingfisher-trust/returns/{journeys['filing']}")
    heading(page, f"{journeys['filing_label']} return")
    check_accessibility(page, "journey-keyboard-task-list")
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "Skip to main content"
    page.keyboard.press("Enter")
    tab_to(page, "Cut fleet emissions")
    page.keyboard.press("Enter")
    heading(page, "Cut fleet emissions")
    check_accessibility(page, "journey-keyboard-update")

    # Into the status radios: arrow keys move the choice, as in any radio group.
    tab_to(page, "Not started")
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    now = focused(page)
    assert now["name"].startswith("Off track") and now["checked"] and now["visible"]
    tab_to(page, "Save and continue")
    page.keyboard.press("Enter")
    page.locator(".govuk-error-summary").wait_for()
    # The error summary takes focus, and its link goes to the field to fix.
    assert page.evaluate("document.activeElement.classList.contains('govuk-error-summary')")
    check_accessibility(page, "journey-keyboard-update-error")
    tab_to(page, "Explain what is holding")  # the summary's link to the narrative
    page.keyboard.press("Enter")
    assert focused(page)["name"].startswith("Progress update")
    page.keyboard.type("A supplier went bust; new vans are on order.")
    tab_to(page, "Save and continue")
    page.keyboard.press("Enter")

    heading(page, "Pay the Real Living Wage")
    check_accessibility(page, "journey-keyboard-update-no-change")
    tab_to(page, "No change since last quarter")
    page.keyboard.press("Space")

    heading(page, "Run holiday clubs")
    tab_to(page, "Not started")
    page.keyboard.press("ArrowDown")
    assert focused(page)["name"].startswith("On track")
    tab_to(page, "Save and continue")
    page.keyboard.press("Enter")

    heading(page, re.compile("Check your answers"))
    check_accessibility(page, "journey-keyboard-check")
    # Back up to a Change link and forward again: Shift+Tab works as well.
    tab_to(page, f"Submit the {journeys['filing_label']} return")
    tab_to(page, "Change", key="Shift+Tab")
    tab_to(page, f"Submit the {journeys['filing_label']} return")
    page.keyboard.press("Enter")
    heading(page, "Return submitted")
    check_accessibility(page, "journey-keyboard-submitted")
