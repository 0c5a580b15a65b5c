"""The second status: active, late or non-communicating, per organisation, as of a day."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.domain.calendar import Quarter, WindowRules, quarters_between
from tracker.domain.enums import ReportingStatus
from tracker.domain.reporting_status import (
    PeriodRecord,
    consecutive_missed,
    reporting_status,
    reporting_status_tag,
    settled_by,
)

ACTIVE = ReportingStatus.ACTIVE
LATE = ReportingStatus.LATE
SILENT = ReportingStatus.NON_COMMUNICATING

Q1 = Quarter(2024, 1)  # due 2024-07-21, closes 2024-08-11
Q2 = Quarter(2024, 2)  # due 2024-10-21
Q3 = Quarter(2024, 3)  # due 2025-01-21
Q4 = Quarter(2024, 4)  # due 2025-04-21
NEXT_Q1 = Quarter(2025, 1)  # due 2025-07-21


def period(quarter, submitted_on=None, extended_to=None):
    window = quarter.window(WindowRules())
    return PeriodRecord(
        quarter=quarter,
        due_on=window.due_on,
        extended_to=extended_to,
        submitted_on=submitted_on,
        closes_on=window.closes_on,
    )


def status(history, today):
    return reporting_status(history, today), consecutive_missed(history, today)


def test_the_default_windows_these_tests_rely_on():
    assert [period(q).due_on for q in (Q1, Q2, Q3, Q4)] == [
        date(2024, 7, 21),
        date(2024, 10, 21),
        date(2025, 1, 21),
        date(2025, 4, 21),
    ]


def test_nothing_to_report_yet_is_active():
    assert status([], date(2024, 5, 1)) == (ACTIVE, 0)


def test_the_first_quarter_ever():
    history = [period(Q1)]
    assert status(history, date(2024, 6, 16)) == (ACTIVE, 0)  # window opens
    assert status(history, date(2024, 7, 21)) == (ACTIVE, 0)  # due today: not late yet
    assert status(history, date(2024, 7, 22)) == (LATE, 1)
    # One missed period alone never makes an organisation non-communicating.
    assert status(history, date(2025, 6, 1)) == (LATE, 1)


def test_a_return_submitted_on_time_is_active():
    history = [period(Q1, submitted_on=date(2024, 7, 1))]
    assert status(history, date(2024, 7, 22)) == (ACTIVE, 0)


def test_late_but_submitted_is_active_again():
    history = [period(Q1, submitted_on=date(2024, 7, 30))]
    assert status(history, date(2024, 7, 29)) == (LATE, 1)
    assert status(history, date(2024, 7, 30)) == (ACTIVE, 0)
    assert status(history, date(2024, 12, 1)) == (ACTIVE, 0)


def test_an_organisation_that_never_submits():
    history = [period(q) for q in (Q1, Q2, Q3, Q4, NEXT_Q1)]
    assert status(history, date(2024, 7, 21)) == (ACTIVE, 0)
    assert status(history, date(2024, 7, 22)) == (LATE, 1)
    assert status(history, date(2024, 10, 21)) == (LATE, 1)
    assert status(history, date(2024, 10, 22)) == (SILENT, 2)
    assert status(history, date(2025, 1, 22)) == (SILENT, 3)  # across the calendar year
    assert status(history, date(2025, 4, 22)) == (SILENT, 4)  # across the financial year
    assert status(history, date(2025, 7, 22)) == (SILENT, 5)


def test_periods_not_yet_due_never_count():
    history = [period(Q1, submitted_on=date(2024, 7, 10)), period(Q2), period(Q3)]
    # Q2 and Q3 exist already but neither deadline has passed.
    assert status(history, date(2024, 10, 1)) == (ACTIVE, 0)


def test_an_extension_moves_the_deadline():
    history = [period(Q1, extended_to=date(2024, 8, 4))]
    assert status(history, date(2024, 7, 22)) == (ACTIVE, 0)
    assert status(history, date(2024, 8, 4)) == (ACTIVE, 0)
    assert status(history, date(2024, 8, 5)) == (LATE, 1)


def test_an_extension_earlier_than_the_due_date_never_shortens_it():
    history = [period(Q1, extended_to=date(2024, 7, 1))]
    assert status(history, date(2024, 7, 21)) == (ACTIVE, 0)
    assert status(history, date(2024, 7, 22)) == (LATE, 1)


def test_a_return_within_an_extension_keeps_a_late_organisation_from_going_silent():
    history = [period(Q1), period(Q2, extended_to=date(2024, 11, 4))]
    assert status(history, date(2024, 10, 25)) == (LATE, 1)  # Q1 missed, Q2 extended
    assert status(history, date(2024, 11, 5)) == (SILENT, 2)


def test_submitting_the_latest_return_late_ends_a_silence():
    history = [period(Q1), period(Q2, submitted_on=date(2024, 10, 30))]
    assert status(history, date(2024, 10, 29)) == (SILENT, 2)
    assert status(history, date(2024, 10, 30)) == (ACTIVE, 0)


def test_an_early_return_for_the_next_period_counts_as_reporting():
    history = [period(Q1), period(Q2), period(Q3, submitted_on=date(2024, 12, 20))]
    assert status(history, date(2024, 12, 19)) == (SILENT, 2)
    assert status(history, date(2024, 12, 20)) == (ACTIVE, 0)


def test_only_the_latest_run_of_misses_counts():
    history = [
        period(Q1),
        period(Q2),
        period(Q3, submitted_on=date(2025, 1, 10)),
        period(Q4),
    ]
    assert status(history, date(2025, 4, 22)) == (LATE, 1)
    assert status(history, date(2025, 1, 15)) == (ACTIVE, 0)


def test_missing_a_quarter_between_two_returns_is_active():
    history = [
        period(Q1, submitted_on=date(2024, 7, 15)),
        period(Q2),
        period(Q3, submitted_on=date(2025, 1, 20)),
    ]
    assert status(history, date(2025, 1, 22)) == (ACTIVE, 0)


def test_a_submission_after_today_does_not_count_yet():
    # Working out a board summary as it stood on an earlier day.
    history = [period(Q1), period(Q2, submitted_on=date(2024, 11, 1))]
    assert status(history, date(2024, 10, 25)) == (SILENT, 2)
    assert status(history, date(2024, 11, 1)) == (ACTIVE, 0)


def test_order_of_the_history_does_not_matter():
    history = [period(Q4), period(Q1, submitted_on=date(2024, 7, 1)), period(Q3), period(Q2)]
    assert status(history, date(2025, 4, 22)) == (SILENT, 3)
    assert status(list(reversed(history)), date(2025, 4, 22)) == (SILENT, 3)


def test_a_quarter_twice_is_a_mistake():
    with pytest.raises(ValueError, match="once"):
        consecutive_missed([period(Q1), period(Q1)], date(2024, 8, 1))


def test_deadline_is_the_later_of_due_and_extension():
    assert period(Q1).deadline == date(2024, 7, 21)
    assert period(Q1, extended_to=date(2024, 8, 1)).deadline == date(2024, 8, 1)
    assert period(Q1, extended_to=date(2024, 7, 1)).deadline == date(2024, 7, 21)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ACTIVE, ("Active", "govuk-tag--green")),
        (LATE, ("Late", "govuk-tag--orange")),
        (SILENT, ("Not communicating", "govuk-tag--red")),
        ("late", ("Late", "govuk-tag--orange")),
    ],
)
def test_reporting_status_tag(value, expected):
    assert reporting_status_tag(value) == expected


QUARTERS = quarters_between(Quarter(2023, 1), Quarter(2024, 4))


@given(
    delays=st.lists(st.none() | st.integers(min_value=-30, max_value=60), min_size=8, max_size=8),
    today_offset=st.integers(min_value=0, max_value=800),
)
def test_status_agrees_with_the_count_of_missed_periods(delays, today_offset):
    # Each period is submitted some days from its due date (None: never).
    history = []
    for quarter, delay in zip(QUARTERS, delays, strict=True):
        due = quarter.window(WindowRules()).due_on
        submitted = None if delay is None else due + timedelta(days=delay)
        history.append(period(quarter, submitted_on=submitted))
    today = date(2023, 6, 1) + timedelta(days=today_offset)
    missed = consecutive_missed(history, today)
    past_deadline = [record for record in history if today > record.deadline]
    assert 0 <= missed <= len(past_deadline)
    expected = SILENT if missed >= 2 else LATE if missed == 1 else ACTIVE
    assert reporting_status(history, today) is expected
    if past_deadline and past_deadline[-1].submitted_by(today):
        assert missed == 0
    if past_deadline and not past_deadline[-1].submitted_by(today):
        assert missed >= 1 or any(record.submitted_by(today) for record in history)


@given(
    returns=st.lists(
        st.tuples(
            st.none() | st.integers(min_value=-30, max_value=60),  # submitted, from the due date
            st.none() | st.integers(min_value=-10, max_value=120),  # extended to, from it
        ),
        min_size=8,
        max_size=8,
    ),
    today_offset=st.integers(min_value=0, max_value=800),
)
def test_the_newest_records_that_settle_the_status_settle_it_whatever_came_before(
    returns, today_offset
):
    # The services read an organisation's newest quarters first and older ones only when
    # those have not settled it: any older history must then leave the status as it is.
    history = []
    for quarter, (delay, extension) in zip(QUARTERS, returns, strict=True):
        due = quarter.window(WindowRules()).due_on
        history.append(
            period(
                quarter,
                submitted_on=None if delay is None else due + timedelta(days=delay),
                extended_to=None if extension is None else due + timedelta(days=extension),
            )
        )
    today = date(2023, 6, 1) + timedelta(days=today_offset)
    whole = reporting_status(history, today)
    for kept in range(len(history) + 1):
        newest = history[len(history) - kept :]
        if settled_by(newest, today):
            assert reporting_status(newest, today) is whole, kept
    assert settled_by(history, today) or reporting_status(history, today) is not SILENT


def test_what_settles_a_status():
    # Q1 to Q4 all past their deadlines on 1 June 2025.
    today = date(2025, 6, 1)
    assert settled_by([period(Q4, submitted_on=date(2025, 4, 1))], today)  # a return in
    assert settled_by([period(Q3), period(Q4)], today)  # two missed: silent whatever came before
    assert not settled_by([period(Q4)], today)  # one missed: late or silent, by Q3
    assert not settled_by([], today)
    # Still inside an extension, after a missed one: the run ends there.
    assert settled_by([period(Q3, extended_to=date(2025, 7, 1)), period(Q4)], today)
    # Not yet due and nothing before it read: Q4 decides.
    assert not settled_by([period(NEXT_Q1)], today)
