"""The reviewer sees a return's whole history, and past figures stay true when targets move.

Issue 14: a resubmitted return showed only its first submission's time, not the admin's earlier
comment, nor what changed since that submission or since last quarter; and moving a target
rewrote last quarter's "% of the way to target" (26.1% became 36.2%).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from tests.factories import make_commitment, make_organisation, make_place, make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tracker.config import window_rules
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, Direction, Role
from tracker.services import returns as service
from tracker.services.commitments import CommitmentDetails, update_commitment
from tracker.services.periods import ensure_periods, period_by_slug

Q1, Q2 = Quarter(2024, 1), Quarter(2024, 2)


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def story(app, db_session):
    """Homes reported in Q1 (104 of 400), the target raised to 500, Q2 sent back and resent."""
    place = make_place(db_session)
    place.reporting_starts_on = Q1.starts_on
    ensure_periods(date(2024, 9, 20), window_rules(app.config))
    org = make_organisation(db_session, "Hearth Housing", slug="hearth")
    homes = make_commitment(
        db_session,
        org,
        title="Build affordable homes",
        target_value=Decimal(400),
        baseline_value=Decimal(0),
        direction=Direction.INCREASE,
        unit="homes",
        target_date=date(2030, 3, 31),
        primary_priority_id=place.priorities[0].id,
    )
    lead = make_user(db_session, organisations=[org], name="Lee Lead")
    admin = make_user(db_session, Role.ADMIN, name="Ada Admin")
    q1, q2 = period_by_slug(Q1.slug), period_by_slug(Q2.slug)

    def report(period, day, status, progress, narrative, version=None, evidence=None):
        row = service.save_update(
            org,
            period,
            homes,
            service.UpdateInput(
                status=status,
                progress_value=Decimal(progress),
                narrative=narrative,
                evidence_url=evidence,
            ),
            version=version,
            complete=True,
            actor=lead,
            today=day,
        )
        with app.test_request_context():
            assert service.submit(org, period, actor=lead, now=at(day)).submitted
        return row

    report(q1, date(2024, 7, 10), DeliveryStatus.ON_TRACK, "104.4", "Two sites started.")
    with app.test_request_context():
        first = service.find_return(org, q1)
        assert service.accept(first, version=first.version, actor=admin, now=at(date(2024, 7, 12)))

    # In Q2 the board raised the target: a moved goalpost, with its reason.
    update_commitment(
        homes,
        CommitmentDetails(
            title=homes.title,
            primary_priority_id=homes.primary_priority_id,
            unit="homes",
            baseline_value=Decimal(0),
            target_value=Decimal(500),
            target_date=date(2030, 3, 31),
            direction=Direction.INCREASE,
        ),
        version=homes.version,
        actor=admin,
        today=date(2024, 8, 20),
        reason="The first year went better than planned.",
        now=at(date(2024, 8, 20)),
    )
    first = report(q2, date(2024, 10, 1), DeliveryStatus.ON_TRACK, "181", "Third site.")
    with app.test_request_context():
        second = service.find_return(org, q2)
        assert service.send_back(
            second,
            "Is the third site really on track? The planning report says otherwise.",
            version=second.version,
            actor=admin,
            now=at(date(2024, 10, 3)),
        )
    report(
        q2,
        date(2024, 10, 5),
        DeliveryStatus.AT_RISK,
        "181",
        "Third site: planning delayed to the spring.",
        version=first.version,
        evidence="https://example.org/planning",
    )
    return {"org": org, "homes": homes, "lead": lead, "admin": admin}


@time_machine.travel(datetime(2024, 10, 6, 9, tzinfo=UTC), tick=False)
def test_the_reviewer_sees_every_submission_comment_and_change(client, story):
    sign_in(client, story["admin"])
    page = get_page(client, "/admin/returns/2024-25-q2/hearth")
    assert "Submitted 2 times, last 5 October 2024 at 11:00am by Lee Lead" in page.text

    history = [item.get_text(" ", strip=True) for item in page.soup.select("ol.app-history > li")]
    assert history[0].startswith("Submitted by Lee Lead, 1 October 2024 at 11:00am")
    assert history[1].startswith("Sent back for changes by Ada Admin, 3 October 2024")
    assert "The planning report says otherwise." in history[1]
    assert history[2].startswith("Submitted by Lee Lead, 5 October 2024")

    since_submission = page.soup.find(id=f"changes-{story['homes'].id}-submission")
    assert since_submission.text == "Since the submission of 1 October 2024 at 11:00am"
    changes = since_submission.find_next("ul").get_text(" ", strip=True)
    assert "Status: On track → At risk" in changes
    assert "Evidence: none → https://example.org/planning" in changes
    assert "Progress update: changed" in changes
    assert "Progress:" not in changes  # the figure did not change between submissions

    since_quarter = page.soup.find(id=f"changes-{story['homes'].id}-quarter")
    assert since_quarter.text == "Since last quarter (2024/25 Q1)"
    changes = since_quarter.find_next("ul")
    moved = changes.find("li", class_="app-moved-goalpost").get_text(" ", strip=True)
    assert moved == (
        "Target (moved goalpost): 400 homes by 31 March 2030, from 0 homes → "
        "500 homes by 31 March 2030, from 0 homes"
    )
    assert "Progress: 104.4 homes → 181 homes" in changes.get_text(" ", strip=True)
    reason = page.soup.select_one("div.app-moved-goalpost").get_text(" ", strip=True)
    assert "target value 400 → 500" in reason
    assert "Reason: The first year went better than planned." in reason


@time_machine.travel(datetime(2024, 10, 6, 9, tzinfo=UTC), tick=False)
def test_last_quarters_progress_is_measured_against_the_target_it_was_reported_against(
    client, story
):
    sign_in(client, story["lead"])
    page = get_page(client, f"/organisations/hearth/commitments/{story['homes'].id}")
    table = page.soup.find("table", id="progress-figures")
    rows = {
        row.th.get_text(strip=True): row.get_text(" ", strip=True)
        for row in table.find("tbody").find_all("tr")
    }
    # 104.4 of the 400 in force in Q1 (not of the 500 set since); 181 of 500 in Q2.
    assert "26.1% of the way" in rows["2024/25 Q1"]
    assert "36.2% of the way" in rows["2024/25 Q2"]
