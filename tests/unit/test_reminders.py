"""The reminder ladder, travelled day by day through 2024/25 Q1.

With the default window rules Q1 2024 opens on 2024-06-16, is due on 2024-07-21 and closes on
2024-08-11. Each scenario runs the daily job from the start of June to the end of August and
records which step keys it sends on which day.
"""

from dataclasses import FrozenInstanceError
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.domain.calendar import Quarter, WindowRules
from tracker.domain.reminders import (
    Due,
    LadderRules,
    ReminderKind,
    ReminderStep,
    ladder,
    steps_due,
)

WINDOW = Quarter(2024, 1).window(WindowRules())
OPENS, DUE, CLOSES = WINDOW.opens_on, WINDOW.due_on, WINDOW.closes_on
SUMMER = [date(2024, 6, 1) + timedelta(days=n) for n in range(92)]  # 1 June to 31 August
EXT = "extended-2024-08-04-"


def q1_ladder(extended_to=None, rules=None):
    return ladder(
        opens_on=OPENS,
        due_on=DUE,
        extended_to=extended_to,
        closes_on=CLOSES,
        rules=rules or LadderRules(),
    )


def travel(
    *,
    submitted_on=None,
    extended_to=None,
    extension_granted_on=None,
    down=(),
    has_contact=True,
    runs_per_day=1,
    record_superseded=True,
):
    """Run the daily job through the summer; return {day: [keys sent]} and the superseded keys."""
    sent_on, superseded, already_sent = {}, [], set()
    for today in SUMMER:
        if today in down:
            continue
        extended = extension_granted_on is None or today >= extension_granted_on
        steps = q1_ladder(extended_to if extended else None)
        deadline = max(DUE, extended_to) if extended and extended_to else DUE
        for _ in range(runs_per_day):
            due = steps_due(
                ladder=steps,
                today=today,
                submitted=submitted_on is not None and today >= submitted_on,
                already_sent=already_sent,
                has_contact=has_contact,
                closes_on=max(CLOSES, deadline),
            )
            for step in due.send:
                assert step.key not in already_sent, f"{step.key} sent twice"
                assert step.on <= today
                sent_on.setdefault(today, []).append(step.key)
            already_sent |= {step.key for step in due.send}
            if record_superseded:
                already_sent |= {step.key for step in due.superseded}
            superseded += [step.key for step in due.superseded]
    return sent_on, superseded


def d(month, day):
    return date(2024, month, day)


NEVER_SUBMITS = {
    d(6, 16): ["opened"],
    d(7, 14): ["due-in-7"],
    d(7, 20): ["due-in-1"],
    d(7, 22): ["overdue-1"],
    d(7, 24): ["contact-overdue-3"],
    d(7, 28): ["admins-overdue-7"],
    d(7, 29): ["overdue-week-1"],
    d(8, 5): ["overdue-week-2"],
}


def test_the_window_these_tests_travel_through():
    assert WINDOW.opens_on == d(6, 16)
    assert WINDOW.due_on == d(7, 21)
    assert WINDOW.closes_on == d(8, 11)


def test_the_default_ladder():
    steps = q1_ladder()
    assert [(step.key, step.audience, step.kind, step.on) for step in steps] == [
        ("opened", "leads", ReminderKind.OPENED, d(6, 16)),
        ("due-in-7", "leads", ReminderKind.DUE_SOON, d(7, 14)),
        ("due-in-1", "leads", ReminderKind.DUE_SOON, d(7, 20)),
        ("overdue-1", "leads", ReminderKind.OVERDUE, d(7, 22)),
        ("contact-overdue-3", "contact", ReminderKind.CONTACT_OVERDUE, d(7, 24)),
        ("admins-overdue-7", "admins", ReminderKind.ADMINS_OVERDUE, d(7, 28)),
        ("overdue-week-1", "leads", ReminderKind.OVERDUE, d(7, 29)),
        ("overdue-week-2", "leads", ReminderKind.OVERDUE, d(8, 5)),
        # overdue-week-3 would fall on 12 August, after the window closed
    ]


def test_a_never_submitting_organisation_gets_every_step_once():
    sent_on, superseded = travel()
    assert sent_on == NEVER_SUBMITS
    assert superseded == []


