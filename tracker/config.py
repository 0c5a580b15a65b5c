"""Settings from the environment, with safe development defaults.

``TRACKER_ENV`` picks the profile: ``development`` (the default), ``test`` or ``production``.
Every problem is a ``ConfigError`` with one line a person can act on.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from email.errors import MessageError
from email.headerregistry import Address
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tracker.domain.calendar import WindowRules
from tracker.domain.reminders import LadderRules

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("development", "test", "production")


class ConfigError(Exception):
    """The configuration cannot work; the message says which setting and why."""


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _days_list(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip().lower() in {"none", "off"}:
        return ()
    try:
        days = tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(
            f"{name} must be whole numbers of days separated by commas, not {raw!r}"
        ) from None
    return days


def _reminder_rules(env: Mapping[str, str]) -> dict[str, Any]:
    """The reminder ladder's timings; 0 turns the deputy/sponsor or admin step off."""
    contact = _int(env, "REMINDER_CONTACT_AFTER_DAYS", 3, low=0, high=90)
    admins = _int(env, "REMINDER_ADMINS_AFTER_DAYS", 7, low=0, high=90)
    values = {
        "remind_on_open": _bool(env, "REMINDER_ON_OPEN", True),
        "days_before_due": _days_list(env, "REMINDER_DAYS_BEFORE_DUE", (7, 1)),
        "days_after_due": _int(env, "REMINDER_DAYS_AFTER_DUE", 1, low=1, high=90),
        "weekly_while_overdue": _bool(env, "REMINDER_WEEKLY_WHILE_OVERDUE", True),
        "contact_after_days": contact or None,
        "admins_after_days": admins or None,
    }
    try:
        LadderRules(**values)
    except ValueError as error:
        raise ConfigError(f"REMINDER_* settings do not work: {error}") from None
    return values


MAKE_A_KEY = 'make one with: python -c "import secrets; print(secrets.token_hex(32))"'


def _predictable(key: str) -> bool:
    """Whether a key is a few characters, or a short run repeated ('a' * 64, 'abc' * 20).

    Not a measure of randomness, only of keys people type: 32 random hex digits use fewer than
    6 different characters about three times in ten trillion.
    """
    if len(set(key)) < 6:
        return True
    # The shortest run that, repeated, makes the key; a typed pattern repeats at least twice.
    period = next(p for p in range(1, len(key) + 1) if key == (key[:p] * len(key))[: len(key)])
    return period <= len(key) // 2


