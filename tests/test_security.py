"""Issue 16, tried as an attacker (and a busy town) would: each test failed before its fix.

Read top to bottom, one numbered finding at a time (the numbers are the issue's):

1. deactivating a person revokes their links;
2. a return cannot be submitted incomplete, however a draft save races it (PostgreSQL);
3. a draft without a status renders on every page that can show it;
4. sign-in throttling an attacker cannot turn against the real user;
5. SQLite, the embedded default, under concurrent use: a served app, HTTP from threads;
6. the outbox never holds a usable link;
7. a second factor (TOTP), required for admins;
8. a link used twice at the same instant works once;
9. the reset form refuses the person's own email address as a password;
10. odd input (huge ids, odd digits, huge numbers and dates, too many rows) is a 404 or a form
    error, never a 500;
11. configuration unsafe in production is refused with one line;
12. the API's Last-Modified moves when an admin verifies evidence, and the session cookie is
    ``__Host-`` prefixed in production;
13. a return cannot be filed after its window closed, whatever an attacker posts;

and two lines of shared/RELIABILITY.md that no other test proved: HSTS, and the upload limit.

Most run on SQLite and PostgreSQL; the races run on PostgreSQL, with real commits from many
threads at once (SQLite has one writer at a time, so it cannot race).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pyotp
import pytest
import requests
import sqlalchemy as sa
import time_machine
import yaml
from bs4 import BeautifulSoup
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.serving import make_server

from tests import test_accounts
from tests.conftest import make_test_app, postgres_app
from tests.factories import (
    PASSWORD,
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_user,
)
from tests.support.auth import current_code, fresh_code, sign_in
from tests.support.commands import run_tracker
from tests.support.databases import (
    migrate_to_head,
    seconds_another_writer_waits,
)
from tests.support.pages import Page, get_page
from tests.test_commitments import form_fields
from tests.test_public import build_world
from tests.unit.test_config import GOOD_KEY
from tracker import config
from tracker.commitments.forms import MAX_MILESTONES
from tracker.config import PROJECT_ROOT, ConfigError, load
from tracker.domain.calendar import Quarter, period_for
from tracker.domain.enums import DeliveryStatus, EvidenceGrade, NotificationState, ReturnState, Role
from tracker.domain.throttling import ACCOUNT, LONGEST_DELAY, delay_after
from tracker.domain.tokens import link_token
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    Commitment,
    CommitmentUpdate,
    Milestone,
    Notification,
    Organisation,
    RecoveryCode,
    ReportingPeriod,
    Return,
    ReturnEvent,
    SignInThrottle,
    Theme,
    User,
    UserToken,
)
from tracker.services import accounts, returns
from tracker.services.board import build_summary, publish_summary

NEW_PASSWORD = "a brand new long passphrase"
# The mail fixture (routes mail to the in-process SMTP server) and link finder of test_accounts.
mail_to = test_accounts.mail_to
link_in = test_accounts.link_in
ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}


def page_of(response) -> Page:  # type: ignore[no-untyped-def]
    return Page(response, BeautifulSoup(response.get_data(as_text=True), "html.parser"))


def user_named(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def invite_by_admin(client, admin: User, email: str, role: str = "board") -> None:  # type: ignore[no-untyped-def]
    sign_in(client, admin)
    response = client.post("/admin/users/new", data={"email": email, "name": "New", "role": role})
    assert response.status_code == 302


def run_at_once(count: int, work) -> list:  # type: ignore[no-untyped-def]
    """Run ``work(index)`` in ``count`` threads released together; what each returned or raised."""
    barrier = threading.Barrier(count, timeout=60)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # reported by the test, not lost in the thread
            results[index] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory) -> Iterator[Flask]:
    with postgres_app(
        tmp_path_factory.mktemp("security"),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10, "max_overflow": 2, "pool_timeout": 30},
    ) as app:
        yield app


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


# 2. A return cannot be submitted incomplete -------------------------------------------------
#
# On PostgreSQL a "Save as draft" that clears a status, racing a submit, could land between the
# submit's completeness check and its change of state: a submitted (then acceptable) return
# with a blank update. Both now lock the return's row first, so one goes entirely before the
# other. (On SQLite, BEGIN IMMEDIATE serialises them: see item 5.)

RACES = 25


def test_a_draft_clearing_a_status_never_slips_into_a_submitted_return(pg_app):
    now = datetime(2024, 7, 1, 10, tzinfo=UTC)
    with pg_app.app_context():
        make_place(db.session)
        period = make_period(db.session, Quarter(2024, 1))
        lead = make_user(db.session, Role.LEAD)
        rounds = []
        for _ in range(RACES):
            org = make_organisation(db.session)
            lead.organisations.append(org)
            commitments = [make_commitment(db.session, org) for _ in range(2)]
            return_ = make_return(db.session, org, period, state=ReturnState.DRAFT)
            for commitment in commitments:
                db.session.add(
                    CommitmentUpdate(
                        return_id=return_.id,
                        commitment_id=commitment.id,
                        status=DeliveryStatus.ON_TRACK,
                        complete=True,
                    )
                )
            rounds.append((org.id, commitments[0].id, return_.id))
        db.session.commit()
        period_id, lead_id = period.id, lead.id
        db.session.remove()

    def race(org_id: int, commitment_id: int):  # type: ignore[no-untyped-def]
        def work(index: int) -> object:
            with pg_app.app_context(), pg_app.test_request_context():
                org = db.session.get(Organisation, org_id)
                period = db.session.get(ReportingPeriod, period_id)
                lead = db.session.get(User, lead_id)
                try:
                    if index == 0:
                        outcome = returns.submit(org, period, actor=lead, now=now)
                        db.session.commit() if outcome.submitted else db.session.rollback()
                        return outcome.submitted
                    returns.save_update(
                        org,
                        period,
                        db.session.get(Commitment, commitment_id),
                        returns.UpdateInput(status=None),
                        version=1,
                        complete=False,
                        actor=lead,
                        today=now.date(),
                    )
                    db.session.commit()
                    return "draft saved"
                except returns.ReturnError as refused:
                    db.session.rollback()
                    return str(refused)
                finally:
                    db.session.remove()

        return run_at_once(2, work)

    outcomes = [race(org_id, commitment_id) for org_id, commitment_id, _ in rounds]
    assert not [o for pair in outcomes for o in pair if isinstance(o, Exception)], outcomes
    with pg_app.app_context():
        for (_, _, return_id), (submitted, saved) in zip(rounds, outcomes, strict=True):
            return_ = db.session.get(Return, return_id)
            updates = return_.updates
            if return_.state == ReturnState.SUBMITTED:
                assert all(u.complete and u.status is not None for u in updates), outcomes
                assert saved == "This return has been submitted, so it cannot be changed"
            else:
                assert submitted is False and saved == "draft saved"
                assert return_.state == ReturnState.DRAFT
        db.session.remove()


# 3. A draft without a status ---------------------------------------------------------------
#
# "Save as draft" may leave the status empty. Every page that can show that update (the
# commitment's timeline, the return, its review, the public pages, the board, the API and
# open data) must cope, and so must an accepted return holding such an update, as the race of
# item 2 could leave one behind.


def example_values(setting: dict, rule) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """A real value for each parameter of ``rule``, from ``setting``."""
    values: dict[str, object] = {
        "slug": setting["theme"] if rule.rule.startswith("/themes") else setting["slug"],
        "period": setting["period"],
        "commitment_id": setting["commitment_id"],
        "update_id": setting["update_id"],
        "user_id": setting["user_id"],
        "notification_id": 1,
        "proposal_id": 1,  # none exists: the page answers 404, never a 500
        "file_id": 1,  # none exists: the download answers 404, never a 500
        "code": setting["code"],
        "token": "not-a-token",
        "filename": "govuk-frontend.min.css",
        "kind": "overdue",
    }
    return {name: values[name] for name in rule.arguments}


def path_for(rule, values: dict[str, object]) -> str:  # type: ignore[no-untyped-def]
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), path)
    return path


def fetch(client, path: str, method: str = "get"):  # type: ignore[no-untyped-def]
    """A request read to the end (streamed answers hold their context open until then)."""
    response = getattr(client, method)(path)
    response.get_data()
    response.close()
    return response


@pytest.fixture
def draft_without_status(db_session) -> dict:
    """This quarter's draft with a blank status, and last quarter's accepted return with one."""
    place = make_place(db_session)
    org = make_organisation(db_session, name="Blank Status Trust")
    homes = make_commitment(
        db_session,
        org,
        title="Build 400 homes",
        target_value=Decimal(400),
        unit="homes",
        primary_priority_id=place.priorities[0].id,
    )
    theme = Theme(slug="blank-status-theme", name="Blank status theme")
    homes.themes.append(theme)
    admin = make_user(db_session, Role.ADMIN)
    lead = make_user(db_session, Role.LEAD, organisations=[org])
    board = make_user(db_session, Role.BOARD)
    reviewed = datetime(2024, 7, 25, 10, tzinfo=UTC)
    earlier = make_period(db_session, Quarter(2024, 1))
    accepted = make_return(
        db_session,
        org,
        earlier,
        state=ReturnState.ACCEPTED,
        submitted_at=reviewed - timedelta(days=5),
        reviewed_at=reviewed,
    )
    db_session.add(CommitmentUpdate(return_id=accepted.id, commitment_id=homes.id, status=None))
    period = make_period(db_session, Quarter(2024, 2))
    draft = make_return(db_session, org, period, state=ReturnState.DRAFT)
    update = CommitmentUpdate(
        return_id=draft.id,
        commitment_id=homes.id,
        status=None,
        progress_value=Decimal(120),
        narrative="Half way through the planning stage",
        evidence_url="https://example.org/homes",
        evidence_grade=EvidenceGrade.EVIDENCE_ATTACHED,
    )
    db_session.add(update)
    db_session.flush()
    summary = build_summary(earlier, actor=admin, now=reviewed + timedelta(days=30))
    publish_summary(summary, actor=admin, now=reviewed + timedelta(days=30))
    db_session.flush()
    return {
        "slug": org.slug,
        "period": period.slug,
        "earlier": earlier.slug,
        "commitment_id": homes.id,
        "update_id": update.id,
        "user_id": lead.id,
        "code": place.priorities[0].code,
        "theme": theme.slug,
        "people": {"admin": admin, "lead": lead, "board": board},
    }


# While the draft's window is open, so its update form is shown too.
DURING_Q2_WINDOW = datetime(2024, 10, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("who", ["admin", "lead", "board", "anonymous"])
@time_machine.travel(DURING_Q2_WINDOW, tick=False)
def test_every_page_copes_with_an_update_without_a_status(
    app, client, draft_without_status, who, monkeypatch
):
    setting = draft_without_status
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # a 500, to list them all
    if who != "anonymous":
        sign_in(client, setting["people"][who])
    failures = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in {"static", "site.assets"}:
            continue
        for period in (setting["period"], setting["earlier"]):
            values = example_values({**setting, "period": period}, rule)
            path = path_for(rule, values)
            response = fetch(client, path)
            if response.status_code >= 500:
                failures.append((path, response.status_code))
    assert failures == [], "\n".join(map(str, failures))


@time_machine.travel(DURING_Q2_WINDOW, tick=False)
def test_the_commitment_page_shows_a_draft_without_a_status(client, draft_without_status):
    setting = draft_without_status
    sign_in(client, setting["people"]["lead"])
    page = get_page(
        client, f"/organisations/{setting['slug']}/commitments/{setting['commitment_id']}"
    )
    timeline = page.soup.select_one("#timeline") or page.soup
    text = " ".join(timeline.get_text(" ", strip=True).split())
    assert "2024/25 Q2 No status yet" in text
    assert "Half way through the planning stage" in text
    assert "Status: Not started" in page.text  # no accepted status: the commitment's own


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


def test_a_sign_in_checks_its_password_while_another_from_the_same_address_holds_the_lock(
    pg_app, monkeypatch
):
    # An office behind one router: a colleague's attempt holds the address's throttle row until
    # it finishes. This one's password is hashed meanwhile, not after the colleague is done.
    from tracker.services import accounts
    from tracker.services.throttle import CLIENT

    with pg_app.app_context():
        email = make_user(db.session, Role.LEAD).email
        accounts.authenticate(email, PASSWORD, client="203.0.113.9", now=datetime.now(UTC))
        db.session.commit()  # the address's row exists, as after any earlier sign-in
        db.session.remove()
    hashed = []
    check = accounts.check_password_hash
    monkeypatch.setattr(
        accounts, "check_password_hash", lambda *args: hashed.append(1) or check(*args)
    )
    with pg_app.app_context():
        colleague = db.engine.connect()
        try:
            colleague.execute(
                sa.select(SignInThrottle)
                .where(SignInThrottle.key == CLIENT.key("203.0.113.9"))
                .with_for_update()
            ).all()
            db.session.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
                accounts.authenticate(email, PASSWORD, client="203.0.113.9", now=datetime.now(UTC))
            assert hashed == [1]  # checked before it waited for the row
        finally:
            db.session.rollback()
            colleague.rollback()
            colleague.close()
            db.session.remove()


def test_an_attempt_that_must_wait_is_refused_without_hashing(client, db_session, monkeypatch):
    from tracker.services import accounts

    user = make_user(db_session, Role.LEAD)
    now = datetime.now(UTC)
    for n in range(8):  # enough wrong guesses to make the account wait
        accounts.authenticate(user.email, f"wrong {n}", client=f"192.0.2.{n}", now=now)
    hashed = []
    check = accounts.check_password_hash
    monkeypatch.setattr(
        accounts, "check_password_hash", lambda *args: hashed.append(1) or check(*args)
    )
    result = accounts.authenticate(user.email, PASSWORD, client="192.0.2.200", now=now)
    assert result.user is None and result.retry_after is not None
    assert hashed == []


# 5. SQLite under concurrent use -----------------------------------------------------------
#
# The embedded default must not answer "database is locked": writers wait for each other (WAL,
# BEGIN IMMEDIATE, a busy timeout) instead of failing. This needs a real server: the test
# client runs one request at a time.

SIGN_INS = 40
SAVES = 10


@pytest.fixture
def served_sqlite(tmp_path) -> Iterator[tuple[Flask, str]]:
    """A migrated SQLite file of its own, served by a threaded server on 127.0.0.1."""
    app = make_test_app(
        f"sqlite:///{tmp_path / 'served.db'}",
        tmp_path,
        # Errors answer 500 as in production, rather than propagating into the server.
        PROPAGATE_EXCEPTIONS=False,
    )
    migrate_to_head(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def open_return_today(app: Flask, people: int) -> dict:
    """An organisation whose return window is open today, with ``people`` leads (committed)."""
    today = datetime.now(UTC).date()
    with app.app_context():
        make_place(db.session)
        org = make_organisation(db.session)
        commitment = make_commitment(db.session, org)
        period = make_period(
            db.session,
            period_for(today),
            opens_on=today - timedelta(days=10),
            due_on=today + timedelta(days=10),
            closes_on=today + timedelta(days=20),
        )
        leads = [make_user(db.session, Role.LEAD, organisations=[org]) for _ in range(people)]
        db.session.commit()
        setting = {
            "org": org.id,
            "period": period.id,
            "commitment": commitment.id,
            "update_url": f"/organisations/{org.slug}/returns/{period.slug}"
            f"/commitments/{commitment.id}",
            "accept_url": f"/admin/returns/{period.slug}/{org.slug}/accept",
            "emails": [lead.email for lead in leads],
        }
        db.session.remove()
    return setting


def make_return_submitted(setting: dict) -> Return:
    """The organisation's return, complete and submitted (inside an app context)."""
    return_ = make_return(
        db.session,
        db.session.get(Organisation, setting["org"]),
        db.session.get(ReportingPeriod, setting["period"]),
        state=ReturnState.SUBMITTED,
        submitted_at=datetime.now(UTC),
    )
    db.session.add(
        CommitmentUpdate(
            return_id=return_.id,
            commitment_id=setting["commitment"],
            status=DeliveryStatus.ON_TRACK,
            complete=True,
        )
    )
    db.session.flush()
    return return_


