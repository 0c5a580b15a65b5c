"""Where a return stands and what it asks of the programme team, by the day."""

from collections import Counter
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tracker.domain.enums import ReturnState
from tracker.domain.worklist import (
    ReturnFacts,
    Standing,
    Work,
    after_cursor,
    read_cursor,
    tally,
    tally_counted,
    urgency,
)

DUE = date(2024, 7, 21)
CLOSES = date(2024, 8, 11)


def facts(state=None, submitted_on=None, extended_to=None, missed_recorded=False):
    return ReturnFacts(
        state=state,
        due_on=DUE,
        closes_on=CLOSES,
        extended_to=extended_to,
        submitted_on=submitted_on,
        missed_recorded=missed_recorded,
    )


def test_a_return_not_yet_due_asks_nothing():
    assert facts().work(DUE) is None
    assert facts(ReturnState.DRAFT).work(DUE) is None
    assert facts().standing == Standing.NOT_STARTED


def test_the_day_after_the_deadline_it_is_overdue_until_the_window_closes():
    assert facts().work(DUE + timedelta(days=1)) == Work.OVERDUE
    assert facts(ReturnState.DRAFT).work(CLOSES) == Work.OVERDUE
    assert facts().days_overdue(CLOSES) == 21


def test_once_the_window_closes_it_is_missed_until_recorded_or_extended():
    after = CLOSES + timedelta(days=1)
    assert facts().work(after) == Work.MISSED
    assert facts(missed_recorded=True).work(after) is None
    assert facts().missed(after) and facts(missed_recorded=True).missed(after)
    # An extension past the window's close reopens it: overdue again only after the new date.
    extended = facts(extended_to=after + timedelta(days=10))
    assert extended.work(after) is None
    assert extended.work(after + timedelta(days=3)) == Work.EXTENSION_ENDING
    assert extended.work(after + timedelta(days=11)) == Work.MISSED
    assert extended.window_closes_on == after + timedelta(days=10)


def test_an_extension_ending_within_a_week_is_flagged():
    extended = facts(ReturnState.DRAFT, extended_to=DUE + timedelta(days=14))
    assert extended.work(DUE + timedelta(days=1)) is None
    assert extended.work(DUE + timedelta(days=7)) == Work.EXTENSION_ENDING
    assert extended.work(DUE + timedelta(days=14)) == Work.EXTENSION_ENDING
    assert extended.work(DUE + timedelta(days=15)) == Work.OVERDUE


def test_submitted_returns_wait_for_review_then_ask_nothing():
    sent = facts(ReturnState.SUBMITTED, submitted_on=DUE)
    assert sent.work(CLOSES + timedelta(days=100)) == Work.AWAITING_REVIEW
    assert facts(ReturnState.ACCEPTED, submitted_on=DUE).work(DUE) is None


def test_a_return_sent_back_is_work_until_resubmitted_and_was_not_late_for_it():
    returned = facts(ReturnState.RETURNED, submitted_on=DUE - timedelta(days=3))
    assert returned.work(CLOSES + timedelta(days=30)) == Work.SENT_BACK
    assert not returned.late and not returned.overdue(CLOSES + timedelta(days=30))
    assert not returned.received and returned.standing == Standing.SENT_BACK


def test_lateness_is_judged_by_the_deadline_including_an_extension():
    assert facts(ReturnState.SUBMITTED, submitted_on=DUE + timedelta(days=1)).late
    assert not facts(
        ReturnState.SUBMITTED,
        submitted_on=DUE + timedelta(days=5),
        extended_to=DUE + timedelta(days=7),
    ).late


