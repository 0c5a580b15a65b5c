"""People and their access: invitations, sign-in, password resets, roles and organisations.

The rules come from RELIABILITY.md ("Accounts and sessions"): links are random (256 bits),
stored hashed, single-use and expiring; sign-in is throttled from the database, so the limit
holds across every web worker; answers never reveal whether an email has an account; a password
change or deactivation ends every other session (the user's session version moves on).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, render_template, url_for
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.models import Organisation, SignInAttempt, TokenPurpose, User, UserToken
from tracker.services import audit

INVITATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=1)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_CLIENT = 30
# Checked against when the email is unknown, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password: equalises timing")


class AccountError(ValueError):
    """A change to an account that cannot be made; the message is for the person asking."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _absolute_url(endpoint: str, **values: object) -> str:
    return current_app.config["PUBLIC_BASE_URL"] + url_for(endpoint, **values)


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


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


def set_active(user: User, active: bool, *, actor: User) -> None:
    """Deactivate (ending every session at once) or reactivate a person."""
    if user.id == actor.id and not active:
        raise AccountError("You cannot deactivate your own account")
    if user.active == active:
        return
    user.active = active
    user.session_version += 1
    db.session.flush()
    audit.record(
        "reactivated" if active else "deactivated",
        "user",
        user.id,
        actor=actor,
        before={"active": not active},
        after={"active": active},
    )


def _issue_token(
    user: User, purpose: TokenPurpose, lifetime: timedelta, now: datetime, actor: User | None
) -> tuple[str, UserToken]:
    # A new link replaces any earlier unused one of the same kind.
    db.session.execute(
        update(UserToken)
        .where(
            UserToken.user_id == user.id,
            UserToken.purpose == purpose,
            UserToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    raw = secrets.token_urlsafe(32)
    token = UserToken(
        user_id=user.id,
        purpose=purpose,
        token_hash=_hash_token(raw),
        created_at=now,
        expires_at=now + lifetime,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(token)
    db.session.flush()
    return raw, token


def find_token(raw: str, purpose: TokenPurpose, now: datetime) -> UserToken | None:
    """The live token for a link, or None (unknown, used, expired, or an inactive account)."""
    if not raw or len(raw) > 200:
        return None
    token = db.session.scalar(
        select(UserToken).where(
            UserToken.token_hash == _hash_token(raw), UserToken.purpose == purpose
        )
    )
    if token is None or token.used_at is not None or token.expires_at <= now:
        return None
    if purpose == TokenPurpose.PASSWORD_RESET and not token.user.active:
        return None
    return token


def invite(user: User, *, actor: User | None, now: datetime) -> str:
    """Queue an invitation email with a fresh single-use link; returns the link."""
    from tracker.mail import queue_email

    raw, token = _issue_token(user, TokenPurpose.INVITATION, INVITATION_LIFETIME, now, actor)
    link = _absolute_url("auth.accept_invitation", token=raw)
    context = {"user": user, "link": link, "expires_at": token.expires_at, "invited_by": actor}
    queue_email(
        kind="invitation",
        idempotency_key=f"invitation:{user.id}:{token.id}",
        to_email=user.email,
        to_name=user.name,
        subject=f"You have been invited to {current_app.config['SERVICE_NAME']}",
        text=render_template("emails/invitation.txt", **context),
        html=render_template("emails/invitation.html", **context),
        user_id=user.id,
    )
    audit.record("invited", "user", user.id, actor=actor, after={"expires_at": token.expires_at})
    return link


def accept_invitation(token: UserToken, *, name: str, password: str, now: datetime) -> User:
    """Set the invitee's name and password; the link is spent."""
    user = token.user
    token.used_at = now
    user.name = name.strip()
    user.password_hash = generate_password_hash(password)
    user.active = True
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
    raw, token = _issue_token(user, TokenPurpose.PASSWORD_RESET, RESET_LIFETIME, now, None)
    link = _absolute_url("auth.reset_password", token=raw)
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
    )


def reset_password(token: UserToken, password: str, *, now: datetime) -> User:
    """Set a new password from a reset link: the link is spent and other sessions end."""
    user = token.user
    token.used_at = now
    set_password(user, password)
    audit.record("reset password", "user", user.id, actor=user)
    return user


def set_password(user: User, password: str) -> None:
    """Store a new password hash (scrypt) and end every other session."""
    user.password_hash = generate_password_hash(password)
    user.session_version += 1
    db.session.flush()


def change_password(user: User, current: str, new: str) -> bool:
    """Change a password after checking the current one; False if it was wrong."""
    if not user.password_hash or not check_password_hash(user.password_hash, current):
        return False
    set_password(user, new)
    audit.record("changed password", "user", user.id, actor=user)
    return True


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    throttled: bool = False


def _recent_failures(column: object, value: str, now: datetime) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(SignInAttempt)
        .where(
            column == value,
            SignInAttempt.succeeded.is_(False),
            SignInAttempt.occurred_at > now - THROTTLE_WINDOW,
        )
    )


def authenticate(email: str, password: str, *, client: str, now: datetime) -> SignInResult:
    """Check a sign-in; every attempt is recorded, and too many recent failures stop it."""
    email = normalise_email(email)[:320]
    client = client[:64]
    throttled = (
        _recent_failures(SignInAttempt.email, email, now) >= MAX_FAILURES_PER_ACCOUNT
        or _recent_failures(SignInAttempt.client, client, now) >= MAX_FAILURES_PER_CLIENT
    )
    user = None
    if not throttled:
        candidate = find_user(email)
        stored = candidate.password_hash if candidate and candidate.password_hash else _DUMMY_HASH
        matches = check_password_hash(stored, password)
        if candidate is not None and candidate.active and candidate.password_hash and matches:
            user = candidate
            user.last_signed_in_at = now
    db.session.add(
        SignInAttempt(email=email, client=client, occurred_at=now, succeeded=user is not None)
    )
    db.session.flush()
    return SignInResult(user=user, throttled=throttled)


def sign_out_everywhere(user: User) -> None:
    """End every session of this person (the session version moves on)."""
    user.session_version += 1
    db.session.flush()