def sign_in_over_http(browser: requests.Session, base: str, email: str) -> int:
    """Sign in as a browser does: the password, then the second factor when asked (admins)."""
    response = browser.post(
        f"{base}/sign-in",
        data={"email": email, "password": PASSWORD},
        allow_redirects=False,
        timeout=90,
    )
    location = response.headers.get("Location", "")
    if response.status_code == 302 and location.startswith("/account/two-factor"):
        response = browser.post(
            base + location, data={"code": current_code()}, allow_redirects=False, timeout=90
        )
    return response.status_code


def test_a_served_sqlite_app_takes_simultaneous_sign_ins_and_saves_without_a_500(served_sqlite):
    app, base = served_sqlite
    setting = open_return_today(app, SIGN_INS)
    browsers = [requests.Session() for _ in range(SIGN_INS)]

    def sign_in(index: int) -> int:
        return sign_in_over_http(browsers[index], base, setting["emails"][index])

    statuses = run_at_once(SIGN_INS, sign_in)
    assert not [s for s in statuses if not isinstance(s, int)], statuses
    assert not [s for s in statuses if s >= 500], statuses
    # Distinct accounts: only the sign-in throttle (another part of the issue) may refuse one.
    assert set(statuses) <= {302, 429}, statuses

    signed_in = [b for b, status in zip(browsers, statuses, strict=True) if status == 302]
    for browser, email in zip(browsers, setting["emails"], strict=True):
        if len(signed_in) >= SAVES:
            break
        if browser not in signed_in:
            assert sign_in(setting["emails"].index(email)) == 302
            signed_in.append(browser)
    savers = signed_in[:SAVES]
    url = base + setting["update_url"]
    first = savers[0].post(url, data={"status": "", "draft": "yes"}, allow_redirects=False)
    assert first.status_code == 302, first.text

    def save(index: int) -> tuple[int, str]:
        # Every person opened the form on the same version of the update.
        response = savers[index].post(
            url,
            data={
                "status": "on_track",
                "narrative": f"Words of person {index}",
                "version": "1",
                "save": "yes",
            },
            allow_redirects=False,
            timeout=90,
        )
        return response.status_code, response.text

    results = run_at_once(SAVES, save)
    assert not [r for r in results if not isinstance(r, tuple)], results
    codes = sorted(code for code, _ in results)
    assert codes == [302] + [409] * (SAVES - 1), codes
    for code, text in results:
        if code == 409:
            assert "Someone else changed this update while you were editing it" in text
            assert "govuk-error-summary" in text


