"""Error pages: every HTTP error the app answers with is a page in the service's layout.

Each keeps its status code and the headers that go with it (a 405's ``Allow``, a 429's
``Retry-After``). Under ``/api/v1`` errors stay Werkzeug's own, which the API turns into
``application/problem+json`` (``tracker/api/routes.py``).
"""

from __future__ import annotations

from flask import current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from tracker.api.routes import PREFIX as API_PREFIX
from tracker.site.routes import bp

# Werkzeug's own error pages set only these, which the page we render replaces.
_BODY_HEADERS = {"content-type", "content-length"}

# The errors no page of their own explains: a heading, then what to do about it.
GENERIC = {
    401: ("Sign in to see this page", "Sign in, then try again."),
    409: (
        "Someone else changed this",
        "Someone else changed this while you were working on it. Go back, reload the page to "
        "see their changes, then make yours again.",
    ),
    410: ("This page has gone", "It is no longer part of the service."),
    414: ("The web address is too long", "Check the address, or start again from the home page."),
    429: (
        "Too many requests",
        "You have made too many requests in a short time. Wait a few minutes, then try again.",
    ),
    431: ("The request is too large", "Clear this site's cookies, then try again."),
    503: ("Sorry, the service is unavailable", "Try again later."),
}


def _for_api() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def _page(
    error: HTTPException, template: str, **context: object
) -> ResponseReturnValue | HTTPException:
    """The error as a page, with the exception's status and its own headers."""
    if _for_api() or error.response is not None:
        # The API answers in JSON; an error that carries a response of its own keeps it.
        return error
    headers = [
        (name, value) for name, value in error.get_headers() if name.lower() not in _BODY_HEADERS
    ]
    status = error.code or 500
    return render_template(template, error=error, home=_home(), **context), status, headers


def _home() -> tuple[str, str]:
    """Where to go next: a signed-in person's own start page, otherwise the pledges."""
    from tracker.auth.routes import home_for

    if current_user.is_authenticated:
        return home_for(current_user), "Go to your start page"
    return url_for("site.home"), "Go to the list of pledges"


def _page_above() -> str | None:
    """The page one level up from this address, if it is one people can open.

    A POST-only address (``…/returns/2024-25-q1/submit``) sits under the page its form is about
    (``…/returns/2024-25-q1``). The link is built from the matched route, never from the
    Referer header, which anyone can set.
    """
    path = request.path.rstrip("/")
    if "/" not in path.lstrip("/"):
        return None  # directly under the home page, which the other link offers
    parent = path.rsplit("/", 1)[0]
    try:
        endpoint, values = current_app.url_map.bind("localhost").match(parent, method="GET")
        return url_for(endpoint, **values)
    except HTTPException:  # no such page, or one that only redirects
        return None


@bp.app_errorhandler(400)
def bad_request(error: HTTPException) -> ResponseReturnValue | HTTPException:
    """A request the app cannot accept: an expired form most often."""
    reason = None
    if isinstance(error, CSRFError):
        reason = "The form had expired or came from another site."
    return _page(error, "errors/400.html", reason=reason)


@bp.app_errorhandler(403)
def forbidden(error: HTTPException) -> ResponseReturnValue | HTTPException:
    """A signed-in person whose role may read this but not change it."""
    return _page(error, "errors/403.html")


@bp.app_errorhandler(404)
def not_found(error: HTTPException) -> ResponseReturnValue | HTTPException:
    """No such page, or one this person may not know exists."""
    return _page(error, "errors/404.html")


@bp.app_errorhandler(405)
def method_not_allowed(error: HTTPException) -> ResponseReturnValue | HTTPException:
    """A form's address opened or reloaded (a GET of a POST-only route, most often)."""
    return _page(error, "errors/405.html", above=_page_above())


@bp.app_errorhandler(413)
def too_large(error: HTTPException) -> ResponseReturnValue | HTTPException:
    """An upload over the size limit."""
    limit = current_app.config["EVIDENCE_MAX_BYTES"] // (1024 * 1024)
    return _page(
        error,
        "errors/error.html",
        heading="The file is too large",
        explanation=f"Files must be {limit} MB or smaller. Go back and choose a smaller file. "
        "Nothing was saved.",
    )


@bp.app_errorhandler(InternalServerError)
def server_error(error: HTTPException) -> ResponseReturnValue | HTTPException:
    """A fault of ours (every unhandled exception ends here)."""
    return _page(error, "errors/500.html")


@bp.app_errorhandler(HTTPException)
def other_error(error: HTTPException) -> ResponseReturnValue | HTTPException:
    """Any other HTTP error, so none shows Werkzeug's bare page."""
    if error.code is None:
        return error
    heading, explanation = GENERIC.get(
        error.code,
        (
            "Sorry, we could not do that",
            f"The service could not answer this request ({error.code} {error.name}).",
        ),
    )
    return _page(error, "errors/error.html", heading=heading, explanation=explanation)
