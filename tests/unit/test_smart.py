from datetime import date

from tracker.domain.smart import ADVICE, LETTERS, smart_score


def test_nothing_filled_scores_zero():
    score = smart_score(
        title=None, metric=None, target_value=None, owner=None, priority=None, target_date=None
    )
    assert score.score == 0
    assert score.missing == tuple(LETTERS)
    assert set(ADVICE) == set(LETTERS)


def test_everything_filled_is_smart():
    score = smart_score(
        title="400 new affordable homes",
        metric="affordable homes completed",
        target_value=400,
        owner="Head of Development",
        priority="inclusive-economy",
        target_date=date(2040, 12, 31),
    )
    assert score.is_smart
    assert score.score == 5


def test_measurable_needs_both_a_metric_and_a_value():
    common = {"title": "t", "owner": "o", "priority": 1, "target_date": None}
    assert "M" in smart_score(metric="homes", target_value=None, **common).missing
    assert "M" in smart_score(metric=" ", target_value=4, **common).missing
    assert "M" not in smart_score(metric="homes", target_value=0, **common).missing


def test_a_whole_paragraph_is_not_a_specific_title():
    common = {"metric": None, "target_value": None, "owner": None, "priority": None}
    long_title = "We will work with partners " * 10
    assert "S" in smart_score(title=long_title, target_date=None, **common).missing
    assert (
        "S" not in smart_score(title="Pay the Real Living Wage", target_date=None, **common).missing
    )