@pytest.mark.parametrize(
    ("submitted_on", "expected"),
    [
        (d(6, 10), {}),  # impossible in practice, but submitted means silence
        (d(6, 16), {}),  # submitted before the morning run on opening day
        (d(7, 1), {d(6, 16): ["opened"]}),
        (d(7, 18), {d(6, 16): ["opened"], d(7, 14): ["due-in-7"]}),
        (d(7, 23), {day: keys for day, keys in NEVER_SUBMITS.items() if day < d(7, 23)}),
        (
            d(7, 30),
            {day: keys for day, keys in NEVER_SUBMITS.items() if day < d(7, 30)},
        ),
    ],
)
def test_submitting_stops_the_ladder(submitted_on, expected):
    sent_on, _ = travel(submitted_on=submitted_on)
    assert sent_on == expected


def test_without_a_deputy_or_sponsor_the_contact_step_is_not_sent():
    sent_on, superseded = travel(has_contact=False)
    assert sent_on == {day: keys for day, keys in NEVER_SUBMITS.items() if day != d(7, 24)}
    assert superseded == []


def test_an_extension_known_from_the_start_moves_the_ladder():
    sent_on, superseded = travel(extended_to=d(8, 4))
    assert sent_on == {
        d(6, 16): ["opened"],
        d(7, 28): [EXT + "due-in-7"],
        d(8, 3): [EXT + "due-in-1"],
        d(8, 5): [EXT + "overdue-1"],
        d(8, 7): ["contact-overdue-3"],
        d(8, 11): ["admins-overdue-7"],
        # the first weekly reminder would be on 12 August, after the window closed
    }
    assert superseded == []


def test_an_extension_granted_when_already_overdue_reminds_again_for_the_new_date():
    sent_on, superseded = travel(extended_to=d(8, 4), extension_granted_on=d(7, 25))
    assert sent_on == {
        d(6, 16): ["opened"],
        d(7, 14): ["due-in-7"],
        d(7, 20): ["due-in-1"],
        d(7, 22): ["overdue-1"],
        d(7, 24): ["contact-overdue-3"],
        # the extension is granted on 25 July: new reminders count from 4 August
        d(7, 28): [EXT + "due-in-7"],
        d(8, 3): [EXT + "due-in-1"],
        d(8, 5): [EXT + "overdue-1"],
        # the contact was told once this period already, so not again on 7 August
        d(8, 11): ["admins-overdue-7"],
    }
    assert superseded == []


def test_a_scheduler_down_for_ten_days_sends_one_catch_up_email():
    down = {d(7, 14) + timedelta(days=n) for n in range(10)}  # 14 to 23 July
    sent_on, superseded = travel(down=down)
    assert sent_on == {
        d(6, 16): ["opened"],
        # back on 24 July: three lead steps had come; only the latest goes out
        d(7, 24): ["overdue-1", "contact-overdue-3"],
        d(7, 28): ["admins-overdue-7"],
        d(7, 29): ["overdue-week-1"],
        d(8, 5): ["overdue-week-2"],
    }
    assert superseded == ["due-in-7", "due-in-1"]
    sent = [key for keys in sent_on.values() for key in keys]
    assert len(sent) == len(set(sent))
    assert set(sent) | set(superseded) == {step.key for step in q1_ladder()}


def test_catch_up_sends_each_audience_its_own_overdue_step():
    down = {d(7, 19) + timedelta(days=n) for n in range(10)}  # 19 to 28 July
    sent_on, superseded = travel(down=down)
    assert sent_on[d(7, 29)] == ["contact-overdue-3", "admins-overdue-7", "overdue-week-1"]
    assert superseded == ["due-in-1", "overdue-1"]


def test_catch_up_is_safe_even_if_the_caller_forgets_the_superseded_keys():
    down = {d(7, 14) + timedelta(days=n) for n in range(10)}
    sent_on, superseded = travel(down=down, record_superseded=False)
    sent = [key for keys in sent_on.values() for key in keys]
    assert "due-in-7" not in sent and "due-in-1" not in sent
    assert len(sent) == len(set(sent))
    # Reported again each day until the window closes; never sent.
    assert set(superseded) == {"due-in-7", "due-in-1"}


