"""The shared catalogue of common pledges ("themes") and the matcher that links commitments to them.

Most organisations on the Luton 2040 pledge page chose from the same menu of pledges ("signing up
to the Good Business Charter", "being a disability confident employer"…), often word for word,
sometimes reworded. A theme names one menu item so the board can ask "how many organisations
pledged the Real Living Wage, and how many have got there?". The catalogue follows the menu and is
grouped by the priority each item sits under on the page.

Patterns are regexes matched case-insensitively against the commitment text after light
normalisation: curly apostrophes become straight ones and hyphens, dashes and slashes become
spaces, so "disability-confident" reads "disability confident". Each pattern is wrapped in word
boundaries. A commitment can match several themes (a bullet that pledges both the Good Business
Charter and the Real Living Wage has both).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Theme:
    """One common pledge that many organisations make."""

    slug: str
    name: str
    description: str
    patterns: tuple[str, ...]


CATALOGUE: tuple[Theme, ...] = (
    # Inclusive economy
    Theme(
        "good-business-charter",
        "Good Business Charter",
        "Signing up to the Good Business Charter.",
        (r"good business charter",),
    ),
    Theme(
        "real-living-wage",
        "Real Living Wage",
        "Paying all staff at least the Real Living Wage, or becoming an accredited employer.",
        (r"living wage",),
    ),
    Theme(
        "flexible-working",
        "Flexible working",
        "Supporting flexible working and access to work for families and people who care.",
        (r"flexible working", r"access to work"),
    ),
    Theme(
        "staff-progression",
        "Staff training and progression",
        "Training and progression opportunities for employees at every level.",
        (r"(?:skills|training) (?:and )?progression", r"progression opportunities"),
    ),
    Theme(
        "local-procurement",
        "Local procurement",
        "Spending locally and using procurement and supply chains to create social value.",
        (
            r"local spend",
            r"procure(?:ment|s)?",
            r"procuring",
            r"local supply chain",
            r"local suppliers",
            r"supply chain charter",
        ),
    ),
    Theme(
        "place-brand",
        "Step Forward Luton",
        "Raising awareness of the town's place brand, Step Forward Luton.",
        (r"step forward luton", r"place brand"),
    ),
    Theme(
        "apprenticeships-work-experience",
        "Apprenticeships and work experience",
        "Apprenticeships, work experience and employment schemes for young people.",
        (
            r"apprentice(?:s|ships?)?",
            r"work experience",
            r"kickstart",
            r"passport to employment",
        ),
    ),
    Theme(
        "targeted-skills-employment",
        "Skills and jobs for under-represented groups",
        "Targeted skills and jobs for disadvantaged and under-represented groups.",
        (r"under represented", r"targeted skills"),
    ),
    # Improving wellbeing
    Theme(
        "healthy-workplace",
        "Healthy workplace",
        "Workplace health and wellbeing plans, mental health first aiders and employee support.",
        (
            r"healthy workplace",
            r"workplace health",
            r"mental health first aid(?:ers?)?",
            r"employee assistance",
            r"employee wellbeing",
            r"workplace benefits",
            r"active workplaces",
        ),
    ),
    Theme(
        "social-connectedness",
        "Social connectedness",
        "Increasing social connectedness and tackling isolation and loneliness.",
        (r"social connect\w*", r"social isolation", r"loneliness", r"isolated"),
    ),
    Theme(
        "homes-health-safety-services",
        "Services for homes, health and safety",
        "Services that support quality homes, education, health and wellbeing or safety.",
        (r"quality homes", r"community safety"),
    ),
    # Net zero town
    Theme(
        "net-zero",
        "Net zero",
        "Cutting carbon emissions on the way to becoming a net zero organisation.",
        (
            # "skills for Net Zero plans" and "their Net Zero Strategy" are about others' goals.
            r"net zero(?! plans| strategy)",
            r"carbon neutral",
            r"carbon (?:and greenhouse gas )?emissions",
            r"carbon footprint",
            r"greenhouse gas",
        ),
    ),
    Theme(
        "energy-efficiency",
        "Energy efficiency and renewables",
        "Making buildings and equipment efficient, using less energy and switching to renewables.",
        (
            r"energy consumption",
            r"energy efficiency",
            r"renewable energy",
            r"efficiency of (?:the )?buildings",
        ),
    ),
    Theme(
        "waste-reduction",
        "Waste reduction and recycling",
        "Plans to reduce waste and recycle more.",
        (
            r"waste reduction",
            r"(?:reduc|minimis)\w* (?:our |their )?waste",
            r"recycling",
            r"waste management",
            r"paper free",
        ),
    ),
    Theme(
        "greening-air-quality",
        "Greening, trees and air quality",
        "Greening the town and workplaces, planting trees and improving air quality.",
        (r"greening", r"tree planting", r"air quality", r"biodiversity", r"green spaces?"),
    ),
    Theme(
        "active-travel",
        "Active and sustainable travel",
        "Walking, cycling and other active or sustainable travel, for staff and visitors.",
        (
            r"active travel",
            r"active commut\w*",
            r"sustainable travel",
            r"travel plans?",
            r"cycling",
        ),
    ),
    Theme(
        "climate-leadership",
        "Climate leadership and skills",
        "Leadership, education, carbon literacy and skills for the town's climate goals.",
        (
            r"climate agenda",
            r"carbon litera\w*",
            r"green agenda",
            r"delivery of net zero plans",
            r"net zero strategy",
        ),
    ),
    # Child friendly town
    Theme(
        "child-friendly-town",
        "UNICEF Child Friendly Town",
        "Helping Luton become a UNICEF Child Friendly Town.",
        (r"child (?:and family )?friendly", r"unicef"),
    ),
    Theme(
        "young-people-safe",
        "Keeping young people safe",
        "Services that keep young people safe and secure.",
        (r"young people safe", r"keep (?:children|young people) safe"),
    ),
    Theme(
        "support-vulnerable-children",
        "Support for vulnerable children",
        "Mentoring and targeted support for looked-after children, care leavers and others.",
        (r"looked after children", r"care leavers", r"disadvantaged children"),
    ),
    Theme(
        "aspiration-achievement",
        "Aspiration and achievement",
        "Promoting aspiration and achievement for children and young people.",
        (r"aspiration and achievement",),
    ),
    # Empowered community
    Theme(
        "voice-in-shaping-services",
        "A voice in shaping services",
        "Giving residents, staff, children and young people a say in services and the town.",
        (r"voices?", r"co ?produc\w*", r"coproduction"),
    ),
    Theme(
        "diversity-inclusion",
        "Diversity and inclusion at work",
        "Workplace diversity, equity and inclusion policies, including reporting on pay gaps.",
        (
            r"diversity,? (?:equity )?(?:and )?inclusion",
            r"inclusion and diversity",
            r"equity,? diversity",
            r"edi",
            r"pay gaps?",
        ),
    ),
    Theme(
        "disability-confident",
        "Disability Confident employer",
        "Being a Disability Confident employer and accessible to all: a disability friendly town.",
        (r"disability confident", r"disability friendly", r"accessibility for all"),
    ),
    Theme(
        "fairness-taskforce",
        "Fairness Taskforce",
        "Supporting the work of Luton's Fairness Taskforce to tackle inequalities.",
        (r"fairness taskforce",),
    ),
    Theme(
        "fair-dealing",
        "Fair dealing and integrity",
        "Treating customers, staff and suppliers fairly and acting with integrity.",
        (r"integrity", r"treating all [a-z ,]{0,60}fairly"),
    ),
    Theme(
        "pride-ambassador",
        "Pride in Luton",
        "Taking pride in the community, improving perceptions of Luton, being its ambassador.",
        (r"ambassadors?", r"perceptions of luton", r"pride"),
    ),
    Theme(
        "volunteering",
        "Volunteering",
        "More opportunities for volunteering and participation.",
        (r"volunteer\w*", r"voluntary service"),
    ),
    Theme(
        "vcs-links",
        "Links with the voluntary and community sector",
        "Links with, funding for and in-kind support to the voluntary and community sector.",
        (
            r"voluntary and community sector",
            r"voluntary community and social enterprise",
            r"vcse?",
            r"cvse",
            r"local charities",
            r"charity partners",
        ),
    ),
)

_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`´]")
_WORD_BREAKS = re.compile(r"[-\u2010-\u2015\u2212/\\_]+")
_SPACES = re.compile(r"\s+")
_TOKEN = re.compile(r"[a-z0-9]+")

_COMPILED: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (theme.slug, re.compile(r"\b(?:" + "|".join(theme.patterns) + r")\b", re.IGNORECASE))
    for theme in CATALOGUE
)


def _normalise(text: str) -> str:
    text = _APOSTROPHES.sub("'", text.casefold())
    text = _WORD_BREAKS.sub(" ", text)
    return _SPACES.sub(" ", text)


def themes_for(text: str) -> tuple[str, ...]:
    """Slugs of the catalogue themes a commitment matches, in catalogue order."""
    words = _normalise(text)
    return tuple(slug for slug, pattern in _COMPILED if pattern.search(words))


def _tokens(text: str) -> frozenset[str]:
    # "Lutons" and "Luton's" are the same word once apostrophes go.
    return frozenset(_TOKEN.findall(_normalise(text).replace("'", "")))


def near_duplicate_groups(texts: Sequence[str], threshold: float = 0.85) -> list[list[int]]:
    """Groups of near-identical texts (indices), for the import report to propose new themes.

    Two texts are near-identical when the Jaccard similarity of their word sets (lower case,
    punctuation ignored) is at least ``threshold``; groups are the connected sets of such pairs,
    so exact duplicates group too. Only groups of two or more are returned, each sorted, ordered by
    their first index. Texts without words never group. The caller decides whether a group spans
    organisations.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], not {threshold!r}")

    # The page repeats its menu word for word, so compare each distinct word set once.
    indices_by_tokens: dict[frozenset[str], list[int]] = {}
    for index, text in enumerate(texts):
        tokens = _tokens(text)
        if tokens:
            indices_by_tokens.setdefault(tokens, []).append(index)
    distinct = sorted(indices_by_tokens, key=len)
    parent = list(range(len(distinct)))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    # Jaccard(a, b) <= len(a) / len(b) when a is the smaller, so in size order each set only
    # needs comparing with the following ones while the sizes stay close enough.
    for position, smaller in enumerate(distinct):
        for other in range(position + 1, len(distinct)):
            larger = distinct[other]
            if len(smaller) < threshold * len(larger):
                break
            if len(smaller & larger) >= threshold * len(smaller | larger):
                parent[root(other)] = root(position)

    groups: dict[int, list[int]] = {}
    for position, tokens in enumerate(distinct):
        groups.setdefault(root(position), []).extend(indices_by_tokens[tokens])
    return sorted(
        (sorted(group) for group in groups.values() if len(group) > 1), key=lambda g: g[0]
    )