def test_on_sqlite_the_password_hash_holds_no_write_lock(served_sqlite, monkeypatch):
    """Every SQLite transaction holds the write lock from BEGIN: the hash must run outside one,
    or forty people signing in at once queue for each other's scrypt (and, on a busy machine,
    past the 15 s busy timeout into a 500)."""
    from tracker.services import accounts

    app, base = served_sqlite
    setting = open_return_today(app, 1)
    real = accounts._password_matches
    waited: list[float] = []

    def hash_while_another_writes(candidate, password):  # type: ignore[no-untyped-def]
        waited.append(seconds_another_writer_waits(app))
        return real(candidate, password)

    monkeypatch.setattr(accounts, "_password_matches", hash_while_another_writes)
    assert sign_in_over_http(requests.Session(), base, setting["emails"][0]) == 302
    assert len(waited) == 1 and waited[0] < 5


def test_the_mail_job_and_an_admins_accept_on_sqlite_both_go_through(served_sqlite):
    """The scheduler's delivery (a commit per email) and an admin's accept, at the same moment."""
    from jobs import tasks
    from tracker.mail import queue_email
    from tracker.models import Notification
    from tracker.services.job_runs import run_job

    app, base = served_sqlite
    setting = open_return_today(app, 1)
    with app.app_context():
        admin = make_user(db.session, Role.ADMIN)
        return_ = make_return_submitted(setting)
        for n in range(30):
            queue_email(
                kind="reminder",
                idempotency_key=f"collide-{n}",
                to_email=f"lead{n}@example.org",
                to_name=None,
                subject="Your return",
                text="Please send it",
            )
        db.session.commit()
        admin_email, return_id, accept_url = admin.email, return_.id, setting["accept_url"]
        read = {"version": return_.version}  # what the admin's review page showed
        db.session.remove()
    browser = requests.Session()
    assert sign_in_over_http(browser, base, admin_email) == 302

    def work(index: int) -> object:
        if index == 0:
            with app.app_context():
                try:
                    return run_job("deliver-email", tasks.deliver_email, started_by="test")
                finally:
                    db.session.remove()
        return browser.post(
            base + accept_url, data=read, allow_redirects=False, timeout=90
        ).status_code

    delivered, accepted = run_at_once(2, work)
    assert accepted == 302, accepted
    assert getattr(delivered, "outcome", None) == "succeeded", delivered
    with app.app_context():
        assert db.session.get(Return, return_id).state == "accepted"
        # Everything queued before delivered; the acceptance queues its own notice to the
        # leads, which the next run sends.
        states = db.session.execute(sa.select(Notification.kind, Notification.state)).all()
        assert states and all(
            state == "sent" for kind, state in states if kind != "return_accepted"
        ), states
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


