"""The rules of one quarterly commitment update: checks, tags, carry-forward, grade, stalling."""

from decimal import Decimal

import pytest

from tracker.domain.enums import DeliveryStatus, EvidenceGrade
from tracker.domain.updates import (
    CarriedForward,
    PreviousUpdate,
    StatusPoint,
    UpdateProblem,
    carry_forward,
    check_update,
    current_status,
    evidence_grade,
    is_stalled,
    no_change_holds,
    status_tag,
)

S = DeliveryStatus
D = Decimal


def check(**changes):
    fields = {
        "status": S.ON_TRACK,
        "narrative": None,
        "progress_value": None,
        "has_numeric_target": True,
        "evidence_url": None,
        "risks": None,
    }
    fields.update(changes)
    return check_update(**fields)


def messages(problems):
    return {problem.field: problem.message for problem in problems}


def test_a_plain_on_track_update_is_fine():
    assert check() == []
    assert check(progress_value=D("120.5"), evidence_url="https://example.org/report") == []


def test_status_is_required():
    assert check(status=None) == [UpdateProblem("status", "Select how the commitment is going")]
    assert messages(check(status=""))["status"] == "Select how the commitment is going"


def test_a_tampered_status_is_no_answer_not_a_crash():
    assert messages(check(status="going-great"))["status"] == "Select how the commitment is going"


def test_status_may_be_its_stored_string():
    assert check(status="completed") == []


@pytest.mark.parametrize("status", [S.AT_RISK, S.OFF_TRACK])
@pytest.mark.parametrize("narrative", [None, "", "   \r\n  "])
def test_at_risk_and_off_track_need_an_explanation(status, narrative):
    assert check(status=status, narrative=narrative) == [
        UpdateProblem("narrative", "Explain what is holding the commitment back")
    ]
    assert check(status=status, narrative="Funding fell through") == []


def test_discontinued_needs_a_reason():
    assert messages(check(status=S.DISCONTINUED, narrative=" ")) == {
        "narrative": "Give the reason the commitment was discontinued"
    }
    assert check(status=S.DISCONTINUED, narrative="Merged into the travel plan") == []


@pytest.mark.parametrize("status", [S.NOT_STARTED, S.ON_TRACK, S.COMPLETED])
def test_other_statuses_need_no_narrative(status):
    assert check(status=status, narrative=None) == []


def test_narrative_length_limit_counts_a_line_break_once():
    assert check(narrative="x" * 5_000) == []
    assert messages(check(narrative="x" * 5_001)) == {
        "narrative": "Progress update must be 5,000 characters or less"
    }
    # 2,500 lines typed in a browser arrive as CRLF: 4,999 characters as the user counts them.
    assert check(narrative="\r\n".join(["x"] * 2_500)) == []


def test_risks_length_limit():
    assert check(risks="r" * 2_000) == []
    assert messages(check(risks="r" * 2_001)) == {
        "risks": "Risks and support needed must be 2,000 characters or less"
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (D("-1"), "Progress value must be 0 or more"),
        (D("-0.0001"), "Progress value must be 0 or more"),
        (D("1e12"), "Progress value must be less than 1,000,000,000,000"),
        (D("0.00001"), "Progress value must have 4 decimal places or fewer"),
        (D("NaN"), "Progress value must be a number"),
        (D("Infinity"), "Progress value must be a number"),
    ],
)
def test_progress_value_problems(value, message):
    assert check(progress_value=value) == [UpdateProblem("progress_value", message)]


@pytest.mark.parametrize(
    "value", [D("0"), D("0.0001"), D("999999999999.9999"), D("1.50000"), D("4E+2")]
)
def test_progress_values_that_fit(value):
    assert check(progress_value=value) == []


def test_progress_value_is_optional_but_only_with_a_numeric_target():
    assert check(progress_value=None, has_numeric_target=True) == []
    assert check(progress_value=None, has_numeric_target=False) == []
    assert messages(check(progress_value=D("5"), has_numeric_target=False)) == {
        "progress_value": "Leave progress value empty: this commitment has no numeric target"
    }


@pytest.mark.parametrize(
    "url",
    [
        "https://www.example.org/report.pdf",
        "http://example.org",
        "HTTPS://EXAMPLE.ORG/x?y=1#z",
        "https://[::1]:8443/evidence",
        "  https://example.org/padded  ",
        None,
        "",
        "   ",
    ],
)
def test_evidence_links_that_are_fine(url):
    assert check(evidence_url=url) == []