def test_a_quarter_tallied():
    today = CLOSES + timedelta(days=1)
    figures = tally(
        [
            facts(ReturnState.ACCEPTED, submitted_on=DUE),
            facts(ReturnState.SUBMITTED, submitted_on=DUE + timedelta(days=2)),
            facts(ReturnState.RETURNED, submitted_on=DUE),
            facts(ReturnState.DRAFT),
            facts(),
            facts(missed_recorded=True),
        ],
        today,
    )
    assert figures.expected == 6
    assert (figures.accepted, figures.awaiting_review, figures.sent_back) == (1, 1, 1)
    assert (figures.in_progress, figures.not_started) == (1, 2)
    assert figures.received == 2 and figures.not_in == 4
    assert (figures.on_time, figures.late, figures.submitted) == (2, 1, 3)
    assert (figures.overdue, figures.missed) == (3, 3)
    assert figures.work == {
        Work.AWAITING_REVIEW: 1,
        Work.SENT_BACK: 1,
        Work.MISSED: 2,
        Work.OVERDUE: 0,
        Work.EXTENSION_ENDING: 0,
    }
    assert figures.outstanding_work == 4


states = st.sampled_from([None, *ReturnState])
days = st.integers(min_value=-30, max_value=120).map(lambda n: DUE + timedelta(days=n))


@st.composite
def any_facts(draw):
    state = draw(states)
    sent = state in {ReturnState.SUBMITTED, ReturnState.ACCEPTED, ReturnState.RETURNED}
    return facts(
        state,
        submitted_on=draw(days) if sent else None,
        extended_to=draw(st.none() | days.filter(lambda d: d > DUE)),
        missed_recorded=draw(st.booleans()) and not sent,
    )


@given(st.lists(any_facts(), max_size=30), days)
def test_every_return_is_counted_once_however_it_stands(returns, today):
    figures = tally(returns, today)
    assert sum(figures.standings.values()) == figures.expected == len(returns)
    assert figures.received + figures.not_in == figures.expected
    assert figures.submitted + figures.overdue <= figures.expected
    assert figures.missed <= figures.overdue
    assert figures.outstanding_work <= figures.expected


@given(st.lists(any_facts(), max_size=30), days)
def test_counting_each_distinct_return_once_times_its_number_gives_the_same_figures(returns, today):
    grouped = Counter(returns)
    assert tally_counted(grouped.items(), today) == tally(returns, today)


def test_the_most_urgent_come_first_in_each_kind():
    long_overdue = facts()
    newly_overdue = facts(ReturnState.DRAFT, extended_to=DUE + timedelta(days=3))
    assert urgency(Work.OVERDUE, long_overdue, 9) < urgency(Work.OVERDUE, newly_overdue, 1)
    # Alike returns are ordered by organisation.
    assert urgency(Work.MISSED, long_overdue, 1) < urgency(Work.MISSED, long_overdue, 2)
    first_in = facts(ReturnState.SUBMITTED, submitted_on=DUE - timedelta(days=5))
    later = facts(ReturnState.SUBMITTED, submitted_on=DUE)
    assert urgency(Work.AWAITING_REVIEW, first_in, 9) < urgency(Work.AWAITING_REVIEW, later, 1)
    ending = facts(extended_to=DUE + timedelta(days=2))
    after = facts(extended_to=DUE + timedelta(days=6))
    assert urgency(Work.EXTENSION_ENDING, ending, 9) < urgency(Work.EXTENSION_ENDING, after, 1)


def test_a_cursor_names_a_place_in_the_order_and_anything_else_starts_at_the_top():
    place = urgency(Work.OVERDUE, facts(), 42)
    assert read_cursor(after_cursor(place)) == place
    for bad in (None, "", "2024-07-21", "tomorrow.3", "2024-07-21.x", "2024-13-01.1"):
        assert read_cursor(bad) is None


def test_each_kind_has_a_place_in_a_url():
    assert [kind.slug for kind in Work] == [
        "awaiting-review",
        "sent-back",
        "missed",
        "overdue",
        "extension-ending",
    ]
    assert all(Work.from_slug(kind.slug) == kind for kind in Work)
    assert Work.from_slug("awaiting_review") is None and Work.from_slug("") is None
