"""People and their access: invitations, sign-in, password resets, roles and organisations.

The rules come from RELIABILITY.md ("Accounts and sessions"): links are unguessable (256 bits),
stored hashed, single-use (spent by one conditional ``UPDATE``, so two uses at the same instant
cannot both pass) and expiring, and deactivating a person revokes every link they have; the
outbox never holds a usable link (``tracker.domain.tokens``); sign-in, the current-password check
and the second factor are throttled from the database (``tracker.services.throttle``), so the
limit holds across every web worker; answers never reveal whether an email has an account; a
password change or deactivation ends every other session (the user's session version moves on).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template, url_for
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.domain.enums import Role
from tracker.domain.paging import Pagination
from tracker.domain.tokens import LINK_PLACEHOLDER, link_token, token_hash
from tracker.extensions import begin_reading, db
from tracker.mail import address_problem
from tracker.models import Organisation, SignInAttempt, TokenPurpose, User, UserToken
from tracker.services import audit, throttle
from tracker.services.paging import containing, page_of
from tracker.services.throttle import Device

INVITATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=1)
# The method Werkzeug uses unless the app says otherwise (config's PASSWORD_HASH_COST).
DEFAULT_HASH_METHOD = "scrypt:32768:8:1"
# People the admin's list shows at once: as many as a page of the admin's work list.
PEOPLE_PAGE_SIZE = 50


def _hash_method() -> str:
    return str(current_app.config.get("PASSWORD_HASH_METHOD", DEFAULT_HASH_METHOD))


def hash_password(password: str) -> str:
    """A password's hash at the configured cost (scrypt)."""
    return generate_password_hash(password, method=_hash_method())


@cache
def _dummy_hash(method: str) -> str:
    # Checked against when the email is unknown, so a wrong email takes as long as a wrong
    # password: made at the same cost as the real ones.
    return generate_password_hash("not a real password: equalises timing", method=method)


class AccountError(ValueError):
    """A change to an account that cannot be made; the message is for the person asking."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


# As on the web forms (tracker.forms.email_field).
EMAIL_MAX = 320


def email_problem(email: str) -> str | None:
    """Why an account cannot have this (normalised) address, in words; None if it can.

    The rule the web forms apply (WTForms' Email validator: email-validator, without looking
    the domain up), so the command line keeps no address the invitation form would refuse; and
    the outbox's, which must be able to send the invitation and every later email to it (the
    form lets ``josé@example.org`` through; the outbox cannot send to it).
    """
    if not email:
        return "Enter an email address"
    if len(email) > EMAIL_MAX:
        return f"Email address must be {EMAIL_MAX} characters or fewer"
    shown = email if email.isprintable() else repr(email)
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return f"{shown} is not an email address in the correct format, like name@example.com"
    if address_problem(email) is not None:
        return f"{shown} cannot be emailed from this service: enter another address"
    return None


def _absolute_url(endpoint: str, **values: object) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + url_for(endpoint, **values)


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def people_page(search: str, page: int | None) -> tuple[Pagination, list[User]]:
    """One page of the admin's list of people, by name, with their organisations; ``search``
    (when given) keeps those whose name or email address has it in, in any case.

    Three statements whatever the size: the count, the page, and the page's organisations.
    """
    return page_of(
        select(User)
        .where(*containing(search, User.name, User.email))
        .options(selectinload(User.organisations))
        .order_by(func.lower(User.name), User.id),
        page,
        PEOPLE_PAGE_SIZE,
    )


def create_user(
    *,
    email: str,
    name: str,
    role: Role,
    organisations: list[Organisation] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> User:
    """Add a person (without a password until they accept their invitation)."""
    email = normalise_email(email)
    problem = email_problem(email)
    if problem:
        raise AccountError(problem)
    if find_user(email) is not None:
        raise AccountError(f"{email} already has an account")
    if role != Role.LEAD and organisations:
        raise AccountError("Only organisation leads belong to organisations")
    user = User(email=email, name=name.strip(), role=role, organisations=list(organisations or []))
    db.session.add(user)
    db.session.flush()
    audit.record(
        "created",
        "user",
        user.id,
        actor=actor,
        actor_label=actor_label,
        after=_user_snapshot(user),
    )
    return user


def _user_snapshot(user: User) -> dict[str, object]:
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "organisations": sorted(o.slug for o in user.organisations),
    }


def update_user(
    user: User,
    *,
    actor: User,
    name: str | None = None,
    role: Role | None = None,
    organisations: list[Organisation] | None = None,
) -> None:
    """Change a person's name, role or organisations; a change of access ends their sessions."""
    before = _user_snapshot(user)
    if user.id == actor.id and role is not None and role != user.role:
        raise AccountError("You cannot change your own role")
    new_role = role or user.role
    if organisations is not None:
        user.organisations = list(organisations) if new_role == Role.LEAD else []
    elif new_role != Role.LEAD:
        user.organisations = []
    if name is not None:
        user.name = name.strip()
    user.role = new_role
    after = _user_snapshot(user)
    if before == after:
        return
    if (before["role"], before["organisations"]) != (after["role"], after["organisations"]):
        user.session_version += 1  # demotion takes effect on their next request
    db.session.flush()
    audit.record("updated", "user", user.id, actor=actor, before=before, after=after)


