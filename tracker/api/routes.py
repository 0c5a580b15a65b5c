"""``/api/v1``: organisations, commitments, periods and published board summaries.

Read-only and public: the same accepted data as the public pages (tracker/services/public.py),
as JSON. Every answer under ``/api/v1`` — errors included, even for a URL or method that does
not exist — is JSON; lists are paginated; answers carry an ETag and Last-Modified and honour
If-None-Match and If-Modified-Since (304); any site may read them (CORS, without credentials).
The OpenAPI 3.1 document at ``/api/v1/openapi.json`` describes exactly this, and the test suite
runs schemathesis against it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.http import HTTP_STATUS_CODES

from tracker.api.openapi import document
from tracker.auth.access import public
from tracker.domain.enums import DeliveryStatus
from tracker.models import BoardSummary
from tracker.services import public as service

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PREFIX = "/api/v1"
PER_PAGE = 20
PER_PAGE_MAX = 100
PAGE_MAX = 100_000
ID_MAX = 2**31 - 1
PROBLEM = "application/problem+json"
_DIGITS = re.compile(r"[0-9]{1,12}")


class ApiError(Exception):
    """An answer other than success, as an RFC 9457 problem document."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, str]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []


class BadParameters(ApiError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(400, "; ".join(e["detail"] for e in errors), errors)


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM)


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> ResponseReturnValue:
    return problem(error.status, error.detail, error.errors)


