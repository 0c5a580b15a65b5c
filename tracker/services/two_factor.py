"""The second factor: TOTP codes (RFC 6238, via pyotp) and single-use recovery codes.

Required for admins, offered to everyone (ASVS 5.0 V6.4 and V6.5). A code is accepted in the
time step it was made for and one step either side (clocks drift), and each step only once: the
last accepted step is stored, and moving it on is a conditional ``UPDATE`` so two requests with
one code cannot both pass. Recovery codes are random (80 bits), shown once, stored as SHA-256
hashes, and spent by a conditional ``UPDATE`` as well.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, func, select, update

from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.models import RecoveryCode, User
from tracker.services import audit

RECOVERY_CODE_COUNT = 10
STEP = timedelta(seconds=30)
_CODE = re.compile(r"[0-9]{6}")  # ASCII digits: \d would take any script's digits
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def needs_second_factor(user: User) -> bool:
    """Whether this person must pass a second factor after their password."""
    return user.has_two_factor or user.role == Role.ADMIN


def new_secret() -> str:
    """A fresh TOTP secret: 160 random bits, base32 (what authenticator apps expect)."""
    return pyotp.random_base32()


def setup_uri(secret: str, user: User, issuer: str) -> str:
    """The ``otpauth://`` address an authenticator app reads, for people who paste it."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def current_code(user: User, now: datetime) -> str:
    """The code this person's authenticator shows now (for ``tracker users code``)."""
    if not user.totp_secret:
        raise ValueError("this person has no second factor")
    return pyotp.TOTP(user.totp_secret).at(now)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step ``code`` was made for, within a step of ``now``; None if none."""
    code = re.sub(r"\s", "", code or "")
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    for offset in (-1, 0, 1):
        moment = now + offset * STEP
        if hmac.compare_digest(totp.at(moment), code):
            return totp.timecode(moment)
    return None


def _spend_step(user: User, step: int) -> bool:
    """Record ``step`` as used; False if it (or a later one) was used already."""
    moved = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(user, ["totp_last_step"])
    return moved == 1


def enable(user: User, secret: str, code: str, *, now: datetime) -> list[str] | None:
    """Turn on the second factor once a code from the new secret proves the app has it.

    Returns the new recovery codes (to show once), or None if the code was wrong.
    """
    step = _matching_step(secret, code, now)
    if step is None:
        return None
    user.totp_secret = secret
    user.totp_enabled_at = now
    user.totp_last_step = step
    db.session.flush()
    audit.record("turned on two-factor authentication", "user", user.id, actor=user)
    return new_recovery_codes(user, now=now)


def enrol_for_operator(user: User, *, now: datetime, actor_label: str) -> bool:
    """Give a person a second factor without their app (``tracker users code``); True if new."""
    if user.has_two_factor:
        return False
    user.totp_secret = new_secret()
    user.totp_enabled_at = now
    user.totp_last_step = None
    db.session.flush()
    audit.record("turned on two-factor authentication", "user", user.id, actor_label=actor_label)
    return True


def verify(user: User, code: str, *, now: datetime) -> bool:
    """Check a code from the authenticator, or a recovery code (spent if it matches)."""
    if not user.has_two_factor:
        return False
    step = _matching_step(user.totp_secret or "", code, now)
    if step is not None:
        return _spend_step(user, step)
    return _use_recovery_code(user, code, now=now)


def _normalise_recovery_code(code: str) -> str:
    return re.sub(r"[\s-]", "", (code or "").lower())[:64]


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(_normalise_recovery_code(code).encode()).hexdigest()


def _use_recovery_code(user: User, code: str, *, now: datetime) -> bool:
    if len(_normalise_recovery_code(code)) != 16:
        return False
    spent = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _recovery_hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent != 1:
        return False
    audit.record("used a recovery code", "user", user.id, actor=user)
    return True


def new_recovery_codes(user: User, *, now: datetime) -> list[str]:
    """Replace this person's recovery codes with ten new ones; returns them (shown once)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(raw), created_at=now))
    db.session.flush()
    return codes


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


def disable(user: User) -> None:
    """Turn the second factor off (not for admins: they must keep one)."""
    if user.role == Role.ADMIN:
        raise ValueError("admins must keep two-factor authentication")
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()
    audit.record("turned off two-factor authentication", "user", user.id, actor=user)
