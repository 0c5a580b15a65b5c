"""Issue 16, tried as an attacker would: each test failed before its fix.

Read top to bottom, one numbered finding at a time (the numbers are the issue's):

1. deactivating a person revokes their links;
4. sign-in throttling an attacker cannot turn against the real user;
6. the outbox never holds a usable link;
7. a second factor (TOTP), required for admins;
8. a link used twice at the same instant works once;
9. the reset form refuses the person's own email address as a password;
12. the session cookie is ``__Host-`` prefixed in production.

Most run on SQLite and PostgreSQL; the races run on PostgreSQL, with real commits from many
threads at once (SQLite has one writer at a time, so it cannot race).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa
import time_machine
import yaml
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import test_accounts
from tests.conftest import make_test_app, require
from tests.factories import PASSWORD, make_organisation, make_user
from tests.support.auth import current_code, fresh_code, sign_in
from tests.support.commands import run_tracker
from tests.support.databases import (
    migrate_to_head,
    postgres_url_or_reason,
    scratch_postgres_database,
)
from tests.support.pages import Page, get_page
from tracker import config
from tracker.config import PROJECT_ROOT
from tracker.domain.enums import NotificationState, Role
from tracker.domain.throttling import ACCOUNT, LONGEST_DELAY, delay_after
from tracker.domain.tokens import link_token
from tracker.extensions import db
from tracker.models import (
    Notification,
    RecoveryCode,
    SignInThrottle,
    User,
    UserToken,
)
from tracker.services import accounts

NEW_PASSWORD = "a brand new long passphrase"
# The mail fixture (routes mail to the in-process SMTP server) and link finder of test_accounts.
mail_to = test_accounts.mail_to
link_in = test_accounts.link_in
ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}


def page_of(response) -> Page:  # type: ignore[no-untyped-def]
    from bs4 import BeautifulSoup

    return Page(response, BeautifulSoup(response.get_data(as_text=True), "html.parser"))


def user_named(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def invite_by_admin(client, admin: User, email: str, role: str = "board") -> None:  # type: ignore[no-untyped-def]
    sign_in(client, admin)
    response = client.post("/admin/users/new", data={"email": email, "name": "New", "role": role})
    assert response.status_code == 302


# 1. Deactivation revokes every link ---------------------------------------------------------------


def test_a_deactivated_invitee_cannot_accept_their_invitation(client, db_session, mail_to):
    admin = make_user(db_session, Role.ADMIN)
    invite_by_admin(client, admin, "leaver@example.org")
    [message] = mail_to()
    link = link_in(message, "/invitations/")
    invitee = user_named("leaver@example.org")
    assert client.post(f"/admin/users/{invitee.id}/deactivate").status_code == 302
    client.post("/sign-out")

    # The same neutral page as any dead link, on GET and on POST.
    assert get_page(client, link, status=404).h1 == "This link has expired"
    response = client.post(
        link, data={"name": "Leaver", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 404
    assert page_of(response).h1 == "This link has expired"
    db.session.refresh(invitee)
    assert invitee.active is False and invitee.password_hash is None
    # Revoked, not merely refused: reactivating does not bring the old link back.
    assert db.session.scalar(sa.select(UserToken.used_at).where(UserToken.user_id == invitee.id))


def test_deactivation_revokes_a_password_reset_link(client, db_session, mail_to):
    admin = make_user(db_session, Role.ADMIN)
    person = make_user(db_session, Role.BOARD)
    client.post("/password-reset", data={"email": person.email})
    [message] = mail_to()
    link = link_in(message, "/password-reset/")
    sign_in(client, admin)
    client.post(f"/admin/users/{person.id}/deactivate")
    client.post(f"/admin/users/{person.id}/reactivate")
    client.post("/sign-out")
    assert get_page(client, link, status=404).h1 == "This link has expired"


# 4. Throttling that cannot be turned against the real user ----------------------------------------


def test_the_delay_grows_after_five_failures_and_is_capped():
    waits = [delay_after(n, ACCOUNT.free) for n in range(12)]
    assert waits[:5] == [timedelta(0)] * 5
    assert waits[5:9] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert delay_after(50, ACCOUNT.free) == LONGEST_DELAY == timedelta(minutes=30)


def attack(app: Flask, email: str, failures: int, start: datetime) -> datetime:
    """Guess wrong ``failures`` times from the attacker's address, waiting as told; returns when."""
    attacker = app.test_client()
    moment, counted = start, 0
    while counted < failures:
        with time_machine.travel(moment, tick=False):
            response = attacker.post(
                "/sign-in",
                data={"email": email, "password": f"guess number {counted}"},
                environ_base=ATTACKER,
            )
        if response.status_code == 429:
            moment += timedelta(seconds=int(response.headers["Retry-After"]))
        else:
            assert response.status_code == 200
            counted += 1
    return moment


