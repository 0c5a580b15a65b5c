"""The front door: home page, health check, assets, error pages and security headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import abort
from werkzeug.exceptions import TooManyRequests

from tests.factories import make_commitment, make_organisation, make_period, make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tracker.auth.access import public
from tracker.extensions import db


def test_home_page_has_an_honest_empty_state(client):
    page = get_page(client, "/")
    assert page.title == "Pledges – Luton 2040 Pledge Tracker"
    assert page.h1 == "Luton 2040 pledges"
    assert "No pledges yet" in page.text
    assert "tracker seed load" in page.text


def test_home_page_lists_organisations_with_their_commitment_counts(client, db_session):
    active = make_organisation(db_session, name="Active Luton")
    make_commitment(db_session, active)
    make_commitment(db_session, active)
    make_organisation(db_session, name="barnfield College")

    # Barnfield has nothing to track yet, so it is not counted as pledging; headings and
    # retired commitments are not counted either, and the page says so.
    make_commitment(db_session, active, is_heading=True)
    make_commitment(db_session, active, removed_from_page_at=datetime(2024, 5, 1, tzinfo=UTC))
    page = get_page(client, "/")
    rows = [
        [cell.get_text(strip=True) for cell in row.find_all(["th", "td"])]
        for row in page.soup.select("tbody tr")
    ]
    assert rows == [["Active Luton", "2"]]
    assert "1 organisation has pledged 2 commitments" in page.text
    assert (
        "Not counted: 1 heading that introduces a list of commitments, 1 commitment retired "
        "from its pledge (kept in the history) and 1 organisation with no commitments to track "
        "yet." in page.text
    )


def test_a_home_page_of_more_organisations_than_fit_points_to_the_directory(
    client, db_session, monkeypatch
):
    from tracker.site import routes

    for name in ["Active Luton", "Barnfield College", "Chiltern Trust"]:
        make_commitment(db_session, make_organisation(db_session, name=name))
    monkeypatch.setattr(routes, "HOME_LIST_MAX", 3)
    assert [
        row.th.get_text(strip=True) for row in get_page(client, "/").soup.select("tbody tr")
    ] == [
        "Active Luton",
        "Barnfield College",
        "Chiltern Trust",
    ]
    monkeypatch.setattr(routes, "HOME_LIST_MAX", 2)
    page = get_page(client, "/")
    assert page.soup.select("tbody tr") == []
    assert "3 organisations have pledged 3 commitments" in page.text
    assert "Too many to list here: find an organisation by name" in page.text
    assert page.link("find an organisation") == "/organisations"


def test_user_text_is_escaped(client, db_session):
    escaped = make_organisation(db_session, name="<script>alert(1)</script> Trust")
    make_commitment(db_session, escaped)
    response = client.get("/")
    assert b"<script>alert(1)</script>" not in response.data
    assert b"&lt;script&gt;alert(1)&lt;/script&gt; Trust" in response.data


def test_the_layout_is_gov_uk(client):
    page = get_page(client, "/")
    assert page.soup.html["lang"] == "en-GB"
    skip = page.soup.select_one("a.govuk-skip-link")
    assert skip["href"] == "#main-content"
    assert (
        page.soup.select_one(".govuk-service-navigation__service-name").get_text(strip=True)
        == "Luton 2040 Pledge Tracker"
    )
    assert page.soup.select_one(".govuk-phase-banner .govuk-tag").get_text(strip=True) == "Beta"
    assert page.link("Accessibility statement") == "/accessibility-statement"
    stylesheet = page.soup.find("link", rel="stylesheet")["href"]
    assert stylesheet == "/assets/govuk-frontend.min.css"


def test_accessibility_statement(client):
    page = get_page(client, "/accessibility-statement")
    assert "WCAG" in page.text
    assert page.h1 == "Accessibility statement for Luton 2040 Pledge Tracker"


def test_unknown_page_is_a_gov_uk_404(client):
    page = get_page(client, "/no-such-page", status=404)
    assert page.h1 == "Page not found"


def test_opening_a_form_address_says_it_cannot_be_reloaded_and_keeps_allow(client):
    page = get_page(client, "/sign-out", status=405)
    assert page.h1 == "This page cannot be reloaded"
    assert page.title == "This page cannot be reloaded – Luton 2040 Pledge Tracker"
    assert "POST" in page.response.headers["Allow"]
    assert page.link("Go to the list of pledges") == "/"


def test_reloading_a_submitted_return_leads_back_to_it(client, db_session):
    organisation = make_organisation(db_session, name="Active Luton", slug="active-luton")
    make_period(db_session)
    lead = make_user(db_session, organisations=[organisation])
    sign_in(client, lead)
    page = get_page(client, "/organisations/active-luton/returns/2024-25-q1/submit", status=405)
    assert page.h1 == "This page cannot be reloaded"
    assert "Nothing was sent or changed just now" in page.text
    assert "POST" in page.response.headers["Allow"]
    assert page.link("Go back to the page the form is about") == (
        "/organisations/active-luton/returns/2024-25-q1"
    )
    assert page.link("Go to your start page") == "/returns"
    # The address above is the route's, never the Referer header's.
    response = client.get(
        "/organisations/active-luton/returns/2024-25-q1/submit",
        headers={"Referer": "https://evil.example/"},
    )
    assert b"evil.example" not in response.data


@pytest.fixture
def failing_app(tmp_path):
    """An app with one public page that fails with whatever status it is asked for."""
    from tests.conftest import make_test_app

    app = make_test_app(f"sqlite:///{tmp_path / 'errors.db'}", tmp_path, PROPAGATE_EXCEPTIONS=False)

    @app.get("/fail/<int:code>")
    @public
    def fail(code: int):  # type: ignore[no-untyped-def]
        if code == 429:
            raise TooManyRequests(retry_after=120)
        if code == 500:
            raise RuntimeError("a bug")
        abort(code)

    return app


@pytest.mark.parametrize(
    ("code", "heading"),
    [
        (400, "Sorry, we could not accept that"),
        (401, "Sign in to see this page"),
        (403, "You cannot do that"),
        (404, "Page not found"),
        (409, "Someone else changed this"),
        (410, "This page has gone"),
        (413, "The file is too large"),
        (418, "Sorry, we could not do that"),
        (429, "Too many requests"),
        (500, "Sorry, there is a problem with the service"),
        (503, "Sorry, the service is unavailable"),
    ],
)
def test_every_error_is_a_page_in_the_service_layout(failing_app, code, heading):
    page = get_page(failing_app.test_client(), f"/fail/{code}", status=code)
    assert page.h1 == heading
    assert page.soup.select_one(".govuk-service-navigation__service-name")
    assert "Werkzeug" not in page.response.get_data(as_text=True)
    if code == 429:
        assert page.response.headers["Retry-After"] == "120"
    if code == 413:
        assert "Files must be 10 MB or smaller" in page.text


def test_a_method_the_page_does_not_take_is_a_405_page_with_allow(failing_app):
    response = failing_app.test_client().post("/fail/404")
    assert response.status_code == 405
    assert "This page cannot be reloaded" in response.get_data(as_text=True)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_api_errors_stay_problem_documents(client):
    for method, path, status in [
        ("get", "/api/v1/no-such-thing", 404),
        ("post", "/api/v1/organisations", 405),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == status
        assert response.mimetype == "application/problem+json"
        assert response.json["status"] == status
    assert "GET" in client.post("/api/v1/organisations").headers["Allow"]


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        ("/assets/govuk-frontend.min.css", "text/css"),
        ("/assets/govuk-frontend.min.js", "text/javascript"),
        ("/assets/fonts/bold-b542beb274-v2.woff2", "font/woff2"),
        ("/assets/images/govuk-crest.svg", "image/svg+xml"),
        ("/assets/images/favicon.ico", "image/vnd.microsoft.icon"),
        ("/static/init.js", "text/javascript"),
    ],
)
def test_gov_uk_frontend_assets_are_served(client, path, mimetype):
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == mimetype
    response.close()


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../package.json",
        "/assets/index.mjs",
        "/assets/govuk/all.scss",
        "/assets/nothing.css",
    ],
)
def test_only_the_built_assets_are_served(client, path):
    assert client.get(path).status_code == 404


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_does_not_answer(app, tmp_path):
    from tests.conftest import make_test_app

    broken = make_test_app(
        "postgresql+psycopg://postgres@127.0.0.1:1/none",
        tmp_path,
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}},
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_security_headers_on_every_response(client):
    for path in ["/", "/healthz", "/no-such-page"]:
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        for directive in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]:
            assert directive in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_the_inline_script_carries_this_responses_nonce(client):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"'.encode() in response.data
    assert client.get("/").headers["Content-Security-Policy"] != policy


def test_sqlite_connections_enforce_foreign_keys(app, db_session):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert db_session.execute(sa.text("PRAGMA foreign_keys")).scalar_one() == 1


def test_every_path_is_kebab_case(app):
    for rule in app.url_map.iter_rules():
        static_part = "".join(part for part in rule.rule.split("<") if ">" not in part)
        assert static_part == static_part.lower(), rule.rule
        assert "_" not in static_part, rule.rule


def test_a_return_page_is_under_your_returns_in_the_header_not_organisations(app):
    from flask_login import login_user

    from tracker.domain.enums import Role
    from tracker.models import User
    from tracker.templating import navigation

    lead = User(
        id=1, email="l@example.org", name="L", role=Role.LEAD, session_version=1, active=True
    )
    for path, active in [
        ("/organisations/acme/returns/2024-25-q1", "Your returns"),
        ("/organisations/acme/commitments/7", "Your returns"),
        ("/organisations/acme", "Organisations"),
        ("/organisations", "Organisations"),
    ]:
        with app.test_request_context(path):
            login_user(lead)
            marked = [link["text"] for link in navigation() if link["active"]]
        assert marked == [active], path
