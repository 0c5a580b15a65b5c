"""The front door: home page, health check, GOV.UK Frontend assets, accessibility statement.

Its error pages are in ``tracker/site/errors.py``.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template, send_from_directory
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tracker.auth.access import before_second_factor, public
from tracker.extensions import db
from tracker.services.figures import commitment_figures
from tracker.services.organisations import list_organisations

bp = Blueprint("site", __name__)

# The compiled stylesheet and script; everything else comes from the package's assets/ folder.
BUNDLES = {"govuk-frontend.min.css", "govuk-frontend.min.js"}


# The home page lists every organisation that pledged while they fit on a page (a town's
# forty); a region's 2,000 made it half a megabyte, so it points to the directory instead.
HOME_LIST_MAX = 100


@bp.get("/")
@public
def home() -> ResponseReturnValue:
    return render_template(
        "site/home.html",
        organisations=list_organisations(up_to=HOME_LIST_MAX),
        pledges=commitment_figures(),
    )


@bp.get("/accessibility-statement")
@public
def accessibility_statement() -> ResponseReturnValue:
    return render_template("site/accessibility.html")


@bp.get("/healthz")
@public
@before_second_factor
def healthz() -> ResponseReturnValue:
    """200 when the database answers, 503 when it does not (for load balancers and compose)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200


@bp.get("/assets/<path:filename>")
@public
@before_second_factor
def assets(filename: str) -> ResponseReturnValue:
    """GOV.UK Frontend's CSS, JS, fonts and images, from the npm package set-up installed.

    The compiled CSS asks for fonts and images at absolute ``/assets/…`` paths, so the package's
    ``assets/`` folder is served here, with its CSS and JS beside it.
    """
    dist = Path(current_app.config["GOVUK_FRONTEND_DIST"])
    if filename in BUNDLES:
        return send_from_directory(dist, filename, max_age=3600)
    return send_from_directory(dist / "assets", filename, max_age=3600)


from tracker.site import errors  # noqa: E402, F401  (its handlers join this blueprint)
