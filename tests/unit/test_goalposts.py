"""Moved goalposts: which edits change what a commitment promised, and when a reason is due."""

from dataclasses import fields, replace
from datetime import date
from decimal import Decimal

import pytest

from tracker.domain.enums import Direction
from tracker.domain.goalposts import (
    GOALPOST_FIELDS,
    LABELS,
    FieldChange,
    TargetFields,
    goalpost_changes,
    moved_goalposts,
    needs_reason,
)

HOMES = TargetFields(
    title="400 new affordable homes",
    original_text="Building 400 new affordable homes in Luton between 2024 and 2040.",
    metric="affordable homes completed",
    unit="homes",
    baseline_value=Decimal("0.0000"),
    baseline_date=date(2024, 4, 1),
    target_value=Decimal("400.0000"),
    target_date=date(2040, 12, 31),
    direction=Direction.INCREASE,
)

BLANK = TargetFields(
    title=None,
    original_text="We will cut our carbon emissions.",
    metric=None,
    unit=None,
    baseline_value=None,
    baseline_date=None,
    target_value=None,
    target_date=None,
    direction=None,
)


def test_goalpost_fields_are_target_fields_and_all_labelled():
    names = {field.name for field in fields(TargetFields)}
    assert set(GOALPOST_FIELDS) <= names
    assert set(LABELS) == set(GOALPOST_FIELDS)
    # The title labels a commitment: it is not something it is judged against.
    assert "title" not in GOALPOST_FIELDS


def test_nothing_changed():
    assert goalpost_changes(HOMES, HOMES) == []
    assert not needs_reason(HOMES, HOMES, has_been_reported=True)


def test_target_value_changed():
    after = replace(HOMES, target_value=Decimal("300"))
    assert goalpost_changes(HOMES, after) == [
        FieldChange("target_value", "target value", "400", "300")
    ]


def test_deadline_changed_is_rendered_as_iso_dates():
    after = replace(HOMES, target_date=date(2045, 12, 31))
    assert goalpost_changes(HOMES, after) == [
        FieldChange("target_date", "deadline", "2040-12-31", "2045-12-31")
    ]


def test_several_changes_come_in_goalpost_order():
    after = replace(
        HOMES,
        direction=Direction.DECREASE,
        target_value=Decimal("350.5"),
        baseline_value=Decimal("12"),
        original_text="Building 350 homes.",
        unit="dwellings",
    )
    changes = goalpost_changes(HOMES, after)
    assert [change.field for change in changes] == [
        "original_text",
        "baseline_value",
        "target_value",
        "unit",
        "direction",
    ]
    assert [change.label for change in changes] == [
        "wording",
        "baseline",
        "target value",
        "unit",
        "direction",
    ]
    assert changes[1] == FieldChange("baseline_value", "baseline", "0", "12")
    assert changes[2].new == "350.5"
    assert changes[4] == FieldChange("direction", "direction", "increase", "decrease")


def test_title_owner_like_fields_are_not_goalposts():
    after = replace(HOMES, title="Affordable homes")
    assert goalpost_changes(HOMES, after) == []
    assert not needs_reason(HOMES, after, has_been_reported=True)


def test_decimals_compare_by_value_and_render_normalised():
    assert goalpost_changes(HOMES, replace(HOMES, target_value=Decimal("400"))) == []
    assert goalpost_changes(HOMES, replace(HOMES, target_value=400)) == []
    change = goalpost_changes(HOMES, replace(HOMES, target_value=Decimal("1E+3")))[0]
    assert (change.old, change.new) == ("400", "1000")
    change = goalpost_changes(HOMES, replace(HOMES, target_value=Decimal("0.2500")))[0]
    assert change.new == "0.25"


def test_direction_may_be_its_stored_string():
    assert goalpost_changes(HOMES, replace(HOMES, direction="increase")) == []


def test_whitespace_is_not_new_wording_but_words_are():
    rewrapped = replace(
        HOMES,
        original_text="Building 400 new affordable\r\nhomes in Luton between 2024 and 2040.  ",
    )
    assert goalpost_changes(HOMES, rewrapped) == []
    assert goalpost_changes(HOMES, replace(HOMES, metric="  affordable homes completed ")) == []
    assert goalpost_changes(HOMES, replace(HOMES, metric="Affordable homes completed")) != []


def test_blank_text_is_the_same_as_none():
    assert goalpost_changes(replace(HOMES, unit=None), replace(HOMES, unit="  ")) == []


def test_old_and_new_show_what_was_typed():
    change = goalpost_changes(HOMES, replace(HOMES, metric=" homes handed over "))[0]
    assert (change.label, change.old, change.new) == (
        "what is measured",
        "affordable homes completed",
        "homes handed over",
    )


def test_removing_a_value_renders_none():
    change = goalpost_changes(HOMES, replace(HOMES, baseline_date=None))[0]
    assert change == FieldChange("baseline_date", "baseline date", "2024-04-01", None)
    assert not change.is_addition


def test_before_any_report_nothing_needs_a_reason():
    after = replace(HOMES, target_value=Decimal("100"), target_date=None, original_text="x")
    assert goalpost_changes(HOMES, after)
    assert not needs_reason(HOMES, after, has_been_reported=False)
    assert moved_goalposts(HOMES, after, has_been_reported=False) == []


@pytest.mark.parametrize(
    "change",
    [
        {"target_value": Decimal("300")},
        {"target_value": None},  # removing a target
        {"target_date": date(2045, 12, 31)},
        {"baseline_value": Decimal("20")},
        {"baseline_date": date(2023, 4, 1)},
        {"original_text": "Building some homes."},
        {"metric": "homes started"},
        {"unit": None},
        {"direction": Direction.DECREASE},
    ],
)
def test_after_reporting_changing_or_removing_a_goalpost_needs_a_reason(change):
    after = replace(HOMES, **change)
    assert needs_reason(HOMES, after, has_been_reported=True)


def test_after_reporting_adding_a_missing_target_needs_no_reason():
    after = replace(
        BLANK,
        metric="tonnes CO2e (scopes 1 and 2)",
        unit="t",
        baseline_value=Decimal("1000"),
        target_value=Decimal("0"),
        target_date=date(2040, 12, 31),
        direction=Direction.DECREASE,
    )
    changes = goalpost_changes(BLANK, after)
    assert len(changes) == 6
    assert all(change.is_addition for change in changes)
    assert not needs_reason(BLANK, after, has_been_reported=True)
    assert moved_goalposts(BLANK, after, has_been_reported=True) == []


def test_adding_one_and_moving_another_lists_only_the_move():
    before = replace(HOMES, baseline_value=None)
    after = replace(before, baseline_value=Decimal("10"), target_value=Decimal("500"))
    assert needs_reason(before, after, has_been_reported=True)
    moved = moved_goalposts(before, after, has_been_reported=True)
    assert [change.field for change in moved] == ["target_value"]


def test_setting_a_target_before_any_report_is_not_moving_it():
    after = replace(BLANK, target_value=Decimal("50"))
    assert not needs_reason(BLANK, after, has_been_reported=False)
