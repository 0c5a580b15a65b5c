"""The leads hear about their return: a receipt when it is submitted, a notice when accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from tests.factories import make_commitment, make_organisation, make_period, make_place, make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page, version_on
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, Role
from tracker.extensions import db
from tracker.mail import deliver_queued
from tracker.models import Notification
from tracker.services.returns import UpdateInput, save_update

# 10:00 UTC is 11:00 in London in July (British Summer Time).
SUBMITTED_AT = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
ACCEPTED_AT = datetime(2024, 7, 3, 15, 30, tzinfo=UTC)
BASE = "https://pledges.example.org"
TASK_LIST = "/organisations/active-luton/returns/2024-25-q1"


@pytest.fixture
def town(app, db_session, monkeypatch):
    """Active Luton with two commitments, two active leads and a former one; an admin."""
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", BASE)
    place = make_place(db_session)
    org = make_organisation(db_session, name="Active Luton", slug="active-luton")
    commitments = [
        make_commitment(db_session, org, title=title, primary_priority_id=place.priorities[0].id)
        for title in ("Pay the Real Living Wage", "Plant trees")
    ]
    period = make_period(db_session, Quarter(2024, 1))
    lee = make_user(db_session, organisations=[org], name="Lee Lead", email="lee@example.org")
    make_user(db_session, organisations=[org], name="Dee Deputy", email="dee@example.org")
    make_user(db_session, organisations=[org], email="gone@example.org", active=False)
    other = make_organisation(db_session, name="Other Trust")
    make_user(db_session, organisations=[other], email="other-lead@example.org")
    admin = make_user(db_session, Role.ADMIN, name="Ada Admin", email="ada@example.org")
    for commitment in commitments:
        save_update(
            org,
            period,
            commitment,
            UpdateInput(status=DeliveryStatus.ON_TRACK),
            version=None,
            complete=True,
            actor=lee,
            today=SUBMITTED_AT.date(),
        )
    db_session.flush()
    return {"org": org, "period": period, "lee": lee, "admin": admin}


def emails(kind: str) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification).where(Notification.kind == kind).order_by(Notification.id)
        )
    )


def submit(client, town) -> None:
    with time_machine.travel(SUBMITTED_AT, tick=False):
        sign_in(client, town["lee"])
        response = client.post(TASK_LIST + "/submit")
        assert response.status_code == 200 and b"Return submitted" in response.data
        client.post("/sign-out")


REVIEW = "/admin/returns/2024-25-q1/active-luton"


def accept(client, town, version: str | None = None) -> str:
    """The admin presses Accept on the return's page, or on one opened earlier (its version);
    the version pressed on."""
    with time_machine.travel(ACCEPTED_AT, tick=False):
        sign_in(client, town["admin"])
        version = version or version_on(get_page(client, REVIEW), REVIEW + "/accept")
        response = client.post(REVIEW + "/accept", data={"version": version})
        assert response.status_code == 302
        client.post("/sign-out")
    return version


def test_submitting_sends_every_active_lead_a_receipt(client, db_session, town):
    submit(client, town)
    receipts = emails("return_submitted")
    # The former lead and the other organisation's lead hear nothing.
    assert sorted(r.recipient_email for r in receipts) == ["dee@example.org", "lee@example.org"]
    receipt = next(r for r in receipts if r.recipient_email == "dee@example.org")
    assert receipt.subject == "Active Luton: your 2024/25 Q1 return has been submitted"
    assert receipt.recipient_name == "Dee Deputy"
    assert (receipt.organisation_id, receipt.period_id) == (town["org"].id, town["period"].id)
    for body in (receipt.body_text, receipt.body_html):
        assert "Dear Dee Deputy" in body
        assert "Lee Lead submitted Active Luton's 2024/25 Q1 return" in body
        assert "1 July 2024 at 11:00am" in body  # London time, not UTC
        assert "2 commitments" in body
        assert "programme team will review it" in body
        assert BASE + TASK_LIST in body


def test_accepting_tells_the_active_leads_who_accepted_it(client, db_session, town):
    submit(client, town)
    version = accept(client, town)
    notices = emails("return_accepted")
    assert sorted(n.recipient_email for n in notices) == ["dee@example.org", "lee@example.org"]
    notice = notices[0]
    assert notice.subject == "Active Luton: your 2024/25 Q1 return has been accepted"
    for body in (notice.body_text, notice.body_html):
        assert "Ada Admin accepted Active Luton's 2024/25 Q1 return" in body
        assert "3 July 2024 at 4:30pm" in body
        assert "counts on the Place Board's summary" in body
        assert BASE + TASK_LIST in body
    # Pressing accept again changes nothing and sends nothing more.
    accept(client, town, version)
    assert len(emails("return_accepted")) == 2


def test_an_inactive_lead_gets_nothing(client, db_session, town):
    submit(client, town)
    accept(client, town)
    to_former = db.session.scalars(
        sa.select(Notification).where(Notification.recipient_email == "gone@example.org")
    ).all()
    assert to_former == []


def test_a_return_submitted_again_after_a_send_back_gets_a_second_receipt(client, db_session, town):
    submit(client, town)
    with time_machine.travel(SUBMITTED_AT, tick=False):
        sign_in(client, town["admin"])
        version = version_on(get_page(client, REVIEW))
        client.post(REVIEW, data={"comment": "Add the evidence link", "version": version})
        client.post("/sign-out")
    sent_back = sorted(e.recipient_email for e in emails("return_sent_back"))
    assert sent_back == ["dee@example.org", "lee@example.org"]
    submit(client, town)
    to_lee = [r for r in emails("return_submitted") if r.recipient_email == "lee@example.org"]
    assert len(to_lee) == 2
    assert len({r.idempotency_key for r in to_lee}) == 2
    assert "return again on" in to_lee[1].body_text
    assert "return again" not in to_lee[0].body_text


def test_a_lead_receives_the_receipt_and_the_notice_by_email(
    app, client, db_session, town, smtp_server, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", smtp_server.host)
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    submit(client, town)
    accept(client, town)
    deliver_queued(now=ACCEPTED_AT)

    to_lee = [m for m in smtp_server.messages if m["To"].addresses[0].username == "lee"]
    assert [m["Subject"] for m in to_lee] == [
        "Active Luton: your 2024/25 Q1 return has been submitted",
        "Active Luton: your 2024/25 Q1 return has been accepted",
    ]
    receipt, notice = to_lee
    assert str(receipt["To"]) == "Lee Lead <lee@example.org>"
    text = receipt.get_body(("plain",)).get_content()
    html = receipt.get_body(("html",)).get_content()
    assert "Lee Lead submitted Active Luton's 2024/25 Q1 return on 1 July 2024 at 11:00am" in text
    assert f'<a href="{BASE}{TASK_LIST}">Read the 2024/25 Q1 return</a>' in html
    assert "Ada Admin accepted" in notice.get_body(("plain",)).get_content()
    # Each message went once, under its own Message-ID.
    assert len(smtp_server.message_ids) == len(set(smtp_server.message_ids)) == 4


def test_names_cannot_add_headers_or_markup(client, db_session, town):
    town["org"].name = "Active <b>Luton</b>\r\nBcc: evil@example.org"
    town["lee"].name = "Lee\nLead <script>"
    db_session.flush()
    submit(client, town)
    receipt = next(r for r in emails("return_submitted") if r.recipient_email == "dee@example.org")
    assert "\n" not in receipt.subject and "\r" not in receipt.subject
    assert "<script>" not in receipt.body_html and "&lt;script&gt;" in receipt.body_html
    assert "<b>Luton</b>" not in receipt.body_html