def test_an_attacker_at_fifty_failures_cannot_stop_the_owner_on_a_recognised_device(
    app, client, db_session
):
    owner = make_user(db_session, Role.BOARD)
    sign_in(client, owner)  # this browser is now a recognised device
    assert client.get_cookie("tracker_device") is not None
    client.post("/sign-out")

    after = attack(app, owner.email, 50, datetime.now(UTC))
    throttle = db.session.get(SignInThrottle, ACCOUNT.key(owner.email))
    db.session.refresh(throttle)
    assert throttle.failures == 50

    with time_machine.travel(after, tick=False):
        # The owner, from the browser they signed in on before: straight in.
        response = client.post("/sign-in", data={"email": owner.email, "password": PASSWORD})
        assert response.status_code == 302
        # The same right password from a new device is delayed, and told for how long.
        new_device = app.test_client()
        response = new_device.post(
            "/sign-in",
            data={"email": owner.email, "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "198.51.100.20"},
        )
        assert response.status_code == 429
        assert 0 < int(response.headers["Retry-After"]) <= LONGEST_DELAY.total_seconds()
        [error] = page_of(response).errors
        assert re.fullmatch(
            r"Too many attempts to sign in\. Wait \d+ minutes?, then try again", error
        )


def test_a_recognised_device_has_a_limit_of_its_own(app, client, db_session):
    owner = make_user(db_session, Role.BOARD)
    sign_in(client, owner)
    client.post("/sign-out")
    for n in range(5):
        wrong = client.post("/sign-in", data={"email": owner.email, "password": f"wrong {n}"})
        assert wrong.status_code == 200
    throttled = client.post("/sign-in", data={"email": owner.email, "password": PASSWORD})
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0


def test_a_stolen_device_cookie_does_not_exempt_guesses_at_another_account(app, client, db_session):
    mine = make_user(db_session, Role.BOARD)
    theirs = make_user(db_session, Role.BOARD)
    sign_in(client, mine)
    client.post("/sign-out")
    for n in range(5):
        client.post("/sign-in", data={"email": theirs.email, "password": f"wrong {n}"})
    response = client.post("/sign-in", data={"email": theirs.email, "password": PASSWORD})
    assert response.status_code == 429  # the cookie is bound to its own person


def test_the_address_limit_uses_the_proxys_address_and_ignores_forged_ones(
    app, database_url, tmp_path, db_session
):
    behind_proxy = make_test_app(database_url, tmp_path, TRUSTED_PROXIES=1)
    # Read now: each request to a second app ends its own context, which closes the session.
    email = make_user(db_session, Role.BOARD).email
    guesser = behind_proxy.test_client()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(30):
        # Each guess forges a new first entry; the proxy appends the real address last.
        response = guesser.post(
            "/sign-in",
            data={"email": f"guess{n}@example.org", "password": "x" * 8},
            headers={"X-Forwarded-For": f"192.0.2.{n}, 203.0.113.7"},
            environ_base=proxy,
        )
        assert response.status_code == 200
    blocked = guesser.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.250, 203.0.113.7"},
        environ_base=proxy,
    )
    assert blocked.status_code == 429 and blocked.headers["Retry-After"]
    # Everyone else behind the same proxy carries on.
    colleague = behind_proxy.test_client()
    response = colleague.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.44"},
        environ_base=proxy,
    )
    assert response.status_code == 302


def test_the_web_service_trusts_one_proxy_in_docker_compose():
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    environment = compose["services"]["web"]["environment"]
    assert environment["TRUSTED_PROXIES"] == "${TRUSTED_PROXIES:-1}"


def test_the_current_password_check_is_throttled(client, db_session):
    person = make_user(db_session, Role.BOARD)
    sign_in(client, person)
    form = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    for n in range(5):
        response = client.post("/account/password", data={**form, "current": f"wrong {n}"})
        assert page_of(response).errors == ["Your current password is not correct"]
    response = client.post("/account/password", data={**form, "current": PASSWORD})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert page_of(response).errors[0].startswith("Too many attempts. Wait 1 minute")
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2)):
        assert (
            client.post("/account/password", data={**form, "current": PASSWORD}).status_code == 302
        )