@pytest.mark.parametrize(
    "url",
    [
        "www.example.org/report",
        "example.org",
        "ftp://example.org/report",
        "javascript:alert(1)",
        "https://",
        "https:///path-only",
        "https://user@",
        "https://example.org:port/x",
        "https://example .org/x",
        "mailto:someone@example.org",
    ],
)
def test_evidence_links_that_are_not(url):
    assert messages(check(evidence_url=url)) == {
        "evidence_url": (
            "Enter the evidence link in the correct format, like https://www.example.org/report"
        )
    }


def test_evidence_link_length_limit():
    base = "https://example.org/"
    assert check(evidence_url=base + "a" * (2_000 - len(base))) == []
    assert messages(check(evidence_url=base + "a" * (2_001 - len(base)))) == {
        "evidence_url": "Evidence link must be 2,000 characters or less"
    }


def test_problems_follow_the_order_of_the_form_one_per_field():
    problems = check(
        status=None,
        narrative="n" * 6_000,
        progress_value=D("-3"),
        evidence_url="nope",
        risks="r" * 3_000,
        file_count=11,
    )
    assert [problem.field for problem in problems] == [
        "status",
        "progress_value",
        "narrative",
        "evidence_url",
        "evidence_file",
        "risks",
    ]


def test_a_draft_may_lack_a_status_and_an_explanation():
    assert check(status=None, draft=True) == []
    assert check(status=S.AT_RISK, narrative=None, draft=True) == []
    assert check(status=S.DISCONTINUED, narrative=" ", draft=True) == []


def test_a_draft_still_refuses_what_is_malformed():
    problems = check(
        status=None,
        narrative="n" * 6_000,
        progress_value=D("-3"),
        evidence_url="javascript:alert(1)",
        risks="r" * 3_000,
        file_count=11,
        draft=True,
    )
    assert [problem.field for problem in problems] == [
        "progress_value",
        "narrative",
        "evidence_url",
        "evidence_file",
        "risks",
    ]


def test_an_update_holds_up_to_ten_files():
    assert check(file_count=10) == []
    assert messages(check(file_count=11)) == {
        "evidence_file": "An update can have up to 10 files: remove one before you add another"
    }


@pytest.mark.parametrize(
    ("status", "label", "css"),
    [
        (S.NOT_STARTED, "Not started", "govuk-tag--grey"),
        (S.ON_TRACK, "On track", "govuk-tag--green"),
        (S.AT_RISK, "At risk", "govuk-tag--yellow"),
        (S.OFF_TRACK, "Off track", "govuk-tag--red"),
        (S.COMPLETED, "Completed", "govuk-tag--blue"),
        (S.DISCONTINUED, "Discontinued", "govuk-tag--grey"),
        ("on_track", "On track", "govuk-tag--green"),
    ],
)
def test_status_tag(status, label, css):
    assert status_tag(status) == (label, css)


def test_every_status_has_a_tag():
    for status in DeliveryStatus:
        label, css = status_tag(status)
        assert label and css.startswith("govuk-tag--")


def test_no_change_without_a_previous_update_is_not_started():
    assert carry_forward(None) == CarriedForward(
        status=S.NOT_STARTED,
        progress_value=None,
        narrative=None,
        evidence_url=None,
        risks=None,
        unchanged_quarters=1,
        no_change=True,
    )


def test_no_change_copies_the_previous_update_and_counts_the_quarter():
    previous = PreviousUpdate(
        status=S.AT_RISK,
        progress_value=D("120"),
        narrative="Waiting for the grant decision",
        evidence_url="https://example.org/q1",
        risks="Grant may not come",
        unchanged_quarters=0,
    )
    carried = carry_forward(previous)
    assert carried.status is S.AT_RISK
    assert carried.progress_value == D("120")
    # At risk must stay explained, or the update could not be saved.
    assert carried.narrative == "Waiting for the grant decision"
    assert carried.evidence_url == "https://example.org/q1"
    assert carried.risks == "Grant may not come"
    assert carried.no_change
    assert carried.unchanged_quarters == 1


def test_the_run_of_unchanged_quarters_grows():
    first = carry_forward(PreviousUpdate(status=S.ON_TRACK, progress_value=D("5")))
    second = carry_forward(
        PreviousUpdate(
            status=first.status,
            progress_value=first.progress_value,
            unchanged_quarters=first.unchanged_quarters,
        )
    )
    assert (first.unchanged_quarters, second.unchanged_quarters) == (1, 2)
    assert check(status=second.status, progress_value=second.progress_value) == []


