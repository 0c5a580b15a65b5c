"""The OpenAPI 3.1 document for ``/api/v1``: what each endpoint takes and answers.

Built per request because filter values are data (the place's priorities, the theme catalogue,
the organisations): they appear as enums, so the document says exactly which values the API
accepts, and anything else answers 400. The test suite runs schemathesis against it.
"""

from __future__ import annotations

from typing import Any

from tracker.domain.enums import DeliveryStatus, EvidenceGrade, ReportingStatus, Sector, values
from tracker.services.public import QUERY_MAX, Catalogue

REF = "#/components"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"{REF}/{kind}/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
NUMBER_OR_NULL = {"type": ["number", "null"]}
DATE_OR_NULL = {"type": ["string", "null"], "format": "date"}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}


def _object(properties: dict[str, Any], *, extra: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": extra,
    }


def _schemas() -> dict[str, Any]:
    period_ref = _object({"slug": STRING, "label": STRING})
    statuses = {"type": "string", "enum": values(DeliveryStatus)}
    return {
        "AcceptedUpdate": {
            **_object(
                {
                    "period": _ref("schemas", "PeriodRef"),
                    "status": statuses,
                    "evidence_grade": {"type": "string", "enum": values(EvidenceGrade)},
                    "progress_value": NUMBER_OR_NULL,
                    "percent_of_target": {
                        "type": ["number", "null"],
                        "minimum": 0,
                        "maximum": 100,
                        "description": "How far along the target in force when the quarter "
                        "was reported (0 to 100); null without a figure or a numeric target. "
                        "A target moved later does not change it.",
                    },
                    "narrative": {
                        **NULLABLE_STRING,
                        "description": "What the organisation said it did this quarter, "
                        "published once the programme team accepted the return.",
                    },
                    "evidence_url": {
                        **NULLABLE_STRING,
                        "description": "The organisation's link to evidence. Uploaded evidence "
                        "files are not published.",
                    },
                    "accepted_at": {
                        "type": ["string", "null"],
                        "format": "date-time",
                        "description": "When the programme team accepted the return.",
                    },
                }
            ),
            "description": "One quarter's update of a commitment, from a return the programme "
            "team has accepted. Drafts, returns not yet accepted or sent back, risks and notes "
            "for the reviewer are never published.",
        },
        "Problem": {
            "type": "object",
            "description": "An error, as RFC 9457 problem details.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": STRING,
                "title": STRING,
                "status": {"type": "integer"},
                "detail": STRING,
                "errors": {
                    "type": "array",
                    "items": _object({"parameter": STRING, "detail": STRING}),
                },
            },
        },
        "PeriodRef": period_ref,
        "Meta": _object(
            {
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1},
                "total": {"type": "integer", "minimum": 0},
                "total_pages": {"type": "integer", "minimum": 1},
            }
        ),
        "PageLinks": _object(
            {
                "self": STRING,
                "first": STRING,
                "last": STRING,
                "prev": NULLABLE_STRING,
                "next": NULLABLE_STRING,
            }
        ),
        "Organisation": _object(
            {
                "slug": STRING,
                "name": STRING,
                "sector": {"enum": [*values(Sector), None]},
                "website": NULLABLE_STRING,
                "reporting_status": {
                    "type": "string",
                    "enum": values(ReportingStatus),
                    "description": "active; late (the latest return is overdue); "
                    "non_communicating (two or more periods in a row without a return).",
                },
                "last_reported_period": _nullable(_ref("schemas", "PeriodRef")),
                "commitment_count": {"type": "integer", "minimum": 0},
                "status_counts": _object(
                    {s: {"type": "integer", "minimum": 0} for s in values(DeliveryStatus)}
                ),
                "links": _object({"self": STRING, "html": STRING, "commitments": STRING}),
            }
        ),
        "OrganisationDetail": {
            "allOf": [
                {**_ref("schemas", "Organisation")},
                {
                    "type": "object",
                    "required": ["statement"],
                    "properties": {"statement": NULLABLE_STRING},
                },
            ],
        },
        "Commitment": _object(
            {
                "id": {"type": "integer"},
                "organisation": _object({"slug": STRING, "name": STRING}),
                "text": {**STRING, "description": "The original wording, as pledged."},
                "title": NULLABLE_STRING,
                "priority": NULLABLE_STRING,
                "secondary_priority": NULLABLE_STRING,
                "themes": {"type": "array", "items": STRING},
                "status": {
                    **statuses,
                    "description": "The latest accepted status; not_started if none.",
                },
                "latest_accepted_update": _nullable(_ref("schemas", "AcceptedUpdate")),
                "accepted_updates": {
                    "type": "array",
                    "description": "Every accepted quarter, newest first.",
                    "items": _ref("schemas", "AcceptedUpdate"),
                },
                "target": _object(
                    {
                        "metric": NULLABLE_STRING,
                        "value": NUMBER_OR_NULL,
                        "unit": NULLABLE_STRING,
                        "baseline": NUMBER_OR_NULL,
                        "baseline_date": DATE_OR_NULL,
                        "due": DATE_OR_NULL,
                        "direction": {"enum": ["increase", "decrease", None]},
                    }
                ),
                "smart": _object(
                    {
                        "score": {"type": "integer", "minimum": 0, "maximum": 5},
                        "missing": {
                            "type": "array",
                            "items": {"type": "string", "enum": list("SMART")},
                        },
                    }
                ),
                "flags": {"type": "array", "items": STRING},
                "retired": {
                    **_nullable(_object({"on": DATE, "reason": NULLABLE_STRING})),
                    "description": "When and why the commitment was taken off its pledge; "
                    "null while it is on it. Lists leave retired commitments out; each one "
                    "stays readable by its id, with what was accepted for it. A null reason: "
                    "the commitment is no longer on the published pledge page.",
                },
                "moved_goalposts": {
                    "type": "array",
                    "description": "Targets, baselines, deadlines or wording changed after "
                    "reporting began, newest first, with the reason given.",
                    "items": _object(
                        {
                            "changed_at": DATETIME,
                            "field": STRING,
                            "old_value": NULLABLE_STRING,
                            "new_value": NULLABLE_STRING,
                            "reason": STRING,
                            "period": _nullable(_ref("schemas", "PeriodRef")),
                        }
                    ),
                },
                "links": {
                    **_object({"self": STRING, "html": STRING}),
                    "description": "html: the commitment's public page, quarter by quarter.",
                },
            }
        ),
        "Priority": _object(
            {
                "code": STRING,
                "name": STRING,
                "description": NULLABLE_STRING,
                "organisation_count": {"type": "integer", "minimum": 0},
                "commitment_count": {"type": "integer", "minimum": 0},
                "completed_count": {"type": "integer", "minimum": 0},
                "links": _object({"html": STRING, "commitments": STRING}),
            }
        ),
        "Theme": _object(
            {
                "slug": STRING,
                "name": STRING,
                "description": NULLABLE_STRING,
                "organisation_count": {"type": "integer", "minimum": 0},
                "commitment_count": {"type": "integer", "minimum": 0},
                "completed_count": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Organisations with a completed commitment in the theme.",
                },
                "links": _object({"html": STRING, "commitments": STRING}),
            }
        ),
        "Period": _object(
            {
                "slug": STRING,
                "label": STRING,
                "year": {"type": "integer", "description": "The year the financial year starts"},
                "quarter": {"type": "integer", "minimum": 1, "maximum": 4},
                "starts_on": DATE,
                "ends_on": DATE,
                "opens_on": DATE,
                "due_on": DATE,
                "closes_on": DATE,
                "state": {"type": "string", "enum": ["upcoming", "open", "closed", "published"]},
            }
        ),
        "BoardSummary": _object(
            {
                "period": _ref("schemas", "PeriodRef"),
                "revision": {"type": "integer", "minimum": 1},
                "built_at": DATETIME,
                "published_at": DATETIME,
                "data": {
                    "type": "object",
                    "description": (
                        "The summary as the board saw it, without the organisations' narratives."
                    ),
                },
                "links": _object({"self": STRING}),
            }
        ),
        "Index": _object(
            {
                "name": STRING,
                "openapi": STRING,
                "links": {"type": "object", "additionalProperties": STRING},
            }
        ),
    }