def set_active(user: User, active: bool, *, actor: User, now: datetime) -> None:
    """Deactivate (ending every session and revoking every link at once) or reactivate."""
    if user.id == actor.id and not active:
        raise AccountError("You cannot deactivate your own account")
    if user.active == active:
        return
    user.active = active
    user.session_version += 1
    if not active:
        revoke_links(user, now=now)
    db.session.flush()
    audit.record(
        "reactivated" if active else "deactivated",
        "user",
        user.id,
        actor=actor,
        before={"active": not active},
        after={"active": active},
    )


def revoke_links(user: User, *, now: datetime, purpose: TokenPurpose | None = None) -> int:
    """Spend every unused link of this person's (of one kind, if given); flush only."""
    condition = (UserToken.user_id == user.id) & UserToken.used_at.is_(None)
    if purpose is not None:
        condition &= UserToken.purpose == purpose
    revoked = db.session.execute(
        update(UserToken)
        .where(condition)
        .values(used_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    db.session.flush()
    return revoked


def _issue_token(
    user: User, purpose: TokenPurpose, lifetime: timedelta, now: datetime, actor: User | None
) -> tuple[str, UserToken]:
    # A new link replaces any earlier unused one of the same kind.
    revoke_links(user, now=now, purpose=purpose)
    nonce = secrets.token_hex(32)
    raw = link_token(current_app.config["SECRET_KEY"], nonce)
    token = UserToken(
        user_id=user.id,
        purpose=purpose,
        token_hash=token_hash(raw),
        link_nonce=nonce,
        created_at=now,
        expires_at=now + lifetime,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(token)
    db.session.flush()
    return raw, token


def is_live(token: UserToken, now: datetime) -> bool:
    """Whether a link still works: unused, unexpired, and its person's account active."""
    return token.used_at is None and token.expires_at > now and token.user.active


def find_token(raw: str, purpose: TokenPurpose, now: datetime) -> UserToken | None:
    """The live token for a link, or None (unknown, used, expired, or an inactive account)."""
    if not raw or len(raw) > 200:
        return None
    token = db.session.scalar(
        select(UserToken).where(
            UserToken.token_hash == token_hash(raw), UserToken.purpose == purpose
        )
    )
    if token is None or not is_live(token, now):
        return None
    return token


def _spend(token: UserToken, now: datetime) -> bool:
    """Use a link up; False if another request already has (or it died meanwhile).

    One conditional ``UPDATE``: of several requests with one link at the same instant, exactly
    one changes the row, so exactly one goes on.
    """
    active_owner = select(User.id).where(User.id == token.user_id, User.active.is_(True))
    spent = db.session.execute(
        update(UserToken)
        .where(
            UserToken.id == token.id,
            UserToken.used_at.is_(None),
            UserToken.expires_at > now,
            UserToken.user_id.in_(active_owner),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(token, ["used_at"])
    return spent == 1


def invite(user: User, *, actor: User | None, now: datetime) -> str:
    """Queue an invitation email with a fresh single-use link; returns the link."""
    from tracker.mail import queue_email

    raw, token = _issue_token(user, TokenPurpose.INVITATION, INVITATION_LIFETIME, now, actor)
    # The stored email has a placeholder for the token; the sender puts it in.
    stored_link = _absolute_url("auth.accept_invitation", token=LINK_PLACEHOLDER)
    context = {"user": user, "link": stored_link, "expires_at": token.expires_at}
    context["invited_by"] = actor
    queue_email(
        kind="invitation",
        idempotency_key=f"invitation:{user.id}:{token.id}",
        to_email=user.email,
        to_name=user.name,
        subject=f"You have been invited to {current_app.config['SERVICE_NAME']}",
        text=render_template("emails/invitation.txt", **context),
        html=render_template("emails/invitation.html", **context),
        user_id=user.id,
        user_token_id=token.id,
    )
    audit.record("invited", "user", user.id, actor=actor, after={"expires_at": token.expires_at})
    return _absolute_url("auth.accept_invitation", token=raw)


def accept_invitation(token: UserToken, *, name: str, password: str, now: datetime) -> User | None:
    """Set the invitee's name and password; the link is spent. None if it no longer works.

    Accepting never reactivates an account: a deactivated person's link is refused.
    """
    if not _spend(token, now):
        return None
    user = token.user
    user.name = name.strip()
    user.password_hash = hash_password(password)
    user.session_version += 1
    db.session.flush()
    audit.record("accepted invitation", "user", user.id, actor=user)
    return user


def request_password_reset(email: str, *, now: datetime) -> None:
    """Email a reset link if the address has an active account; say nothing either way."""
    from tracker.mail import queue_email

    user = find_user(email)
    if user is None or not user.active or user.password_hash is None:
        return
    _, token = _issue_token(user, TokenPurpose.PASSWORD_RESET, RESET_LIFETIME, now, None)
    link = _absolute_url("auth.reset_password", token=LINK_PLACEHOLDER)
    context = {"user": user, "link": link, "expires_at": token.expires_at}
    queue_email(
        kind="password_reset",
        idempotency_key=f"password-reset:{user.id}:{token.id}",
        to_email=user.email,
        to_name=user.name,
        subject=f"Reset your {current_app.config['SERVICE_NAME']} password",
        text=render_template("emails/password_reset.txt", **context),
        html=render_template("emails/password_reset.html", **context),
        user_id=user.id,
        user_token_id=token.id,
    )


def reset_password(token: UserToken, password: str, *, now: datetime) -> User | None:
    """Set a new password from a reset link: the link is spent and other sessions end.

    None if the link no longer works (another request used it a moment ago, say).
    """
    if not _spend(token, now):
        return None
    user = token.user
    set_password(user, password)
    audit.record("reset password", "user", user.id, actor=user)
    return user


def set_password(user: User, password: str) -> None:
    """Store a new password hash (scrypt, at the configured cost) and end every other session."""
    user.password_hash = hash_password(password)
    user.session_version += 1
    db.session.flush()


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    # Set when the attempt was not checked: how long to wait before trying again.
    retry_after: timedelta | None = None

    @property
    def throttled(self) -> bool:
        return self.retry_after is not None


def change_password(
    user: User,
    current: str,
    new: str,
    *,
    client: str,
    device: Device | None,
    now: datetime,
) -> SignInResult:
    """Change a password after checking the current one, throttled like signing in.

    ``result.user`` is None if the current password was wrong or the check must wait.
    """
    gate = throttle.gate(account=user.email, client=client[:64], device=device, now=now)
    gate.recognise(user.id)
    if gate.retry_after is not None:
        return SignInResult(user=None, retry_after=gate.retry_after)
    if not user.password_hash or not check_password_hash(user.password_hash, current):
        gate.failed()
        return SignInResult(user=None)
    gate.succeeded()
    set_password(user, new)
    audit.record("changed password", "user", user.id, actor=user)
    return SignInResult(user=user)


def authenticate(
    email: str, password: str, *, client: str, now: datetime, device: Device | None = None
) -> SignInResult:
    """Check a sign-in; every attempt is recorded, and recent failures make the next one wait.

    ``device`` is the browser's recognised-device claim, if it has one: for its own person it
    takes the place of the account's and the address's limits (see ``services.throttle``).
    """
    email = normalise_email(email)[:320]
    client = client[:64]
    # On SQLite every transaction holds the write lock from its BEGIN: the look-ups and the
    # hash run in a reader transaction, so forty people signing in at once do not queue for
    # the lock each other's hash holds; it is ended before the throttle rows are written.
    reading = begin_reading()
    candidate = find_user(email)
    # The password is checked before the throttle rows are locked, not while they are: scrypt
    # takes tens of milliseconds, and everyone signing in from one address (an office behind
    # one router; the load test) queued on that address's row for each other's hash. The
    # verdict is still given under the lock, one attempt after another, so parallel guesses
    # get the checks serial ones would; an attempt that must wait is refused before hashing.
    user_id = candidate.id if candidate else None
    matches = None
    if (
        throttle.must_wait(account=email, client=client, device=device, user_id=user_id, now=now)
        is None
    ):
        matches = _password_matches(candidate, password)
    if reading:
        db.session.rollback()  # the reader wrote nothing; the gate's transaction writes
    gate = throttle.gate(account=email, client=client, device=device, now=now)
    gate.recognise(user_id)
    user = None
    wait = gate.retry_after
    if wait is None:
        if matches is None:  # it had to wait a moment ago, and no longer does
            matches = _password_matches(candidate, password)
        if candidate is not None and candidate.active and candidate.password_hash and matches:
            user = candidate
            user.last_signed_in_at = now
            gate.succeeded()
        else:
            gate.failed()
    db.session.add(
        SignInAttempt(email=email, client=client, occurred_at=now, succeeded=user is not None)
    )
    db.session.flush()
    return SignInResult(user=user, retry_after=wait)


def _password_matches(candidate: User | None, password: str) -> bool:
    """Check the password against the account's hash (a dummy one for no account: same time)."""
    stored = (
        candidate.password_hash
        if candidate and candidate.password_hash
        else _dummy_hash(_hash_method())
    )
    return check_password_hash(stored, password)


def check_second_factor(
    user: User, code: str, *, client: str, device: Device | None, now: datetime
) -> SignInResult:
    """Check a code from the authenticator app (or a recovery code), throttled like a password."""
    from tracker.services import two_factor

    gate = throttle.gate(account=user.email, client=client[:64], device=device, now=now)
    gate.recognise(user.id)
    if gate.retry_after is not None:
        return SignInResult(user=None, retry_after=gate.retry_after)
    if two_factor.verify(user, code, now=now):
        gate.succeeded()
        return SignInResult(user=user)
    gate.failed()
    return SignInResult(user=None)


def sign_out_everywhere(user: User) -> None:
    """End every session of this person (the session version moves on)."""
    user.session_version += 1
    db.session.flush()
