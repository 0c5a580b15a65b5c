"""Accounts and sessions (RELIABILITY.md): invitations, sign-in, resets, throttling, sessions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from tests.factories import PASSWORD, make_organisation, make_user
from tests.support.auth import fresh_code, sign_in
from tests.support.pages import get_page, post_page
from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.mail import deliver_queued
from tracker.models import AuditEvent, Notification, SignInAttempt, User, UserToken
from tracker.services import accounts

NEW_PASSWORD = "a brand new long passphrase"


@pytest.fixture
def mail_to(app, smtp_server, monkeypatch):
    """Route the app's mail to the in-process SMTP server; returns a function that delivers."""
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", smtp_server.host)
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)

    def deliver(now: datetime | None = None) -> list:
        before = len(smtp_server.messages)
        deliver_queued(now=now or datetime.now(UTC))
        return smtp_server.messages[before:]

    return deliver


def link_in(message, path: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(rf"https?://[^\s]+({re.escape(path)}[^\s]+)", body)
    assert match, body
    return match.group(1)


# Invitation --------------------------------------------------------------------------------------


def test_invitation_journey_end_to_end(client, db_session, mail_to):
    admin = make_user(db_session, Role.ADMIN)
    barnfield = make_organisation(db_session, name="Barnfield College")
    sign_in(client, admin)

    response = client.post(
        "/admin/users/new",
        data={
            "email": "New.Lead@Example.org",
            "name": "Nia Lead",
            "role": "lead",
            "organisations": [str(barnfield.id)],
        },
    )
    assert response.status_code == 302
    client.post("/sign-out")

    [message] = mail_to()
    assert message["To"] == "Nia Lead <new.lead@example.org>"
    assert "invited" in message["Subject"]
    link = link_in(message, "/invitations/")

    page = get_page(client, link)
    assert page.h1 == "Create your account"
    assert "Barnfield College" in page.text
    response = client.post(
        link, data={"name": "Nia Lead", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert "Nia Lead" in get_page(client, "/account").text

    # The link works once.
    client.post("/sign-out")
    page = get_page(client, link, status=404)
    assert page.h1 == "This link has expired"
    # And the new password signs in.
    user = db.session.scalar(sa.select(User).filter_by(email="new.lead@example.org"))
    sign_in(client, user, NEW_PASSWORD)


def test_an_expired_invitation_fails(client, db_session, mail_to):
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    client.post(
        "/admin/users/new", data={"email": "late@example.org", "name": "L", "role": "board"}
    )
    [message] = mail_to()
    link = link_in(message, "/invitations/")
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8)):
        assert get_page(client, link, status=404).h1 == "This link has expired"


def test_resending_an_invitation_kills_the_old_link(client, db_session, mail_to):
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    client.post(
        "/admin/users/new", data={"email": "twice@example.org", "name": "T", "role": "board"}
    )
    [first] = mail_to()
    user = db.session.scalar(sa.select(User).filter_by(email="twice@example.org"))
    assert client.post(f"/admin/users/{user.id}/invitation").status_code == 302
    [second] = mail_to()
    assert get_page(client, link_in(first, "/invitations/"), status=404)
    assert get_page(client, link_in(second, "/invitations/")).h1 == "Create your account"


def test_tokens_are_stored_hashed(client, db_session, mail_to):
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    client.post("/admin/users/new", data={"email": "h@example.org", "name": "H", "role": "board"})
    [message] = mail_to()
    raw = link_in(message, "/invitations/").rsplit("/", 1)[1]
    assert len(raw) >= 22  # at least 128 bits, url-safe
    stored = db.session.scalars(sa.select(UserToken.token_hash)).all()
    assert raw not in stored
    assert all(len(value) == 64 for value in stored)


def test_the_invitee_cannot_choose_their_own_role(client, db_session, mail_to):
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    client.post("/admin/users/new", data={"email": "m@example.org", "name": "M", "role": "board"})
    [message] = mail_to()
    client.post("/sign-out")
    other = make_organisation(db_session)
    client.post(
        link_in(message, "/invitations/"),
        data={
            "name": "M",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "role": "admin",
            "organisation_id": str(other.id),
            "organisations": [str(other.id)],
        },
    )
    user = db.session.scalar(sa.select(User).filter_by(email="m@example.org"))
    assert user.role == Role.BOARD
    assert user.organisations == []


BAD_ADDRESSES = [
    "not-an-email",
    "bad-address",
    "name@",
    "@example.org",
    "two@signs@example.org",
    "name@localhost",
    "a b@example.org",
    "name@example..org",
    "josé@example.org",  # the web form's rule lets it through; the outbox cannot send to it
]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_an_account_needs_an_email_address_it_can_be_emailed_at(db_session, address):
    # QA round 2, #2: the command line made board members called "not-an-email", and every
    # board summary publish then failed for the whole board.
    with pytest.raises(accounts.AccountError) as refused:
        accounts.create_user(
            email=address, name="Bo Board", role=Role.BOARD, actor_label="command line"
        )
    assert address in str(refused.value) and "\n" not in str(refused.value)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_an_empty_or_overlong_address_is_refused_in_words(db_session):
    for address, message in [
        ("  ", "Enter an email address"),
        ("a" * 310 + "@example.org", "Email address must be 320 characters or fewer"),
    ]:
        with pytest.raises(accounts.AccountError, match=message):
            accounts.create_user(email=address, name="Bo", role=Role.BOARD)
    made = accounts.create_user(email="  Bo.Board+pack@Example.ORG ", name="Bo", role=Role.BOARD)
    assert made.email == "bo.board+pack@example.org"


def test_the_invitation_form_names_an_address_it_cannot_email(client, db_session):
    sign_in(client, make_user(db_session, Role.ADMIN))
    page = post_page(
        client,
        "/admin/users/new",
        {"email": "josé@example.org", "name": "José", "role": "board"},
    )
    assert page.errors == [
        "josé@example.org cannot be emailed from this service: enter another address"
    ]
    assert db_session.scalar(sa.select(User).filter_by(name="José")) is None


# Password reset ----------------------------------------------------------------------------------


def test_password_reset_journey_ends_other_sessions(app, client, db_session, mail_to):
    user = make_user(db_session, Role.BOARD)
    other_device = app.test_client()
    sign_in(other_device, user)
    assert other_device.get("/account").status_code == 200

    page_response = client.post("/password-reset", data={"email": user.email.upper()})
    assert b"Check your email" in page_response.data
    [message] = mail_to()
    link = link_in(message, "/password-reset/")
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302

    assert client.get("/account").status_code == 200  # this browser is signed in
    assert other_device.get("/account").status_code == 302  # the other one is not
    assert get_page(client, link, status=404).h1 == "This link has expired"
    client.post("/sign-out")
    sign_in(client, user, NEW_PASSWORD)


def test_reset_links_expire_after_an_hour(client, db_session, mail_to):
    user = make_user(db_session, Role.BOARD)
    client.post("/password-reset", data={"email": user.email})
    [message] = mail_to()
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=61)):
        assert get_page(client, link_in(message, "/password-reset/"), status=404)