def _page_of(schema: str) -> dict[str, Any]:
    return _object(
        {
            "data": {"type": "array", "items": _ref("schemas", schema)},
            "meta": _ref("schemas", "Meta"),
            "links": _ref("schemas", "PageLinks"),
        }
    )


def _one(schema: str) -> dict[str, Any]:
    return _object({"data": _ref("schemas", schema)})


HEADERS = {
    "ETag": {"description": "A strong validator of the body", "schema": STRING},
    "Last-Modified": {"description": "When the published data last changed", "schema": STRING},
}


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {name: _ref("headers", name) for name in HEADERS},
        "content": {"application/json": {"schema": schema}},
    }


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("schemas", "Problem")}},
    }


def _operation(
    operation_id: str,
    summary: str,
    ok: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    not_found: bool = True,
    bad_request: bool = False,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok, "304": _ref("responses", "NotModified")}
    if bad_request:
        responses["400"] = _ref("responses", "BadRequest")
    if not_found:
        responses["404"] = _ref("responses", "NotFound")
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": parameters or [],
            "responses": responses,
        }
    }


def _enum_parameter(name: str, options: list[str], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "enum": options},
    }


PAGING = [_ref("parameters", "page"), _ref("parameters", "per_page")]


def document(known: Catalogue, organisation_slugs: list[str]) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with the current priorities, themes and organisations."""
    priorities = [p.code for p in known.priorities]
    themes = [t.slug for t in known.themes]
    paths = {
        "/api/v1": _operation(
            "index", "Where everything is", _ok("Links", _ref("schemas", "Index")), not_found=False
        ),
        "/api/v1/openapi.json": _operation(
            "openapi",
            "This document",
            _ok("The OpenAPI document", {"type": "object"}),
            not_found=False,
        ),
        "/api/v1/organisations": _operation(
            "listOrganisations",
            "Organisations that pledged, by name",
            _ok("A page of organisations", _page_of("Organisation")),
            parameters=[
                {
                    "name": "q",
                    "in": "query",
                    "required": False,
                    "description": "Part of the organisation's name (any case)",
                    "schema": {"type": "string", "maxLength": QUERY_MAX},
                },
                _enum_parameter(
                    "priority", priorities, "Has a commitment to this priority (its code)"
                ),
                _enum_parameter("theme", themes, "Has a commitment in this theme (its slug)"),
                _enum_parameter("sector", values(Sector), "In this sector"),
                _enum_parameter(
                    "reporting_status", values(ReportingStatus), "With this reporting status"
                ),
                *PAGING,
            ],
            bad_request=True,
        ),
        "/api/v1/organisations/{slug}": {
            "parameters": [
                {"name": "slug", "in": "path", "required": True, "schema": STRING},
            ],
            **_operation(
                "getOrganisation",
                "One organisation, with its pledge statement",
                _ok("The organisation", _one("OrganisationDetail")),
            ),
        },
        "/api/v1/commitments": _operation(
            "listCommitments",
            "Commitments with their latest accepted status, by organisation",
            _ok("A page of commitments", _page_of("Commitment")),
            parameters=[
                _enum_parameter("organisation", organisation_slugs, "Of this organisation"),
                _enum_parameter("priority", priorities, "Serving this priority first"),
                _enum_parameter("theme", themes, "In this theme"),
                _enum_parameter(
                    "status", values(DeliveryStatus), "With this latest accepted status"
                ),
                *PAGING,
            ],
            bad_request=True,
        ),
        "/api/v1/commitments/{commitment_id}": {
            "parameters": [
                {
                    "name": "commitment_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                },
            ],
            **_operation(
                "getCommitment", "One commitment", _ok("The commitment", _one("Commitment"))
            ),
        },
        "/api/v1/priorities": _operation(
            "listPriorities",
            "The town's priorities, in order",
            _ok("A page of priorities", _page_of("Priority")),
            parameters=PAGING,
            bad_request=True,
        ),
        "/api/v1/themes": _operation(
            "listThemes",
            "The themes organisations pledge to, by name",
            _ok("A page of themes", _page_of("Theme")),
            parameters=PAGING,
            bad_request=True,
        ),
        "/api/v1/periods": _operation(
            "listPeriods",
            "Reporting periods (quarters of the financial year), newest first",
            _ok("A page of periods", _page_of("Period")),
            parameters=PAGING,
            bad_request=True,
        ),
        "/api/v1/board-summaries": _operation(
            "listBoardSummaries",
            "Published Place Board summaries (latest revision of each period), newest first",
            _ok("A page of board summaries", _page_of("BoardSummary")),
            parameters=PAGING,
            bad_request=True,
        ),
        "/api/v1/board-summaries/{period}": {
            "parameters": [
                {
                    "name": "period",
                    "in": "path",
                    "required": True,
                    "description": "A period's slug, like 2024-25-q1",
                    "schema": STRING,
                },
            ],
            **_operation(
                "getBoardSummary",
                "A period's published board summary",
                _ok("The board summary", _one("BoardSummary")),
            ),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pledge Tracker API",
            "version": "1.0.0",
            "description": (
                "Read-only public data: organisations' pledges, their commitments with the "
                "latest accepted delivery status and every accepted quarter's update (status, "
                "figure, narrative and evidence link), reporting periods and published Place "
                "Board summaries. Only accepted data is published. Lists are paginated (page, "
                "per_page). Answers carry ETag and Last-Modified; send If-None-Match or "
                "If-Modified-Since to get 304 Not Modified. Any site may call it (CORS, no "
                "credentials). Errors are RFC 9457 problem documents."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "parameters": {
                "page": {
                    "name": "page",
                    "in": "query",
                    "required": False,
                    "description": "Which page, from 1",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 1},
                },
                "per_page": {
                    "name": "per_page",
                    "in": "query",
                    "required": False,
                    "description": "How many items a page holds",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                },
            },
            "headers": HEADERS,
            "responses": {
                "BadRequest": _problem("A query parameter has a value the API does not take"),
                "NotFound": _problem("Nothing at this address (or the place does not publish)"),
                "NotModified": {"description": "The client's copy is current (no body)"},
            },
        },
    }