def test_a_reminder_that_the_return_is_due_soon_is_never_sent_once_it_is_overdue():
    # The first overdue reminder three days after the deadline: the scheduler, down on 20 July,
    # is back on the 22nd, when "due tomorrow" is no longer true and nothing newer has come.
    steps = q1_ladder(rules=LadderRules(days_after_due=3))
    sent = {"opened", "due-in-7"}
    for today in (d(7, 22), d(7, 23)):
        due = steps_due(
            ladder=steps, today=today, submitted=False, already_sent=sent, has_contact=True
        )
        assert due.send == []
        assert [step.key for step in due.superseded] == ["due-in-1"]
    # Caught up on the due date itself it still goes: "due today" is true and still useful.
    due = steps_due(ladder=steps, today=DUE, submitted=False, already_sent=sent, has_contact=True)
    assert [step.key for step in due.send] == ["due-in-1"]
    # And the first overdue reminder comes as usual.
    due = steps_due(
        ladder=steps, today=d(7, 24), submitted=False, already_sent=sent, has_contact=True
    )
    assert [step.key for step in due.send] == ["overdue-3", "contact-overdue-3"]


def test_an_opening_email_is_never_sent_once_the_return_is_overdue():
    # Down from before the window opened until after the deadline, with the first overdue
    # reminder a week late: "your return is open, due by 21 July" would be wrong on 23 July.
    steps = q1_ladder(rules=LadderRules(days_after_due=7, contact_after_days=None))
    due = steps_due(
        ladder=steps, today=d(7, 23), submitted=False, already_sent=(), has_contact=True
    )
    assert due.send == []
    assert [step.key for step in due.superseded] == ["opened", "due-in-7", "due-in-1"]


def test_a_scheduler_back_after_the_window_closed_sends_nothing():
    down = {d(8, 3) + timedelta(days=n) for n in range(10)}  # 3 to 12 August
    sent_on, superseded = travel(down=down)
    assert sent_on == {day: keys for day, keys in NEVER_SUBMITS.items() if day < d(8, 3)}
    assert superseded == []


def test_running_twice_a_day_sends_nothing_the_second_time():
    sent_on, superseded = travel(runs_per_day=2)
    assert sent_on == NEVER_SUBMITS
    assert superseded == []


def test_a_second_run_on_the_same_day_finds_nothing_due():
    steps = q1_ladder()
    already = {"opened", "due-in-7", "due-in-1"}
    first = steps_due(
        ladder=steps, today=d(7, 24), submitted=False, already_sent=already, has_contact=True
    )
    assert [step.key for step in first.send] == ["overdue-1", "contact-overdue-3"]
    already |= {step.key for step in first.send}
    second = steps_due(
        ladder=steps, today=d(7, 24), submitted=False, already_sent=already, has_contact=True
    )
    assert second == Due(send=[], superseded=[])


def test_a_contact_added_while_overdue_is_told_once():
    steps = q1_ladder()
    already = {"opened", "due-in-7", "due-in-1", "overdue-1"}
    kwargs = {"ladder": steps, "submitted": False, "already_sent": already}
    assert steps_due(today=d(7, 24), has_contact=False, **kwargs).send == []
    later = steps_due(today=d(7, 26), has_contact=True, **kwargs)
    assert [step.key for step in later.send] == ["contact-overdue-3"]


def test_nothing_is_due_after_the_window_closes():
    steps = q1_ladder()
    assert steps_due(
        ladder=steps,
        today=d(8, 12),
        submitted=False,
        already_sent=set(),
        has_contact=True,
        closes_on=CLOSES,
    ) == Due(send=[], superseded=[])


def test_steps_due_does_not_trust_the_order_it_is_given():
    steps = list(reversed(q1_ladder()))
    due = steps_due(
        ladder=steps, today=d(7, 24), submitted=False, already_sent=set(), has_contact=True
    )
    assert [step.key for step in due.send] == ["overdue-1", "contact-overdue-3"]
    assert [step.key for step in due.superseded] == ["opened", "due-in-7", "due-in-1"]


def test_a_ladder_with_a_key_twice_is_refused():
    step = ReminderStep("opened", "leads", ReminderKind.OPENED, OPENS)
    with pytest.raises(ValueError, match="own key"):
        steps_due(
            ladder=[step, step], today=OPENS, submitted=False, already_sent=(), has_contact=False
        )


