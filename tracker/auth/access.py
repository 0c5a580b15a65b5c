"""Every route declares who may use it; anything undeclared is refused (deny by default).

Use one decorator per view:

- ``@public`` — anyone, signed in or not;
- ``@signed_in`` — any active account;
- ``@roles(Role.ADMIN, …)`` — those roles only;
- ``@organisation(Action.EDIT)`` — the view takes ``<slug>``; the organisation is loaded into
  ``g.organisation`` and checked against the permission matrix: another organisation's leads
  get 404 (they learn nothing), a board member asking to change something gets 403.

A ``before_request`` hook enforces the rule before the view runs, and a test walks the URL map
so that a new route without a rule fails the build.

The second factor: a person who must pass one (every admin, and anyone who turned it on) and
has not yet in this session is sent to ``/account/two-factor`` (to set it up or enter a code)
from every page, except the few marked ``@before_second_factor`` (signing in and out, links
from emails, the two-factor page itself, assets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, abort, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from tracker.domain.enums import Role
from tracker.domain.permissions import Action, allowed, hides_existence
from tracker.extensions import db
from tracker.models import Organisation
from tracker.models.user import organisation_leads

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class AccessRule:
    kind: str  # "public" | "signed_in" | "roles" | "organisation"
    roles: frozenset[Role] = frozenset()
    action: Action | None = None

    def describe(self) -> str:
        if self.kind == "roles":
            return "roles: " + ", ".join(sorted(self.roles))
        if self.kind == "organisation":
            return f"organisation: {self.action}"
        return self.kind


def _mark(rule: AccessRule) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        view.access_rule = rule  # type: ignore[attr-defined]
        return view

    return decorate


public = _mark(AccessRule("public"))
signed_in = _mark(AccessRule("signed_in"))


def before_second_factor(view: View) -> View:
    """Mark a view that a person part-way through signing in (password, no code yet) may use."""
    view.before_second_factor = True  # type: ignore[attr-defined]
    return view


def second_factor_pending() -> bool:
    """Whether the signed-in person must still pass a second factor in this session."""
    from tracker.services.two_factor import needs_second_factor

    if not current_user.is_authenticated or session.get("second_factor"):
        return False
    return needs_second_factor(current_user)


def roles(*allowed_roles: Role) -> Callable[[View], View]:
    return _mark(AccessRule("roles", roles=frozenset(allowed_roles)))


def organisation(action: Action) -> Callable[[View], View]:
    return _mark(AccessRule("organisation", action=action))


def rule_for(app: Flask, endpoint: str) -> AccessRule | None:
    view = app.view_functions.get(endpoint)
    return getattr(view, "access_rule", None)


def _to_sign_in() -> ResponseReturnValue:
    return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))


def _enforce() -> ResponseReturnValue | None:
    from flask import current_app

    if request.endpoint is None:
        return None  # 404 or 405: nothing to guard
    rule = rule_for(current_app, request.endpoint)
    if rule is None:
        current_app.logger.error("route %s has no access rule: refused", request.endpoint)
        abort(404)
    view = current_app.view_functions[request.endpoint]
    if not getattr(view, "before_second_factor", False) and second_factor_pending():
        return redirect(url_for("auth.two_factor", next=request.full_path.rstrip("?")))
    if rule.kind == "public":
        return None
    if not current_user.is_authenticated:
        return _to_sign_in()
    role = Role(current_user.role)
    if rule.kind == "roles" and role not in rule.roles:
        abort(403)
    if rule.kind == "organisation":
        slug = (request.view_args or {}).get("slug")
        # The organisation and whether this person leads it, in one query (not the person's
        # every organisation loaded to look for it).
        row = db.session.execute(
            select(
                Organisation,
                select(organisation_leads.c.user_id)
                .where(
                    organisation_leads.c.organisation_id == Organisation.id,
                    organisation_leads.c.user_id == current_user.id,
                )
                .exists(),
            ).where(Organisation.slug == slug)
        ).first()
        if row is None:
            abort(404)
        found, leads = row[0], bool(row[1])
        if not allowed(role, rule.action, leads_organisation=leads):
            abort(404 if hides_existence(role, leads_organisation=leads) else 403)
        g.organisation = found
        g.leads_organisation = leads  # for the view's own checks: no second look-up
    return None


def init_app(app: Flask) -> None:
    # Flask's own static route serves our CSS and JS to everyone.
    app.view_functions["static"].access_rule = AccessRule("public")  # type: ignore[attr-defined]
    app.view_functions["static"].before_second_factor = True  # type: ignore[attr-defined]
    app.before_request(_enforce)
