"""Security headers on every response, with a per-request nonce for the one inline script."""

from __future__ import annotations

import secrets

from flask import Flask, Response, request
from flask_login import current_user


def csp_nonce() -> str:
    """The nonce for this request's inline scripts (GOV.UK's js-enabled snippet)."""
    # Kept on the request (not ``g``, which outlives a request when an app context is reused).
    return request.environ.setdefault("tracker.csp_nonce", secrets.token_urlsafe(16))


def _set_headers(response: Response) -> Response:
    policy = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{csp_nonce()}'; "
        "style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers.setdefault("Content-Security-Policy", policy)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    from flask import current_app

    if current_app.config["TRACKER_ENV"] == "production":
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    # Signed-in pages may show private data: never keep them in a shared or back-button cache.
    # (Whether someone is signed in, not ``is_authenticated``: that reads the user's row,
    # which a page that committed has expired, costing one more query after every save.)
    if current_user and not current_user.is_anonymous:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_set_headers)
