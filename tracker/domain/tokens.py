"""Single-use links: the token in a link is rebuilt from a stored nonce and the secret key.

A link's token is HMAC-SHA256(SECRET_KEY, nonce) (256 bits). The database keeps the nonce and a
SHA-256 hash of the token: with the database alone nobody can make a working link, and the
outbox stores emails with ``LINK_PLACEHOLDER`` where the token goes, filled in only when the
email is sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

# Stands in for the token in stored email bodies. URL-safe, so it survives ``url_for`` as is,
# and plain to an admin reading the outbox.
LINK_PLACEHOLDER = "TOKEN-ADDED-WHEN-SENT"


def link_token(secret_key: str, nonce: str) -> str:
    """The token for a link: HMAC-SHA256 of the nonce under the secret key, URL-safe base64."""
    digest = hmac.new(
        secret_key.encode(), b"user-token-link:" + nonce.encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(raw: str) -> str:
    """What is stored to find a link's token again: its SHA-256, hex."""
    return hashlib.sha256(raw.encode()).hexdigest()


def fill_link(body: str, raw: str) -> str:
    """An email body with its link's token put in."""
    return body.replace(LINK_PLACEHOLDER, raw)
