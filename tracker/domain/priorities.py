"""Which of the place's priorities a commitment serves.

Two rules, in order:

1. **Explicit prefix.** A bullet that names its priority before a colon ("Net Zero: Achieve…",
   "Empowered Community – built on fairness: Providing…") gets that priority with confidence
   ``"explicit"``. Case, hyphens in words ("Net-Zero") and the kind of dash (-, – or —) don't
   matter. A known prefix followed by a dash and a strapline ("Net Zero – our roadmap: …") counts
   too, because the page's own prefix has that shape.

2. **Weighted keywords.** Otherwise each row of :data:`PRIORITY_KEYWORDS` found in the text
   (whole words, any case; hyphens, slashes and curly quotes read as plain text) adds its weight
   to its priority's score, once however often it occurs. Near-synonyms share a row ("jobs",
   "employment", "skills", "apprenticeships"…), so a long list of them cannot outvote who a pledge
   is for. Weights:

   - **4** — names the priority itself or its flagship pledge ("net zero", "climate", "inclusive
     economy", "living wage", "child friendly", "UNICEF", "Fairness Taskforce").
   - **3** — a strong signal ("jobs and skills", "mental", "health", "children", "young people",
     "waste", "energy", "volunteering", "pride", "fairness").
   - **2** — a topic word that usually belongs to the priority ("social value", "youth",
     "green", "diversity", "a voice").
   - **1** — a word that leans towards the priority but is common elsewhere ("training",
     "families", "care", "sustainable", "community").

   The highest score is the primary priority. Confidence is ``"high"`` when that score is at
   least 3 *and* at least 2 points *and* 1.5 times ahead of the runner-up; anything closer or
   weaker is ``"low"`` and the commitment needs a human look. The runner-up becomes the secondary
   priority when it scored 3 or more on its own. Ties go to the priority whose single strongest
   keyword weighs more, then to the order of :data:`PRIORITY_KEYWORDS` — and a tie is always
   ``"low"``, so the arbitrary order never decides a commitment silently.

The weights were tuned on the Luton 2040 pledge page (``seed/luton-2040-pledges.txt``), where
TUI's prefixed bullets and the shared pledge menu show how the town itself files each pledge:
for instance "social connectedness" is a wellbeing pledge, and a voice for *children and young
people* is a child-friendly-town pledge while a voice for *residents* is an empowered-community one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

INCLUSIVE_ECONOMY = "inclusive-economy"
IMPROVING_WELLBEING = "improving-wellbeing"
CHILD_FRIENDLY_TOWN = "child-friendly-town"
NET_ZERO_TOWN = "net-zero-town"
EMPOWERED_COMMUNITY = "empowered-community"

# Keywords are regexes matched against normalised text (see _normalise_words): lower case,
# hyphens/dashes/slashes turned into spaces, so "net-zero", "well-being" and "co-produce" read
# "net zero", "well being" and "co produce". Each is wrapped in word boundaries.
PRIORITY_KEYWORDS: Mapping[str, tuple[tuple[str, int], ...]] = MappingProxyType(
    {
        INCLUSIVE_ECONOMY: (
            ("inclusive economy", 4),
            ("living wage", 4),
            ("good business charter", 4),
            ("procure(?:ment|s)?|procuring|local spend|local supply chain|local suppliers", 3),
            ("fair hours|fair wages?", 3),
            ("flexible working|access to work", 3),
            ("economy|economic", 3),
            (
                (
                    "jobs?|job search|employment|employability|labour market|skills?|upskill\\w*"
                    "|apprenticeships?|apprentices|kickstart|careers?|talent"
                ),
                3,
            ),
            ("social value", 2),
            ("business(?:es)?|town centre|retail|footfall|investment|investing|invest", 3),
            ("regeneration|regenerating|masterplan", 2),
            ("entrepreneur\\w*|start ups?", 2),
            ("place brand", 2),
            ("supply chains?|suppliers?", 1),
            ("training|train", 1),
            ("work experience", 1),
            ("wages?|pay|paid|paying|remuneration|low incomes?|poverty|cost of living", 1),
            ("employ(?:er|ers|ing|ed)?|employees|workforce", 1),
            ("progression|progress|growth", 1),
        ),
        IMPROVING_WELLBEING: (
            ("well ?being", 3),
            ("mental", 3),
            ("health ?care|health|healthy", 3),
            (
                (
                    "physical activity|physically active|physical fitness|sport|gym|fitness"
                    "|active lifestyles?"
                ),
                3,
            ),
            ("social connectedness|social connections|social isolation|loneliness|isolated", 3),
            ("obesity|smoking", 3),
            (
                (
                    "nhse?|hospital|clinical|diagnostic|radiotherapy|medical|therapies|cancer|dental"
                    "|vaccination|vaccine|hospice|palliative|dementia|social care"
                ),
                3,
            ),
            ("employee assistance", 3),
            ("homes?|housing|homelessness|tenants", 3),
            ("addiction|destitution|food poverty|hungry|food", 2),
            ("prevention|preventive", 2),
            ("active workplaces|active commuting", 2),
            ("death|die alone", 2),
            ("physical", 1),
            ("care|cared|carers", 1),
            ("safety", 1),
            ("quality of living|quality of life|life chances", 1),
        ),
        CHILD_FRIENDLY_TOWN: (
            ("child friendly|family friendly", 4),
            ("unicef", 4),
            ("children|childrens|child|childs|childhood", 3),
            ("young (?:people|peoples|person)", 3),
            ("early years|family hubs", 3),
            ("looked after|care leavers", 3),
            ("(?:primary|secondary) schools?", 3),
            ("youth|teenagers", 2),
            ("pupils?|students?|teachers?", 2),
            ("special educational needs|post 16|sixth form", 2),
            ("nursery|creche|pregnancy|birth|maternity|neonatal", 2),
            ("schools?", 1),
            ("education|educational|curriculum|study|learning", 1),
            ("families|family|parents", 1),
            ("aspirations?|achievement", 1),
            ("mentoring|mentor", 1),
        ),
        NET_ZERO_TOWN: (
            ("net zero", 4),
            ("carbon", 4),
            ("climate", 4),
            ("emissions?|greenhouse", 3),
            ("renewable|energy|solar|electrical fleet", 3),
            ("tree planting|greening|air quality", 3),
            ("waste|recycling", 3),
            ("environment|environmental|environments", 3),
            ("green|biodiversity|nature|wildlife|landscapes?|pollinator|beehives", 2),
            ("active travel|sustainable travel|travel plans|walking|cycling", 3),
            ("sustainability|sustainable", 1),
            ("efficiency", 1),
            ("litter|cleanliness|street cleansing|tidy", 1),
        ),
        EMPOWERED_COMMUNITY: (
            ("fairness taskforce", 4),
            ("fairness|fairer|fairly", 3),
            ("volunteer(?:s|ing)?|voluntary", 3),
            ("pride|proud", 3),
            ("ambassadors?|perceptions of luton", 3),
            ("cohesion", 3),
            ("disability (?:confident|friendly)|accessibility for all|accessible for all", 3),
            ("vcs|vcse|cvse", 3),
            ("edi", 3),
            ("voices?", 2),
            ("diversity|diverse", 2),
            ("inclusion|inclusivity|inclusive(?! economy)", 2),
            ("equality|equity|equitable|inequity|inequality|inequalities", 2),
            ("integrity", 2),
            ("pay gaps?", 2),
            ("under represented|marginali[sz]ed|socially excluded|disadvantaged?", 2),
            ("co ?produc\\w*|coproduction", 2),
            ("civic|active citizens", 2),
            ("culture|cultures|cultural|heritage|faiths|celebrate", 2),
            ("accessibility|accessible", 1),
            ("participation|engagement|listen", 1),
            ("charity|charities|community organisations", 1),
            ("empower\\w*|resilient|resilience", 1),
            ("community|communities|residents", 1),
            ("police|safe for all", 1),
        ),
    }
)

# Each priority can be named in a handful of ways; keys are in _normalise_prefix form.
PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        "inclusive economy": INCLUSIVE_ECONOMY,
        "an inclusive economy": INCLUSIVE_ECONOMY,
        "wellbeing": IMPROVING_WELLBEING,
        "well being": IMPROVING_WELLBEING,
        "improving wellbeing": IMPROVING_WELLBEING,
        "improving well being": IMPROVING_WELLBEING,
        "child friendly town": CHILD_FRIENDLY_TOWN,
        "child friendly": CHILD_FRIENDLY_TOWN,
        "child friendly luton": CHILD_FRIENDLY_TOWN,
        "net zero": NET_ZERO_TOWN,
        "net zero town": NET_ZERO_TOWN,
        "empowered community": EMPOWERED_COMMUNITY,
        "empowered communities": EMPOWERED_COMMUNITY,
        "empowered community – built on fairness": EMPOWERED_COMMUNITY,
    }
)

# A colon further in than this is part of a sentence, not a label.
_MAX_PREFIX_LENGTH = 80

_HIGH_MIN_SCORE = 3
_HIGH_MIN_LEAD = 2
_HIGH_MIN_RATIO = 1.5
_SECONDARY_MIN_SCORE = 3

_INTRA_WORD_HYPHEN = re.compile(r"(?<=\w)[-\u2010\u2011](?=\w)")
_DASH = re.compile(r"\s*[-\u2010-\u2015\u2212]\s*")
_WORD_BREAKS = re.compile(r"[-\u2010-\u2015\u2212/\\_]+")
_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`´]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Classification:
    """The priority a commitment serves, how sure the guess is, and the evidence for it.

    ``reasons`` lists the prefix, or every keyword found with the priority it counted for,
    strongest priority first, so a reviewer can see why a guess was close.
    """

    primary: str | None
    secondary: str | None
    confidence: str
    title: str
    reasons: tuple[str, ...]

    @property
    def needs_review(self) -> bool:
        """True when a person should check the guess."""
        return self.confidence == "low"


@dataclass(frozen=True)
class _Score:
    code: str
    total: int
    strongest: int
    matches: tuple[str, ...]


def _compile(
    keywords: Mapping[str, tuple[tuple[str, int], ...]],
) -> dict[str, tuple[tuple[re.Pattern[str], int], ...]]:
    return {
        code: tuple((re.compile(rf"\b(?:{pattern})\b"), weight) for pattern, weight in table)
        for code, table in keywords.items()
    }


_COMPILED_KEYWORDS = _compile(PRIORITY_KEYWORDS)


def _normalise_prefix(label: str) -> str:
    label = _APOSTROPHES.sub("'", label.casefold())
    label = _INTRA_WORD_HYPHEN.sub(" ", label)
    label = _DASH.sub(" – ", label)
    return _SPACES.sub(" ", label).strip()


def _normalise_words(text: str) -> str:
    text = _APOSTROPHES.sub("'", text.casefold())
    text = _WORD_BREAKS.sub(" ", text)
    return _SPACES.sub(" ", text)


def _explicit_prefix(text: str) -> tuple[str, str, str] | None:
    """(code, label as written, rest) when the text opens with a priority label and a colon."""
    stripped = text.lstrip()
    label, colon, rest = stripped[: _MAX_PREFIX_LENGTH + 1].partition(":")
    if not colon:
        return None
    key = _normalise_prefix(label)
    code = PREFIXES.get(key)
    if code is None and " – " in key:
        code = PREFIXES.get(key.split(" – ", 1)[0])
    if code is None:
        return None
    rest = stripped[len(label) + 1 :].strip()
    return code, label.strip(), rest


def _scores(text: str) -> list[_Score]:
    words = _normalise_words(text)
    scores = []
    for code, table in _COMPILED_KEYWORDS.items():
        total, strongest, matches = 0, 0, []
        for pattern, weight in table:
            found = pattern.search(words)
            if found:
                total += weight
                strongest = max(strongest, weight)
                matches.append(found.group(0))
        scores.append(_Score(code, total, strongest, tuple(matches)))
    order = {code: index for index, code in enumerate(PRIORITY_KEYWORDS)}
    scores.sort(key=lambda s: (-s.total, -s.strongest, order[s.code]))
    return scores


def _keyword_reasons(scores: list[_Score]) -> tuple[str, ...]:
    return tuple(f"keyword '{match}' → {score.code}" for score in scores for match in score.matches)


def classify(text: str) -> Classification:
    """Guess the priority a commitment serves: an explicit prefix wins, else weighted keywords."""
    explicit = _explicit_prefix(text)
    if explicit is not None:
        code, label, rest = explicit
        others = [s for s in _scores(rest) if s.code != code]
        runner_up = others[0] if others and others[0].total >= _SECONDARY_MIN_SCORE else None
        reasons = (f"prefix '{label}'",)
        if runner_up is not None:
            reasons += _keyword_reasons([runner_up])
        return Classification(
            primary=code,
            secondary=runner_up.code if runner_up else None,
            confidence="explicit",
            title=rest or text,
            reasons=reasons,
        )

    scores = _scores(text)
    top, second = scores[0], scores[1]
    if top.total == 0:
        return Classification(None, None, "low", text, ("no priority keyword found",))
    clearly_ahead = (
        top.total >= _HIGH_MIN_SCORE
        and top.total - second.total >= _HIGH_MIN_LEAD
        and top.total >= _HIGH_MIN_RATIO * second.total
    )
    return Classification(
        primary=top.code,
        secondary=second.code if second.total >= _SECONDARY_MIN_SCORE else None,
        confidence="high" if clearly_ahead else "low",
        title=text,
        reasons=_keyword_reasons([s for s in scores if s.total]),
    )