def test_reset_answers_the_same_for_unknown_emails(client, db_session, mail_to):
    user = make_user(db_session, Role.BOARD)
    known = client.post("/password-reset", data={"email": user.email})
    unknown = client.post("/password-reset", data={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda response, email: response.get_data(as_text=True).replace(email, "EMAIL")  # noqa: E731
    assert strip(known, user.email) == strip(unknown, "nobody@example.org").replace(
        *_nonces(known, unknown)
    )
    assert len(mail_to()) == 1  # only the real account gets an email


def _nonces(first, second) -> tuple[str, str]:
    pattern = re.compile(r'nonce="([^"]+)"')
    return pattern.search(second.get_data(as_text=True)).group(1), pattern.search(
        first.get_data(as_text=True)
    ).group(1)


def test_a_deactivated_account_gets_no_reset_email(client, db_session, mail_to):
    user = make_user(db_session, Role.BOARD, active=False)
    client.post("/password-reset", data={"email": user.email})
    assert mail_to() == []


# Sign-in -----------------------------------------------------------------------------------------


def test_sign_in_and_out(client, db_session):
    user = make_user(db_session, Role.BOARD, name="Bo Board")
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/board"  # board members start on the summary
    page = get_page(client, "/account")
    assert "Bo Board" in page.text
    assert page.response.headers["Cache-Control"] == "no-store"
    assert client.post("/sign-out").status_code == 302
    assert client.get("/account").status_code == 302


def test_sign_out_is_a_post(client, db_session):
    assert client.get("/sign-out").status_code == 405


def test_wrong_password_and_unknown_email_look_the_same(client, db_session):
    user = make_user(db_session, Role.BOARD)
    wrong = client.post("/sign-in", data={"email": user.email, "password": "wrong password!"})
    unknown = client.post("/sign-in", data={"email": "x@example.org", "password": "whatever!!"})
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        page = get_page_from(response)
        assert page.errors == ["Enter a correct email address and password"]
        assert page.title.startswith("Error: ")


def get_page_from(response):
    from bs4 import BeautifulSoup

    from tests.support.pages import Page

    return Page(response, BeautifulSoup(response.get_data(as_text=True), "html.parser"))


def test_empty_sign_in_names_each_field(client, db_session):
    page = get_page_from(client.post("/sign-in", data={"email": "", "password": ""}))
    assert page.errors == ["Enter an email address", "Enter a password"]
    assert page.soup.select_one(".govuk-error-summary a")["href"] == "#email"


def test_next_redirects_stay_on_this_site(client, db_session):
    user = make_user(db_session, Role.ADMIN)
    for target, expected in [
        ("/admin/users", "/admin/users"),
        ("https://evil.example/", "/admin"),  # an admin's own start page instead
        ("//evil.example/x", "/admin"),
        ("/\\evil.example", "/admin"),
        ("javascript:alert(1)", "/admin"),
    ]:
        response = client.post(
            "/sign-in?next=" + target, data={"email": user.email, "password": PASSWORD}
        )
        # An admin's password leads to the second factor, which carries a safe next= on.
        second = response.headers["Location"]
        assert second.startswith("/account/two-factor"), target
        response = client.post(second, data={"code": fresh_code(user)})
        assert response.headers["Location"] == expected, target
        client.post("/sign-out")
    # The second step checks next= itself too.
    client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    response = client.post(
        "/account/two-factor?next=//evil.example/x", data={"code": fresh_code(user)}
    )
    assert response.headers["Location"] == "/admin"


def test_each_role_lands_where_its_work_is_unless_next_says_otherwise(client, db_session):
    organisation = make_organisation(db_session)
    for role, home, heading in [
        (Role.BOARD, "/board", "Place Board summary"),
        (Role.ADMIN, "/admin", "Admin"),
        (Role.LEAD, "/returns", "Your returns"),
    ]:
        user = make_user(
            db_session, role, organisations=[organisation] if role == Role.LEAD else []
        )
        response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
        if role == Role.ADMIN:  # an admin passes the second factor first
            assert response.headers["Location"].startswith("/account/two-factor")
            response = client.post(response.headers["Location"], data={"code": fresh_code(user)})
        assert response.headers["Location"] == home, role
        assert heading in get_page(client, home).text, role
        client.post("/sign-out")
    board = make_user(db_session, Role.BOARD)
    response = client.post(
        "/sign-in?next=/organisations", data={"email": board.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/organisations"


def test_a_fresh_session_on_sign_in(client, db_session):
    user = make_user(db_session, Role.BOARD)
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    sign_in(client, user)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_sign_in_is_throttled_per_account_from_the_database(app, client, db_session):
    user = make_user(db_session, Role.BOARD)
    for _ in range(5):
        client.post("/sign-in", data={"email": user.email, "password": "not the password"})
    # The right password, from a client claiming another address, on another "worker".
    other_worker = app.test_client()
    response = other_worker.post(
        "/sign-in",
        data={"email": user.email, "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(SignInAttempt)
            .where(SignInAttempt.email == user.email)
        )
        == 6
    )
    # Fifteen minutes later the account can sign in again.
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=16)):
        sign_in(other_worker, user)


def test_sign_in_is_throttled_per_client(client, db_session):
    user = make_user(db_session, Role.BOARD)
    for n in range(30):
        client.post("/sign-in", data={"email": f"guess{n}@example.org", "password": "x" * 8})
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 429


# Sessions ----------------------------------------------------------------------------------------


def test_deactivation_ends_sessions_on_the_next_request(app, client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    lead = make_user(db_session, Role.LEAD, organisations=[make_organisation(db_session)])
    lead_browser = app.test_client()
    sign_in(lead_browser, lead)
    assert lead_browser.get("/account").status_code == 200

    sign_in(client, admin)
    assert client.post(f"/admin/users/{lead.id}/deactivate").status_code == 302
    assert lead_browser.get("/account").status_code == 302
    assert (
        lead_browser.post("/sign-in", data={"email": lead.email, "password": PASSWORD}).status_code
        == 200
    )


def test_demotion_takes_effect_on_the_next_request(app, client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    other_admin = make_user(db_session, Role.ADMIN)
    browser = app.test_client()
    sign_in(browser, other_admin)
    assert browser.get("/admin/users").status_code == 200
    sign_in(client, admin)
    client.post(f"/admin/users/{other_admin.id}", data={"name": other_admin.name, "role": "board"})
    response = browser.get("/admin/users")
    assert response.status_code == 302  # signed out: the session no longer matches


def test_changing_password_ends_other_sessions_but_not_this_one(app, client, db_session):
    user = make_user(db_session, Role.BOARD)
    other = app.test_client()
    sign_in(other, user)
    sign_in(client, user)
    response = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert client.get("/account").status_code == 200
    assert other.get("/account").status_code == 302


def test_change_password_checks_the_current_one_and_the_rules(client, db_session):
    user = make_user(db_session, Role.BOARD)
    sign_in(client, user)
    page = get_page_from(
        client.post(
            "/account/password",
            data={"current": "wrong one", "password": "password1", "confirm": "password2"},
        )
    )
    assert page.errors == [
        "Password is too common: choose one that would be hard to guess",
        "Passwords must match",
    ]
    page = get_page_from(
        client.post(
            "/account/password",
            data={"current": "wrong one", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        )
    )
    assert page.errors == ["Your current password is not correct"]


def test_idle_and_absolute_timeouts(client, db_session):
    user = make_user(db_session, Role.BOARD)
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        sign_in(client, user)
    with time_machine.travel(start + timedelta(minutes=59), tick=False):
        assert client.get("/account").status_code == 200
    with time_machine.travel(start + timedelta(minutes=59 + 61), tick=False):
        response = client.get("/account")
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    with time_machine.travel(start, tick=False):
        sign_in(client, user)
    # Active all day long, but a session still ends after 12 hours.
    for hour in range(1, 13):
        with time_machine.travel(start + timedelta(minutes=50 * hour), tick=False):
            assert client.get("/account").status_code == 200
    with time_machine.travel(start + timedelta(hours=12, minutes=1), tick=False):
        assert client.get("/account").status_code == 302


def test_passwords_are_hashed_with_scrypt(db_session):
    from tracker.services import accounts

    user = make_user(db_session, Role.BOARD)
    accounts.set_password(user, NEW_PASSWORD)
    assert user.password_hash.startswith("scrypt:")
    assert NEW_PASSWORD not in user.password_hash


def test_the_hash_cost_follows_the_setting_and_older_hashes_still_sign_in(app, client, db_session):
    from tracker.services import accounts

    user = make_user(db_session, Role.BOARD)
    before = user.password_hash
    assert before.startswith("scrypt:32768:8:1$")
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:16384:8:1"
    try:
        other = make_user(db_session, Role.BOARD)
        accounts.set_password(other, NEW_PASSWORD)
        assert other.password_hash.startswith("scrypt:16384:8:1$")
        # The hash made at the old cost still works after the change.
        db_session.commit()
        sign_in(client, user)
        assert client.get("/account").status_code == 200
    finally:
        app.config["PASSWORD_HASH_METHOD"] = "scrypt:32768:8:1"


def test_account_changes_are_audited(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    lead = make_user(db_session, Role.LEAD, organisations=[make_organisation(db_session)])
    sign_in(client, admin)
    client.post(f"/admin/users/{lead.id}/deactivate")
    event = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.entity_type == "user", AuditEvent.entity_id == str(lead.id)
        )
    ).all()[-1]
    assert event.action == "deactivated"
    assert event.actor_id == admin.id
    assert event.before == {"active": True} and event.after == {"active": False}


def test_the_audit_log_is_append_only(db_session):
    from tracker.services import audit

    event = audit.record("created", "thing", 1, actor_label="test")
    db.session.flush()
    for statement in (
        sa.update(AuditEvent).where(AuditEvent.id == event.id).values(action="rewritten"),
        sa.delete(AuditEvent).where(AuditEvent.id == event.id),
    ):
        savepoint = db_session.begin_nested()
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(statement)
        savepoint.rollback()


def test_queued_email_commits_with_the_change_or_not_at_all(client, db_session, mail_to):
    admin = make_user(db_session, Role.ADMIN)
    make_user(db_session, Role.BOARD, email="taken@example.org")
    sign_in(client, admin)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    response = client.post(
        "/admin/users/new", data={"email": "taken@example.org", "name": "Dup", "role": "board"}
    )
    assert "taken@example.org already has an account" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == before


def test_names_are_escaped_in_emails(client, db_session, mail_to):
    admin = make_user(db_session, Role.ADMIN, name="<b>Boss</b>")
    sign_in(client, admin)
    client.post(
        "/admin/users/new",
        data={"email": "esc@example.org", "name": "<script>x</script>", "role": "board"},
    )
    [message] = mail_to()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>Boss</b>" not in html