# 10. Odd input is a 404 or a form error ---------------------------------------------------
#
# Ids beyond 64 bits, digits that are not ASCII ("²" passes str.isdigit() but not int()), numbers
# longer than Python will convert (4,300 digits), NUL characters and dates at the end of the
# calendar: every one once gave a 500 somewhere.

BEYOND_64_BITS = "99999999999999999999999"
TOO_MANY_DIGITS = "9" * 5000
ODD_PATH_VALUES = [BEYOND_64_BITS, TOO_MANY_DIGITS, "2147483648", "²", "a%00b", "2024-25-q9"]
QUERY_PARAMETERS = [
    "page",
    "per_page",
    "show",
    "state",
    "organisation",
    "user",
    "since",
    "until",
    "status",
    "priority",
    "theme",
    "sector",
    "reporting_status",
    "q",
    "next",
    "version",
]
ODD_QUERY_VALUES = [BEYOND_64_BITS, TOO_MANY_DIGITS, "²", "-1", "9999-12-31", "a\x00b"]


def test_no_odd_url_gives_a_500(app, client, draft_without_status, monkeypatch):
    """Every route, each parameter in turn odd (the others real), then odd query strings."""
    setting = draft_without_status
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # a 500, to list them all
    sign_in(client, setting["people"]["admin"])  # an admin reaches every handler
    db.session.commit()  # kept for the whole walk: a failed request rolls back only itself
    failures = []

    def request(method: str, path: str) -> None:
        status = fetch(client, path, method).status_code
        if status >= 500:
            db.session.rollback()  # as the request's end would, so one failure hides no other
            failures.append((method, path[:120], status))

    for rule in app.url_map.iter_rules():
        real = example_values(setting, rule)
        methods = [m.lower() for m in ("GET", "POST") if m in rule.methods]
        for name in rule.arguments:
            for odd in ODD_PATH_VALUES:
                for method in methods:
                    request(method, path_for(rule, {**real, name: odd}))
        if "GET" in rule.methods and rule.endpoint != "board.pack":
            for odd in ODD_QUERY_VALUES:
                query = urlencode({name: odd for name in QUERY_PARAMETERS})
                request("get", f"{path_for(rule, real)}?{query}")
    assert failures == [], "\n".join(map(str, failures))


