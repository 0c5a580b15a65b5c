"""Public, signed-out pages and open data."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, abort, stream_with_context
from flask.typing import ResponseReturnValue

from tracker.auth.access import public
from tracker.services.open_data import is_published, iter_csv, iter_json

bp = Blueprint("public", __name__)


@bp.get("/open-data.json")
@public
def open_data_json() -> ResponseReturnValue:
    """Every organisation and commitment, as the documented open-data JSON (streamed)."""
    if not is_published():
        abort(404)
    body = stream_with_context(iter_json(datetime.now(UTC)))
    response = Response(body, mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/open-data.csv")
@public
def open_data_csv() -> ResponseReturnValue:
    """The same data as a table, one row per commitment (streamed)."""
    if not is_published():
        abort(404)
    response = Response(stream_with_context(iter_csv()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="open-data.csv"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
