"""How a signed-in session maps back to a user."""

from __future__ import annotations

from tracker.extensions import db
from tracker.models import User


def load_user(session_id: str) -> User | None:
    """The user for a session, or None when it is stale.

    The session holds ``"<user id>:<session version>"``; sign-out everywhere, a password change
    or deactivation bumps the version, so older sessions stop working on their next request.
    """
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user
