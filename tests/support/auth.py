"""Signing in as a test user, the way a browser does."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import PASSWORD
from tracker.models import User


def sign_in(client: FlaskClient, user: User, password: str = PASSWORD) -> None:
    response = client.post("/sign-in", data={"email": user.email, "password": password})
    assert response.status_code == 302, f"sign-in as {user.email} failed"


def csrf_token(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]
