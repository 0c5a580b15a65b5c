"""What changed in a commitment's update between two snapshots, as a reviewer reads it."""

from decimal import Decimal

from tracker.domain.history import changes_between, target_text


def snapshot(**fields):
    base = {
        "status": "on_track",
        "progress_value": "120",
        "narrative": "Going well.",
        "evidence_url": None,
        "evidence_files": [],
        "risks": None,
        "no_change": False,
        "target": {
            "value": "400",
            "baseline": "0",
            "direction": "increase",
            "unit": "homes",
            "due": "2027-03-31",
        },
    }
    base.update(fields)
    return base


def test_nothing_changed_says_so():
    assert changes_between(snapshot(), snapshot()) == []


def test_rewrapped_text_and_equal_numbers_are_not_changes():
    assert changes_between(snapshot(), snapshot(narrative="Going\n  well. ")) == []
    assert changes_between(snapshot(), snapshot(progress_value="120.0000")) == []


def test_status_figure_and_evidence_read_in_words():
    changes = changes_between(
        snapshot(),
        snapshot(
            status="at_risk",
            progress_value="150",
            evidence_url="https://example.org/report",
            evidence_files=["report.pdf"],
        ),
    )
    assert [(c.label, c.before, c.after) for c in changes] == [
        ("Status", "On track", "At risk"),
        ("Progress", "120 homes", "150 homes"),
        ("Evidence", None, "https://example.org/report, report.pdf"),
    ]
    assert not any(c.moved_goalpost for c in changes)


def test_a_moved_target_is_flagged_as_a_moved_goalpost():
    moved = snapshot(target={**snapshot()["target"], "value": "500"})
    [change] = changes_between(snapshot(), moved)
    assert change.field == "target" and change.moved_goalpost
    assert change.before == "400 homes by 31 March 2027, from 0 homes"
    assert change.after == "500 homes by 31 March 2027, from 0 homes"


def test_setting_a_target_for_the_first_time_is_not_a_moved_goalpost():
    before = snapshot(target={"value": None, "baseline": None, "direction": None, "unit": None})
    [change] = changes_between(before, snapshot())
    assert change.field == "target" and not change.moved_goalpost and change.before is None


def test_narratives_are_long_text_and_a_missing_snapshot_is_empty():
    [change] = changes_between(snapshot(), snapshot(narrative="Slipping: a supplier left."))
    assert change.long_text and change.before == "Going well."
    added = changes_between(None, snapshot(target={}))
    assert [c.field for c in added] == ["status", "progress_value", "narrative"]


def test_target_text_reads_percentages_and_falls():
    assert target_text(None, None, None, None, None) is None
    assert (
        target_text(None, None, None, "%", "2040-12-31") == "No target figure by 31 December 2040"
    )
    assert target_text(Decimal(20), Decimal(35), "decrease", "%", None) == (
        "20%, from 35% (to go down)"
    )