def test_ids_beyond_64_bits_are_not_found(app, client, draft_without_status):
    setting = draft_without_status
    sign_in(client, setting["people"]["admin"])
    for path in [
        f"/organisations/{setting['slug']}/commitments/{BEYOND_64_BITS}",
        f"/organisations/{setting['slug']}/commitments/{BEYOND_64_BITS}/edit",
        f"/organisations/x/commitments/{BEYOND_64_BITS}",
        f"/admin/users/{BEYOND_64_BITS}",
        f"/admin/users/{TOO_MANY_DIGITS}",
        f"/api/v1/commitments/{BEYOND_64_BITS}",
    ]:
        assert fetch(client, path).status_code == 404, path
    for path in [
        f"/admin/notifications/{BEYOND_64_BITS}/resend",
        f"/admin/users/{BEYOND_64_BITS}/deactivate",
        f"/admin/returns/{setting['period']}/{setting['slug']}/updates/{BEYOND_64_BITS}/verify",
    ]:
        assert fetch(client, path, "post").status_code == 404, path


@pytest.mark.parametrize("version", ["²", TOO_MANY_DIGITS, "abc", "-1"])
@time_machine.travel(DURING_Q2_WINDOW, tick=False)
def test_an_odd_version_is_a_conflict_with_the_form_not_a_crash(
    client, draft_without_status, version
):
    """A form's version that is not one: told someone else changed it, with the form shown."""
    setting = draft_without_status
    sign_in(client, setting["people"]["admin"])
    slug, commitment_id = setting["slug"], setting["commitment_id"]
    update = f"/organisations/{slug}/returns/{setting['period']}/commitments/{commitment_id}"
    response = client.post(update, data={"status": "on_track", "version": version, "save": "y"})
    assert response.status_code == 409
    assert "Someone else changed this update" in response.get_data(as_text=True)

    data = form_fields(get_page(client, f"/admin/organisations/{slug}"))
    data["version"] = [version]
    response = client.post(f"/admin/organisations/{slug}", data=data)
    assert response.status_code == 409
    assert "govuk-error-summary" in response.get_data(as_text=True)

    edit = f"/organisations/{slug}/commitments/{commitment_id}/edit"
    data = form_fields(get_page(client, edit))
    data["version"] = [version]
    data["reason"] = ["Checking"]
    response = client.post(edit, data=data)
    assert response.status_code == 409
    assert "govuk-error-summary" in response.get_data(as_text=True)


def test_odd_page_numbers_and_filters_on_admin_lists(client, draft_without_status):
    setting = draft_without_status
    sign_in(client, setting["people"]["admin"])
    for query in [
        "page=²",
        f"page={BEYOND_64_BITS}",
        f"page={TOO_MANY_DIGITS}",
        "page=0",
        "show=²&page=-3",
    ]:
        page = get_page(client, f"/admin/returns/{setting['period']}?{query}")
        assert "Page 1 of 1" in page.text or "govuk-pagination" not in str(page.soup), query
    for query in ["page=²", f"page={BEYOND_64_BITS}", f"page={TOO_MANY_DIGITS}", "page=-1"]:
        page = get_page(client, f"/admin/audit?{query}")
        assert page.h1 == "Audit log", query
    for query in [
        f"organisation={BEYOND_64_BITS}&user={BEYOND_64_BITS}",
        "organisation=²&user=²",
    ]:
        page = get_page(client, f"/admin/audit?{query}")
        assert page.errors, query  # not one of the choices: said, and the filter ignored
    page = get_page(client, "/admin/audit?since=0001-01-01&until=9999-12-31")
    assert page.errors == [
        "From must be between 1900 and 2100",
        "To must be between 1900 and 2100",
    ]