# The races: PostgreSQL, real commits, threads with sessions of their own.


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory) -> Iterator[Flask]:
    url, reason = postgres_url_or_reason()
    if url is None:
        require("PostgreSQL", reason)
    with scratch_postgres_database(url) as scratch:
        app = make_test_app(
            scratch,
            tmp_path_factory.mktemp("security"),
            SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10, "max_overflow": 2, "pool_timeout": 30},
        )
        migrate_to_head(app)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def at_once(count: int, work) -> list:  # type: ignore[no-untyped-def]
    """Run ``work(index)`` in ``count`` threads released together; what each returned."""
    barrier = threading.Barrier(count, timeout=30)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_eight_parallel_guesses_get_five_checks(pg_app):
    with pg_app.app_context():
        email = make_user(db.session, Role.BOARD).email
        db.session.commit()

    def guess(index: int) -> int:
        response = pg_app.test_client().post(
            "/sign-in",
            data={"email": email, "password": f"parallel guess {index}"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{index + 1}"},
        )
        return response.status_code

    statuses = at_once(8, guess)
    assert sorted(statuses) == [200] * 5 + [429] * 3
    with pg_app.app_context():
        assert db.session.get(SignInThrottle, ACCOUNT.key(email)).failures == 5
        db.session.remove()


# 6. No usable link in the outbox -----------------------------------------------------------------


def every_stored_text() -> str:
    """Every text column of the outbox and the links table, as one string to search."""
    rows = db.session.execute(
        sa.select(
            Notification.subject,
            Notification.body_text,
            Notification.body_html,
            Notification.idempotency_key,
            Notification.last_error,
        )
    ).all()
    tokens = db.session.execute(sa.select(UserToken.token_hash, UserToken.link_nonce)).all()
    return "\n".join(str(value) for row in [*rows, *tokens] for value in row)


def test_the_outbox_never_holds_a_usable_link(client, db_session, mail_to, smtp_server):
    admin = make_user(db_session, Role.ADMIN)
    invite_by_admin(client, admin, "newcomer@example.org")
    client.post("/sign-out")
    reader = make_user(db_session, Role.BOARD)
    client.post("/password-reset", data={"email": reader.email})
    # While queued, nothing stored works as a link.
    stored = every_stored_text()
    assert "TOKEN-ADDED-WHEN-SENT" in stored

    invitation, reset = sorted(mail_to(), key=lambda m: "invited" not in m["Subject"])
    raw_links = [link_in(invitation, "/invitations/"), link_in(reset, "/password-reset/")]
    for link in raw_links:
        raw = link.rsplit("/", 1)[1]
        assert raw not in every_stored_text()
        assert raw not in "".join(n.body_text for n in db.session.scalars(sa.select(Notification)))
    # The HTML part carries the same working link.
    html = invitation.get_body(preferencelist=("html",)).get_content()
    assert raw_links[0] in html
    # And the links the people received work.
    assert get_page(client, raw_links[0]).h1 == "Create your account"
    assert get_page(client, raw_links[1]).h1 == "Choose a new password"


def test_a_delivery_retried_later_still_carries_a_working_link(
    client, db_session, mail_to, smtp_server
):
    person = make_user(db_session, Role.BOARD)
    smtp_server.fail_next(451, "try again later")
    client.post("/password-reset", data={"email": person.email})
    start = datetime.now(UTC)
    assert mail_to(start) == []
    notification = db.session.scalar(
        sa.select(Notification).where(Notification.kind == "password_reset")
    )
    assert notification.state == NotificationState.QUEUED  # waiting for its retry
    [message] = mail_to(start + timedelta(minutes=5))
    assert get_page(client, link_in(message, "/password-reset/")).h1 == "Choose a new password"


def test_a_link_that_died_before_delivery_is_not_sent(client, db_session, mail_to):
    person = make_user(db_session, Role.BOARD)
    client.post("/password-reset", data={"email": person.email})
    # The person asked again before the first email went: the first link was replaced.
    client.post("/password-reset", data={"email": person.email})
    [message] = mail_to()
    assert get_page(client, link_in(message, "/password-reset/")).h1 == "Choose a new password"
    first = db.session.scalars(
        sa.select(Notification)
        .where(Notification.kind == "password_reset")
        .order_by(Notification.id)
    ).first()
    db.session.refresh(first)
    assert first.state == NotificationState.FAILED
    assert "send a new one" in first.last_error


def test_sent_link_emails_are_emptied_after_a_week(client, db_session, mail_to):
    from jobs.tasks import prune_account_records

    person = make_user(db_session, Role.BOARD)
    client.post("/password-reset", data={"email": person.email})
    mail_to()
    notification = db.session.scalar(
        sa.select(Notification).where(Notification.kind == "password_reset")
    )
    with time_machine.travel(datetime.now(UTC) + timedelta(days=6)):
        prune_account_records()
    db.session.refresh(notification)
    assert person.name in notification.body_text
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8)):
        assert "emptied 1 sent link email" in prune_account_records()
    db.session.refresh(notification)
    assert person.name not in notification.body_text and notification.body_html is None


