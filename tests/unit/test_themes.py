"""The theme catalogue, its matcher and the near-duplicate finder, on the real pledge page."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.hangs import HANG_SECONDS
from tracker.domain.themes import CATALOGUE, near_duplicate_groups, themes_for

SEED = Path(__file__).resolve().parents[2] / "seed" / "luton-2040-pledges.txt"


def stretched(seed: str) -> str:
    """20,000 characters of a short text repeated: the way a regex gets pushed into backtracking."""
    return (seed * (20_000 // len(seed) + 1))[:20_000]


SLUGS = [theme.slug for theme in CATALOGUE]


def seed_organisations() -> list[tuple[str, list[str]]]:
    """(name, bullets) per organisation: each run of bullets is one organisation.

    The name is the line two above the run (name line, intro, bullets) or, for the few
    organisations that open with their intro paragraph, that paragraph.
    """
    organisations: list[tuple[str, list[str]]] = []
    gap: list[str] = []
    for line in SEED.read_text(encoding="utf-8").splitlines():
        if line.startswith("- "):
            if gap:
                organisations.append((gap[-2] if len(gap) >= 2 else gap[-1], []))
                gap = []
            organisations[-1][1].append(line[2:].strip())
        else:
            gap.append(line)
    return organisations


def organisations_with(slug: str) -> set[str]:
    return {
        name
        for name, bullets in seed_organisations()
        if any(slug in themes_for(bullet) for bullet in bullets)
    }


def seed_bullets() -> list[str]:
    return [bullet for _, bullets in seed_organisations() for bullet in bullets]


# The catalogue -----------------------------------------------------------------------------

REQUIRED = {
    "real-living-wage",
    "good-business-charter",
    "fairness-taskforce",
    "volunteering",
    "net-zero",
    "disability-confident",
    "apprenticeships-work-experience",
    "local-procurement",
    "waste-reduction",
    "active-travel",
    "greening-air-quality",
    "pride-ambassador",
    "social-connectedness",
    "voice-in-shaping-services",
    "healthy-workplace",
    "flexible-working",
    "targeted-skills-employment",
    "vcs-links",
}


def test_the_catalogue_has_the_themes_the_board_asks_about():
    assert set(SLUGS) >= REQUIRED
    assert 15 <= len(CATALOGUE) <= 30


def test_catalogue_entries_are_well_formed():
    assert len(set(SLUGS)) == len(SLUGS)
    assert len({theme.name for theme in CATALOGUE}) == len(CATALOGUE)
    for theme in CATALOGUE:
        assert re.fullmatch(r"[a-z]+(?:-[a-z]+)*", theme.slug)
        assert theme.name and theme.name[0].isupper()
        assert theme.description and "\n" not in theme.description
        assert theme.patterns
        for pattern in theme.patterns:
            re.compile(pattern)


def test_the_seed_has_forty_organisations():
    organisations = seed_organisations()

    assert len(organisations) == 40
    assert organisations[0][0] == "ABCD in Luton"
    assert organisations[-1][0] == "Wildlife Trust BCN"


def test_real_living_wage_is_pledged_by_at_least_ten_organisations():
    assert len(organisations_with("real-living-wage")) >= 10


def test_good_business_charter_is_pledged_by_every_organisation_that_names_it():
    # The page's bullets name the charter in exactly these seven organisations (its intro
    # paragraph mentions it too, but that is the page talking, not a pledge).
    assert organisations_with("good-business-charter") == {
        "Active luton",
        "Clearhead Media",
        "Healthwatch Luton",
        "Luton Creative community",
        "Luton Foodbank",
        "Luton Irish Forum",
        "The Culture Trust, Luton",
    }


def test_every_theme_matches_at_least_two_seed_bullets():
    bullets = seed_bullets()
    for theme in CATALOGUE:
        matched = [bullet for bullet in bullets if theme.slug in themes_for(bullet)]
        assert len(matched) >= 2, theme.slug


def test_every_theme_is_pledged_by_at_least_two_organisations():
    for slug in SLUGS:
        assert len(organisations_with(slug)) >= 2, slug


def test_near_duplicates_across_three_or_more_organisations_all_have_a_theme():
    """The catalogue covers the page's shared menu: nothing repeated widely is left unnamed."""
    owner = {}
    texts = []
    for name, bullets in seed_organisations():
        for bullet in bullets:
            owner[len(texts)] = name
            texts.append(bullet)

    widely_repeated = [
        group for group in near_duplicate_groups(texts) if len({owner[i] for i in group}) >= 3
    ]

    assert len(widely_repeated) >= 10
    for group in widely_repeated:
        assert themes_for(texts[group[0]]), texts[group[0]]


