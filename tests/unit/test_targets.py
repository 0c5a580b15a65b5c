"""Targets and deadlines read from a commitment's wording."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.hangs import HANG_SECONDS
from tracker.domain.targets import ExtractedTarget, extract_target

SEED = Path(__file__).resolve().parents[2] / "seed" / "luton-2040-pledges.txt"


def stretched(seed: str) -> str:
    """20,000 characters of a short text repeated: the way a regex gets pushed into backtracking."""
    return (seed * (20_000 // len(seed) + 1))[:20_000]


def seed_bullets() -> list[tuple[int, str]]:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    return [(n, line[2:].strip()) for n, line in enumerate(lines, 1) if line.startswith("- ")]


# Deadlines: the contract -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "due", "due_text"),
    [
        ("We will be net zero by 2040", date(2040, 12, 31), "by 2040"),
        ("Open the new centre by March 2027", date(2027, 3, 31), "by March 2027"),
        ("Launch the plan by the end of 2025", date(2025, 12, 31), "by the end of 2025"),
        ("deliver neighbourhood working during 2024", date(2024, 12, 31), "during 2024"),
        ("We will launch the hub in 2025", date(2025, 12, 31), "in 2025"),
        (
            "building 400 new affordable homes in Luton between 2024 and 2040",
            date(2040, 12, 31),
            "between 2024 and 2040",
        ),
        (
            "Achieve net-zero emissions across our operations by 2050 at the latest",
            date(2050, 12, 31),
            "by 2050 at the latest",
        ),
        ("ensure the health system in Luton is net zero by 2040", date(2040, 12, 31), "by 2040"),
        ("Halve food waste by 2030/31", date(2031, 3, 31), "by 2030/31"),
        ("Halve food waste by 2030/2031", date(2031, 3, 31), "by 2030/2031"),
        ("Q1 2025", date(2025, 3, 31), "Q1 2025"),
        ("Publish the plan in Q1 2025", date(2025, 3, 31), "in Q1 2025"),
        ("Publish the plan by Q4 2025", date(2025, 12, 31), "by Q4 2025"),
        ("Publish the plan in Q1 2024/25", date(2024, 6, 30), "in Q1 2024/25"),
        ("Publish the plan in 2024/25 Q4", date(2025, 3, 31), "in 2024/25 Q4"),
        ("Recruit a lead by 15 May 2026", date(2026, 5, 15), "by 15 May 2026"),
        ("Review the scheme until 2030", date(2030, 12, 31), "until 2030"),
        ("Hold events throughout 2026", date(2026, 12, 31), "throughout 2026"),
        ("Finish the audit no later than June 2026", date(2026, 6, 30), "no later than June 2026"),
        ("Finish the audit by end of June 2026", date(2026, 6, 30), "by end of June 2026"),
        (
            "by the end of the financial year 2025/26",
            date(2026, 3, 31),
            "by the end of the financial year 2025/26",
        ),
        ("plant trees from 2024 to 2040", date(2040, 12, 31), "from 2024 to 2040"),
        ("plant trees between 2024–2040", date(2040, 12, 31), "between 2024–2040"),
    ],
)
def test_a_stated_deadline_becomes_the_last_day_of_what_was_stated(text, due, due_text):
    result = extract_target(text)

    assert (result.due, result.due_text) == (due, due_text)


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("by February 2028", date(2028, 2, 29)),
        ("by February 2027", date(2027, 2, 28)),
        ("by February 2100", date(2100, 2, 28)),  # divisible by 100, not by 400: no leap day
        ("by February 2000", date(2000, 2, 29)),
        ("by 29 February 2024", date(2024, 2, 29)),
        ("before March 2028", date(2028, 2, 29)),
        ("before March 2027", date(2027, 2, 28)),
    ],
)
def test_february_knows_leap_years(text, due):
    assert extract_target(text).due == due


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("before 2030", date(2029, 12, 31)),
        ("before June 2026", date(2026, 5, 31)),
        ("before 1 June 2026", date(2026, 5, 31)),
        ("before Q2 2026", date(2026, 3, 31)),
    ],
)
def test_before_means_the_day_before(text, due):
    assert extract_target(text).due == due


@pytest.mark.parametrize(
    "text",
    [
        "within 12 months",
        "n the first 12 months we will develop our single point of access",
        "in the first 12 months",
        "Over the next two years we will embed co-production",
        "Over the next five years we will meet challenges",
        "by 29 February 2025",  # no such day: claim nothing rather than guess
        "by 31 June 2026",
        "by 1999",
        "by 2101",
        "in the 2030s",
        "Halve food waste by 2030/2035",  # not a financial year
    ],
)
def test_relative_impossible_or_out_of_range_dates_give_no_deadline(text):
    assert extract_target(text).due is None


@pytest.mark.parametrize(
    "text",
    [
        "deliver the Luton 2040 vision",
        "contribute to the Luton 2040 Pledge",
        "help deliver Luton 2040",
        "As a people's movement, we pledge to support the 2040 vision",
        "be ambassadors for Lutons 2040 Vision",
        "bring back to Lutons 2040 team ideas and initiatives",
        "in Luton 2040 priorities",
        "work in the 2040 vision",
        "including over 2,600 people employed in Luton",
        "community business woman of the year (2019), Award winning HWL (2019/20);",
    ],
)
def test_luton_2040_and_bare_numbers_are_never_deadlines(text):
    assert extract_target(text) == ExtractedTarget(None, None, None, None, None, None, None)


@pytest.mark.parametrize(
    "text",
    [
        "The pledge will be reviewed quarterly commencing Q1 (end of June) 2024",
        "The pledge will be reviewed quarterly commencing Q1 2024",
        "Running from 2025",
        "Open every week starting in 2025",
        "for example in 2021 we introduced beehives and a pollinator garden",
        "In March 2021 we launched the hub",
    ],
)
def test_starts_and_past_reports_are_not_deadlines(text):
    assert extract_target(text).due is None


def test_a_plan_for_this_year_in_the_present_tense_is_a_deadline():
    result = extract_target("In 2024 we are looking to launch monthly dementia coffee mornings")

    assert (result.due, result.due_text) == (date(2024, 12, 31), "In 2024")


def test_the_latest_of_several_deadlines_wins():
    result = extract_target("halve our emissions by 2030 and reach net zero by 2040")

    assert (result.due, result.due_text) == (date(2040, 12, 31), "by 2040")


def test_any_whitespace_counts_as_a_space():
    assert extract_target("net zero by\u00a02040").due == date(2040, 12, 31)
    assert extract_target("by the end\r\nof 2025").due_text == "by the end of 2025"


# Target values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "unit", "metric", "baseline", "direction"),
    [
        (
            "building 400 new affordable homes in Luton between 2024 and 2040",
            Decimal(400),
            "homes",
            "new affordable homes",
            None,
            "increase",
        ),
        (
            "ensuring more than 90% of our site and office staff come from the immediate area",
            Decimal(90),
            "%",
            "site and office staff",
            None,
            "increase",
        ),
        (
            "increase the proportion of local staff from 60% to 90%",
            Decimal(90),
            "%",
            "proportion of local staff",
            Decimal(60),
            "increase",
        ),
        (
            "reduce our carbon emissions by 50% by 2030",
            Decimal(50),
            "%",
            "carbon emissions",
            None,
            "decrease",
        ),
        (
            "increase local spend to £2 million",
            Decimal(2_000_000),
            "£",
            "local spend",
            None,
            "increase",
        ),
        (
            "plant at least 1,000 trees across the town",
            Decimal(1000),
            "trees",
            "trees",
            None,
            "increase",
        ),
        (
            "We will employ 30 apprentices each year",
            Decimal(30),
            "apprentices",
            "apprentices",
            None,
            "increase",
        ),
        ("raise £1.5m for local charities", Decimal(1_500_000), "£", None, None, "increase"),
        (
            "We will ensure that less than 10% of our waste goes to landfill",
            Decimal(10),
            "%",
            "waste",
            None,
            "decrease",
        ),
        (
            "Our aim is that more than 75% of suppliers are local",
            Decimal(75),
            "%",
            "suppliers",
            None,
            "increase",
        ),
        (
            "cut waiting times from 18 to 12 weeks",
            Decimal(12),
            "weeks",
            "waiting times",
            Decimal(18),
            "decrease",
        ),
        (
            "increase the number of apprentices from 10 to 25.5",
            Decimal("25.5"),
            "apprentices",
            "number of apprentices",
            Decimal(10),
            "increase",
        ),
    ],
)
def test_a_committed_number_is_a_target(text, value, unit, metric, baseline, direction):
    result = extract_target(text)

    assert (result.value, result.unit, result.metric, result.baseline, result.direction) == (
        value,
        unit,
        metric,
        baseline,
        direction,
    )


@pytest.mark.parametrize(
    "text",
    [
        # TUI's intro: a description of today, not a promise.
        (
            "At TUI, our commitment is driven by our amazing colleagues, including over 2,600 "
            "people employed in Luton who help bring customer travel experiences to life."
        ),
        "Over 60% of our staff live locally",
        "We employ 300 people",
        "we currently support 2,000 families",
        "Our 4 priority audiences",
        "creating a whole system approach across Luton to our 4 priority audiences",
        "open 7 days a week",
        "providing 24/7 support",
        "increase the rates of MMR vaccination uptake in children under five",
        "reduce emissions to 2030 levels",
        "support students with their post 16 choices",
        "deliver 2040",
        "Net zero by 2040",
    ],
)
def test_descriptions_durations_and_years_are_not_targets(text):
    result = extract_target(text)

    assert (result.value, result.unit, result.metric, result.baseline, result.direction) == (
        None,
        None,
        None,
        None,
        None,
    )


# The real page -----------------------------------------------------------------------------

# Every seed bullet that states a target or a deadline, by line number, for a person to check.
SEED_EXTRACTIONS = {
    71: ExtractedTarget(None, None, None, None, None, date(2040, 12, 31), "by 2040"),
    79: ExtractedTarget(None, None, None, None, None, date(2024, 12, 31), "during 2024"),
    82: ExtractedTarget(None, None, None, None, None, date(2024, 12, 31), "during 2024"),
    123: ExtractedTarget(None, None, None, None, None, date(2040, 12, 31), "by 2040"),
    187: ExtractedTarget(
        Decimal(400),
        "homes",
        "new affordable homes",
        None,
        "increase",
        date(2040, 12, 31),
        "between 2024 and 2040",
    ),
    206: ExtractedTarget(None, None, None, None, None, date(2040, 12, 31), "by 2040"),
    332: ExtractedTarget(Decimal(90), "%", "site and office staff", None, "increase", None, None),
    379: ExtractedTarget(None, None, None, None, None, date(2024, 12, 31), "In 2024"),
    400: ExtractedTarget(None, None, None, None, None, date(2050, 12, 31), "by 2050 at the latest"),
}


def test_what_the_seed_states_and_nothing_more():
    stated = {
        number: result
        for number, bullet in seed_bullets()
        if (result := extract_target(bullet)) != ExtractedTarget(*[None] * 7)
    }

    assert stated == SEED_EXTRACTIONS


def test_no_seed_bullet_gets_a_deadline_from_luton_2040():
    mentions = 0
    for _, bullet in seed_bullets():
        result = extract_target(bullet)
        if "2040" in bullet and "Luton 2040" in bullet:
            mentions += 1
        if result.due is not None:
            assert "luton" not in result.due_text.lower()
        if "by 2040" not in bullet and "and 2040" not in bullet:
            assert result.due != date(2040, 12, 31), bullet

    assert mentions >= 1  # the page does say "Luton 2040" in its bullets


# Any input ---------------------------------------------------------------------------------


def check_sane(result: ExtractedTarget) -> None:
    assert result.direction in {None, "increase", "decrease"}
    assert (result.due is None) == (result.due_text is None)
    if result.due is not None:
        assert date(1999, 12, 31) <= result.due <= date(2100, 12, 31)
    if result.value is None:
        assert result.direction is None and result.baseline is None
    else:
        assert result.value >= 0 and result.direction is not None


@settings(database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_text_is_read_without_error(text):
    check_sane(extract_target(text))


@settings(database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "by", "before", "in", "during", "the end of", "between", "and", "from", "to",
                "2024", "2040", "2030/31", "2100", "1999", "Q1", "March", "February", "29",
                "increase", "reduce", "more than", "at least", "deliver", "ensuring", "by",
                "400", "2,600", "90%", "£1.5m", "homes", "people", "Luton", "vision", ".", ",",
                "/", "we", "introduced", "at the latest", "commencing",
            ]
        ),
        max_size=25,
    )
)  # fmt: skip
def test_any_jumble_of_date_and_number_words_is_read_without_error(words):
    check_sane(extract_target(" ".join(words)))


# The repeated seed, not the 20,000 characters, is what Hypothesis shows when this fails.
@settings(database=None, deadline=None, max_examples=25)
@given(st.text(min_size=1, max_size=300))
def test_long_texts_are_read_without_error(seed):
    text = stretched(seed)
    started = time.perf_counter()
    check_sane(extract_target(text))
    assert time.perf_counter() - started < HANG_SECONDS


@pytest.mark.parametrize(
    "text",
    [
        "\x00" * 20_000,
        "1" * 20_000,
        "1," * 10_000,
        "1,000" * 4_000,
        "by " * 7_000,
        "by the end of " * 1_500,
        "increase the a b c d e f g to " * 650,
        "will more than 5% " * 1_100,
        "ensuring 5% " * 1_600,
        "in 2024/25 " * 1_800,
        "between 2024 and " * 1_100,
        "£1" * 10_000,
        "reduce \n" * 2_500,
        "q1 " * 6_600,
        "delivering more than " * 950,
        "deliver " + "1" * 19_000 + " homes",
        "increase spend to " + "9" * 19_000,
        "we will ensure more than " + "9" * 19_000 + "%",
        "raise £" + "1," * 9_000 + "m",
    ],
)
def test_adversarial_long_text_is_quick(text):
    started = time.perf_counter()
    extract_target(text)
    assert time.perf_counter() - started < HANG_SECONDS