# 7. A second factor, required for admins ---------------------------------------------------------


def setup_key(page: Page) -> str:
    return page.soup.select_one("#setup-key").get_text().replace(" ", "")


def test_anyone_can_turn_on_two_factor_and_gets_recovery_codes_once(client, db_session):
    lead = make_user(db_session, Role.LEAD, organisations=[make_organisation(db_session)])
    sign_in(client, lead)
    assert "Two-factor authentication Off" in get_page(client, "/account").text
    page = get_page(client, "/account/two-factor")
    assert page.h1 == "Set up two-factor authentication"
    secret = setup_key(page)
    assert len(secret) == 32
    assert "otpauth://totp/" in page.text  # for apps that take a link; no image service

    wrong = page_of(client.post("/account/two-factor", data={"code": "000000"}))
    assert wrong.errors == ["Enter the code your authenticator app shows now"]
    assert setup_key(wrong) == secret  # the same key until it is confirmed
    done = page_of(client.post("/account/two-factor", data={"code": current_code(secret)}))
    assert done.h1 == "Save your recovery codes"
    codes = [item.get_text(strip=True) for item in done.soup.select("#recovery-codes li")]
    assert len(codes) == 10 and len(set(codes)) == 10
    db.session.refresh(lead)
    assert lead.has_two_factor and lead.totp_secret == secret
    stored = db.session.scalars(sa.select(RecoveryCode.code_hash)).all()
    assert not {code.replace("-", "") for code in codes} & set(stored)  # hashes only
    # Never shown again.
    manage = get_page(client, "/account/two-factor")
    assert manage.h1 == "Two-factor authentication"
    assert "10 unused recovery codes" in manage.text
    assert not set(codes) & set(manage.text.split())