def _secret_key(env: Mapping[str, str], environment: str, instance_path: Path) -> str:
    key = env.get("SECRET_KEY", "").strip()
    if key:
        if environment == "production" and len(key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        if environment == "production" and _predictable(key):
            raise ConfigError(
                "SECRET_KEY is too easy to guess (a few characters, or a short run repeated): "
                + MAKE_A_KEY
            )
        return key
    if environment == "production":
        raise ConfigError(
            f"SECRET_KEY is not set: production refuses to start without one ({MAKE_A_KEY})"
        )
    if environment == "test":
        return "test-" + "x" * 32
    # Development keeps one key across restarts so sign-ins survive a reload.
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def _database_url(env: Mapping[str, str], instance_path: Path) -> str:
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{instance_path / 'tracker.db'}"
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants a driver name.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    if not (url.startswith("sqlite:") or url.startswith("postgresql+psycopg:")):
        raise ConfigError(
            f"DATABASE_URL must be a sqlite:/// or postgresql:// URL, not {url.split(':')[0]}:…"
        )
    try:
        make_url(url)
    except (ArgumentError, ValueError):
        # Not repeated back: the URL may hold a password.
        raise ConfigError(
            "DATABASE_URL cannot be read as a database URL; it should look like "
            "sqlite:////path/to/tracker.db or postgresql://user:password@host:5432/name"
        ) from None
    return url


def _public_base_url(env: Mapping[str, str]) -> str:
    """Where people reach the site, for links in emails (``make run`` sets it from HOST/PORT)."""
    url = (env.get("PUBLIC_BASE_URL") or "").strip().rstrip("/")
    if not url:
        return "http://127.0.0.1:5000"
    try:
        parts = urlsplit(url)
        valid = parts.scheme in {"http", "https"} and bool(parts.netloc)
        valid = valid and not (parts.query or parts.fragment or parts.port == 0)
    except ValueError:  # an unclosed [IPv6] bracket, a port that is not a number
        valid = False
    if not valid:
        raise ConfigError(
            "PUBLIC_BASE_URL must be an http:// or https:// address like "
            f"https://pledges.example.org, not {url!r}"
        )
    return url


def _is_debug(value: str | None) -> bool:
    """FLASK_DEBUG as Flask reads it: on unless empty, 0, false or no."""
    return bool(value and value.strip().lower() not in {"0", "false", "no"})


def _is_email_address(text: str) -> bool:
    """One deliverable-looking address, with or without a name: ``Name <me@example.org>``."""
    if any(ord(character) < 32 for character in text):
        return False
    found = getaddresses([text])
    if len(found) != 1:
        return False
    name, address = found[0]
    try:
        parsed = Address(display_name=name, addr_spec=address)
    except (ValueError, IndexError, MessageError):
        return False
    return bool(parsed.username) and "." in parsed.domain.strip(".")


def _mail_sender(env: Mapping[str, str], place_name: str, production: bool) -> str:
    sender = env.get("MAIL_DEFAULT_SENDER", "").strip()
    if not sender:
        return f"{place_name} Pledge Tracker <no-reply@localhost>"
    if production and not _is_email_address(sender):
        raise ConfigError(
            "MAIL_DEFAULT_SENDER must be one email address, like "
            f"Pledge Tracker <pledges@example.org>, not {sender!r}"
        )
    return sender


def load(env: Mapping[str, str] | None = None, instance_path: Path | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    env = os.environ if env is None else env
    environment = env.get("TRACKER_ENV", "development").strip() or "development"
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            f"TRACKER_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}"
        )
    instance_path = instance_path or Path(
        env.get("TRACKER_INSTANCE_PATH") or PROJECT_ROOT / "instance"
    )
    production = environment == "production"
    if production and _is_debug(env.get("FLASK_DEBUG")):
        # Debug mode serves Werkzeug's debugger, a Python console for whoever reaches it.
        raise ConfigError(
            "FLASK_DEBUG is on: production refuses to start in debug mode, whose debugger "
            "would let anyone who reaches it run code on the server"
        )
    place_name = env.get("PLACE_NAME", "Luton 2040").strip() or "Luton 2040"

    mail_server = env.get("MAIL_SERVER", "").strip()
    mail_backend = env.get("MAIL_BACKEND", "smtp" if mail_server else "file").strip()
    if mail_backend not in {"smtp", "file"}:
        raise ConfigError(f"MAIL_BACKEND must be smtp or file, not {mail_backend!r}")
    if mail_backend == "smtp" and not mail_server:
        raise ConfigError("MAIL_BACKEND is smtp but MAIL_SERVER is not set")
    mail_use_tls = _bool(env, "MAIL_USE_TLS", False)
    mail_use_ssl = _bool(env, "MAIL_USE_SSL", False)
    if mail_use_tls and mail_use_ssl:
        raise ConfigError("set MAIL_USE_TLS (STARTTLS) or MAIL_USE_SSL, not both")

    window = {
        "opens_days_before_end": _int(env, "REPORTING_OPENS_DAYS_BEFORE_END", 14, low=0, high=80),
        "due_days_after_end": _int(env, "REPORTING_DUE_DAYS_AFTER_END", 21, low=0, high=180),
        "closes_days_after_end": _int(env, "REPORTING_CLOSES_DAYS_AFTER_END", 42, low=0, high=365),
    }
    try:
        WindowRules(**window)
    except ValueError as error:
        raise ConfigError(f"REPORTING_* settings do not work together: {error}") from None

    reminders = _reminder_rules(env)

    # scrypt's cost N = 2**PASSWORD_HASH_COST (memory 128 × 8 × N bytes): 15 is Werkzeug's
    # default (32 MiB, tens of milliseconds a sign-in). Stored hashes carry their own cost, so a
    # change applies to passwords set after it and every existing one still works.
    hash_cost = _int(env, "PASSWORD_HASH_COST", 15, low=12, high=20)
    if production and hash_cost < 15:
        raise ConfigError(
            f"PASSWORD_HASH_COST must be at least 15 in production, not {hash_cost}: a cheaper"
            " hash makes stolen password hashes quicker to crack"
        )

    return {
        "TRACKER_ENV": environment,
        "TESTING": environment == "test",
        "SECRET_KEY": _secret_key(env, environment, instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(env, instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "INSTANCE_PATH": str(instance_path),
        "PLACE_NAME": place_name,
        "SERVICE_NAME": env.get("SERVICE_NAME", "").strip() or f"{place_name} Pledge Tracker",
        "PUBLIC_BASE_URL": _public_base_url(env),
        "GOVUK_FRONTEND_DIST": env.get("GOVUK_FRONTEND_DIST")
        or str(PROJECT_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"),
        "MAIL_BACKEND": mail_backend,
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": _int(
            env,
            "MAIL_PORT",
            465 if mail_use_ssl else 587 if mail_use_tls else 25,
            low=1,
            high=65535,
        ),
        "MAIL_USE_TLS": mail_use_tls,
        "MAIL_USE_SSL": mail_use_ssl,
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": _mail_sender(env, place_name, production),
        "MAIL_FILE_DIR": str(instance_path / "mail"),
        "PASSWORD_HASH_METHOD": f"scrypt:{2**hash_cost}:8:1",
        "REPORTING_OPENS_DAYS_BEFORE_END": window["opens_days_before_end"],
        "REPORTING_DUE_DAYS_AFTER_END": window["due_days_after_end"],
        "REPORTING_CLOSES_DAYS_AFTER_END": window["closes_days_after_end"],
        "REMINDER_RULES": reminders,
        # How often the scheduler sends what the outbox holds.
        "MAIL_SEND_EVERY_SECONDS": _int(env, "MAIL_SEND_EVERY_SECONDS", 30, low=1, high=3600),
        # Each run of the mail job sends batches of this many until nothing due is left, each
        # batch over at most MAIL_CONNECTIONS connections at once (fewer if the server says no).
        "MAIL_BATCH_SIZE": _int(env, "MAIL_BATCH_SIZE", 200, low=1, high=5000),
        "MAIL_CONNECTIONS": _int(env, "MAIL_CONNECTIONS", 4, low=1, high=16),
        # How often the scheduler checks whether the open-data files need rebuilding.
        "OPEN_DATA_EVERY_MINUTES": _int(env, "OPEN_DATA_EVERY_MINUTES", 5, low=1, high=1440),
        # The hour (in the place's time zone) the daily reminder run starts.
        "REMINDER_HOUR": _int(env, "REMINDER_HOUR", 7, low=0, high=23),
        # In production the browser keeps the session cookie to this exact host over HTTPS
        # (the __Host- prefix: Secure, Path=/, no Domain), so a sibling subdomain cannot set
        # or overwrite it. Development on http://127.0.0.1 keeps the plain name.
        "SESSION_COOKIE_NAME": "__Host-session" if production else "session",
        "SESSION_COOKIE_PATH": "/",
        "SESSION_COOKIE_DOMAIN": None,
        # A browser that signed in before (tracker.auth.devices), under the same rules.
        "DEVICE_COOKIE_NAME": "__Host-device" if production else "tracker_device",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_IDLE_MINUTES": _int(env, "SESSION_IDLE_MINUTES", 60, low=5, high=24 * 60),
        "SESSION_ABSOLUTE_HOURS": _int(env, "SESSION_ABSOLUTE_HOURS", 12, low=1, high=24 * 30),
        # How many proxies in front of the app may set X-Forwarded-For; 0 trusts none, so a
        # forged header cannot dodge the sign-in throttle.
        "TRUSTED_PROXIES": _int(env, "TRUSTED_PROXIES", 0, low=0, high=5),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # The largest evidence file; a request may be a little larger for the form around it.
        "EVIDENCE_MAX_BYTES": _int(env, "MAX_UPLOAD_MB", 10, low=1, high=100) * 1024 * 1024,
        "MAX_CONTENT_LENGTH": (_int(env, "MAX_UPLOAD_MB", 10, low=1, high=100) + 1) * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        "TIMEZONE": "Europe/London",
        "SCHEDULER_LOCK_FILE": str(instance_path / "scheduler.lock"),
        # How often a waiting scheduler checks whether the active one has gone.
        "SCHEDULER_POLL_SECONDS": _int(env, "SCHEDULER_POLL_SECONDS", 5, low=1, high=600),
    }


def window_rules(config: Mapping[str, Any]) -> WindowRules:
    """The reporting window rules an app was configured with."""
    return WindowRules(
        opens_days_before_end=config["REPORTING_OPENS_DAYS_BEFORE_END"],
        due_days_after_end=config["REPORTING_DUE_DAYS_AFTER_END"],
        closes_days_after_end=config["REPORTING_CLOSES_DAYS_AFTER_END"],
    )


def ladder_rules(config: Mapping[str, Any]) -> LadderRules:
    """The reminder ladder's timings an app was configured with."""
    return LadderRules(**config["REMINDER_RULES"])
