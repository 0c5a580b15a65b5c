"""The admin's work list across quarters and a return's history, in a real browser, with axe."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from tests.browser.test_returns_browser import sign_in
from tests.factories import make_commitment, make_organisation, make_period, make_user
from tracker.domain.calendar import period_for
from tracker.domain.enums import DeliveryStatus, Direction, Role
from tracker.extensions import db
from tracker.services import returns as service
from tracker.services.commitments import CommitmentDetails, update_commitment

pytestmark = pytest.mark.browser


def at(day):  # type: ignore[no-untyped-def]
    return datetime.combine(day, time(10), tzinfo=UTC)


@pytest.fixture(scope="module")
def history(browser_app):
    """Two quarters long closed (eight and seven back: no other module uses them): one reviewed,
    one sent back and resubmitted after its target moved, and another's return missed."""
    today = datetime.now(UTC).date()
    earlier = period_for(today)
    for _ in range(8):
        earlier = earlier.previous()
    later = earlier.next()
    with browser_app.app_context(), browser_app.test_request_context():
        first, second = make_period(db.session, earlier), make_period(db.session, later)
        org = make_organisation(db.session, name="Hearth History Housing", slug="hearth-history")
        homes = make_commitment(
            db.session,
            org,
            title="Build affordable homes",
            target_value=Decimal(400),
            baseline_value=Decimal(0),
            direction=Direction.INCREASE,
            unit="homes",
        )
        missing = make_organisation(db.session, name="Missing Link Trust", slug="missing-link")
        make_commitment(db.session, missing, title="Run a repair café")
        lead = make_user(db.session, Role.LEAD, organisations=[org], name="Hana Lead")
        admin = make_user(db.session, Role.ADMIN, name="Worklist Admin")

        def report(period, day, status, progress, narrative, version=None):  # type: ignore[no-untyped-def]
            row = service.save_update(
                org,
                period,
                homes,
                service.UpdateInput(
                    status=status, progress_value=Decimal(progress), narrative=narrative
                ),
                version=version,
                complete=True,
                actor=lead,
                today=day,
            )
            assert service.submit(org, period, actor=lead, now=at(day)).submitted
            return row

        report(first, first.due_on - timedelta(days=3), DeliveryStatus.ON_TRACK, 100, "Started.")
        accepted = service.find_return(org, first)
        service.accept(accepted, version=accepted.version, actor=admin, now=at(first.due_on))
        update_commitment(
            homes,
            CommitmentDetails(
                title=homes.title,
                unit="homes",
                baseline_value=Decimal(0),
                target_value=Decimal(500),
                direction=Direction.INCREASE,
            ),
            version=homes.version,
            actor=admin,
            today=second.opens_on,
            reason="The board raised the target.",
            now=at(second.opens_on),
        )
        sent = second.due_on - timedelta(days=5)
        row = report(second, sent, DeliveryStatus.ON_TRACK, 180, "Third site.")
        sent_back = service.find_return(org, second)
        service.send_back(
            sent_back,
            "Is the third site really on track?",
            version=sent_back.version,
            actor=admin,
            now=at(sent + timedelta(days=1)),
        )
        report(
            second,
            sent + timedelta(days=2),
            DeliveryStatus.AT_RISK,
            180,
            "Planning is delayed to the spring.",
            version=row.version,
        )
        db.session.commit()
        return {"admin": admin.email, "period": second.slug, "label": second.label}


def test_the_work_list_and_a_returns_history(live_server, page, check_accessibility, history):
    sign_in(page, live_server, history["admin"])
    assert page.url.endswith("/admin")
    section = page.locator(f"section[aria-labelledby='work-{history['period']}']")
    section.get_by_role("heading", name="Waiting for review").wait_for()
    section.get_by_role("heading", name="Window closed without a return").wait_for()
    check_accessibility(page, "admin-work-list")

    # The overview names the first few of each kind; every one is on the page of its kind
    # (other modules' organisations owe this quarter too, and may come first).
    kind_page = f"{live_server}/admin/work/{history['period']}/missed"
    page.goto(kind_page)
    assert page.get_by_role("heading", level=1).inner_text() == "Window closed without a return"
    check_accessibility(page, "admin-work-of-one-kind")
    page.get_by_role("button", name="Record as missed for Missing Link Trust").click()
    page.get_by_text(
        f"Recorded Missing Link Trust's {history['label']} return as missed"
    ).wait_for()
    check_accessibility(page, "admin-work-list-recorded")
    page.goto(kind_page)
    page.get_by_role("heading", level=1).wait_for()
    assert page.get_by_role("button", name="Record as missed for Missing Link Trust").count() == 0

    page.goto(f"{live_server}/admin")
    section.get_by_role("link", name="Review Hearth History Housing's return").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Hearth History Housing"
    history_list = page.locator("ol.app-history")
    history_list.get_by_text("Is the third site really on track?").wait_for()
    assert (
        page.locator("li.app-moved-goalpost")
        .first.inner_text()
        .startswith("Target (moved goalpost):")
    )
    page.get_by_text("changed: show the words").first.click()
    page.get_by_text("Planning is delayed to the spring.").first.wait_for()
    check_accessibility(page, "admin-review-history")