def test_sign_in_asks_for_the_code_and_every_page_waits_for_it(client, db_session):
    lead = make_user(
        db_session, Role.LEAD, organisations=[make_organisation(db_session)], two_factor=True
    )
    response = client.post(
        "/sign-in?next=/account", data={"email": lead.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/account/two-factor?next=/account"
    for path in ["/returns", "/account", "/", "/organisations"]:
        waiting = client.get(path)
        assert waiting.status_code == 302, path
        assert waiting.headers["Location"].startswith("/account/two-factor"), path
    page = get_page(client, "/account/two-factor")
    assert page.h1 == "Enter your code"

    wrong = client.post("/account/two-factor?next=/account", data={"code": "123456"})
    assert page_of(wrong).errors == [
        "Enter the code your authenticator app shows now, or an unused recovery code"
    ]
    right = client.post("/account/two-factor?next=/account", data={"code": fresh_code(lead)})
    assert right.headers["Location"] == "/account"
    assert client.get("/returns").status_code == 200


def test_a_code_works_once(client, db_session):
    person = make_user(db_session, Role.BOARD, two_factor=True)
    code = fresh_code(person)
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    assert client.post("/account/two-factor", data={"code": code}).status_code == 302
    client.post("/sign-out")
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    replayed = client.post("/account/two-factor", data={"code": code})
    assert replayed.status_code == 200
    assert page_of(replayed).errors


def test_wrong_codes_are_throttled(client, db_session):
    person = make_user(db_session, Role.BOARD, two_factor=True)
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    for n in range(5):
        assert client.post("/account/two-factor", data={"code": f"00000{n}"}).status_code == 200
    throttled = client.post("/account/two-factor", data={"code": fresh_code(person)})
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0


def test_a_recovery_code_works_once(client, db_session):
    from tracker.services import two_factor

    person = make_user(db_session, Role.BOARD, two_factor=True)
    [code, *_] = two_factor.new_recovery_codes(person, now=datetime.now(UTC))
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    typed = code.upper().replace("-", " ")  # as a person might type it
    assert client.post("/account/two-factor", data={"code": typed}).status_code == 302
    client.post("/sign-out")
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    assert client.post("/account/two-factor", data={"code": code}).status_code == 200
    assert two_factor.recovery_codes_left(person) == 9


def test_an_admin_without_a_second_factor_is_sent_to_set_one_up(app, client, db_session):
    admin = make_user(db_session, Role.ADMIN, two_factor=False)
    response = client.post(
        "/sign-in?next=/admin/users", data={"email": admin.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/account/two-factor?next=/admin/users"
    admin_pages = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/admin")]
    for rule in admin_pages:
        path = re.sub(r"<[^>]+>", "1", rule)
        response = client.get(path) if "GET" in _methods(app, rule) else client.post(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/account/two-factor"), path
    page = get_page(client, "/account/two-factor?next=/admin/users")
    assert "Admins must use a code" in page.text
    done = client.post(
        "/account/two-factor?next=/admin/users", data={"code": current_code(setup_key(page))}
    )
    assert page_of(done).link("I have saved my recovery codes") == "/admin/users"
    assert client.get("/admin/users").status_code == 200


def _methods(app: Flask, rule: str) -> set[str]:
    return next(r.methods for r in app.url_map.iter_rules() if r.rule == rule)


def test_an_admin_who_has_not_entered_the_code_sees_no_admin_page(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    client.post("/sign-in", data={"email": admin.email, "password": PASSWORD})
    response = client.get("/admin")
    assert response.headers["Location"] == "/account/two-factor?next=/admin"
    assert get_page(client, "/account/two-factor").h1 == "Enter your code"


def test_admins_cannot_turn_two_factor_off(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    page = get_page(client, "/account/two-factor")
    assert "Turn off" not in page.text
    response = client.post(
        "/account/two-factor", data={"code": fresh_code(admin), "action": "turn-off"}
    )
    assert page_of(response).errors == ["Admins must keep two-factor authentication"]
    db.session.refresh(admin)
    assert admin.has_two_factor


def test_a_password_reset_still_asks_an_admin_for_the_code(client, db_session, mail_to):
    admin = make_user(db_session, Role.ADMIN)
    client.post("/password-reset", data={"email": admin.email})
    [message] = mail_to()
    link = link_in(message, "/password-reset/")
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"].startswith("/account/two-factor")
    assert client.get("/admin").headers["Location"].startswith("/account/two-factor")


code_values = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=500, max_size=3000),
    st.sampled_from(["\x00", "000000", "12345", "１２３４５６", "aaaa-bbbb-cccc-dddd", "", " "]),
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    state=st.sampled_from(["set up", "code", "manage"]),
    data=st.dictionaries(
        st.sampled_from(["code", "action", "csrf_token"]),
        st.one_of(code_values, st.lists(code_values, max_size=3)),
        max_size=3,
    ),
)
def test_no_two_factor_input_gives_a_500(app, db_session, state, data):
    person = make_user(db_session, Role.BOARD, two_factor=state != "set up")
    browser = app.test_client()
    if state == "code":
        browser.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    else:
        sign_in(browser, person)
    response = browser.post("/account/two-factor", data=data)
    assert response.status_code < 500, (state, data)


def test_the_operator_command_enrols_and_prints_the_current_code(tmp_path):
    instance = tmp_path / "instance"
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run_tracker("db", "upgrade", instance=instance, DATABASE_URL=url).returncode == 0
    created = run_tracker(
        "users", "create", "ops@example.org", "--name", "Ops Admin", "--role", "admin",
        "--password-stdin", instance=instance, DATABASE_URL=url, input=NEW_PASSWORD + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    first = run_tracker("users", "code", "ops@example.org", instance=instance, DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(r"\d{6}\n", first.stdout)
    assert "now on" in first.stderr
    second = run_tracker("users", "code", "ops@example.org", instance=instance, DATABASE_URL=url)
    assert "now on" not in second.stderr  # enrolled once; the same secret after

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        secret = connection.scalar(
            sa.text("SELECT totp_secret FROM users WHERE email = 'ops@example.org'")
        )
    engine.dispose()
    assert pyotp.TOTP(secret).verify(second.stdout.strip(), valid_window=1)
    unknown = run_tracker(
        "users", "code", "nobody@example.org", instance=instance, DATABASE_URL=url
    )
    assert unknown.returncode != 0 and "no account for nobody@example.org" in unknown.stderr


def test_the_demo_says_how_to_get_the_admins_code():
    from tracker.services.demo import demo_account_lines

    assert any("tracker users code admin@example.org" in line for line in demo_account_lines())
    assert "tracker users code admin@example.org" in (PROJECT_ROOT / "Makefile").read_text()
    assert "tracker users code admin@example.org" in (PROJECT_ROOT / "README.md").read_text()


# 8. One link, used at the same instant by eight requests, works once ------------------------------


def test_a_reset_link_used_eight_times_at_once_works_once(pg_app):
    with pg_app.app_context(), pg_app.test_request_context():
        person = make_user(db.session, Role.BOARD)
        accounts.request_password_reset(person.email, now=datetime.now(UTC))
        db.session.commit()
        token = db.session.scalar(sa.select(UserToken).where(UserToken.user_id == person.id))
        raw = link_token(pg_app.config["SECRET_KEY"], token.link_nonce)
        person_id, token_id = person.id, token.id
        db.session.remove()

    def use(index: int) -> int:
        response = pg_app.test_client().post(
            f"/password-reset/{raw}",
            data={"password": f"{NEW_PASSWORD} {index}", "confirm": f"{NEW_PASSWORD} {index}"},
        )
        return response.status_code

    statuses = at_once(8, use)
    assert sorted(statuses) == [302] + [404] * 7
    with pg_app.app_context():
        from werkzeug.security import check_password_hash

        winner = statuses.index(302)
        person = db.session.get(User, person_id)
        assert check_password_hash(person.password_hash, f"{NEW_PASSWORD} {winner}")
        assert db.session.get(UserToken, token_id).used_at is not None
        db.session.remove()


def test_an_invitation_accepted_eight_times_at_once_makes_one_account(pg_app):
    with pg_app.app_context(), pg_app.test_request_context():
        person = make_user(db.session, Role.BOARD, with_password=False)
        raw = accounts.invite(person, actor=None, now=datetime.now(UTC)).rsplit("/", 1)[1]
        db.session.commit()
        db.session.remove()

    def accept(index: int) -> int:
        form = {"name": f"Name {index}", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        return pg_app.test_client().post(f"/invitations/{raw}", data=form).status_code

    assert sorted(at_once(8, accept)) == [302] + [404] * 7


# 9. The reset form refuses the person's own email address ----------------------------------------


def test_a_reset_refuses_the_persons_own_email_as_the_password(client, db_session, mail_to):
    person = make_user(db_session, Role.BOARD, email="pat.long-surname@example.org")
    client.post("/password-reset", data={"email": person.email})
    [message] = mail_to()
    link = link_in(message, "/password-reset/")
    response = client.post(link, data={"password": person.email, "confirm": person.email})
    assert response.status_code == 200
    [error] = page_of(response).errors
    assert "email" in error.lower() or "name" in error.lower()
    # The same rule as the change form.
    sign_in(client, person)
    changed = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": person.email, "confirm": person.email},
    )
    assert page_of(changed).errors == [error]


# 12. The session cookie is __Host- prefixed in production ----------------------------------------


def test_production_cookies_are_host_prefixed(database_url, tmp_path, app, db_session):
    settings = config.load(
        {"TRACKER_ENV": "production", "SECRET_KEY": "k3Jd9sQ0pL2xVb7nM4cR8tYw1zA6eH5u"},
        instance_path=tmp_path,
    )
    assert settings["SESSION_COOKIE_NAME"] == "__Host-session"
    assert settings["SESSION_COOKIE_PATH"] == "/" and settings["SESSION_COOKIE_DOMAIN"] is None
    cookie_settings = {key: value for key, value in settings.items() if "COOKIE" in key}
    production = make_test_app(database_url, tmp_path, **cookie_settings)
    email = make_user(db_session, Role.BOARD).email
    browser = production.test_client()
    response = browser.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD},
        base_url="https://pledges.example.org",
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    for name in ("__Host-session=", "__Host-device="):
        [cookie] = [c for c in cookies if c.startswith(name)]
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert "secure" in attributes and "httponly" in attributes and "path=/" in attributes
        assert not any(part.startswith("domain=") for part in attributes)


def test_development_keeps_plain_cookies_for_http_on_127_0_0_1(tmp_path, client, db_session):
    settings = config.load({"TRACKER_ENV": "development"}, instance_path=tmp_path)
    assert settings["SESSION_COOKIE_NAME"] == "session"
    assert settings["SESSION_COOKIE_SECURE"] is False
    person = make_user(db_session, Role.BOARD)
    sign_in(client, person)  # over http://localhost, as development does
    assert client.get("/account").status_code == 200
