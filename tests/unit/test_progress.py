"""Percentage complete toward a numeric target, both directions, clipped and rounded."""

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.domain.enums import Direction
from tracker.domain.progress import percent_complete, progress_label

D = Decimal
UP = Direction.INCREASE
DOWN = Direction.DECREASE


def pct(baseline, target, current, direction=None):
    return percent_complete(
        baseline=None if baseline is None else D(baseline),
        target=D(target),
        current=None if current is None else D(current),
        direction=direction,
    )


@pytest.mark.parametrize(
    ("baseline", "target", "current", "direction", "expected"),
    [
        ("0", "400", "100", UP, "25.0"),  # 400 new homes, 100 built
        ("60", "90", "75", UP, "50.0"),  # "from 60% to 90%"
        ("1000", "500", "750", DOWN, "50.0"),  # emissions down from 1,000 t to 500 t
        ("1000", "500", "900", DOWN, "20.0"),
        ("1000", "0", "250", DOWN, "75.0"),  # net zero
        ("0", "3", "1", UP, "33.3"),
        ("0", "3", "2", UP, "66.7"),
        ("0", "400", "1", UP, "0.3"),  # 0.25 rounds half up (bankers' rounding would give 0.2)
        ("0", "8", "1", UP, "12.5"),
        ("0", "1000", "455", UP, "45.5"),
        ("0", "1000", "0.5", UP, "0.1"),  # 0.05% rounds half up to 0.1
        ("0", "1000", "0.49", UP, "0.0"),
    ],
)
def test_share_of_the_way(baseline, target, current, direction, expected):
    assert pct(baseline, target, current, direction) == D(expected)


def test_results_have_one_decimal_place():
    result = pct("0", "400", "100", UP)
    assert result.as_tuple().exponent == -1
    assert str(pct("0", "10", "10", UP)) == "100.0"


@pytest.mark.parametrize(
    ("baseline", "target", "current", "direction", "expected"),
    [
        ("0", "400", "520", UP, "100.0"),  # overshoot
        ("60", "90", "50", UP, "0.0"),  # went backwards past the baseline
        ("1000", "500", "300", DOWN, "100.0"),  # cut further than promised
        ("1000", "500", "1200", DOWN, "0.0"),  # emissions rose
        ("-10", "10", "-30", UP, "0.0"),  # negative baselines work too
    ],
)
def test_clipped_to_0_and_100(baseline, target, current, direction, expected):
    assert pct(baseline, target, current, direction) == D(expected)


def test_direction_is_read_from_the_numbers_when_not_set():
    assert pct("0", "400", "100") == D("25.0")
    assert pct("1000", "500", "750") == D("50.0")
    assert pct(None, "400", "100") == D("25.0")


def test_direction_may_be_given_as_its_stored_string():
    assert pct("1000", "500", "750", "decrease") == D("50.0")


def test_no_baseline_means_zero_for_an_increase():
    assert pct(None, "400", "100", UP) == D("25.0")
    assert pct(None, "400", "0", UP) == D("0.0")


def test_no_baseline_for_a_decrease_cannot_be_known():
    assert pct(None, "500", "750", DOWN) is None
    assert pct(None, "0", "10", DOWN) is None


def test_a_zero_baseline_is_a_real_baseline():
    assert pct("0", "0", "0", DOWN) == D("100.0")
    assert pct("0", "50", "50", UP) == D("100.0")


def test_target_equal_to_baseline_is_reached_or_not():
    assert pct("100", "100", "100", UP) == D("100.0")
    assert pct("100", "100", "120", UP) == D("100.0")
    assert pct("100", "100", "99", UP) == D("0.0")
    assert pct("100", "100", "90", DOWN) == D("100.0")
    assert pct("100", "100", "101", DOWN) == D("0.0")
    assert pct("100", "100", "100", None) == D("100.0")  # read as an increase


def test_no_current_value_is_unknown():
    assert pct("0", "400", None, UP) is None


def test_a_direction_that_contradicts_the_numbers_is_unknown():
    assert pct("1000", "500", "750", UP) is None
    assert pct("0", "400", "100", DOWN) is None


def test_non_finite_numbers_are_unknown():
    assert pct("0", "400", "NaN", UP) is None
    assert pct("0", "Infinity", "1", UP) is None
    assert pct("NaN", "400", "1", UP) is None


def test_decimal_precision_survives_large_amounts_and_a_tight_context():
    # Numeric(18, 4): 14 integer digits and 4 decimals.
    baseline, target = D("12345678901234.0000"), D("12345678901235.0000")
    current = D("12345678901234.4500")
    with localcontext() as context:
        context.prec = 6  # a caller's careless context must not change the answer
        assert percent_complete(
            baseline=baseline, target=target, current=current, direction=UP
        ) == D("45.0")
    assert percent_complete(
        baseline=D("0.0001"), target=D("0.0004"), current=D("0.0002"), direction=UP
    ) == D("33.3")


def test_ints_and_floats_are_accepted():
    assert percent_complete(baseline=0, target=400, current=100, direction=UP) == D("25.0")
    assert percent_complete(baseline=0.1, target=0.3, current=0.2, direction=UP) == D("50.0")


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (D("45.5"), "45.5% of the way"),
        (D("50.0"), "50% of the way"),
        (D("100"), "100% of the way"),
        (D("0.0"), "0% of the way"),
        (D("33.33"), "33.3% of the way"),
        (None, "Not measured"),
    ],
)
def test_progress_label(value, label):
    assert progress_label(value) == label


amounts = st.decimals(
    min_value=D("-1e12"), max_value=D("1e12"), places=4, allow_nan=False, allow_infinity=False
)


@given(
    baseline=st.none() | amounts,
    target=amounts,
    current=st.none() | amounts,
    direction=st.none() | st.sampled_from(Direction),
)
def test_always_within_0_and_100_or_unknown(baseline, target, current, direction):
    result = percent_complete(
        baseline=baseline, target=target, current=current, direction=direction
    )
    assert result is None or D(0) <= result <= D(100)
    if result is not None:
        assert result == result.quantize(D("0.1"))
        assert progress_label(result).endswith("% of the way")


@given(baseline=amounts, target=amounts, current=amounts)
def test_reaching_the_target_is_always_100(baseline, target, current):
    assert percent_complete(baseline=baseline, target=target, current=target, direction=None) == D(
        "100.0"
    )
    assert percent_complete(baseline=baseline, target=target, current=baseline, direction=None) in {
        D("0.0"),
        D("100.0"),
    }