def test_custom_rules():
    rules = LadderRules(
        remind_on_open=False,
        days_before_due=[14, 3],
        days_after_due=2,
        weekly_while_overdue=False,
        contact_after_days=None,
        admins_after_days=10,
    )
    assert rules.days_before_due == (14, 3)
    assert [(step.key, step.on) for step in q1_ladder(rules=rules)] == [
        ("due-in-14", d(7, 7)),
        ("due-in-3", d(7, 18)),
        ("overdue-2", d(7, 23)),
        ("admins-overdue-10", d(7, 31)),
    ]


def test_due_soon_reminders_never_come_before_the_window_opens():
    steps = ladder(
        opens_on=d(7, 16),
        due_on=d(7, 21),
        extended_to=None,
        closes_on=CLOSES,
        rules=LadderRules(),
    )
    assert [step.key for step in steps][:2] == ["opened", "due-in-1"]


def test_a_due_soon_reminder_on_opening_day_replaces_the_opening_email():
    steps = ladder(
        opens_on=d(7, 14), due_on=d(7, 21), extended_to=None, closes_on=CLOSES, rules=LadderRules()
    )
    assert [(step.key, step.on) for step in steps][:2] == [
        ("opened", d(7, 14)),
        ("due-in-7", d(7, 14)),
    ]
    due = steps_due(
        ladder=steps, today=d(7, 14), submitted=False, already_sent=(), has_contact=True
    )
    assert [step.key for step in due.send] == ["due-in-7"]
    assert [step.key for step in due.superseded] == ["opened"]


def test_an_extension_past_the_close_keeps_the_ladder_going_to_its_deadline():
    steps = q1_ladder(extended_to=d(8, 25))
    prefix = "extended-2024-08-25-"
    assert [(step.key, step.on) for step in steps] == [
        ("opened", d(6, 16)),
        (prefix + "due-in-7", d(8, 18)),
        (prefix + "due-in-1", d(8, 24)),
    ]


def test_an_extension_earlier_than_the_due_date_changes_nothing():
    assert q1_ladder(extended_to=d(7, 1)) == q1_ladder()
    assert q1_ladder(extended_to=DUE) == q1_ladder()


def test_a_window_out_of_order_is_refused():
    with pytest.raises(ValueError, match="opens, then falls due, then closes"):
        ladder(
            opens_on=d(7, 22), due_on=DUE, extended_to=None, closes_on=CLOSES, rules=LadderRules()
        )


@pytest.mark.parametrize(
    "rules",
    [
        {"days_before_due": (7, 0)},
        {"days_before_due": (7, 7)},
        {"days_before_due": (True,)},
        {"days_after_due": 0},
        {"contact_after_days": -1},
        {"admins_after_days": 0},
        {"admins_after_days": 2.5},
    ],
)
def test_bad_rules_are_refused(rules):
    with pytest.raises(ValueError):
        LadderRules(**rules)


def test_rules_are_frozen_and_hashable():
    rules = LadderRules()
    with pytest.raises(FrozenInstanceError):
        rules.days_after_due = 2
    assert hash(rules) == hash(LadderRules(days_before_due=[7, 1]))


@settings(max_examples=60, deadline=None)
@given(
    down=st.sets(st.sampled_from(SUMMER), max_size=40),
    submitted_on=st.none() | st.sampled_from(SUMMER),
    extended_days=st.none() | st.integers(min_value=1, max_value=30),
    has_contact=st.booleans(),
)
def test_whatever_the_outages_no_step_twice_and_one_lead_email_a_day(
    down, submitted_on, extended_days, has_contact
):
    extended_to = DUE + timedelta(days=extended_days) if extended_days else None
    steps = q1_ladder(extended_to)
    leads = {step.key for step in steps if step.audience == "leads"}
    sent_on, superseded = travel(
        down=down, submitted_on=submitted_on, extended_to=extended_to, has_contact=has_contact
    )
    sent = [key for keys in sent_on.values() for key in keys]
    assert len(sent) == len(set(sent))
    assert not set(sent) & set(superseded)
    for day, keys in sent_on.items():
        assert len([key for key in keys if key in leads]) <= 1
        assert submitted_on is None or day < submitted_on
        assert day <= max(CLOSES, extended_to or DUE)
