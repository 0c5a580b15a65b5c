"""Access control (RELIABILITY.md): deny by default, the role × organisation matrix, CSRF."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Blueprint, g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_test_app
from tests.factories import make_organisation, make_user
from tests.support.auth import csrf_token, sign_in
from tracker.auth.access import organisation, rule_for
from tracker.domain.enums import Role
from tracker.domain.permissions import Action
from tracker.extensions import db
from tracker.models import AuditEvent, Notification

# Routes whose job is to change something: POST only, never GET.
ACTIONS = {
    "auth.sign_out",
    "admin.deactivate_user",
    "admin.reactivate_user",
    "admin.resend_invitation",
    "admin.resend_notification",
    "board.build",
    "board.publish",
}


def test_every_route_has_an_access_rule(app):
    missing = [
        rule.endpoint for rule in app.url_map.iter_rules() if rule_for(app, rule.endpoint) is None
    ]
    assert missing == [], f"routes without an access rule: {missing}"


def test_url_parameters_are_typed_where_they_are_ids(app):
    for rule in app.url_map.iter_rules():
        for name in rule.arguments:
            if name.endswith("_id"):
                assert f"<int:{name}>" in rule.rule, rule.rule


def test_actions_are_post_only(app):
    endpoints = {rule.endpoint: rule.methods for rule in app.url_map.iter_rules()}
    for endpoint in ACTIONS:
        assert "GET" not in endpoints[endpoint], endpoint


def test_a_route_without_a_rule_is_refused_at_runtime(app, tmp_path, database_url):
    app = make_test_app(database_url, tmp_path)  # a fresh app, to register a rogue route on
    forgotten = Blueprint("forgotten", __name__)

    @forgotten.get("/forgotten")
    def no_rule():  # deliberately undecorated
        return "should never be seen"

    app.register_blueprint(forgotten)
    assert app.test_client().get("/forgotten").status_code == 404


def example_path(rule) -> str:  # type: ignore[no-untyped-def]
    values = {}
    for name in rule.arguments:
        converter = rule._converters[name].__class__.__name__
        values[name] = 1 if "Integer" in converter else "example"
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), path)
    return path


def fetch(client, method: str, path: str):  # type: ignore[no-untyped-def]
    """Make a request and read it to the end (streamed responses hold their context open)."""
    response = getattr(client, method)(path)
    response.get_data()
    response.close()
    return response


def test_anonymous_visitors_reach_only_public_pages(app, client):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        access = rule_for(app, rule.endpoint)
        response = fetch(client, "get", example_path(rule))
        if access.kind == "public":
            assert response.status_code != 302 or "/sign-in" not in response.headers.get(
                "Location", ""
            ), rule.rule
        else:
            assert response.status_code == 302, rule.rule
            assert response.headers["Location"].startswith("/sign-in?next="), rule.rule


@pytest.mark.parametrize("role", [Role.LEAD, Role.BOARD])
def test_admin_pages_refuse_other_roles(app, client, db_session, role):
    user = make_user(
        db_session,
        role,
        organisations=[make_organisation(db_session)] if role == Role.LEAD else None,
    )
    sign_in(client, user)
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        method = "get" if "GET" in rule.methods else "post"
        response = fetch(client, method, example_path(rule))
        assert response.status_code == 403, rule.rule


def test_get_pages_change_nothing(app, client, db_session):
    """No state change answers a GET: walking every page as an admin writes nothing."""
    admin = make_user(db_session, Role.ADMIN)
    target = make_user(db_session, Role.BOARD)
    org = make_organisation(db_session, slug="example")
    sign_in(client, admin)

    def snapshot():
        return (
            db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)),
            db.session.scalar(sa.select(sa.func.count()).select_from(Notification)),
            target.active,
            org.version,
        )

    before = snapshot()
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint != "static":
            path = example_path(rule).replace("/1", f"/{target.id}")
            assert fetch(client, "get", path).status_code < 500, path
    db.session.expire_all()
    assert snapshot() == before


# The matrix: anonymous, admin, lead of A, lead of B, board × view/edit/submit/review × own/other.
# It is proven here on the access layer itself, through routes that use the real decorators.

matrix = Blueprint("matrix", __name__)
for _action in Action:

    def _view(slug: str, _action: Action = _action) -> str:
        return f"{_action} {g.organisation.slug}"

    matrix.add_url_rule(
        f"/matrix/<slug>/{_action}",
        endpoint=str(_action),
        view_func=organisation(_action)(_view),
        methods=["GET", "POST"],
    )


@pytest.fixture(scope="module")
def matrix_app(app, database_url, tmp_path_factory):
    # Depends on ``app``: the shared test database is reset and migrated once, before this.
    matrix_app = make_test_app(database_url, tmp_path_factory.mktemp("matrix"))
    matrix_app.register_blueprint(matrix)
    return matrix_app


EXPECTED = {
    # who: {action: (status on own organisation A, status on other organisation B)}
    "anonymous": {a: (302, 302) for a in Action},
    "admin": {a: (200, 200) for a in Action},
    "lead of A": {
        Action.VIEW: (200, 404),
        Action.EDIT: (200, 404),
        Action.SUBMIT: (200, 404),
        Action.REVIEW: (403, 404),
    },
    "lead of B": {
        Action.VIEW: (404, 200),
        Action.EDIT: (404, 200),
        Action.SUBMIT: (404, 200),
        Action.REVIEW: (404, 403),
    },
    "board": {
        Action.VIEW: (200, 200),
        Action.EDIT: (403, 403),
        Action.SUBMIT: (403, 403),
        Action.REVIEW: (403, 403),
    },
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_role_organisation_action_matrix(matrix_app, who):
    from sqlalchemy.orm import Session

    with matrix_app.app_context():
        session: Session = db.session
        a = make_organisation(session, name="Organisation A")
        b = make_organisation(session, name="Organisation B")
        users = {
            "admin": make_user(session, Role.ADMIN),
            "lead of A": make_user(session, Role.LEAD, organisations=[a]),
            "lead of B": make_user(session, Role.LEAD, organisations=[b]),
            "board": make_user(session, Role.BOARD),
        }
        session.commit()
        client = matrix_app.test_client()
        if who != "anonymous":
            sign_in(client, users[who])
        try:
            for action, (own, other) in EXPECTED[who].items():
                for slug, expected in ((a.slug, own), (b.slug, other)):
                    for method in ("get", "post"):
                        response = getattr(client, method)(f"/matrix/{slug}/{action}")
                        assert response.status_code == expected, (who, action, slug, method)
                        if expected == 200:
                            assert response.get_data(as_text=True) == f"{action} {slug}"
            assert client.get("/matrix/no-such-organisation/view").status_code in {302, 404}
        finally:
            session.rollback()
            for user in users.values():
                session.delete(user)
            session.delete(a)
            session.delete(b)
            session.commit()


# Forms -------------------------------------------------------------------------------------------


def test_csrf_is_required_on_every_form(app, database_url, tmp_path):
    # ``app`` first: the shared test database is migrated before this second app uses it.
    app = make_test_app(database_url, tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        client = app.test_client()
        for path in ["/sign-in", "/password-reset", "/sign-out"]:
            response = client.post(path, data={"email": "a@example.org", "password": "x"})
            assert response.status_code == 400, path
            assert b"could not accept that" in response.data
        page = client.get("/sign-in").get_data(as_text=True)
        response = client.post(
            "/sign-in",
            data={"csrf_token": csrf_token(page), "email": "a@example.org", "password": "xxxxxxxx"},
        )
        assert response.status_code == 200  # a real answer: wrong password, not a CSRF refusal


form_values = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=5000),
    st.sampled_from(["\x00", "admin", "lead", "board", "1", "-1", "99999999999", "", " "]),
)
POST_ROUTES = [
    "/sign-in",
    "/password-reset",
    "/admin/users/new",
    "/admin/organisations/new",
    "/admin/pledges/import",
    "/account/password",
]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(POST_ROUTES),
    data=st.dictionaries(
        st.sampled_from(
            [
                "email",
                "password",
                "name",
                "role",
                "organisations",
                "website",
                "sector",
                "deputy_name",
                "deputy_email",
                "current",
                "confirm",
                "csrf_token",
                "version",
                "statement",
                "first_commitments",
                "page_text",
            ]
        ),
        st.one_of(form_values, st.lists(form_values, max_size=3)),
        max_size=8,
    ),
)
def test_no_form_input_gives_a_500(app, db_session, path, data):
    admin = make_user(db_session, Role.ADMIN)
    client = app.test_client()
    if path != "/sign-in":
        sign_in(client, admin)
    response = client.post(path, data=data)
    assert response.status_code < 500, (path, data)
    if response.status_code == 200:
        assert (
            b"govuk-error-summary" in response.data
            or path == "/password-reset"
            or b"Check the import" in response.data  # it was a pledge page after all
        )
