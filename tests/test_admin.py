"""The programme team's pages: people, organisations (with optimistic locking), audit, outbox."""

from __future__ import annotations

import sqlalchemy as sa

from tests.factories import make_organisation, make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tracker.domain.enums import ContactRole, NotificationState, Role, Sector
from tracker.extensions import db
from tracker.mail import queue_email
from tracker.models import AuditEvent, Notification, Organisation


def test_admin_lists_people_with_their_state(client, db_session):
    admin = make_user(db_session, Role.ADMIN, name="Ada Admin")
    make_user(db_session, Role.BOARD, name="Ben Board", with_password=False)
    make_user(db_session, Role.BOARD, name="Cal Gone", active=False)
    sign_in(client, admin)
    page = get_page(client, "/admin/users")
    rows = {
        row.th.get_text(strip=True): row.select("td")[-1].get_text(strip=True)
        for row in page.soup.select("tbody tr")
    }
    assert rows == {"Ada Admin": "Active", "Ben Board": "Invited", "Cal Gone": "Deactivated"}


def test_inviting_names_every_problem(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    response = client.post("/admin/users/new", data={"email": "not an email", "role": "lead"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Enter an email address in the correct format" in text
    assert "Enter a name" in text
    assert "Select the organisations this lead reports for" in text
    assert "<title>Error: Invite someone" in text


def test_changing_a_leads_organisations(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    a, b = make_organisation(db_session), make_organisation(db_session)
    lead = make_user(db_session, Role.LEAD, organisations=[a])
    sign_in(client, admin)
    response = client.post(
        f"/admin/users/{lead.id}",
        data={"name": lead.name, "role": "lead", "organisations": [str(b.id)]},
    )
    assert response.status_code == 302
    db.session.refresh(lead)
    assert lead.organisations == [b]
    # Making them a board member clears their organisations only if the form does too.
    response = client.post(
        f"/admin/users/{lead.id}",
        data={"name": lead.name, "role": "board", "organisations": [str(b.id)]},
    )
    assert "Only organisation leads belong to organisations" in response.get_data(as_text=True)


def test_admins_cannot_lock_themselves_out(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    client.post(f"/admin/users/{admin.id}/deactivate")
    client.post(f"/admin/users/{admin.id}", data={"name": admin.name, "role": "board"})
    db.session.refresh(admin)
    assert admin.active and admin.role == Role.ADMIN


def test_creating_and_editing_an_organisation_with_contacts(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    response = client.post(
        "/admin/organisations/new",
        data={
            "name": "Luton Rotary",
            "sector": "voluntary_community",
            "website": "https://rotary.example.org",
            "deputy_name": "Dee Puty",
            "deputy_email": "Dee@Example.org",
        },
    )
    assert response.status_code == 302
    organisation = db.session.scalar(sa.select(Organisation).filter_by(slug="luton-rotary"))
    assert organisation.sector == Sector.VOLUNTARY_COMMUNITY
    assert organisation.contact(ContactRole.DEPUTY).email == "dee@example.org"

    page = get_page(client, "/admin/organisations/luton-rotary")
    version = page.soup.find("input", {"name": "version"})["value"]
    response = client.post(
        "/admin/organisations/luton-rotary",
        data={"name": "Rotary Club of Luton", "sector": "", "version": version},
    )
    assert response.status_code == 302
    db.session.refresh(organisation)
    assert organisation.name == "Rotary Club of Luton"
    assert organisation.slug == "luton-rotary"  # URLs do not move
    assert organisation.contacts == []
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.organisation_id == organisation.id)
    ).all()
    assert actions == ["created", "updated"]


def test_half_a_contact_is_refused(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    response = client.post(
        "/admin/organisations/new", data={"name": "Half", "sponsor_name": "Only a name"}
    )
    assert "Enter both the sponsor&#39;s name and email address" in response.get_data(as_text=True)


def test_a_stale_edit_is_refused_and_keeps_both_versions(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    organisation = make_organisation(db_session, name="Old Name")
    sign_in(client, admin)
    page = get_page(client, f"/admin/organisations/{organisation.slug}")
    stale = page.soup.find("input", {"name": "version"})["value"]
    # Someone else saves first.
    organisation.name = "Their Name"
    db.session.commit()

    response = client.post(
        f"/admin/organisations/{organisation.slug}",
        data={"name": "My Name", "version": stale},
    )
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "Someone else changed this organisation" in text
    assert 'value="Their Name"' in text  # their change, intact, in the form
    assert "My Name" in text  # and what I typed, so nothing is lost
    db.session.refresh(organisation)
    assert organisation.name == "Their Name"


def test_confirming_a_derived_name_clears_the_flag(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    organisation = make_organisation(db_session, name="ELFT", name_needs_review=True)
    sign_in(client, admin)
    assert "Confirm name" in get_page(client, "/admin/organisations").text
    page = get_page(client, f"/admin/organisations/{organisation.slug}")
    version = page.soup.find("input", {"name": "version"})["value"]
    client.post(
        f"/admin/organisations/{organisation.slug}",
        data={"name": "East London NHS Foundation Trust", "sector": "health", "version": version},
    )
    db.session.refresh(organisation)
    assert not organisation.name_needs_review


def test_audit_log_filters(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    a = make_organisation(db_session, name="Alpha")
    make_organisation(db_session, name="Beta")
    from tracker.services import audit

    audit.record("updated", "organisation", a.id, actor=admin, organisation_id=a.id)
    audit.record("updated", "thing", 9, actor_label="system")
    db.session.flush()
    sign_in(client, admin)
    # The organisation is typed, not picked from every one there is: its name, case aside.
    page = get_page(client, "/admin/audit?organisation=alpha")
    assert "1 event for Alpha" in page.text
    page = get_page(client, "/admin/audit?since=not-a-date")
    assert page.title.startswith("Error:")
    assert page.errors == ["From must be a date like 2024-07-31"]
    page = get_page(client, "/admin/audit?since=2099-01-01")
    assert "0 events" in page.text


def test_outbox_shows_failures_and_resends_them(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    notification = queue_email(
        kind="invitation",
        idempotency_key="test:resend",
        to_email="someone@example.org",
        to_name="Some One",
        subject="Hello",
        text="Hi",
    )
    notification.state = NotificationState.FAILED
    notification.last_error = "550 mailbox unavailable"
    db.session.flush()
    sign_in(client, admin)
    page = get_page(client, "/admin/notifications?state=failed")
    assert "550 mailbox unavailable" in page.text
    assert client.post(f"/admin/notifications/{notification.id}/resend").status_code == 302
    db.session.refresh(notification)
    assert notification.state == NotificationState.QUEUED
    assert db.session.get(Notification, notification.id).attempts == notification.attempts
