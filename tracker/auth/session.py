"""How a signed-in session maps back to a user, and when it expires."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user

from tracker.auth.access import rule_for
from tracker.extensions import db
from tracker.models import User


def load_user(session_id: str) -> User | None:
    """The user for a session, or None when it is stale.

    The session holds ``"<user id>:<session version>"``; sign-out, a password change or
    deactivation bumps the version, so older sessions stop working on their next request.
    """
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def _expire_old_sessions() -> ResponseReturnValue | None:
    """Idle and absolute timeouts (RELIABILITY.md): sign out, then ask to sign in again."""
    from flask import current_app

    if request.endpoint in {"static", "site.assets"} or not current_user.is_authenticated:
        return None
    now = datetime.now(UTC).timestamp()
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    absolute = current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    signed_in_at = session.get("signed_in_at", 0)
    last_seen = session.get("last_seen", 0)
    if now - last_seen > idle or now - signed_in_at > absolute:
        logout_user()
        session.clear()
        rule = rule_for(current_app, request.endpoint or "")
        if rule is not None and rule.kind == "public":
            return None  # a public page carries on, signed out
        flash("You were signed out because your session ran out. Sign in again to carry on.")
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
    session["last_seen"] = now
    return None


def init_app(app: Flask) -> None:
    app.before_request(_expire_old_sessions)
