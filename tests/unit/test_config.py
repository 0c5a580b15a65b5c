"""Configuration from the environment: safe defaults, and one clear line for every mistake."""

import stat

import pytest

from tracker.config import ConfigError, load

# A key as production needs one: random (secrets.token_hex(32)), not typed.
GOOD_KEY = "77d981a91e37fb85e868fb9ddae7ecd06106b817e1bae16fa99e597d849d5729"


def test_development_defaults(tmp_path):
    settings = load({}, instance_path=tmp_path)
    assert settings["TRACKER_ENV"] == "development"
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'tracker.db'}"
    assert settings["MAIL_BACKEND"] == "file"
    assert settings["PLACE_NAME"] == "Luton 2040"
    assert settings["SERVICE_NAME"] == "Luton 2040 Pledge Tracker"
    assert not settings["SESSION_COOKIE_SECURE"]


def test_development_secret_is_created_once_and_kept_private(tmp_path):
    first = load({}, instance_path=tmp_path)["SECRET_KEY"]
    second = load({}, instance_path=tmp_path)["SECRET_KEY"]
    assert first == second
    assert len(first) >= 32
    mode = (tmp_path / "secret_key").stat().st_mode
    assert not mode & (stat.S_IRGRP | stat.S_IROTH)


def test_production_refuses_to_start_without_a_secret(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        load({"TRACKER_ENV": "production"}, instance_path=tmp_path)
    with pytest.raises(ConfigError, match="at least 32"):
        load({"TRACKER_ENV": "production", "SECRET_KEY": "short"}, instance_path=tmp_path)


def test_production_cookies_are_secure(tmp_path):
    settings = load({"TRACKER_ENV": "production", "SECRET_KEY": GOOD_KEY}, instance_path=tmp_path)
    assert settings["SESSION_COOKIE_SECURE"]
    assert settings["SESSION_COOKIE_HTTPONLY"]
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_postgres_urls_get_the_psycopg_driver(tmp_path):
    settings = load({"DATABASE_URL": "postgres://u@db:5432/tracker"}, instance_path=tmp_path)
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db:5432/tracker"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRACKER_ENV": "staging"}, "TRACKER_ENV must be one of"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must be"),
        ({"MAIL_PORT": "lots"}, "MAIL_PORT must be a whole number"),
        ({"MAIL_PORT": "70000"}, "MAIL_PORT must be between"),
        ({"MAIL_USE_TLS": "maybe"}, "MAIL_USE_TLS must be true or false"),
        ({"MAIL_USE_TLS": "1", "MAIL_USE_SSL": "1"}, "not both"),
        ({"MAIL_BACKEND": "smtp"}, "MAIL_SERVER is not set"),
        ({"REPORTING_DUE_DAYS_AFTER_END": "-3"}, "between 0 and 180"),
        ({"REPORTING_CLOSES_DAYS_AFTER_END": "7"}, "cannot close before the return is due"),
    ],
)
def test_bad_settings_name_themselves(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load(env, instance_path=tmp_path)


def test_mail_settings(tmp_path):
    settings = load(
        {"MAIL_SERVER": "smtp.example.org", "MAIL_USE_TLS": "true", "MAIL_USERNAME": "me"},
        instance_path=tmp_path,
    )
    assert settings["MAIL_BACKEND"] == "smtp"
    assert settings["MAIL_PORT"] == 587
    assert settings["MAIL_USERNAME"] == "me"


def test_public_base_url_is_where_links_in_emails_point(tmp_path):
    def base(value: str | None) -> str:
        env = {} if value is None else {"PUBLIC_BASE_URL": value}
        return load(env, instance_path=tmp_path)["PUBLIC_BASE_URL"]

    assert base(None) == base("") == base("  ") == "http://127.0.0.1:5000"
    assert base("https://pledges.example.org/") == "https://pledges.example.org"
    assert base("http://127.0.0.1:5001") == "http://127.0.0.1:5001"
    for wrong in ("pledges.example.org", "ftp://pledges.example.org", "http://[::1", "http://x:y"):
        with pytest.raises(ConfigError, match="PUBLIC_BASE_URL must be an http:// or https://"):
            base(wrong)


def test_password_hash_cost_is_a_setting_with_a_safe_floor_in_production(tmp_path):
    assert load({}, instance_path=tmp_path)["PASSWORD_HASH_METHOD"] == "scrypt:32768:8:1"
    cheaper = load({"PASSWORD_HASH_COST": "13"}, instance_path=tmp_path)
    assert cheaper["PASSWORD_HASH_METHOD"] == "scrypt:8192:8:1"
    production = {"TRACKER_ENV": "production", "SECRET_KEY": GOOD_KEY}
    dearer = load({**production, "PASSWORD_HASH_COST": "17"}, instance_path=tmp_path)
    assert dearer["PASSWORD_HASH_METHOD"] == "scrypt:131072:8:1"
    with pytest.raises(ConfigError, match="PASSWORD_HASH_COST must be at least 15 in production"):
        load({**production, "PASSWORD_HASH_COST": "14"}, instance_path=tmp_path)
    with pytest.raises(ConfigError, match="PASSWORD_HASH_COST must be between 12 and 20"):
        load({"PASSWORD_HASH_COST": "30"}, instance_path=tmp_path)