@pytest.mark.parametrize(
    "day_month_year",
    [
        (BEYOND_64_BITS, "7", "2024"),
        ("1", BEYOND_64_BITS, "2024"),
        ("²", "7", "2024"),
        (TOO_MANY_DIGITS, "7", "2024"),
        ("31", "12", "9999"),
    ],
)
def test_an_impossible_date_is_a_form_error(client, draft_without_status, day_month_year):
    setting = draft_without_status
    sign_in(client, setting["people"]["admin"])
    period, slug = setting["period"], setting["slug"]
    odd = list(day_month_year)
    response = client.post(
        f"/admin/periods/{period}",
        data={"opens_on": odd, "due_on": ["21", "10", "2024"], "closes_on": ["11", "11", "2024"]},
    )
    assert response.status_code == 200
    assert error_summary(response)[0].startswith("Window opens must ")
    response = client.post(
        f"/admin/periods/{period}/extensions/{slug}", data={"due_on": odd, "reason": "Flood"}
    )
    assert response.status_code == 200
    assert error_summary(response)[0].startswith("New due date must ")
    edit = f"/organisations/{slug}/commitments/{setting['commitment_id']}/edit"
    data = form_fields(get_page(client, edit))
    data["target_date"] = odd
    data["reason"] = ["Checking"]
    response = client.post(edit, data=data)
    assert response.status_code == 200
    assert error_summary(response)[0].startswith("Target date must ")


def error_summary(response) -> list[str]:  # type: ignore[no-untyped-def]
    """The messages of the GOV.UK error summary on a form's answer."""
    soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    return [item.get_text(" ", strip=True) for item in soup.select(".govuk-error-summary li")]


def milestone_rows(count: int, start: int = 0) -> dict[str, list[str]]:
    return {f"milestones-{start + n}-title": [f"Step {start + n + 1}"] for n in range(count)}


def test_milestones_are_capped_with_a_form_error(client, draft_without_status):
    setting = draft_without_status
    sign_in(client, setting["people"]["lead"])
    edit = f"/organisations/{setting['slug']}/commitments/{setting['commitment_id']}/edit"
    data = {**form_fields(get_page(client, edit)), **milestone_rows(MAX_MILESTONES + 28)}
    data["reason"] = ["More steps"]
    response = client.post(edit, data=data)
    assert response.status_code == 200
    assert f"can have up to {MAX_MILESTONES} milestones" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Milestone)) == 0
    get_page(client, edit)  # and the edit page still opens

    data = {**form_fields(get_page(client, edit)), **milestone_rows(MAX_MILESTONES)}
    data["reason"] = ["Every step"]
    assert client.post(edit, data=data).status_code == 302
    page = get_page(client, edit)
    titles = [name for name in form_fields(page) if name.endswith("-title")]
    assert len(titles) == MAX_MILESTONES  # full: no blank rows for more


def test_a_long_list_of_milestones_stored_before_the_cap_still_renders_and_saves(
    client, db_session, draft_without_status
):
    setting = draft_without_status
    commitment = db_session.get(Commitment, setting["commitment_id"])
    commitment.milestones = [Milestone(title=f"Old step {n}") for n in range(75)]
    db_session.flush()
    sign_in(client, setting["people"]["lead"])
    get_page(client, f"/organisations/{setting['slug']}/commitments/{commitment.id}")
    edit = f"/organisations/{setting['slug']}/commitments/{commitment.id}/edit"
    data = form_fields(get_page(client, edit))
    assert len([name for name in data if name.endswith("-title")]) == 75
    data["title"] = ["Build 400 homes by 2030"]
    data["reason"] = ["Clearer title"]
    assert client.post(edit, data=data).status_code == 302  # its own edits still save
    data = {**form_fields(get_page(client, edit)), **milestone_rows(1, start=75)}
    data["reason"] = ["One more"]
    response = client.post(edit, data=data)
    assert response.status_code == 200  # but none is added
    assert f"can have up to {MAX_MILESTONES} milestones" in response.get_data(as_text=True)
    db_session.refresh(commitment)
    assert len(commitment.milestones) == 75


# 11. Configuration unsafe in production is refused with one line ----------------------------
#
# In the styles of tests/unit/test_config.py (the settings) and tests/test_cli.py (the command a
# person runs): one line on standard error, a non-zero exit, never a traceback.

PRODUCTION = {"TRACKER_ENV": "production", "SECRET_KEY": GOOD_KEY}


@pytest.mark.parametrize("flag", ["1", "true", "yes"])
def test_production_refuses_debug_mode(tmp_path, flag):
    with pytest.raises(ConfigError, match="FLASK_DEBUG is on: production refuses"):
        load({**PRODUCTION, "FLASK_DEBUG": flag}, instance_path=tmp_path)
    load({**PRODUCTION, "FLASK_DEBUG": "0"}, instance_path=tmp_path)
    load({"FLASK_DEBUG": flag}, instance_path=tmp_path)  # development may debug


def test_tracker_run_in_production_with_flask_debug_does_not_start_the_debugger(tmp_path):
    result = run_tracker(
        "run",
        "--port",
        "0",
        "--no-reload",
        instance=tmp_path,
        timeout=60,
        FLASK_DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        **PRODUCTION,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "tracker: configuration error: FLASK_DEBUG is on: production refuses to start in debug "
        "mode, whose debugger would let anyone who reaches it run code on the server"
    )