def test_no_change_holds_while_last_quarter_says_the_same():
    first = PreviousUpdate(status=S.ON_TRACK, progress_value=D("40"), narrative="Forty staff")
    carried = carry_forward(first)
    assert no_change_holds(carried, first)
    # The same figure written differently is the same answer; a later run count is no change.
    assert no_change_holds(carried, PreviousUpdate(**{**vars(first), "progress_value": D("40.0")}))
    assert no_change_holds(carried, PreviousUpdate(**{**vars(first), "unchanged_quarters": 3}))


@pytest.mark.parametrize(
    "corrected",
    [
        {"status": S.OFF_TRACK, "narrative": "Paused by our board"},
        {"progress_value": D("35")},
        {"narrative": "Thirty-five staff"},
        {"evidence_url": "https://example.org/wages"},
        {"risks": "The budget"},
    ],
)
def test_no_change_no_longer_holds_once_last_quarter_says_otherwise(corrected):
    first = PreviousUpdate(status=S.ON_TRACK, progress_value=D("40"), narrative="Forty staff")
    carried = carry_forward(first)
    assert not no_change_holds(carried, PreviousUpdate(**{**vars(first), **corrected}))


def test_no_change_from_nothing_holds_until_last_quarter_has_an_answer():
    carried = carry_forward(None)
    assert no_change_holds(carried, None)
    assert not no_change_holds(carried, PreviousUpdate(status=S.ON_TRACK))
    # And one carried from an answer since sent back (no longer last quarter's) does not hold.
    assert not no_change_holds(carry_forward(PreviousUpdate(status=S.ON_TRACK)), None)


def test_current_status_is_the_latest_accepted():
    assert current_status([S.OFF_TRACK, S.ON_TRACK]) is S.OFF_TRACK
    assert current_status(["completed"]) is S.COMPLETED
    assert current_status([]) is S.NOT_STARTED
    assert current_status(iter([S.AT_RISK])) is S.AT_RISK


@pytest.mark.parametrize(
    ("url", "has_file", "verified", "grade"),
    [
        (None, False, False, EvidenceGrade.SELF_DECLARED),
        ("  ", False, False, EvidenceGrade.SELF_DECLARED),
        ("https://example.org", False, False, EvidenceGrade.EVIDENCE_ATTACHED),
        (None, True, False, EvidenceGrade.EVIDENCE_ATTACHED),
        ("https://example.org", True, True, EvidenceGrade.VERIFIED),
        (None, False, True, EvidenceGrade.VERIFIED),  # an admin confirmed it another way
    ],
)
def test_evidence_grade(url, has_file, verified, grade):
    assert evidence_grade(evidence_url=url, has_file=has_file, verified=verified) is grade


def test_three_identical_quarters_are_stalled():
    assert is_stalled([(S.ON_TRACK, D("40")), (S.ON_TRACK, D("40")), (S.ON_TRACK, D("40.00"))])
    assert is_stalled([(S.OFF_TRACK, D("0"))] * 3 + [(S.ON_TRACK, D("10"))])


def test_any_movement_in_the_last_three_is_not_stalled():
    assert not is_stalled([(S.ON_TRACK, D("41")), (S.ON_TRACK, D("40")), (S.ON_TRACK, D("40"))])
    assert not is_stalled([(S.AT_RISK, D("40")), (S.ON_TRACK, D("40")), (S.ON_TRACK, D("40"))])
    assert not is_stalled([(S.ON_TRACK, D("40")), (S.ON_TRACK, D("40")), (S.ON_TRACK, D("30"))])


def test_two_quarters_of_history_are_too_few():
    assert not is_stalled([])
    assert not is_stalled([(S.ON_TRACK, D("40")), (S.ON_TRACK, D("40"))])


def test_finished_commitments_never_stall():
    assert not is_stalled([(S.COMPLETED, D("100"))] * 5)
    assert not is_stalled([(S.DISCONTINUED, None, True)] * 5)


def test_two_no_change_clicks_in_a_row_are_stalled():
    assert is_stalled([(S.ON_TRACK, None, True), (S.ON_TRACK, None, True)])
    assert is_stalled([StatusPoint(S.AT_RISK, D("3"), True), StatusPoint(S.AT_RISK, D("3"), True)])
    assert not is_stalled([(S.ON_TRACK, None, True), (S.ON_TRACK, None, False)])


def test_without_figures_only_not_started_stalls():
    assert is_stalled([(S.NOT_STARTED, None)] * 3)
    assert not is_stalled([(S.ON_TRACK, None)] * 3)
    assert not is_stalled([(S.AT_RISK, None)] * 3)


def test_statuses_may_be_stored_strings():
    assert is_stalled([("on_track", D("1"))] * 3)
