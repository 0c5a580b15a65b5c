"""The password rules, after NIST SP 800-63B and OWASP ASVS 5.0 (V6.2).

At least 8 characters (15 recommended), up to 128 allowed, any characters, no composition
rules; refused when it is one of the 30,000 most common passwords, or so guessable that
zxcvbn's estimator scores it 0 (which also catches the person's own name or email in it), or
when it is the person's own name or email address.
"""

from __future__ import annotations

from functools import cache

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 8
RECOMMENDED_LENGTH = 15
MAX_LENGTH = 128


@cache
def _common() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why a new password cannot be used, in words for the person choosing it; None if fine."""
    if len(password) < MIN_LENGTH:
        return f"Password must be {MIN_LENGTH} characters or more"
    if len(password) > MAX_LENGTH:
        return f"Password must be {MAX_LENGTH} characters or fewer"
    if password.lower() in _common():
        return "Password is too common: choose one that would be hard to guess"
    # zxcvbn scores a long email address as guessable only sometimes: refuse it outright.
    if any(text and password.strip().casefold() == text.strip().casefold() for text in user_inputs):
        return "Password must not be your name or email address"
    # zxcvbn is slow on very long input and long passwords are not guessable anyway.
    if len(password) < 40:
        inputs = [part for text in user_inputs for part in text.replace("@", " ").split() if part]
        if zxcvbn(password, user_inputs=inputs)["score"] == 0:
            return "Password is too easy to guess: try a few unrelated words together"
    return None
