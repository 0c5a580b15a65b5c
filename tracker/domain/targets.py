"""Targets and deadlines stated in a commitment's own words.

Nothing is invented: a field stays ``None`` unless the text states it, and most pledge bullets
state nothing. The importer uses the result to pre-fill a commitment's SMART target fields, which
people then check.

**Deadlines** are the last day of what was stated (the open-data contract: "by 2040" means
``2040-12-31``, "by March 2027" means ``2027-03-31``). A year counts only straight after a word
that makes it a deadline — *by, by the end of, end of, during, throughout, in, until, till,
no later than, before, between … and, from … to* — so "Luton 2040", "the 2040 vision" or
"2,600 people" never become a date. Years outside 2000–2100 are ignored.

- "by / until / in / during / end of 2040" → 2040-12-31; "by 2050 at the latest" the same.
- "by March 2027" → 2027-03-31; "by 15 March 2027" → that day; February knows leap years.
- "before" is exclusive: "before 2030" → 2029-12-31, "before March 2028" → 2028-02-29.
- "between 2024 and 2040", "from 2024 to 2040" → the end of the later year.
- "2030/31" or "2030/2031" after a trigger is a UK financial year → 2031-03-31.
- "Q1 2025" is a *calendar* quarter (Q1 = Jan–Mar → 2025-03-31), with or without a trigger;
  attached to a financial year ("Q1 2024/25", "2024/25 Q1") it is a financial-year quarter
  (Q1 = Apr–Jun → 2024-06-30), matching the reporting periods.
- Relative periods ("within 12 months", "in the first 12 months", "over the next two years")
  give ``None``: they depend on a start date the text does not give.
- A date after *from / since / commencing / starting / beginning* is a start, not a deadline;
  "in 2021 we introduced…" (a past-tense report) is not a deadline either.
- Several deadlines: the latest wins, since it is when the whole commitment falls due.

**Targets** are counted conservatively. A number is a target only when the sentence commits to
reaching it:

1. a change verb with "to": "increase local spend to 40%", "from 60% to 90%" (baseline 60);
2. a change verb with "by N%": "reduce our emissions by 50%";
3. a delivery verb right before the number: "building 400 new affordable homes",
   "ensuring more than 90% of our staff…", "plant at least 1,000 trees";
4. a bounded percentage ("more than 90%", "at least 75%") after a commitment word
   (*will, ensure, aim, target, commit, pledge, achieve, reach, so that*) earlier in the sentence.

Descriptions are not targets: "including over 2,600 people employed", "we currently have…".
A bare number from 2000 to 2100 is read as a year and never as a target value. Direction is
"decrease" after reduce/cut/lower… or a ceiling ("less than", "under"), "increase" otherwise;
it is only set alongside a value. When several numbers qualify, the first in the text wins.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class ExtractedTarget:
    """A target and deadline as stated in the text; every field ``None`` when not stated."""

    value: Decimal | None
    unit: str | None
    metric: str | None
    baseline: Decimal | None
    direction: str | None
    due: date | None
    due_text: str | None


NOTHING_STATED = ExtractedTarget(None, None, None, None, None, None, None)

_FLAGS = re.IGNORECASE | re.ASCII
_MIN_YEAR, _MAX_YEAR = 2000, 2100

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))

# Names that a year commonly labels: "the 2040 vision", "Lutons 2040 team".
_NAMED_AFTER = (
    r"vision|pledges?|priorit(?:y|ies)|team|plans?|strateg(?:y|ies)|ambitions?|goals?"
    r"|programmes?|agenda|partnership|board|toolkit|brand|levels?"
)
_YEAR = (
    rf"(?<![0-9,.])(?:20[0-9]{{2}}|2100)"
    rf"(?![0-9]|,[0-9]|\.[0-9]|s\b|\s*/\s*[0-9]|\s*(?:{_NAMED_AFTER})\b)"
)
# A UK financial year, "2030/31" or "2030/2031", unless a quarter follows ("2024/25 Q1").
_FY = (
    r"(?<![0-9,.])(?P<fy1>20[0-9]{2})\s*/\s*(?P<fy2>[0-9]{2}(?:[0-9]{2})?)"
    r"(?![0-9]|\s+q[1-4]\b)"
)
_TRIGGER = (
    r"(?P<trigger>by\s+(?:the\s+)?end\s+of|(?:the\s+)?end\s+of|no\s+later\s+than"
    r"|by|before|until|till|during|throughout|in)"
)
_START_WORDS = re.compile(r"\b(?:from|since|commencing|starting|beginning)\s*$", _FLAGS)

_TRIGGERED_DATE = re.compile(
    rf"\b{_TRIGGER}\s+(?:the\s+)?(?:(?:financial|calendar)\s+year\s+)?"
    r"(?:"
    rf"(?P<day>[0-9]{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<dmonth>{_MONTH})\.?,?\s+"
    rf"(?P<dyear>{_YEAR})"
    rf"|(?P<month>{_MONTH})\.?,?\s+(?:of\s+)?(?P<myear>{_YEAR})"
    rf"|{_FY}"
    rf"|(?P<year>{_YEAR})"
    r")"
    r"(?P<latest>\s+at\s+the\s+latest)?",
    _FLAGS,
)
_RANGE = re.compile(
    rf"\b(?P<trigger>between|from)\s+(?P<start>{_YEAR})\s*(?:and|to|until|till|-|\u2013|\u2014)\s*"
    rf"(?P<end>{_YEAR})",
    _FLAGS,
)
_QUARTER = re.compile(
    rf"(?:\b{_TRIGGER}\s+(?:the\s+)?)?"
    rf"(?:\bq(?P<q>[1-4])\s+(?:of\s+)?(?:{_FY}|(?P<year>{_YEAR}))"
    rf"|(?<![0-9,.])(?P<qfy1>20[0-9]{{2}})\s*/\s*(?P<qfy2>[0-9]{{2}}(?:[0-9]{{2}})?)"
    rf"\s+q(?P<qq>[1-4])\b)",
    _FLAGS,
)
_PAST_REPORT = re.compile(
    r"\s*,?\s+(?:we|they|it|this|i)\s+(?:[a-z]+ed|was|were|had|did|began|won|made|built|ran|set)\b",
    _FLAGS,
)

# Numbers -------------------------------------------------------------------------------------

# Up to fifteen digits: a longer run of digits is no plausible target, so it is no number here.
_NUMBER = (
    r"(?<![0-9a-z.,/])(?:[0-9]{1,3}(?:,[0-9]{3}){1,4}|[0-9]{1,15})(?:\.[0-9]{1,6})?"
    r"(?![0-9]|\.[0-9]|/[0-9]|,[0-9])"
)
_PERCENT = r"\s?(?:%|per\s?cent\b|percent\b)"
_MONEY_MULTIPLIER = r"(?:\s?(?:k|m|bn)\b|\s(?:thousand|million|billion)\b)"


def _quantity_pattern(p: str) -> str:
    """A sum of money, a percentage or a plain number, in groups named with prefix ``p``."""
    return (
        rf"(?:(?P<{p}money>\u00a3)\s?(?P<{p}num>{_NUMBER})(?P<{p}mult>{_MONEY_MULTIPLIER})?"
        rf"|(?P<{p}num2>{_NUMBER})(?P<{p}pct>{_PERCENT})?)"
    )


_INCREASE_VERBS = r"increas\w*|rais(?:e|es|ing)|grow\w*|improv\w*|boost\w*|doubl\w*"
_DECREASE_VERBS = r"reduc\w*|cut|cuts|cutting|decreas\w*|lower\w*|halv\w*|minimis\w*|minimiz\w*"
_CHANGE_VERB = rf"(?P<verb>{_INCREASE_VERBS}|{_DECREASE_VERBS})"
# Base and -ing forms only: "we employ 300 people" or "employs 300" describes, it doesn't promise.
_DELIVERY_VERB = (
    r"build|building|deliver|delivering|plant|planting|create|creating|recruit|recruiting"
    r"|employ|employing|train|training|achieve|achieving|reach|reaching|provide|providing"
    r"|offer|offering|fund|funding|support|supporting|host|hosting|open|opening|install"
    r"|installing|retrofit|retrofitting|hire|hiring|engage|engaging|welcome|welcoming"
    r"|ensure|ensuring|ensure\s+that|ensuring\s+that|secure|securing|place|placing|give|giving"
    r"|generate|generating|save|saving|invest|investing|spend|spending|donate|donating"
    r"|raise|raising|award|awarding"
)
_FLOOR = r"at\s+least|more\s+than|over|above|a\s+minimum\s+of|no\s+fewer\s+than|no\s+less\s+than"
_CEILING = r"less\s+than|fewer\s+than|under|below|no\s+more\s+than|a\s+maximum\s+of"
_OTHER_QUALIFIERS = (
    r"up\s+to|a\s+further|an\s+additional|another|a\s+total\s+of|around|approximately|about"
    r"|nearly|almost|some"
)
_QUALIFIER = rf"(?P<qual>{_FLOOR}|{_CEILING}|{_OTHER_QUALIFIERS})"
_SENTENCE_CHARS = r"[^.;:!?\n]"
# Durations and frequencies count time, not the thing promised: "open 7 days a week".
_NOT_A_UNIT = r"(?!\s*(?:years?|months?|weeks?|days?|hours?|times?|minutes?)\b)"

# Here a duration is a fine unit: "cut waiting times from 18 to 12 weeks".
_CHANGE_TO = re.compile(
    rf"\b{_CHANGE_VERB}\b(?P<metric>{_SENTENCE_CHARS}{{0,80}}?)\s+"
    rf"(?:from\s+{_quantity_pattern('b')}\s+)?to\s+{_quantity_pattern('v')}",
    _FLAGS,
)
_CHANGE_BY = re.compile(
    rf"\b{_CHANGE_VERB}\b(?P<metric>{_SENTENCE_CHARS}{{0,80}}?)\s+by\s+"
    rf"(?P<vnum>{_NUMBER})(?P<vpct>{_PERCENT})",
    _FLAGS,
)
_DELIVER_N = re.compile(
    rf"\b(?P<verb>{_DELIVERY_VERB})\s+(?:{_QUALIFIER}\s+)?{_quantity_pattern('v')}{_NOT_A_UNIT}",
    _FLAGS,
)
_BOUNDED_PERCENT = re.compile(
    rf"\b(?P<qual>{_FLOOR}|{_CEILING})\s+(?P<vnum>{_NUMBER})(?P<vpct>{_PERCENT})", _FLAGS
)
_COMMITMENT_CUE = re.compile(
    r"\b(?:will|ensure|ensuring|aim|aims|target|targets|commit|commits|committed|pledge"
    r"|achieve|achieving|reach|reaching|so\s+that)\b",
    _FLAGS,
)
# Words just before a number (or its verb) that mark a description of today, not a promise.
_DESCRIPTIVE_BEFORE = re.compile(
    r"\b(?:including|includes|currently|already|now|today|of\s+whom|there\s+are|we\s+have"
    r"|we|i|they|it|who|which)\s+$",
    _FLAGS,
)
# How far back a commitment word may sit; bounded so long texts stay linear.
_CUE_WINDOW = 300

_WORD = re.compile(r"[a-z][a-z'\u2019-]*|[^\sa-z]", _FLAGS)
_DETERMINERS = {"the", "our", "a", "an", "its", "their", "this", "that", "all", "these", "those"}
_PRONOUNS = {"it", "this", "that", "these", "those", "them", "they"}
# Words that end the noun phrase a number counts: prepositions, conjunctions, common verbs.
_PHRASE_STOP = {
    "in", "into", "across", "within", "for", "by", "to", "from", "with", "at", "on", "per",
    "each", "every", "over", "through", "during", "before", "until", "between", "who", "that",
    "which", "where", "when", "while", "whilst", "as", "so", "than", "or", "but", "is", "are",
    "was", "were", "be", "being", "been", "will", "would", "can", "could", "should", "must",
    "come", "comes", "go", "goes", "live", "lives", "living", "work", "works", "working",
    "stay", "stays", "remain", "remains", "become", "becomes", "get", "gets", "receive",
    "receives", "use", "uses", "feel", "feels", "have", "has", "had", "do", "does", "a", "an",
    "the", "our", "their", "its", "this",
}  # fmt: skip
_MAX_PHRASE_WORDS = 5


# Deadlines -----------------------------------------------------------------------------------


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _financial_year_end(first: str, second: str) -> int | None:
    """The calendar year a UK financial year "first/second" ends in, if the two are consecutive."""
    start = int(first)
    end = int(second) if len(second) == 4 else (start + 1) // 100 * 100 + int(second)
    return end if end == start + 1 and end <= _MAX_YEAR else None


def _quarter_end(year: int, quarter: int) -> date:
    return _month_end(year, quarter * 3)


def _is_start(text: str, position: int) -> bool:
    return bool(_START_WORDS.search(text, max(0, position - 20), position))


def _triggered_due(text: str, found: re.Match[str]) -> date | None:
    trigger = " ".join(found["trigger"].lower().split())
    if trigger in ("in", "during") and _PAST_REPORT.match(text, found.end()):
        return None
    if found["day"]:
        try:
            stated = date(int(found["dyear"]), _MONTHS[found["dmonth"].lower()], int(found["day"]))
        except ValueError:  # "31 February" states no real day: claim nothing.
            return None
        start = stated
    elif found["month"]:
        month = _MONTHS[found["month"].lower()]
        stated, start = _month_end(int(found["myear"]), month), date(int(found["myear"]), month, 1)
    elif found["fy1"]:
        end_year = _financial_year_end(found["fy1"], found["fy2"])
        if end_year is None:
            return None
        stated, start = date(end_year, 3, 31), date(end_year - 1, 4, 1)
    else:
        year = int(found["year"])
        stated, start = date(year, 12, 31), date(year, 1, 1)
    if trigger == "before":
        return start - timedelta(days=1)
    return stated


def _deadlines(text: str) -> list[tuple[date, int, str]]:
    found_dates: list[tuple[date, int, str]] = []
    for found in _TRIGGERED_DATE.finditer(text):
        if _is_start(text, found.start()):
            continue
        due = _triggered_due(text, found)
        if due is not None:
            found_dates.append((due, found.start(), found.group(0)))
    for found in _RANGE.finditer(text):
        start, end = int(found["start"]), int(found["end"])
        if end >= start:
            found_dates.append((date(end, 12, 31), found.start(), found.group(0)))
    for found in _QUARTER.finditer(text):
        if _is_start(text, found.start()):
            continue
        quarter = int(found["q"] or found["qq"])
        if found["q"]:
            first, second = found["fy1"], found["fy2"]
        else:
            first, second = found["qfy1"], found["qfy2"]
        if first:
            end_year = _financial_year_end(first, second)
            if end_year is None:
                continue
            # Financial-year quarters run Apr–Jun, Jul–Sep, Oct–Dec, then Jan–Mar.
            if quarter < 4:
                due = _month_end(end_year - 1, quarter * 3 + 3)
            else:
                due = _month_end(end_year, 3)
        else:
            due = _quarter_end(int(found["year"]), quarter)
        if (found["trigger"] or "").lower() == "before":
            due = date(due.year, due.month - 2, 1) - timedelta(days=1)
        found_dates.append((due, found.start(), found.group(0)))
    return found_dates


# Values --------------------------------------------------------------------------------------


def _decimal(number: str, multiplier: str | None = None) -> Decimal | None:
    try:
        value = Decimal(number.replace(",", ""))
    except InvalidOperation:
        return None
    scale = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}
    scale |= {"bn": 1_000_000_000, "billion": 1_000_000_000}
    if multiplier:
        value *= scale[multiplier.strip().lower()]
    return value.to_integral_value() if value == value.to_integral_value() else value


def _looks_like_year(number: str) -> bool:
    return len(number) == 4 and number.isdigit() and _MIN_YEAR <= int(number) <= _MAX_YEAR


def _quantity(found: re.Match[str], prefix: str) -> tuple[Decimal | None, str | None]:
    """(value, unit) of a quantity's groups; a bare year-like number is no quantity."""
    if found[f"{prefix}money"]:
        return _decimal(found[f"{prefix}num"], found[f"{prefix}mult"]), "\u00a3"
    number = found[f"{prefix}num2"]
    if found[f"{prefix}pct"]:
        return _decimal(number), "%"
    if _looks_like_year(number):
        return None, None
    return _decimal(number), None


