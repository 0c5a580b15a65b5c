"""Signing in as a test user, the way a browser does: password, then the second factor if asked."""

from __future__ import annotations

import pyotp
from flask.testing import FlaskClient

from tests.factories import PASSWORD, TOTP_SECRET
from tracker.extensions import db
from tracker.models import User


def current_code(secret: str = TOTP_SECRET) -> str:
    """What an authenticator app with this secret shows now."""
    return pyotp.TOTP(secret).now()


def fresh_code(user: User) -> str:
    """A code ``user`` has not used yet.

    A test signs one person in several times within one 30-second step, where a real person
    would wait for their app's next code: forget the step they last used instead.
    """
    user.totp_last_step = None
    db.session.flush()
    return current_code(user.totp_secret or TOTP_SECRET)


def sign_in(client: FlaskClient, user: User, password: str = PASSWORD) -> None:
    response = client.post("/sign-in", data={"email": user.email, "password": password})
    assert response.status_code == 302, f"sign-in as {user.email} failed"
    location = response.headers["Location"]
    if location.startswith("/account/two-factor") and user.totp_secret:
        response = client.post(location, data={"code": fresh_code(user)})
        assert response.status_code == 302, f"the second factor of {user.email} failed"


def csrf_token(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]
