"""The open-data document and table, from the command line and the web."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import sqlalchemy as sa

from tests.factories import make_commitment, make_organisation, make_place
from tests.support.seed import load_luton
from tracker.extensions import db
from tracker.models import Place
from tracker.services.open_data import CSV_COLUMNS, csv_safe, iter_csv, iter_json

LETTERS = set("SMART")


def open_data() -> dict:
    return json.loads("".join(iter_json(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))))


def assert_matches_the_documented_schema(document: dict) -> None:
    """DESIGN.md's open-data JSON, field by field."""
    assert document["schema"] == "pledge-tracker/open-data/v1"
    assert datetime.fromisoformat(document["generated_at"]).tzinfo is not None
    place = document["place"]
    assert isinstance(place["name"], str)
    codes = {p["code"] for p in place["priorities"]}
    assert all(isinstance(p["name"], str) for p in place["priorities"])
    for organisation in document["organisations"]:
        assert set(organisation) >= {"name", "slug", "statement", "commitments"}
        assert isinstance(organisation["statement"], (str, type(None)))
        for commitment in organisation["commitments"]:
            assert isinstance(commitment["id"], (int, str))
            assert isinstance(commitment["text"], str) and commitment["text"]
            assert isinstance(commitment["title"], (str, type(None)))
            assert commitment["priority"] is None or commitment["priority"] in codes
            assert all(isinstance(theme, str) for theme in commitment["themes"])
            assert commitment["status"] in {
                "not_started",
                "on_track",
                "at_risk",
                "off_track",
                "completed",
                "discontinued",
            }
            target = commitment["target"]
            assert set(target) == {"metric", "value", "unit", "baseline", "due"}
            assert target["value"] is None or isinstance(target["value"], (int, float))
            assert target["baseline"] is None or isinstance(target["baseline"], (int, float))
            assert target["due"] is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", target["due"])
            assert 0 <= commitment["smart"]["score"] <= 5
            assert set(commitment["smart"]["missing"]) <= LETTERS
            assert commitment["smart"]["score"] + len(commitment["smart"]["missing"]) == 5
            assert all(isinstance(flag, str) for flag in commitment["flags"])


def test_the_seed_as_open_data(db_session):
    load_luton()
    document = open_data()
    assert_matches_the_documented_schema(document)
    assert document["place"]["name"] == "Luton 2040"
    assert len(document["organisations"]) == 40
    assert sum(len(o["commitments"]) for o in document["organisations"]) == 338
    names = [o["name"] for o in document["organisations"]]
    assert names == sorted(names, key=str.lower)

    hightown = next(o for o in document["organisations"] if o["slug"] == "hightown-housing")
    homes = next(c for c in hightown["commitments"] if c["text"].startswith("building 400"))
    assert homes["target"]["value"] == 400
    assert homes["target"]["unit"] == "homes"
    assert homes["target"]["due"] == "2040-12-31"
    assert homes["status"] == "not_started"
    assert "T" not in homes["smart"]["missing"]

    all_flags = {f for o in document["organisations"] for c in o["commitments"] for f in c["flags"]}
    assert {"needs_review", "duplicate", "heading", "truncated"} <= all_flags


def test_an_empty_database_is_valid_open_data(db_session):
    document = open_data()
    assert_matches_the_documented_schema(document)
    assert document["organisations"] == []


def test_csv_has_a_row_per_commitment_and_guards_formulas(db_session):
    make_place(db_session)
    organisation = make_organisation(db_session, name='=HYPERLINK("http://evil")')
    make_commitment(db_session, organisation, original_text="@SUM(A1:A9) pledge", title="+1 more")
    make_commitment(db_session, organisation, original_text="Plant trees", title="-")
    rows = list(csv.reader(io.StringIO("".join(iter_csv()))))
    assert rows[0] == CSV_COLUMNS
    assert len(rows) == 3
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert first["organisation"] == '\'=HYPERLINK("http://evil")'
    assert first["text"] == "'@SUM(A1:A9) pledge"
    assert first["title"] == "'+1 more"
    assert dict(zip(CSV_COLUMNS, rows[2], strict=True))["title"] == "'-"


def test_csv_safe_leaves_numbers_and_plain_text_alone():
    assert csv_safe(-5) == -5
    assert csv_safe("Plain") == "Plain"
    assert csv_safe("\tcmd") == "'\tcmd"


def test_open_data_on_the_web(client, db_session):
    load_luton()
    response = client.get("/open-data.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert_matches_the_documented_schema(response.json)
    assert len(response.json["organisations"]) == 40

    response = client.get("/open-data.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 339


def test_open_data_is_withdrawn_when_the_place_stops_publishing(client, db_session):
    load_luton()
    db.session.scalars(sa.select(Place)).one().publish_publicly = False
    db.session.flush()
    assert client.get("/open-data.json").status_code == 404
    assert client.get("/open-data.csv").status_code == 404


def test_open_data_states_its_licence(client, db_session):
    make_place(db_session)
    document = open_data()
    assert document["licence"] == {
        "name": "Open Government Licence v3.0",
        "url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
    }
    for url in ["/open-data.json", "/open-data.csv"]:
        response = client.get(url)
        response.get_data()
        response.close()  # a streamed answer holds its context open until read
        assert 'rel="license"' in response.headers["Link"], url
        assert "open-government-licence" in response.headers["Link"], url


def test_the_licence_is_the_places_choice(client, db_session):
    place = make_place(db_session)
    place.open_data_licence = "CC BY 4.0"
    db_session.flush()
    assert open_data()["licence"] == {
        "name": "CC BY 4.0",
        "url": "https://creativecommons.org/licenses/by/4.0/",
    }
    place.open_data_licence = "Luton Data Licence"
    db_session.flush()
    assert open_data()["licence"] == {"name": "Luton Data Licence", "url": None}
    response = client.get("/open-data.csv")
    response.get_data()
    response.close()
    assert "Link" not in response.headers
    page = client.get("/open-data").get_data(as_text=True)
    assert "Luton Data Licence" in page


def test_a_page_explains_the_fields_and_the_licence(client, db_session):
    from tests.support.pages import get_page

    make_place(db_session)
    page = get_page(client, "/open-data")
    assert page.h1 == "Open data"
    assert page.link("Open Government Licence v3.0").startswith("https://www.nationalarchives")
    for field in ["schema", "generated_at", "licence", "status", "target", "smart", "flags"]:
        assert page.soup.find("code", string=field) is not None, field
    for column in CSV_COLUMNS:
        assert page.soup.find("code", string=column) is not None, column
    assert page.link("Pledges and commitments as JSON") == "/open-data.json"