def _phrase(words: list[str]) -> str | None:
    while words and words[0].lower() in _DETERMINERS:
        words = words[1:]
    while words and words[-1].lower() in _PHRASE_STOP | {"and", "of"}:
        words = words[:-1]
    if not words or (len(words) == 1 and words[0].lower() in _PRONOUNS):
        return None
    return " ".join(words)


def _phrase_after(text: str, position: int) -> str | None:
    """The short noun phrase a number counts: "new affordable homes", "site and office staff"."""
    words = _WORD.findall(text[position : position + 120])
    if words[:1] and words[0].lower() == "of":
        words = words[1:]
    phrase: list[str] = []
    for word in words:
        lowered = word.lower()
        opening_determiner = not phrase and lowered in _DETERMINERS
        if not word[0].isalpha() or (lowered in _PHRASE_STOP and not opening_determiner):
            break
        phrase.append(word)
        if len(phrase) > _MAX_PHRASE_WORDS:
            break
    return _phrase(phrase)


def _phrase_between(text: str) -> str | None:
    words = [w for w in _WORD.findall(text) if w[0].isalpha()]
    return _phrase(words[-_MAX_PHRASE_WORDS - 2 :]) if words else None


def _direction(verb: str | None, qualifier: str | None) -> str:
    if qualifier and re.fullmatch(_CEILING, qualifier, _FLAGS):
        return "decrease"
    if verb and re.fullmatch(_DECREASE_VERBS, verb, _FLAGS):
        return "decrease"
    return "increase"


