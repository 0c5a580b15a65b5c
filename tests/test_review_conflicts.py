"""Two admins reviewing one return: a decision applies only to the submission its admin read.

QA finding 5: admin A opened a submitted return; admin B sent it back; the lead changed every
answer and submitted again; A pressed Accept on the page still open, and the new submission,
which A never saw, was accepted and its statuses published. The review forms now carry the
version of the return the admin read, and the service reviews only that version.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine

from tests.factories import make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page, post_page, version_on
from tests.test_year_of_operation import Q1, Town, at
from tracker.domain.enums import DeliveryStatus, ReturnEventKind, ReturnState, Role
from tracker.models import Commitment, Notification, ReturnEvent
from tracker.services import returns as service

REVIEW = "/admin/returns/2024-25-q1/prompt"
OPENED = at(date(2024, 7, 12))
LATER = OPENED + timedelta(minutes=20)


@pytest.fixture
def town(app, db_session):  # type: ignore[no-untyped-def]
    """Prompt's Q1 return submitted on 10 July with everything on track; two admins."""
    town = Town(app, db_session)
    town.ben = make_user(db_session, Role.ADMIN, name="Ben Admin", email="ben@example.org")
    town.day(date(2024, 6, 16))
    assert town.file("Prompt", Q1, date(2024, 7, 10)).submitted
    return town


def resubmit_off_track(town: Town) -> None:
    """The lead changes every answer to off track and submits again."""
    org, period = town.orgs["Prompt"], town.period(Q1)
    for task in service.return_view(org, period, OPENED.date()).tasks:
        service.save_update(
            org,
            period,
            task.commitment,
            service.UpdateInput(
                status=DeliveryStatus.OFF_TRACK,
                narrative="Wage stalled: our board said no",
                progress_value=Decimal(5) if task.commitment.target_value else None,
            ),
            version=task.update.version,
            complete=True,
            actor=town.leads["Prompt"],
            today=OPENED.date(),
        )
    with town.app.test_request_context():
        assert service.submit(org, period, actor=town.leads["Prompt"], now=OPENED).submitted


def sent_back_by_ben(town: Town) -> None:
    ben = town.app.test_client()
    sign_in(ben, town.ben)
    page = get_page(ben, REVIEW)
    response = ben.post(
        REVIEW, data={"comment": "Is the wage on track?", "version": version_on(page)}
    )
    assert response.status_code == 302


def events(db_session) -> list[str]:  # type: ignore[no-untyped-def]
    return list(db_session.scalars(sa.select(ReturnEvent.kind).order_by(ReturnEvent.id)))


def statuses(town: Town) -> set[DeliveryStatus]:
    """Prompt's commitments' statuses as the public sees them."""
    organisation_id = town.orgs["Prompt"].id
    return set(
        town.session.scalars(
            sa.select(Commitment.current_status).where(
                Commitment.organisation_id == organisation_id
            )
        )
    )


def test_an_accept_pressed_on_a_page_opened_before_a_resubmission_is_refused(
    client, town, db_session
):
    with time_machine.travel(OPENED, tick=False):
        sign_in(client, town.admin)
        opened = get_page(client, REVIEW)
        assert "On track" in opened.text and "Off track" not in opened.text
        sent_back_by_ben(town)
        resubmit_off_track(town)

    with time_machine.travel(LATER, tick=False):
        stale = post_page(
            client,
            REVIEW + "/accept",
            {"version": version_on(opened, REVIEW + "/accept")},
            status=409,
        )
    # Ada is told, and sees what Prompt sent this time; nothing was accepted or published.
    assert stale.errors == [
        "Prompt submitted this return again on 12 July 2024 at 11:00am, after you opened it. "
        "Read what they sent before you accept it or send it back."
    ]
    assert stale.error_links == ["#accept"]
    assert "Off track" in stale.text and "Wage stalled: our board said no" in stale.text
    assert town.the_return("Prompt", Q1).state == ReturnState.SUBMITTED
    assert ReturnEventKind.ACCEPTED not in events(db_session)
    assert statuses(town) == {DeliveryStatus.NOT_STARTED}  # none ever accepted

    # Accepting from the page that shows the new submission works.
    with time_machine.travel(LATER, tick=False):
        response = client.post(
            REVIEW + "/accept", data={"version": version_on(stale, REVIEW + "/accept")}
        )
    assert response.status_code == 302
    assert town.the_return("Prompt", Q1).state == ReturnState.ACCEPTED
    assert statuses(town) == {DeliveryStatus.OFF_TRACK}


def test_a_send_back_from_a_page_opened_before_a_resubmission_is_refused(client, town, db_session):
    with time_machine.travel(OPENED, tick=False):
        sign_in(client, town.admin)
        opened = get_page(client, REVIEW)
        sent_back_by_ben(town)
        resubmit_off_track(town)
    sent = db_session.scalar(sa.select(sa.func.count()).select_from(Notification))

    with time_machine.travel(LATER, tick=False):
        stale = post_page(
            client,
            REVIEW,
            {"comment": "Add the evidence for the homes", "version": version_on(opened)},
            status=409,
        )
    assert stale.errors == [
        "Prompt submitted this return again on 12 July 2024 at 11:00am, after you opened it. "
        "Read what they sent before you accept it or send it back."
    ]
    # Ada's words are kept for her to send, once she has read the new submission.
    assert stale.soup.find("textarea", {"name": "comment"}).text.strip() == (
        "Add the evidence for the homes"
    )
    assert "Wage stalled: our board said no" in stale.text
    assert town.the_return("Prompt", Q1).state == ReturnState.SUBMITTED
    assert events(db_session).count(ReturnEventKind.SENT_BACK) == 1  # Ben's only
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Notification)) == sent


def test_a_review_without_the_version_it_read_is_refused(client, town, db_session):
    with time_machine.travel(OPENED, tick=False):
        sign_in(client, town.admin)
        post_page(client, REVIEW + "/accept", {}, status=409)
        post_page(client, REVIEW + "/accept", {"version": "²"}, status=409)
        post_page(client, REVIEW, {"comment": "Add the evidence"}, status=409)
    assert town.the_return("Prompt", Q1).state == ReturnState.SUBMITTED
    assert events(db_session) == [ReturnEventKind.SUBMITTED]


def test_the_service_reviews_only_the_version_it_is_given(town, db_session):
    read = town.the_return("Prompt", Q1).version
    town.send_back("Prompt", Q1, OPENED.date(), "Is the wage on track?")
    resubmit_off_track(town)
    return_ = town.the_return("Prompt", Q1)
    with town.app.test_request_context():
        with pytest.raises(service.StaleReview):
            service.accept(return_, version=read, actor=town.admin, now=LATER)
        with pytest.raises(service.StaleReview):
            service.send_back(return_, "Late words", version=read, actor=town.admin, now=LATER)
        assert return_.state == ReturnState.SUBMITTED
        # Two admins who read the same version: the first decision wins, the second is told
        # the return is no longer waiting for review.
        read = return_.version
        assert service.accept(return_, version=read, actor=town.admin, now=LATER)
        assert not service.send_back(return_, "Too late", version=read, actor=town.ben, now=LATER)
    assert return_.state == ReturnState.ACCEPTED