def _is_api(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


@bp.after_app_request
def _json_errors_and_cors(response: Response) -> Response:
    """Every answer under /api/v1: JSON even for errors Flask made, and readable cross-origin."""
    if not _is_api(request.path):
        return response
    if response.status_code >= 400 and response.mimetype != PROBLEM:
        allow = response.headers.get("Allow")
        detail = {
            404: "There is nothing at this address. See /api/v1/openapi.json for what there is.",
            405: f"This API is read-only: use {allow or 'GET'}.",
        }.get(response.status_code, "Something went wrong on our side. Try again later.")
        replaced = problem(response.status_code, detail)
        for name in ("Allow", "Content-Security-Policy", "X-Content-Type-Options"):
            if name in response.headers:
                replaced.headers[name] = response.headers[name]
        for name, value in response.headers.items():
            if name.startswith(("Referrer-", "X-Frame-", "Cross-Origin-", "Strict-", "Cache-")):
                replaced.headers[name] = value
        response = replaced
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Accept, If-None-Match, If-Modified-Since"
    response.headers["Access-Control-Expose-Headers"] = "ETag, Last-Modified, Link"
    response.headers["Access-Control-Max-Age"] = "86400"
    response.headers.pop("Access-Control-Allow-Credentials", None)
    return response


def _published() -> None:
    if not service.is_published():
        raise ApiError(404, "This place does not publish its pledges.")


def _answer(payload: Any) -> Response:
    """JSON with a strong ETag of the body and Last-Modified; 304 when the client has it."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_plain)
    response = Response(body, mimetype="application/json")
    response.add_etag()
    changed = service.last_changed()
    if changed is not None:
        response.last_modified = changed
    response.headers.setdefault("Cache-Control", "public, max-age=60")
    return response.make_conditional(request)


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot show {type(value).__name__} as JSON")


# Query parameters ------------------------------------------------------------------------------


def _integer(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = args.get(name)
    if value is None:
        return default
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise BadParameters(
            [{"parameter": name, "detail": f"{name} must be a whole number from {low} to {high}"}]
        )
    return int(value)


def _choice(
    args: Mapping[str, str], name: str, allowed: list[str], problems: list[dict[str, str]]
) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    if value not in allowed:
        shown = ", ".join(allowed[:12]) + (", …" if len(allowed) > 12 else "")
        problems.append({"parameter": name, "detail": f"{name} must be one of: {shown}"})
        return None
    return value


def _paginate(
    endpoint: str,
    total: int,
    items: list[Any],
    page: int,
    per_page: int,
    params: dict[str, str],
) -> dict[str, Any]:
    last = max(1, math.ceil(total / per_page))

    def link(number: int) -> str:
        query = {k: v for k, v in params.items() if v is not None}
        query.update(page=str(number), per_page=str(per_page))
        return url_for(endpoint) + "?" + urlencode(query)

    return {
        "data": items,
        "meta": {"page": page, "per_page": per_page, "total": total, "total_pages": last},
        "links": {
            "self": link(page),
            "first": link(1),
            "last": link(last),
            "prev": link(page - 1) if 1 < page <= last + 1 else None,
            "next": link(page + 1) if page < last else None,
        },
    }


def _paging(args: Mapping[str, str]) -> tuple[int, int]:
    problems = []
    page = per_page = 0
    for name, default, high in (("page", 1, PAGE_MAX), ("per_page", PER_PAGE, PER_PAGE_MAX)):
        try:
            value = _integer(args, name, default, 1, high)
        except BadParameters as error:
            problems += error.errors
            continue
        if name == "page":
            page = value
        else:
            per_page = value
    if problems:
        raise BadParameters(problems)
    return page, per_page


def _list(
    endpoint: str,
    items: list[Any],
    render: Callable[[Any], dict[str, Any]],
    params: dict[str, str] | None = None,
) -> Response:
    page, per_page = _paging(request.args)
    start = (page - 1) * per_page
    shown = [render(item) for item in items[start : start + per_page]]
    return _answer(_paginate(endpoint, len(items), shown, page, per_page, params or {}))


# Representations -------------------------------------------------------------------------------


def _period_ref(ref: service.PeriodRef | None) -> dict[str, str] | None:
    return {"slug": ref.slug, "label": ref.label} if ref else None


def _organisation(summary: service.OrganisationSummary) -> dict[str, Any]:
    return {
        "slug": summary.slug,
        "name": summary.name,
        "sector": summary.sector.value if summary.sector else None,
        "website": summary.website,
        "reporting_status": summary.reporting_status.value,
        "last_reported_period": _period_ref(summary.last_reported),
        "commitment_count": summary.commitment_count,
        "status_counts": {s.value: summary.status_counts.get(s, 0) for s in DeliveryStatus},
        "links": {
            "self": url_for("api.organisation", slug=summary.slug),
            "html": url_for("public.organisation", slug=summary.slug),
            "commitments": url_for("api.commitments")
            + "?"
            + urlencode({"organisation": summary.slug}),
        },
    }


def _number(value: Decimal | None) -> int | float | None:
    return None if value is None else _plain(value)  # type: ignore[return-value]


def _accepted(update: service.AcceptedUpdate) -> dict[str, Any]:
    """One accepted quarter: published once the programme team accepted the return."""
    return {
        "period": _period_ref(update.period),
        "status": update.status.value,
        "evidence_grade": update.evidence_grade.value,
        "progress_value": _number(update.progress_value),
        "percent_of_target": _number(update.percent),
        "narrative": update.narrative,
        "evidence_url": update.evidence_url,
        "accepted_at": update.accepted_at.isoformat(timespec="seconds")
        if update.accepted_at
        else None,
    }


def _commitment(item: service.PublicCommitment) -> dict[str, Any]:
    c = item.commitment
    score = item.smart
    latest = item.latest
    return {
        "id": c.id,
        "organisation": {"slug": item.organisation_slug, "name": item.organisation_name},
        "text": c.original_text,
        "title": c.title,
        "priority": item.priority.code if item.priority else None,
        "secondary_priority": item.secondary_priority.code if item.secondary_priority else None,
        "themes": sorted(t.slug for t in item.themes),
        "status": item.status.value,
        "latest_accepted_update": _accepted(latest) if latest else None,
        "accepted_updates": [_accepted(update) for update in item.history or []],
        "target": {
            "metric": c.metric,
            "value": _number(c.target_value),
            "unit": c.unit,
            "baseline": _number(c.baseline_value),
            "baseline_date": c.baseline_date.isoformat() if c.baseline_date else None,
            "due": c.target_date.isoformat() if c.target_date else None,
            "direction": c.direction.value if c.direction else None,
        },
        "smart": {"score": score.score, "missing": list(score.missing)},
        "flags": c.flags,
        "retired": (
            {"on": item.retired_on.isoformat(), "reason": c.retired_reason}
            if item.retired_on is not None
            else None
        ),
        "moved_goalposts": [
            {
                "changed_at": change.changed_at.isoformat(timespec="seconds"),
                "field": change.field,
                "old_value": change.old_value,
                "new_value": change.new_value,
                "reason": change.reason,
                "period": _period_ref(change.period),
            }
            for change in item.goalposts
        ],
        "links": {
            "self": url_for("api.commitment", commitment_id=c.id),
            "html": url_for("public.commitment", slug=item.organisation_slug, commitment_id=c.id),
        },
    }


def _period(record: service.PeriodRecord) -> dict[str, Any]:
    p = record.period
    return {
        "slug": p.slug,
        "label": p.label,
        "year": p.year,
        "quarter": p.quarter,
        "starts_on": p.starts_on.isoformat(),
        "ends_on": p.ends_on.isoformat(),
        "opens_on": p.opens_on.isoformat(),
        "due_on": p.due_on.isoformat(),
        "closes_on": p.closes_on.isoformat(),
        "state": record.state,
    }


def _summary(summary: BoardSummary) -> dict[str, Any]:
    assert summary.published_at is not None
    return {
        "period": {"slug": summary.period.slug, "label": summary.period.label},
        "revision": summary.revision,
        "built_at": summary.built_at.isoformat(timespec="seconds"),
        "published_at": summary.published_at.isoformat(timespec="seconds"),
        "data": _without_narratives(summary.data),
        "links": {"self": url_for("api.board_summary", period=summary.period.slug)},
    }


def _without_narratives(value: Any) -> Any:
    """The summary as the public may read it: organisations' own words stay with the board.

    A summary is frozen when it is built and may hold words from before leads were told that
    accepted narratives are published; the commitments' own ``accepted_updates`` publish them.
    """
    if isinstance(value, dict):
        return {k: _without_narratives(v) for k, v in value.items() if k != "narrative"}
    if isinstance(value, list):
        return [_without_narratives(item) for item in value]
    return value


def _entry(kind: str) -> Callable[[service.CatalogueEntry], dict[str, Any]]:
    key = "code" if kind == "priority" else "slug"

    def render(entry: service.CatalogueEntry) -> dict[str, Any]:
        return {
            key: entry.code,
            "name": entry.name,
            "description": entry.description,
            "organisation_count": entry.organisations,
            "commitment_count": entry.commitments,
            "completed_count": entry.completed,
            "links": {
                "html": url_for(f"public.{kind}", **{key: entry.code}),
                "commitments": url_for("api.commitments") + "?" + urlencode({kind: entry.code}),
            },
        }

    return render


# Routes ----------------------------------------------------------------------------------------


@bp.get("")
@public
def index() -> ResponseReturnValue:
    """Where everything is."""
    return _answer(
        {
            "name": current_app.config["SERVICE_NAME"],
            "openapi": url_for("api.openapi"),
            "links": {
                "organisations": url_for("api.organisations"),
                "commitments": url_for("api.commitments"),
                "priorities": url_for("api.priorities"),
                "themes": url_for("api.themes"),
                "periods": url_for("api.periods"),
                "board_summaries": url_for("api.board_summaries"),
                "open_data": url_for("public.open_data_json"),
            },
        }
    )


@bp.get("/openapi.json")
@public
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API, with today's filter values as enums."""
    known = service.catalogue()
    return _answer(document(known, service.organisation_slugs()))


@bp.get("/organisations")
@public
def organisations() -> ResponseReturnValue:
    _published()
    known = service.catalogue()
    problems: list[dict[str, str]] = []
    args = request.args
    q = args.get("q")
    if q is not None and len(q) > service.QUERY_MAX:
        problems.append(
            {"parameter": "q", "detail": f"q must be {service.QUERY_MAX} characters or fewer"}
        )
    chosen = {
        "priority": _choice(args, "priority", [c.value for c in known.priority_choices], problems),
        "theme": _choice(args, "theme", [c.value for c in known.theme_choices], problems),
        "sector": _choice(args, "sector", [c.value for c in known.sector_choices], problems),
        "reporting_status": _choice(
            args, "reporting_status", [c.value for c in known.reporting_choices], problems
        ),
    }
    page = per_page = 0
    try:
        page, per_page = _paging(args)
    except BadParameters as error:
        problems += error.errors
    if problems:
        raise BadParameters(problems)
    filters, _ = service.read_organisation_filters(
        {"q": q or "", **{k: v or "" for k, v in chosen.items()}}, known
    )
    # Only the page's organisations are read (and counted, and have their reporting read).
    found, total = service.organisations_from(
        filters, known, service.place_today(), (page - 1) * per_page, per_page
    )
    params = {k: v for k, v in {"q": q, **chosen}.items() if v}
    shown = [_organisation(summary) for summary in found]
    return _answer(_paginate("api.organisations", total, shown, page, per_page, params))


@bp.get("/organisations/<slug>")
@public
def organisation(slug: str) -> ResponseReturnValue:
    _published()
    summary = service.organisation_summary(slug, service.place_today())
    if summary is None:
        raise ApiError(404, f"No organisation has the slug {slug!r}.")
    data = _organisation(summary)
    data["statement"] = service.statements([summary.id]).get(summary.id)
    return _answer({"data": data})


@bp.get("/commitments")
@public
def commitments() -> ResponseReturnValue:
    _published()
    known = service.catalogue()
    problems: list[dict[str, str]] = []
    args = request.args
    organisation_slug = args.get("organisation")
    if organisation_slug is not None and organisation_slug not in set(service.organisation_slugs()):
        problems.append(
            {
                "parameter": "organisation",
                "detail": "organisation must be the slug of an organisation "
                "(see /api/v1/organisations)",
            }
        )
    chosen = {
        "priority": _choice(args, "priority", [c.value for c in known.priority_choices], problems),
        "theme": _choice(args, "theme", [c.value for c in known.theme_choices], problems),
        "status": _choice(args, "status", [s.value for s in DeliveryStatus], problems),
    }
    try:
        page, per_page = _paging(args)
    except BadParameters as error:
        problems += error.errors
    if problems:
        raise BadParameters(problems)
    filters = service.CommitmentFilters(
        organisation=organisation_slug,
        priority=chosen["priority"],
        theme=chosen["theme"],
        status=DeliveryStatus(chosen["status"]) if chosen["status"] else None,
    )
    total, items = service.commitment_list(
        filters, known, offset=(page - 1) * per_page, limit=per_page
    )
    params = {"organisation": organisation_slug, **chosen}
    return _answer(
        _paginate(
            "api.commitments",
            total,
            [_commitment(item) for item in items],
            page,
            per_page,
            {k: v for k, v in params.items() if v},
        )
    )


@bp.get("/commitments/<int:commitment_id>")
@public
def commitment(commitment_id: int) -> ResponseReturnValue:
    _published()
    found = (
        service.commitment_by_id(commitment_id, service.catalogue(), retired=True)
        if commitment_id <= ID_MAX
        else None
    )
    if found is None:
        raise ApiError(404, f"No published commitment has the id {commitment_id}.")
    return _answer({"data": _commitment(found)})


@bp.get("/priorities")
@public
def priorities() -> ResponseReturnValue:
    _published()
    _paging(request.args)
    return _list("api.priorities", service.priority_index(service.catalogue()), _entry("priority"))


@bp.get("/themes")
@public
def themes() -> ResponseReturnValue:
    _published()
    _paging(request.args)
    return _list("api.themes", service.theme_index(service.catalogue()), _entry("theme"))


@bp.get("/periods")
@public
def periods() -> ResponseReturnValue:
    _published()
    _paging(request.args)
    return _list("api.periods", service.periods(service.place_today()), _period)


@bp.get("/board-summaries")
@public
def board_summaries() -> ResponseReturnValue:
    """The latest published revision of each period's Place Board summary, newest first."""
    _published()
    _paging(request.args)
    return _list("api.board_summaries", service.published_summaries(), _summary)


@bp.get("/board-summaries/<period>")
@public
def board_summary(period: str) -> ResponseReturnValue:
    _published()
    found = service.published_summaries(period)
    if not found:
        raise ApiError(404, f"No board summary has been published for {period!r}.")
    return _answer({"data": _summary(found[0])})
