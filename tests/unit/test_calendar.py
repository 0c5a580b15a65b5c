"""The reporting calendar: UK financial-year quarters, labels, windows and overdue days."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.domain.calendar import (
    Quarter,
    WindowRules,
    days_overdue,
    is_overdue,
    period_for,
    quarters_between,
    was_late,
)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 4, 1), Quarter(2024, 1)),
        (date(2024, 6, 30), Quarter(2024, 1)),
        (date(2024, 7, 1), Quarter(2024, 2)),
        (date(2024, 9, 30), Quarter(2024, 2)),
        (date(2024, 10, 1), Quarter(2024, 3)),
        (date(2024, 12, 31), Quarter(2024, 3)),
        (date(2025, 1, 1), Quarter(2024, 4)),  # Q4 is January–March of the next calendar year
        (date(2025, 3, 31), Quarter(2024, 4)),
        (date(2025, 4, 1), Quarter(2025, 1)),
    ],
)
def test_period_for_follows_the_uk_financial_year(day, expected):
    assert period_for(day) == expected


def test_labels_and_slugs():
    assert Quarter(2024, 1).label == "2024/25 Q1"
    assert Quarter(2024, 1).slug == "2024-25-q1"
    assert Quarter(2099, 4).label == "2099/00 Q4"
    assert Quarter(2099, 4).slug == "2099-00-q4"


def test_quarter_dates():
    q4 = Quarter(2024, 4)
    assert (q4.starts_on, q4.ends_on) == (date(2025, 1, 1), date(2025, 3, 31))
    q1 = Quarter(2024, 1)
    assert (q1.starts_on, q1.ends_on) == (date(2024, 4, 1), date(2024, 6, 30))
    # A leap year's Q4 ends on 31 March whatever February did.
    assert Quarter(2023, 4).ends_on == date(2024, 3, 31)


def test_next_and_previous_cross_the_year_boundary():
    assert Quarter(2024, 4).next() == Quarter(2025, 1)
    assert Quarter(2025, 1).previous() == Quarter(2024, 4)
    assert Quarter(2024, 2).next() == Quarter(2024, 3)


def test_default_window_is_the_icb_model():
    """Q1 2024/25 ends on 30 June: opens 16 June, due 21 July, closes 11 August."""
    window = Quarter(2024, 1).window(WindowRules())
    assert window.opens_on == date(2024, 6, 16)
    assert window.due_on == date(2024, 7, 21)
    assert window.closes_on == date(2024, 8, 11)


def test_window_of_q4_falls_in_the_next_financial_year():
    window = Quarter(2024, 4).window(WindowRules(opens_days_before_end=7, due_days_after_end=30))
    assert window.opens_on == date(2025, 3, 24)
    assert window.due_on == date(2025, 4, 30)


@pytest.mark.parametrize(
    "rules",
    [
        {"opens_days_before_end": -1},
        {"due_days_after_end": 10, "closes_days_after_end": 5},
        {"opens_days_before_end": 5, "due_days_after_end": -10},
    ],
)
def test_window_rules_that_cannot_work_are_refused(rules):
    with pytest.raises(ValueError):
        WindowRules(**rules)


def test_slug_and_label_round_trip_and_bad_ones_are_refused():
    assert Quarter.from_slug("2024-25-q1") == Quarter(2024, 1)
    assert Quarter.from_label("2024/25 Q3") == Quarter(2024, 3)
    for bad in ["2024-26-q1", "2024-25-q5", "2024-25-Q1", "24-25-q1", "", "2024-25-q1/../"]:
        with pytest.raises(ValueError):
            Quarter.from_slug(bad)
    with pytest.raises(ValueError):
        Quarter(2024, 0)


def test_quarters_between():
    assert quarters_between(Quarter(2024, 3), Quarter(2025, 2)) == [
        Quarter(2024, 3),
        Quarter(2024, 4),
        Quarter(2025, 1),
        Quarter(2025, 2),
    ]
    assert quarters_between(Quarter(2025, 1), Quarter(2024, 4)) == []


def test_overdue_from_the_day_after_the_deadline():
    due = date(2024, 7, 21)
    assert not is_overdue(due, date(2024, 7, 21))
    assert is_overdue(due, date(2024, 7, 22))
    assert not is_overdue(due, date(2024, 7, 30), submitted_on=date(2024, 7, 25))
    assert days_overdue(due, date(2024, 7, 28)) == 7
    assert days_overdue(due, date(2024, 7, 1)) == 0


def test_an_extension_moves_the_deadline():
    due = date(2024, 7, 21)
    extended = date(2024, 8, 4)
    assert not is_overdue(due, date(2024, 8, 1), extended_to=extended)
    assert is_overdue(due, date(2024, 8, 5), extended_to=extended)
    assert not was_late(due, date(2024, 8, 4), extended_to=extended)
    assert was_late(due, date(2024, 7, 22))
    # An "extension" earlier than the due date never shortens it.
    assert not is_overdue(due, date(2024, 7, 20), extended_to=date(2024, 7, 1))


@given(st.dates(min_value=date(1901, 1, 1), max_value=date(9000, 12, 31)))
def test_every_day_lies_in_its_quarter(day):
    quarter = period_for(day)
    assert quarter.starts_on <= day <= quarter.ends_on
    assert Quarter.from_slug(quarter.slug) == quarter
    assert Quarter.from_label(quarter.label) == quarter
    assert quarter.next().previous() == quarter