def _described(text: str, position: int) -> bool:
    return bool(_DESCRIPTIVE_BEFORE.search(text, max(0, position - 30), position))


def _committed_before(text: str, position: int) -> bool:
    """Whether the sentence so far (looking back a bounded way) commits to something."""
    window_start = max(0, position - _CUE_WINDOW)
    sentence_start = max(text.rfind(end, window_start, position) for end in ".;:!?\n") + 1
    return bool(_COMMITMENT_CUE.search(text, max(window_start, sentence_start), position))


def _targets(text: str) -> list[tuple[int, ExtractedTarget]]:
    candidates: list[tuple[int, ExtractedTarget]] = []

    for found in _CHANGE_TO.finditer(text):
        value, unit = _quantity(found, "v")
        if value is None:
            continue
        baseline = None
        if found["bnum"] or found["bnum2"]:
            baseline, _ = _quantity(found, "b")
        metric = _phrase_between(found["metric"])
        if unit is None:
            # "to 20 apprentices" names its unit; "increase apprentices to 20" names it earlier.
            counted = _phrase_after(text, found.end()) or metric
            unit = counted.split()[-1] if counted else None
        candidates.append(
            (found.start(), _target(value, unit, metric, baseline, _direction(found["verb"], None)))
        )

    for found in _CHANGE_BY.finditer(text):
        value = _decimal(found["vnum"])
        metric = _phrase_between(found["metric"])
        candidates.append(
            (found.start(), _target(value, "%", metric, None, _direction(found["verb"], None)))
        )

    for found in _DELIVER_N.finditer(text):
        if _described(text, found.start()):
            continue
        value, unit = _quantity(found, "v")
        if value is None:
            continue
        metric = _phrase_after(text, found.end())
        if unit is None:
            if metric is None:
                continue  # "deliver 4" counts nothing we can name.
            unit = metric.split()[-1]
        direction = _direction(None, found["qual"])
        candidates.append((found.start(), _target(value, unit, metric, None, direction)))

    for found in _BOUNDED_PERCENT.finditer(text):
        if _described(text, found.start()) or not _committed_before(text, found.start()):
            continue
        metric = _phrase_after(text, found.end())
        direction = _direction(None, found["qual"])
        candidates.append(
            (found.start(), _target(_decimal(found["vnum"]), "%", metric, None, direction))
        )
    return candidates


def _target(
    value: Decimal | None,
    unit: str | None,
    metric: str | None,
    baseline: Decimal | None,
    direction: str | None,
) -> ExtractedTarget:
    return ExtractedTarget(value, unit, metric, baseline, direction, None, None)


def extract_target(text: str) -> ExtractedTarget:
    """The target value and deadline a commitment states, if any; see the module docstring."""
    # Any whitespace (non-breaking spaces, line breaks) reads as a plain space, position for
    # position, so match offsets still point into the original wording.
    text = re.sub(r"\s", " ", text)

    candidates = sorted(_targets(text), key=lambda c: c[0])
    target = candidates[0][1] if candidates else NOTHING_STATED

    deadlines = _deadlines(text)
    if not deadlines:
        return target
    due, _, due_text = max(deadlines, key=lambda d: (d[0], -d[1]))
    return ExtractedTarget(
        value=target.value,
        unit=target.unit,
        metric=target.metric,
        baseline=target.baseline,
        direction=target.direction,
        due=due,
        due_text=" ".join(due_text.split()),
    )