# Matching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("We will be a Luton living wage employer.", "real-living-wage"),
        ("Be a Luton living wage employer", "real-living-wage"),
        ("paying all our staff a Living Wage", "real-living-wage"),
        ("signing up to Lutons good business charter", "good-business-charter"),
        ("Supporting the work of Luton’s Fairness Taskforce", "fairness-taskforce"),
        ("adopting an accessibility for all approach", "disability-confident"),
        ("being a disability-confident employer", "disability-confident"),
        ("We will procure locally where possible", "local-procurement"),
        ("Iiplementing waste reduction; continuing to be paper free service", "waste-reduction"),
        ("reducing waste and recycling more", "waste-reduction"),
        ("encouraging active commuting for staff", "active-travel"),
        ("greening the town through tree planting", "greening-air-quality"),
        ("employing mental health first aiders", "healthy-workplace"),
        ("increasing our volunteer numbers", "volunteering"),
        ("support to the VCS, such as discounts", "vcs-links"),
        ("a platform to share their voices", "voice-in-shaping-services"),
        ("We will ensure that we co-produce our strategies", "voice-in-shaping-services"),
        ("becoming a net-zero organisation by 2040", "net-zero"),
        (
            "Support the development of skills for the delivery of Net Zero plans",
            "climate-leadership",
        ),
        (
            "Supporting employment and skills through schemes like Kickstart",
            "apprenticeships-work-experience",
        ),
        (
            "opportunities for disadvantaged and under-represented groups",
            "targeted-skills-employment",
        ),
    ],
)
def test_themes_are_recognised_in_their_various_wordings(text, slug):
    assert slug in themes_for(text)


@pytest.mark.parametrize(
    "text",
    [
        "reduce waiting times",
        "",
        "We will ensure that cancer pathways are accessible",
        "Pasta carbonara for the careers fair",
        "providing a new supply of bicycles",  # not "cycling"
    ],
)
def test_unrelated_text_matches_no_theme(text):
    assert themes_for(text) == ()


def test_skills_for_net_zero_plans_is_not_a_net_zero_pledge():
    assert "net-zero" not in themes_for("Support the development of skills for Net Zero plans")


def test_recycling_is_not_cycling():
    assert "active-travel" not in themes_for("reducing waste and recycling more")


def test_several_themes_come_back_in_catalogue_order_without_repeats():
    text = (
        "paying the Real Living Wage, living wage for all, and signing up to the "
        "Good Business Charter"
    )

    assert themes_for(text) == ("good-business-charter", "real-living-wage")


# Near duplicates ---------------------------------------------------------------------------


def test_near_duplicates_ignore_case_punctuation_and_apostrophes():
    texts = [
        "Supporting the work of Lutons Fairness Taskforce to tackle inequalities in Luton",
        "Implementing waste reduction plans",
        "supporting the work of Luton’s Fairness Taskforce to tackle inequalities in Luton.",
        (
            "Empowered Community: Supporting the work of Lutons Fairness Taskforce to tackle "
            "inequalities in Luton"
        ),
        "Maintaining and improving our waste reduction plans",
    ]

    assert near_duplicate_groups(texts) == [[0, 2, 3]]


def test_a_lower_threshold_groups_looser_rewordings():
    texts = ["Implementing waste reduction plans", "Maintaining our waste reduction plans"]

    assert near_duplicate_groups(texts) == []
    assert near_duplicate_groups(texts, threshold=0.5) == [[0, 1]]


def test_texts_without_words_never_group():
    assert near_duplicate_groups(["", "  ", "!!", "-"]) == []
    assert near_duplicate_groups([]) == []


@pytest.mark.parametrize("threshold", [0, -1, 1.5])
def test_a_threshold_outside_zero_to_one_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold"):
        near_duplicate_groups(["a"], threshold=threshold)


def test_the_shared_menu_shows_up_as_near_duplicate_groups_on_the_seed():
    texts = seed_bullets()
    groups = near_duplicate_groups(texts)

    def size_of_group_with(text: str) -> int:
        return next(len(group) for group in groups if texts[group[0]] == text)

    fairness = "Supporting the work of Lutons Fairness Taskforce to tackle inequalities in Luton"
    pride = (
        "Taking pride in the community, improving perceptions of Luton and being an ambassador "
        "for the town"
    )
    assert size_of_group_with(fairness) == 5
    assert size_of_group_with(pride) == 6


# Any input ---------------------------------------------------------------------------------


@settings(database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_text_gets_catalogue_slugs_in_order(text):
    slugs = themes_for(text)

    assert list(slugs) == [slug for slug in SLUGS if slug in slugs]


# The repeated seed, not the 20,000 characters, is what Hypothesis shows when this fails.
@settings(database=None, deadline=None, max_examples=25)
@given(st.text(min_size=1, max_size=300))
def test_long_texts_are_matched_without_error(seed):
    text = stretched(seed)
    started = time.perf_counter()
    themes_for(text)
    assert time.perf_counter() - started < HANG_SECONDS


@settings(database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=60), max_size=30), st.floats(min_value=0.01, max_value=1))
def test_near_duplicate_groups_are_disjoint_sorted_and_in_range(texts, threshold):
    groups = near_duplicate_groups(texts, threshold)
    seen = [index for group in groups for index in group]

    assert len(seen) == len(set(seen))
    assert all(0 <= index < len(texts) for index in seen)
    assert all(len(group) >= 2 and group == sorted(group) for group in groups)
    assert [group[0] for group in groups] == sorted(group[0] for group in groups)


def test_identical_texts_are_one_group_however_many():
    groups = near_duplicate_groups(["Implementing waste reduction plans"] * 2_000)

    assert groups == [list(range(2_000))]


@pytest.mark.parametrize(
    "text",
    [
        "\x00" * 20_000,
        "treating all " * 1_600,
        "reducing our " * 1_600,
        "co" * 10_000,
        "a " * 10_000,
    ],
)
def test_adversarial_long_text_is_quick(text):
    started = time.perf_counter()
    themes_for(text)
    near_duplicate_groups([text, text[::-1]])
    assert time.perf_counter() - started < HANG_SECONDS
