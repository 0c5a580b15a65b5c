"""/api/v1: pagination, filters, conditional requests, CORS and JSON errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.rows import rows_loaded
from tests.test_public import ACCEPTED_AT, build_world
from tracker.models import BoardSummary, Organisation


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def slugs(response) -> list[str]:
    return [
        item["organisation"]["slug"] if "organisation" in item else item["slug"]
        for item in response.json["data"]
    ]


def test_lists_are_paginated_with_links(client, world):
    response = client.get("/api/v1/commitments?per_page=2")
    assert response.status_code == 200
    body = response.json
    assert body["meta"] == {"page": 1, "per_page": 2, "total": 4, "total_pages": 2}
    assert len(body["data"]) == 2
    assert body["links"]["next"] == "/api/v1/commitments?page=2&per_page=2"
    assert body["links"]["prev"] is None
    second = client.get(body["links"]["next"]).json
    assert second["links"]["next"] is None
    ids = [c["id"] for c in body["data"] + second["data"]]
    assert len(set(ids)) == 4
    beyond = client.get("/api/v1/commitments?page=9&per_page=2").json
    assert beyond["data"] == []


def test_organisations_come_a_page_at_a_time_by_name_with_the_whole_count(client, world):
    everyone = slugs(client.get("/api/v1/organisations?per_page=100"))
    assert everyone == ["greenway-trust", "harbour-college"]
    first = client.get("/api/v1/organisations?per_page=1").json
    assert first["meta"] == {"page": 1, "per_page": 1, "total": 2, "total_pages": 2}
    assert [item["slug"] for item in first["data"]] == ["greenway-trust"]
    second = client.get(first["links"]["next"])
    assert slugs(second) == ["harbour-college"]
    assert second.json["links"]["next"] is None
    # Each organisation's own figures, not the page's or the whole list's.
    alone = client.get("/api/v1/organisations/harbour-college").json["data"]
    assert second.json["data"][0]["status_counts"] == alone["status_counts"]
    assert second.json["data"][0]["reporting_status"] == alone["reporting_status"]
    beyond = client.get("/api/v1/organisations?page=9&per_page=1").json
    assert beyond["data"] == []
    assert beyond["meta"]["total"] == 2
    # Only the page's organisation is read, not every one to page in Python.
    with rows_loaded(Organisation) as counted:
        assert slugs(client.get("/api/v1/organisations?per_page=1&page=2")) == ["harbour-college"]
    assert counted["Organisation"] == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "organisation=harbour-college",
            {"Halve carbon emissions", "Real Living Wage for college staff"},
        ),
        ("priority=net-zero-town", {"Plant 500 trees", "Halve carbon emissions"}),
        (
            "theme=real-living-wage",
            {"Pay the Real Living Wage", "Real Living Wage for college staff"},
        ),
        ("status=completed", {"Plant 500 trees", "Real Living Wage for college staff"}),
        ("status=completed&organisation=greenway-trust", {"Plant 500 trees"}),
    ],
)
def test_commitments_filter(client, world, query, expected):
    response = client.get("/api/v1/commitments?" + query)
    assert {c["title"] for c in response.json["data"]} == expected
    assert all(
        f"{k}={v}" in response.json["links"]["self"]
        for k, v in (pair.split("=") for pair in query.split("&"))
    )


def test_a_commitment_carries_its_accepted_update_and_moved_goalposts(client, world):
    data = client.get(f"/api/v1/commitments/{world['wage'].id}").json["data"]
    assert data["status"] == "on_track"
    accepted = {
        "period": {"slug": "2024-25-q1", "label": "2024/25 Q1"},
        "status": "on_track",
        "evidence_grade": "evidence_attached",
        "progress_value": 40,
        # Reported before the target was fixed at submission: no target in force to measure by.
        "percent_of_target": None,
        "narrative": None,
        "evidence_url": "https://greenway.example.org/wages",
        "accepted_at": "2024-08-01T09:00:00+00:00",
    }
    assert data["latest_accepted_update"] == accepted
    assert data["accepted_updates"] == [accepted]
    assert data["moved_goalposts"][0]["reason"] == "We took on more staff in the summer"
    assert data["links"]["html"] == f"/organisations/greenway-trust/progress/{world['wage'].id}"
    assert "owner" not in str(data) and "risks" not in str(data)


def test_a_retired_commitment_is_read_by_its_id_and_listed_nowhere(client, world, db_session):
    trees = world["trees"]
    assert client.get(f"/api/v1/commitments/{trees.id}").json["data"]["retired"] is None
    trees.removed_from_page_at = datetime(2024, 9, 2, 23, 30, tzinfo=UTC)  # 3 September there
    trees.retired_reason = "The land was sold"
    db_session.flush()
    data = client.get(f"/api/v1/commitments/{trees.id}").json["data"]
    assert data["retired"] == {"on": "2024-09-03", "reason": "The land was sold"}
    assert "removed_from_page" in data["flags"]
    assert [update["status"] for update in data["accepted_updates"]] == ["completed"]
    listed = client.get("/api/v1/commitments?organisation=greenway-trust").json["data"]
    assert [c["title"] for c in listed] == ["Pay the Real Living Wage"]
    assert listed[0]["retired"] is None
    greenway = client.get("/api/v1/organisations/greenway-trust").json["data"]
    assert greenway["commitment_count"] == 1


def test_organisations_filter_and_detail(client, world):
    assert slugs(client.get("/api/v1/organisations?sector=education")) == ["harbour-college"]
    assert slugs(client.get("/api/v1/organisations?q=GREEN")) == ["greenway-trust"]
    data = client.get("/api/v1/organisations/greenway-trust").json["data"]
    assert data["statement"] == "Greenway Trust pledges to make the town greener."
    assert data["commitment_count"] == 2
    assert data["status_counts"]["completed"] == 1
    assert data["last_reported_period"]["slug"] == "2024-25-q1"


def test_board_summaries_are_the_latest_published_revision(client, world, db_session):
    db_session.add(
        BoardSummary(
            period_id=world["q1"].id,
            revision=2,
            reason="Late return",
            built_at=ACCEPTED_AT,
            published_at=datetime(2024, 9, 1, tzinfo=UTC),
            data={
                "headline": "Revised",
                "exceptions": {"off_track": [{"title": "Trees", "narrative": "Private words"}]},
            },
        )
    )
    db_session.add(
        BoardSummary(
            period_id=world["q1"].id,
            revision=3,
            reason="Draft",
            built_at=ACCEPTED_AT,
            data={"headline": "Not yet"},
        )
    )
    db_session.add(
        BoardSummary(
            period_id=world["q2"].id,
            revision=1,
            built_at=ACCEPTED_AT,
            data={"headline": "Unpublished"},
        )
    )
    db_session.flush()
    body = client.get("/api/v1/board-summaries").json
    assert [(s["period"]["slug"], s["revision"]) for s in body["data"]] == [("2024-25-q1", 2)]
    # Leads' narratives are for the board: the public summary leaves them out.
    assert body["data"][0]["data"] == {
        "headline": "Revised",
        "exceptions": {"off_track": [{"title": "Trees"}]},
    }
    assert client.get("/api/v1/board-summaries/2024-25-q2").status_code == 404


def test_conditional_requests_answer_304(client, world, db_session):
    first = client.get("/api/v1/organisations")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.headers["Cache-Control"]
    again = client.get("/api/v1/organisations", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    since = client.get("/api/v1/organisations", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    head = client.head("/api/v1/organisations", headers={"If-None-Match": etag})
    assert head.status_code == 304

    world["harbour"].name = "Harbour Sixth Form College"
    db_session.flush()
    changed = client.get("/api/v1/organisations", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert (
        client.get(
            "/api/v1/organisations", headers={"If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}
        ).status_code
        == 200
    )


def test_cross_origin_reads_only_without_credentials(client, world):
    response = client.get("/api/v1/periods", headers={"Origin": "https://example.net"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    preflight = client.options(
        "/api/v1/commitments",
        headers={"Origin": "https://example.net", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("get", "/api/v1/no-such-thing", 404),
        ("get", "/api/v1/organisations/no-such-organisation", 404),
        ("get", "/api/v1/commitments/99999999999999", 404),
        ("get", "/api/v1/commitments?page=0", 400),
        ("get", "/api/v1/commitments?per_page=101", 400),
        ("get", "/api/v1/commitments?page=abc", 400),
        ("get", "/api/v1/commitments?status=sleeping", 400),
        ("get", "/api/v1/commitments?organisation=nobody", 400),
        ("get", "/api/v1/organisations?priority=%00", 400),
        ("get", "/api/v1/organisations?q=" + "x" * 101, 400),
        ("post", "/api/v1/organisations", 405),
        ("delete", "/api/v1/commitments/1", 405),
        ("put", "/api/v1", 405),
    ],
)
def test_errors_are_json_problems(client, world, method, url, status):
    response = getattr(client, method)(url)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["status"] == status
    assert problem["detail"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    if status == 405:
        assert "GET" in response.headers["Allow"]
    if status == 400:
        assert problem["errors"][0]["parameter"] in url


def test_the_openapi_document_describes_every_api_route(app, client, world):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    documented = set(document["paths"])
    routed = {
        rule.rule.replace("<int:commitment_id>", "{commitment_id}")
        .replace("<slug>", "{slug}")
        .replace("<period>", "{period}")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
    }
    assert documented == routed
    priority = next(
        p
        for p in document["paths"]["/api/v1/commitments"]["get"]["parameters"]
        if p.get("name") == "priority"
    )
    assert "net-zero-town" in priority["schema"]["enum"]
