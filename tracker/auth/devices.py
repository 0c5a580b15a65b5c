"""Recognised devices: a signed, HttpOnly cookie a browser gets when its person signs in.

It names the person and a random device id. Signing in again from that browser is then counted
against the device alone, not the account or the address (``tracker.services.throttle``), so
an attacker guessing at the account from elsewhere cannot keep its owner out, while guesses
from the device itself still slow down. The cookie is signed with the secret key (a forged or
altered one is ignored) and expires after a while; it proves nothing on its own — the password
(and second factor) are still checked.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer

from tracker.models import User
from tracker.services.throttle import Device

DEVICE_COOKIE_DAYS = 180
_SALT = "recognised-device"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def recognised_device() -> Device | None:
    """This browser's device claim, if it carries a valid one."""
    raw = request.cookies.get(current_app.config["DEVICE_COOKIE_NAME"])
    if not raw or len(raw) > 500:
        return None
    try:
        data: Any = _serializer().loads(raw, max_age=DEVICE_COOKIE_DAYS * 24 * 3600)
    except BadData:
        return None
    if not isinstance(data, dict):
        return None
    user_id, device_id = data.get("u"), data.get("d")
    if not isinstance(user_id, int) or not isinstance(device_id, str) or len(device_id) > 64:
        return None
    return Device(user_id=user_id, id=device_id)


def remember_device(response: Response, user: User) -> Response:
    """Mark this browser as one ``user`` signs in on (keeping its id if it was theirs already)."""
    current = recognised_device()
    device_id = current.id if current and current.user_id == user.id else secrets.token_urlsafe(16)
    response.set_cookie(
        current_app.config["DEVICE_COOKIE_NAME"],
        _serializer().dumps({"u": user.id, "d": device_id}),
        max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
        path="/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response
