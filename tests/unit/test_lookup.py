"""Which record an admin meant by what they typed: exact first, then the one that contains it."""

from tracker.domain.lookup import (
    ORGANISATION,
    PERSON,
    Candidate,
    Candidates,
    decide,
    typed_lines,
)

LUTON = Candidate(1, "Luton", "luton")
ROTARY = Candidate(2, "Luton Rotary", "luton-rotary")
AGE_UK = Candidate(3, "Age UK", "age-uk")
AGE_UK_TOO = Candidate(4, "Age UK", "age-uk-2")


def test_an_exact_name_wins_over_names_that_contain_it():
    found = decide(Candidates("luton", [LUTON, ROTARY], exact=1, partial=2), ORGANISATION)
    assert found.record == LUTON and found.problem is None


def test_the_only_name_that_contains_the_text_is_the_one_meant():
    found = decide(Candidates("rotary", [ROTARY], exact=0, partial=1), ORGANISATION)
    assert found.record == ROTARY


def test_nothing_found_says_so_in_the_words_of_the_kind():
    assert decide(Candidates("Lutn", [], 0, 0), ORGANISATION).problem == (
        "No organisation called ‘Lutn’"
    )
    assert decide(Candidates("zed", [], 0, 0), PERSON).problem == (
        "No person with the name or email address ‘zed’"
    )


def test_several_are_named_when_few_and_counted_when_many():
    few = decide(Candidates("Lu", [LUTON, ROTARY], exact=0, partial=2), ORGANISATION)
    assert few.record is None
    assert few.problem == (
        "‘Lu’ matches 2 organisations (Luton, Luton Rotary): type more of the name"
    )
    many = decide(Candidates("o", [LUTON, ROTARY] * 2 + [AGE_UK], 0, 1_234), ORGANISATION)
    assert many.problem == "‘o’ matches 1,234 organisations: type more of the name"
    people = decide(Candidates("sam", [], 0, 12), PERSON)
    assert people.problem == "‘sam’ matches 12 people: type more of their name or email address"


def test_two_records_of_one_name_are_told_apart_by_their_keys():
    found = decide(Candidates("age uk", [AGE_UK, AGE_UK_TOO], exact=2, partial=2), ORGANISATION)
    assert found.problem == (
        "‘age uk’ is the name of 2 organisations (age-uk, age-uk-2): type its slug"
    )
    sam, sam_too = Candidate(5, "Sam", "sam@a.org"), Candidate(6, "Sam", "sam@b.org")
    found = decide(Candidates("Sam", [sam, sam_too], exact=2, partial=3), PERSON)
    assert found.problem == (
        "‘Sam’ is the name of 2 people (sam@a.org, sam@b.org): type their email address"
    )


def test_a_long_text_is_quoted_in_part():
    found = decide(Candidates("x" * 500, [], 0, 0), ORGANISATION)
    assert found.problem is not None and len(found.problem) < 100
    assert found.problem.endswith("x…’")


def test_typed_lines_skip_blanks_and_repeats():
    assert typed_lines("  Luton \r\n\n luton\nage-uk\n  \n") == ["Luton", "age-uk"]
    assert typed_lines(None) == [] and typed_lines("") == []