def test_tracker_run_in_production_refuses_the_debugger_flag(tmp_path):
    """--debugger turns the debugger on without FLASK_DEBUG: production refuses it too."""
    database = f"sqlite:///{tmp_path / 'x.db'}"
    result = run_tracker(
        "run",
        "--port",
        "0",
        "--no-reload",
        "--debugger",
        instance=tmp_path,
        timeout=60,
        DATABASE_URL=database,
        **PRODUCTION,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "tracker: configuration error: --debugger: production refuses to start the debugger, "
        "which would let anyone who reaches it run code on the server"
    )


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://tracker:s3cret@db:port/tracker",
        "postgresql+psycopg://tracker:s3cret@[::1/tracker",
        "sqlite://s3cret:x",
        "sqlite:",
    ],
)
def test_a_malformed_database_url_is_one_line_without_its_password(tmp_path, url):
    with pytest.raises(ConfigError, match="DATABASE_URL cannot be read as a database URL"):
        load({"DATABASE_URL": url}, instance_path=tmp_path)
    result = run_tracker("db", "upgrade", instance=tmp_path, DATABASE_URL=url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tracker: configuration error: DATABASE_URL cannot be read")


@pytest.mark.parametrize(
    "key", ["a" * 64, "ab" * 32, "password" * 5, "0123456789" * 4, "abcde" * 7 + "abc"]
)
def test_production_refuses_a_secret_key_anyone_could_guess(tmp_path, key):
    with pytest.raises(ConfigError, match="SECRET_KEY is too easy to guess"):
        load({**PRODUCTION, "SECRET_KEY": key}, instance_path=tmp_path)
    load({"SECRET_KEY": key}, instance_path=tmp_path)  # development takes what it is given


def test_a_random_secret_key_is_taken_and_a_guessable_one_is_one_line(tmp_path):
    for _ in range(200):
        load({**PRODUCTION, "SECRET_KEY": secrets.token_hex(16)}, instance_path=tmp_path)
    result = run_tracker(
        "db", "upgrade", instance=tmp_path, **{**PRODUCTION, "SECRET_KEY": "a" * 64}
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "tracker: configuration error: SECRET_KEY is too easy to guess (a few characters, or a "
        'short run repeated): make one with: python -c "import secrets; '
        'print(secrets.token_hex(32))"'
    )


@pytest.mark.parametrize(
    "sender",
    [
        "not an address",
        "Pledges <pledges>",
        "pledges@localhost",
        "a@example.org, b@example.org",
        "Pledges <@example.org>",
        "a@b@example.org",
    ],
)
def test_production_refuses_a_sender_that_is_not_an_email_address(tmp_path, sender):
    with pytest.raises(ConfigError, match="MAIL_DEFAULT_SENDER must be one email address"):
        load({**PRODUCTION, "MAIL_DEFAULT_SENDER": sender}, instance_path=tmp_path)


def test_a_good_sender_is_taken_and_a_bad_one_is_one_line(tmp_path):
    for sender in ["Luton 2040 Pledge Tracker <pledges@example.org>", "pledges@luton.gov.uk"]:
        settings = load({**PRODUCTION, "MAIL_DEFAULT_SENDER": sender}, instance_path=tmp_path)
        assert settings["MAIL_DEFAULT_SENDER"] == sender
    result = run_tracker(
        "db", "upgrade", instance=tmp_path, MAIL_DEFAULT_SENDER="Pledges <pledges>", **PRODUCTION
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "tracker: configuration error: MAIL_DEFAULT_SENDER must be one email address, like "
        "Pledge Tracker <pledges@example.org>, not 'Pledges <pledges>'"
    )


# 12 (the API part). Last-Modified moves when an admin verifies evidence --------------------
#
# Verifying evidence changes what the API says (the update's evidence grade) after the return
# was accepted, so it must move Last-Modified; If-Modified-Since answered 304 over the change.


def test_verifying_evidence_moves_the_apis_last_modified(app, client, db_session):
    with time_machine.travel(datetime(2024, 9, 15, 9, tzinfo=UTC), tick=False):
        world = build_world(db_session)
        admin = make_user(db_session, Role.ADMIN)
    url = f"/api/v1/commitments/{world['wage'].id}"
    first = client.get(url)
    modified, etag = first.headers["Last-Modified"], first.headers["ETag"]
    assert first.json["data"]["latest_accepted_update"]["evidence_grade"] == "evidence_attached"
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304

    update = db_session.scalar(
        sa.select(CommitmentUpdate).where(CommitmentUpdate.commitment_id == world["wage"].id)
    )
    reviewer = app.test_client()
    with time_machine.travel(datetime(2024, 10, 1, 9, tzinfo=UTC), tick=False):
        sign_in(reviewer, admin)
        q1, greenway = world["q1"].slug, world["greenway"].slug
        response = reviewer.post(f"/admin/returns/{q1}/{greenway}/updates/{update.id}/verify")
        assert response.status_code == 302

    again = client.get(url, headers={"If-Modified-Since": modified})
    assert again.status_code == 200
    assert again.json["data"]["latest_accepted_update"]["evidence_grade"] == "verified"
    assert again.headers["Last-Modified"] == "Tue, 01 Oct 2024 09:00:00 GMT"
    assert again.headers["ETag"] != etag
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200
    for listing in ("/api/v1/commitments", "/api/v1/organisations"):
        assert client.get(listing, headers={"If-Modified-Since": modified}).status_code == 200


def test_verifying_evidence_on_a_return_not_yet_accepted_changes_nothing_public(client, db_session):
    """Its time is not public: the return is not (Last-Modified counts accepted returns only)."""
    with time_machine.travel(datetime(2024, 9, 15, 9, tzinfo=UTC), tick=False):
        world = build_world(db_session)
        admin = make_user(db_session, Role.ADMIN)
        submitted = make_return(
            db_session,
            world["greenway"],
            world["q2"],
            state=ReturnState.SUBMITTED,
            submitted_at=datetime.now(UTC),
        )
        update = CommitmentUpdate(
            return_id=submitted.id,
            commitment_id=world["trees"].id,
            status=DeliveryStatus.COMPLETED,
            complete=True,
            evidence_url="https://greenway.example.org/trees",
            evidence_grade=EvidenceGrade.EVIDENCE_ATTACHED,
        )
        db_session.add(update)
        db_session.flush()
    modified = client.get("/api/v1/commitments").headers["Last-Modified"]
    returns.verify_evidence(update, actor=admin, now=datetime(2024, 10, 1, 9, tzinfo=UTC))
    db_session.flush()
    answer = client.get("/api/v1/commitments", headers={"If-Modified-Since": modified})
    assert answer.status_code == 304


# 12 (the session cookie). It is __Host- prefixed in production ---------------------------------


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


# 13. A return cannot be filed after its window closed ----------------------------------------
#
# The quarterly-cycle work closes the window (issue 14); here an attacker skips the pages and
# posts straight to the update and submit addresses, with and without an extension granted.

Q1 = Quarter(2024, 1)  # window closes 11 August 2024


@pytest.fixture
def return_ready_to_submit(db_session) -> dict:
    """A draft return with every update complete: one POST would submit it, were it open."""
    make_place(db_session)
    org = make_organisation(db_session)
    commitments = [make_commitment(db_session, org) for _ in range(2)]
    period = make_period(db_session, Q1)
    lead = make_user(db_session, Role.LEAD, organisations=[org])
    return_ = make_return(db_session, org, period, state=ReturnState.DRAFT)
    updates = [
        CommitmentUpdate(
            return_id=return_.id,
            commitment_id=commitment.id,
            status=DeliveryStatus.ON_TRACK,
            narrative="Before the window closed",
            complete=True,
        )
        for commitment in commitments
    ]
    db_session.add_all(updates)
    db_session.flush()
    base = f"/organisations/{org.slug}/returns/{period.slug}"
    return {
        "lead": lead,
        "return": return_,
        "updates": updates,
        "update_url": f"{base}/commitments/{commitments[0].id}",
        "submit_url": f"{base}/submit",
    }


def what_is_stored(db_session, setting: dict) -> tuple:
    db_session.expire_all()
    return (
        setting["return"].state,
        setting["return"].submitted_at,
        [(u.status, u.narrative, u.version) for u in setting["updates"]],
        db_session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
        db_session.scalar(sa.select(sa.func.count()).select_from(ReturnEvent)),
    )


def post_every_change(client, setting: dict) -> None:
    """Every way to change or send the return, posted directly; each must be turned away."""
    for button in ("save", "draft", "no_change"):
        response = client.post(
            setting["update_url"],
            data={
                "status": "off_track",
                "narrative": "Written after the window closed",
                "version": "1",
                button: "yes",
            },
        )
        assert response.status_code == 302, button
    assert client.post(setting["submit_url"]).status_code == 302


@pytest.mark.parametrize(
    ("extended_to", "on"),
    [(None, date(2024, 8, 12)), (date(2024, 8, 25), date(2024, 8, 26))],
    ids=["no extension", "after the extension"],
)
def test_nothing_is_filed_after_the_window_closed(
    client, db_session, return_ready_to_submit, extended_to, on
):
    setting = return_ready_to_submit
    if extended_to is not None:
        setting["return"].extended_due_on = extended_to
        setting["return"].extension_reason = "Their systems were down"
        db_session.flush()
    with time_machine.travel(datetime.combine(on, time(9), tzinfo=UTC), tick=False):
        sign_in(client, setting["lead"])
        before = what_is_stored(db_session, setting)
        post_every_change(client, setting)
        page = get_page(client, setting["update_url"].rsplit("/commitments", 1)[0])
    assert what_is_stored(db_session, setting) == before
    assert setting["return"].state == ReturnState.DRAFT
    assert "The window for this return closed on" in page.text


def test_an_extension_reopens_the_return_until_it_ends(client, db_session, return_ready_to_submit):
    """The same posts do go through inside the extension: the window, not the post, refuses."""
    setting = return_ready_to_submit
    setting["return"].extended_due_on = date(2024, 8, 25)
    setting["return"].extension_reason = "Their systems were down"
    db_session.flush()
    with time_machine.travel(datetime(2024, 8, 20, 9, tzinfo=UTC), tick=False):
        sign_in(client, setting["lead"])
        response = client.post(
            setting["update_url"],
            data={
                "status": "on_track",
                "narrative": "In the extension",
                "version": "1",
                "save": "y",
            },
        )
        assert response.status_code == 302
        assert client.post(setting["submit_url"]).status_code == 200
    db_session.expire_all()
    assert setting["return"].state == ReturnState.SUBMITTED
    assert setting["updates"][0].narrative == "In the extension"


# Checklist lines nothing else proved ---------------------------------------------------------
#
# README's "Reliability and security checklist" names a test for every line of
# shared/RELIABILITY.md; these two lines had none.


def test_production_answers_carry_hsts_and_signed_in_pages_are_not_cached(
    app, client, db_session, monkeypatch
):
    assert "Strict-Transport-Security" not in client.get("/").headers  # not over plain HTTP
    monkeypatch.setitem(app.config, "TRACKER_ENV", "production")
    assert client.get("/").headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    monkeypatch.setitem(app.config, "TRACKER_ENV", "test")
    sign_in(client, make_user(db_session, Role.BOARD))
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_a_request_larger_than_the_upload_limit_is_refused(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)
    response = client.post("/sign-in", data={"email": "a@example.org", "password": "x" * 20_000})
    assert response.status_code == 413
    assert "The file is too large" in response.get_data(as_text=True)
