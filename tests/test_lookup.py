"""Finding organisations and people by what an admin types, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from tests.factories import add_organisations, make_organisation, make_user
from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.services.lookup import organisations_named, people_named


def count_statements(work):  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = work()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return result, len(statements)


def test_an_organisation_by_its_name_or_slug_whatever_the_case(db_session):
    rotary = make_organisation(db_session, name="Luton Rotary", slug="luton-rotary")
    make_organisation(db_session, name="Rotary Club of Dunstable", slug="dunstable-rotary")
    by_name, by_slug, shouted = organisations_named(
        ["Luton Rotary", "luton-rotary", "LUTON ROTARY"]
    )
    assert by_name.record.id == by_slug.record.id == shouted.record.id == rotary.id
    assert by_name.record.name == "Luton Rotary"


def test_an_exact_name_wins_over_names_that_contain_it(db_session):
    luton = make_organisation(db_session, name="Luton", slug="luton-council")
    make_organisation(db_session, name="Luton Rotary", slug="luton-rotary")
    make_organisation(db_session, name="Active Luton", slug="active-luton")
    [found] = organisations_named(["luton"])
    assert found.record.id == luton.id


def test_part_of_one_name_finds_it_and_part_of_several_asks_for_more(db_session):
    make_organisation(db_session, name="Luton Rotary", slug="luton-rotary")
    make_organisation(db_session, name="Active Luton", slug="active-luton")
    barnfield = make_organisation(db_session, name="Barnfield College", slug="barnfield")
    one, several, none = organisations_named(["field coll", "Lu", "Lutn"])
    assert one.record.id == barnfield.id
    assert several.record is None
    assert several.problem == (
        "‘Lu’ matches 2 organisations (Active Luton, Luton Rotary): type more of the name"
    )
    assert none.problem == "No organisation called ‘Lutn’"


def test_organisations_of_one_name_are_told_apart_by_slug(db_session):
    make_organisation(db_session, name="Age UK", slug="age-uk")
    second = make_organisation(db_session, name="Age UK", slug="age-uk-luton")
    [twice] = organisations_named(["age uk"])
    assert twice.problem == (
        "‘age uk’ is the name of 2 organisations (age-uk, age-uk-luton): type its slug"
    )
    [by_slug] = organisations_named(["age-uk-luton"])
    assert by_slug.record.id == second.id


def test_wildcards_typed_match_only_themselves(db_session):
    make_organisation(db_session, name="Organisation A", slug="a")
    make_organisation(db_session, name="Organisation B", slug="b")
    percent = make_organisation(db_session, name="100% Recycled", slug="recycled")
    underscore = make_organisation(db_session, name="Snake_case Ltd", slug="snake")
    found = organisations_named(["%", "e_c", "_", "\\", "'; drop table organisations; --"])
    assert found[0].record.id == percent.id
    assert found[1].record.id == underscore.id
    assert found[2].record.id == underscore.id
    assert [f.problem for f in found[3:]] == [
        "No organisation called ‘\\’",
        "No organisation called ‘'; drop table organisations; --’",
    ]


def test_people_by_name_or_email_whatever_the_case(db_session):
    ada = make_user(db_session, Role.ADMIN, name="Ada Admin", email="ada@example.org")
    make_user(db_session, Role.LEAD, name="Adam Lead", email="adam@example.org")
    gone = make_user(db_session, Role.BOARD, name="Gil Gone", email="gil@example.org", active=False)
    make_user(db_session, Role.LEAD, name="Sam Smith", email="sam@a.example")
    make_user(db_session, Role.LEAD, name="Sam Smith", email="sam@b.example")
    by_name, by_email, shouted, inactive, several, twice, none = people_named(
        ["ada admin", "ada@example.org", "ADA@EXAMPLE.ORG", "gil", "ada", "sam smith", "zed"]
    )
    assert by_name.record.id == by_email.record.id == shouted.record.id == ada.id
    assert inactive.record.id == gone.id  # the audit log outlives their access
    assert several.problem == (
        "‘ada’ matches 2 people (Ada Admin, Adam Lead): type more of their name or email address"
    )
    assert twice.problem == (
        "‘sam smith’ is the name of 2 people (sam@a.example, sam@b.example): "
        "type their email address"
    )
    assert none.problem == "No person with the name or email address ‘zed’"


def test_any_number_of_texts_among_a_regions_organisations_in_one_statement(db_session):
    add_organisations(db_session, 2_000)
    texts = ["Organisation 0017", "ORG-1999", "organisation 00", "0042", "nothing like it"]
    found, statements = count_statements(lambda: organisations_named(texts))
    assert statements == 1
    assert [f.record.name if f.record else f.problem for f in found] == [
        "Organisation 0017",
        "Organisation 1999",
        "‘organisation 00’ matches 99 organisations: type more of the name",
        "Organisation 0042",
        "No organisation called ‘nothing like it’",
    ]
    _, statements = count_statements(lambda: organisations_named(["org-0001"]))
    assert statements == 1
    assert organisations_named([]) == []
