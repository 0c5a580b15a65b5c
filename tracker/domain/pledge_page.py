"""Parse a pledge page (plain text copied from the web) into organisations and commitments.

The page has no markup, only an implicit shape::

    Organisation name           <- a heading: a short line that is not a sentence
    Intro paragraph             <- the pledge statement
    - commitment                <- bullets: "-", "•", "*", "–", "—" or "·"

The rules were worked out on ``seed/luton-2040-pledges.txt`` and are written to be general
(there is no list of names). Whatever the parser is unsure of is kept and flagged, or listed
in ``ParsedPage.skipped`` with a reason, so the import report can show a human every line
that did not become a commitment. Pure Python: no Flask, no database, no clock.

The rules, in the order they apply:

1. Lines split on CRLF, CR or LF; blank lines are ignored; a leading BOM is dropped.
2. Lines matching ``BOILERPLATE_PATTERNS`` are skipped first, so the sign-up note that sits
   inside an organisation's bullets does not cut its list in two.
3. A heading is a heading-like line (see ``_looks_like_heading``) followed by a paragraph line.
   A heading-like line right before bullets is a short statement when it follows a heading,
   otherwise a sub-heading of the organisation above (skipped).
4. A paragraph with no heading, straight before bullets, starts an organisation when a name
   can be read from it ("ELFT is committed…", "At TUI, our…", "Founded in Luton, NOAH is…",
   "GoodGym Luton's mission…"); ``name_derived`` is then True. Otherwise it is skipped and the
   bullets after it stay with the organisation above.
5. Everything before the first organisation with a bullet is preamble. After it, a heading
   and paragraph with no commitments (bulleted or inline) pledge nothing and are skipped.
6. Within an organisation, bullets equal after normalising quotes, spaces and case fold into
   the first copy. Lead-in bullets are flagged "heading", visibly cut ones "truncated".
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

__all__ = [
    "BOILERPLATE_PATTERNS",
    "ParsedCommitment",
    "ParsedOrganisation",
    "ParsedPage",
    "PledgePageError",
    "SkippedLine",
    "commitment_key",
    "decode_pledge_page",
    "parse_pledge_page",
    "slugify",
]

EMPTY_PAGE = "The pledge page is empty."
NO_ORGANISATIONS = (
    "No organisations found: expected an organisation name on its own line, a paragraph, "
    "then '- ' bullet commitments."
)
BINARY_FILE = (
    "The file looks like a binary file, not text: "
    "save the pledge page as plain text (UTF-8) and try again."
)


class PledgePageError(ValueError):
    """One clear, human message: empty file, binary content, no organisations found."""


@dataclass(frozen=True)
class ParsedCommitment:
    text: str
    title: str
    key: str
    position: int
    line_no: int
    flags: frozenset[str]
    duplicates_folded: int


@dataclass(frozen=True)
class ParsedOrganisation:
    name: str
    slug: str
    statement: str | None
    name_derived: bool
    line_no: int
    commitments: tuple[ParsedCommitment, ...]
    inline_commitments: tuple[str, ...]


@dataclass(frozen=True)
class SkippedLine:
    line_no: int
    text: str
    reason: str
    bullet: bool = False  # so the report can count skipped bullets


@dataclass(frozen=True)
class ParsedPage:
    """What the page holds. Every bullet is accounted for, in either of two equal ways:

    ``bullet_count == commitments + skipped bullets`` (folded duplicates are skipped lines), and
    ``bullet_count == Σ(1 + duplicates_folded) + skipped bullets that are not duplicates``.
    """

    organisations: tuple[ParsedOrganisation, ...]
    skipped: tuple[SkippedLine, ...]
    bullet_count: int


BOILERPLATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # The page's own call to action, which the seed has inside an organisation's bullets
    # (line 213: "If your organisation would like to sign up and make its own … pledge").
    re.compile(r"\bif your organi[sz]ation would like to\b", re.IGNORECASE),
    re.compile(r"\btoolkit (?:can be|is) found\b", re.IGNORECASE),
    # Link text only makes sense on the web page the text was copied from.
    re.compile(r"\bclick(?:ing)? (?:on )?(?:this|the) link\b|\bclick here\b", re.IGNORECASE),
    # Page furniture that a copy-and-paste picks up.
    re.compile(
        r"^(?:back to top|share this page|print this page|skip to (?:main )?content)$",
        re.IGNORECASE,
    ),
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Bullet markers seen in copies of the page; the text after the marker is the commitment.
_BULLET = re.compile(r"^\s*[-•*–—·‣▪◦●]\s*(.*)$", re.DOTALL)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # Cc, bar tab, line and page breaks
# Curly quotes compare equal to straight ones; zero-width characters are invisible noise.
_PLAIN = dict.fromkeys(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"], "")
_PLAIN.update({"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'"})
_PLAIN.update({"“": '"', "”": '"', "„": '"', "‟": '"', "″": '"'})
_ALNUM = re.compile(r"[^\W_]")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")

# Heading rules. Names on the page are at most 10 words ("Bedfordshire, Luton and Milton Keynes
# (BLMK) Integrated Care Board"); statements are sentences even when short ("As a people's
# movement, we pledge to support the 2040 vision", "For us these goals mean:").
_HEADING_MAX_WORDS = 12
_HEADING_MAX_CHARS = 100
_STATEMENT_WORDS = _words(
    "we we'll we're we've our ours us i i'm my will shall is are was were has have"
)
_OPENERS = _words("as at for to by if when with through together founded in from since")
_CONNECTORS = _words("of and the in for at to on upon de")
_ABBREVIATION_AT_END = re.compile(r"\b(?:Ltd|Co|Inc|Plc|PLC|Corp|Bros)\.$")

# Names derived from a paragraph that has no heading line above it.
_NAME_WORD = r"[A-Z0-9][\w&\-]*"
_NAME = rf"{_NAME_WORD}(?:\s+(?:(?:of|and|for|the|in|on|upon|&)\s+)?{_NAME_WORD})*"
_PREFIX = r"(?:[^,.;:]{1,60},\s+)?"  # "Founded in Luton, NOAH is…"
_DERIVED_NAME = (
    re.compile(rf"^At\s+(?P<name>{_NAME})(?=\s*,|\s+(?:we|our|us)\b)"),  # "At TUI, our…"
    re.compile(  # "GoodGym Luton's mission is…"
        rf"^{_PREFIX}(?P<name>{_NAME})'s\s+"
        r"(?:mission|vision|aim|pledge|commitment|purpose|goal|ambition|role|work)\b"
    ),
    re.compile(  # "ELFT is committed…", "Bedfordshire … Foundation (BLCF) is committed…"
        rf"^{_PREFIX}(?P<name>{_NAME})(?:\s+\([^()]{{1,40}}\))?\s+"
        r"(?:is|are|was|were|has|have|will|works?|pledges?|commits?|aims?)\b"
    ),
)
_NOT_A_NAME = _words(
    "we our it they this these those i you he she there here all many some each every everyone "
    "together further additionally also however in at as for to by with if when"
)

# Commitment flags: "building a more inclusive economy including" introduces the bullets after
# it; "we put prevention at the heart of everything we" and "n the first 12 months" are cut.
_HEADING_ENDINGS = frozenset({"including", "by", "and"})
_HEADING_MAX_BULLET_WORDS = 8
_FUNCTION_WORDS = _words(
    "we the and to of our a an in for with at on from that which is are will their its or by "
    "including as into than"
)
_FRAGMENT_START = re.compile(r"^[b-df-hj-np-tv-xz]{1,2}\s")  # "n the…": no vowel, not a word

# Inline commitments in a statement.
_WE_WILL = re.compile(
    r"^(?:(?:additionally|further|furthermore|together|in addition|also),\s+)?"
    r"(?:we will|we'll|we shall|we pledge to|we commit to)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NUMBERED = re.compile(r"(?:^|(?<=\s))\(?([0-9]{1,2})[.)]\s+")
_GERUND_LIST = re.compile(r"\bby:?\s+(?=[A-Z][a-z]+ing\b)")  # "…vision by Signing up to…"
# Split before each capitalised -ing clause; "Real Living Wage" and the like are not clauses.
_GERUND_SPLIT = re.compile(
    r"\s+(?=(?!(?:Living|King|Spring|Morning|Evening|Sterling|Reading|Ealing|Wing|Ring|Thing"
    r"|During|Nothing|Something|Everything)\b)[A-Z][a-z]+ing\b)"
)


def _normalise(text: str) -> str:
    """One-line comparison form: straight quotes, no zero-width characters, single spaces."""
    for odd, plain in _PLAIN.items():  # str.replace is much faster than str.translate here
        if odd in text:
            text = text.replace(odd, plain)
    return " ".join(text.split())


def _has_words(text: str) -> bool:
    return _ALNUM.search(text) is not None


def slugify(name: str) -> str:
    """Kebab-case ASCII slug of a name ("GoodGym Luton" -> "goodgym-luton")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"['’]", "", ascii_name.lower())  # "Luton's" -> "lutons", not "luton-s"
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:100].strip("-")
    return slug or "organisation"


def commitment_key(text: str) -> str:
    """The stable key of a commitment's wording: equal for wording that normalises equal."""
    norm = _normalise(text)
    return hashlib.sha1(
        norm.casefold().encode("utf-8", "surrogatepass"), usedforsecurity=False
    ).hexdigest()[:16]


def decode_pledge_page(data: bytes) -> str:
    """bytes → text: UTF-8 (with or without BOM), falling back to cp1252.

    Raises PledgePageError when the bytes look like a binary file: NUL bytes (outside a UTF-16
    text with its BOM, as Windows Notepad saves "Unicode"), or more than 5% control characters.
    """
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = data.decode("utf-16")
        elif b"\x00" in data:
            raise PledgePageError(BINARY_FILE)
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise PledgePageError(BINARY_FILE) from None
    if "\x00" in text or len(_CONTROL.findall(text)) > len(text) * 0.05:
        raise PledgePageError(BINARY_FILE)
    return text


def _looks_like_heading(text: str) -> bool:
    """A short line that is not a sentence: a candidate organisation name.

    At most 12 words and 100 characters; no final ".:;,!?" (but "Ltd." is fine); starts with a
    capital (or a camel-case brand); no first person or finite verb ("we", "our", "is", "will");
    not an opener such as "As"/"At"/"For" followed by ordinary lower-case words.
    """
    norm = _normalise(text)
    if not norm or len(norm) > _HEADING_MAX_CHARS or len(norm.split()) > _HEADING_MAX_WORDS:
        return False
    # Most bullets lack a final full stop, but a sentence or a lead-in ("…mean:") ends in one.
    if norm[-1] in ".:;,!?" and not _ABBREVIATION_AT_END.search(norm):
        return False
    first_letter = next((ch for ch in norm if ch.isalpha()), None)
    if first_letter is None:
        return False
    if first_letter.islower() and not any(ch.isupper() for ch in norm.split()[0]):
        return False  # "continued…" is not a name; "easyJet" is
    tokens = _WORD.findall(norm)
    # First person and finite verbs make a sentence; "US" or "WE" in capitals may be a name.
    if any(t.lower() in _STATEMENT_WORDS and not (t.isupper() and len(t) > 1) for t in tokens):
        return False
    # "For the children of Luton" is a sentence; "At Home Care" may be a name.
    return not (
        tokens
        and tokens[0].lower() in _OPENERS
        and any(t.islower() and t not in _CONNECTORS for t in tokens[1:])
    )


def _derive_name(paragraph: str) -> str | None:
    """The organisation a heading-less paragraph is about ("At TUI, our…" -> "TUI"), or None."""
    start = _normalise(paragraph[:300])
    for pattern in _DERIVED_NAME:
        match = pattern.match(start)
        if match is None:
            continue
        name = match.group("name")
        words = name.split()
        if words[0].lower() in _NOT_A_NAME or name == "The" or len(words) > 8 or len(name) > 80:
            return None
        return name
    return None


def _commitment_flags(norm: str) -> frozenset[str]:
    """Flags for a bullet: "heading" when it leads into others, "truncated" when visibly cut."""
    flags = set()
    words = norm.split()
    last = words[-1].lower() if words else ""
    ends_mid_word_list = norm[-1:].isalnum() and last in _FUNCTION_WORDS
    if norm.endswith(":") or (last in _HEADING_ENDINGS and len(words) <= _HEADING_MAX_BULLET_WORDS):
        flags.add("heading")
    elif ends_mid_word_list:
        flags.add("truncated")
    if _FRAGMENT_START.match(norm):
        flags.add("truncated")
    return frozenset(flags)


def _tidy_item(text: str) -> str:
    item = text.strip(" ;,")
    item = re.sub(r"^and\s+", "", item, flags=re.IGNORECASE)
    return re.sub(r"[;,]?\s+and$", "", item).strip(" ;,")


def _numbered_items(text: str) -> list[str]:
    """Items of an inline "1. … 2. …" or "(1) … (2) …" list, if there are at least two."""
    marks, expected = [], 1
    for match in _NUMBERED.finditer(text):
        if int(match.group(1)) == expected:
            marks.append(match)
            expected += 1
    if len(marks) < 2:
        return []
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return [_tidy_item(text[m.end() : end]) for m, end in zip(marks, ends, strict=True)]


def _inline_commitments(statement: str, has_bullets: bool) -> tuple[str, ...]:
    """Commitments written inside a statement rather than as bullets.

    Always: numbered items; a ";" list after a colon; "we will …; we will …"; a run-on list of
    capitalised clauses after "by" ("…vision by Signing up… Increasing… Reducing…"). With no
    bullets after the statement, also each sentence that starts "We will"/"We pledge to".
    """
    text = " ".join(statement.split())
    items = _numbered_items(text)
    if not items:
        for sentence in _SENTENCE_END.split(text):
            _head, colon, tail = sentence.partition(":")
            after_colon = [p for p in map(_tidy_item, tail.split(";")) if _has_words(p)]
            clauses = [p for p in map(_tidy_item, sentence.split(";")) if _has_words(p)]
            by_list = _GERUND_LIST.search(sentence)
            if colon and len(after_colon) >= 2:
                items += after_colon
            elif len(clauses) >= 2 and sum(bool(_WE_WILL.match(c)) for c in clauses) >= 2:
                items += clauses
            elif by_list and len(parts := _GERUND_SPLIT.split(sentence[by_list.end() :])) >= 2:
                items += [p for p in map(_tidy_item, parts) if _has_words(p)]
            elif not has_bullets and _WE_WILL.match(sentence) and not sentence.endswith(":"):
                items.append(sentence)
    return tuple(dict.fromkeys(item for item in items if _has_words(item)))


@dataclass
class _Line:
    no: int
    text: str  # stripped; for a bullet, the text after its marker
    bullet: bool


@dataclass
class _Commitment:
    text: str
    norm: str
    line_no: int
    duplicates_folded: int = 0


@dataclass
class _Organisation:
    name: str
    first_line: _Line  # the heading, or the statement's first line when the name is derived
    name_derived: bool
    statement: list[_Line] = field(default_factory=list)
    commitments: list[_Commitment] = field(default_factory=list)
    seen: dict[str, _Commitment] = field(default_factory=dict)  # case-folded text -> first copy


class _PageParser:
    """Walks the lines once: runs of text lines set up organisations, bullets fill them."""

    def __init__(self) -> None:
        self.organisations: list[_Organisation] = []
        self.skipped: list[SkippedLine] = []
        self.current: _Organisation | None = None

    def skip(self, line: _Line, reason: str) -> None:
        self.skipped.append(SkippedLine(line.no, line.text, reason, line.bullet))

    def skip_paragraphs(self, lines: list[_Line]) -> None:
        where = f"after the commitments of {self.current.name}" if self.current else ""
        for line in lines:
            self.skip(line, f"paragraph {where}" if where else "preamble")

    def open(self, line: _Line, derived_name: str | None = None) -> _Organisation:
        name = derived_name or " ".join(line.text.split())
        self.current = _Organisation(name, line, derived_name is not None)
        self.organisations.append(self.current)
        return self.current

    def text_run(self, run: list[_Line], bullets_follow: bool) -> None:
        """Sort a run of text lines into headings, statements and left-overs.

        A heading is a heading-like line followed by a paragraph line; in a chain of heading-like
        lines the last one before the paragraph is the name (earlier ones name nothing). A chain
        that ends at bullets is "name, short statement"; a lone heading-like line right before
        bullets is a sub-heading, not an organisation.
        """
        is_heading = [_looks_like_heading(line.text) for line in run]
        first = next((i for i, h in enumerate(is_heading) if h), len(run))
        self.loose_paragraphs(run[:first], bullets_follow and first == len(run))
        i = first
        while i < len(run):
            j = i
            while j < len(run) and is_heading[j]:
                j += 1
            chain, organisation = run[i:j], None
            if j < len(run):
                organisation = self.open(chain.pop())
            elif len(chain) >= 2 and bullets_follow:
                statement = chain.pop()
                organisation = self.open(chain.pop())
                organisation.statement.append(statement)
            elif self.current and bullets_follow:
                reason = f"sub-heading inside the commitments of {self.current.name}"
                self.skip(chain.pop(), reason)
            for line in chain:
                self.skip(line, "short line with no pledge after it")
            i = j
            while i < len(run) and not is_heading[i]:
                i += 1
            if organisation is not None:  # else the chain ran to the end of the run
                organisation.statement.extend(run[j:i])

    def loose_paragraphs(self, lines: list[_Line], directly_before_bullets: bool) -> None:
        """Paragraphs with no heading: an organisation named in its own paragraph, or left-overs.

        Only a paragraph followed by bullets can start a heading-less organisation, and only when
        a name can be derived from it; otherwise it is listed as a skipped line.
        """
        if directly_before_bullets:
            for index, line in enumerate(lines):
                name = _derive_name(line.text)
                if name is not None:
                    self.skip_paragraphs(lines[:index])
                    self.open(line, derived_name=name).statement.extend(lines[index:])
                    return
        self.skip_paragraphs(lines)

    def bullet(self, line: _Line) -> None:
        if not _has_words(line.text):
            self.skip(line, "blank bullet")
        elif self.current is None:
            self.skip(line, "boilerplate")  # a bullet before any organisation
        else:
            norm = _normalise(line.text)
            first = self.current.seen.get(norm.casefold())
            if first is not None:
                first.duplicates_folded += 1
                self.skip(line, f"duplicate of line {first.line_no}")
            else:
                commitment = _Commitment(line.text, norm, line.no)
                self.current.seen[norm.casefold()] = commitment
                self.current.commitments.append(commitment)


def _split_lines(text: str) -> list[_Line]:
    lines = []
    for no, raw in enumerate(_LINE_BREAK.split(text), start=1):
        if not raw.strip():
            continue
        match = _BULLET.match(raw)
        lines.append(_Line(no, (match.group(1) if match else raw).strip(), match is not None))
    return lines


def parse_pledge_page(text: str) -> ParsedPage:
    """Organisations, their statements and commitments, and every line left out (with why)."""
    # No database keeps NUL in a text column: show it as the replacement character instead.
    text = text.removeprefix("\ufeff").replace("\x00", "\ufffd")
    if not text.strip():
        raise PledgePageError(EMPTY_PAGE)
    parser = _PageParser()
    lines = _split_lines(text)
    # Boilerplate goes first, so a sign-up note inside a bullet list does not break the list.
    stream = []
    for line in lines:
        norm = _normalise(line.text)
        if any(p.search(norm) for p in BOILERPLATE_PATTERNS):
            parser.skip(line, "boilerplate")
        else:
            stream.append(line)
    i = 0
    while i < len(stream):
        if stream[i].bullet:
            parser.bullet(stream[i])
            i += 1
            continue
        j = i
        while j < len(stream) and not stream[j].bullet:
            j += 1
        parser.text_run(stream[i:j], bullets_follow=j < len(stream))
        i = j
    return _assemble(parser, bullet_count=sum(line.bullet for line in lines))


def _assemble(parser: _PageParser, bullet_count: int) -> ParsedPage:
    """Freeze the organisations, leaving out the preamble and headings that pledge nothing.

    The preamble is everything before the first organisation with a bulleted commitment. After
    it, a heading and paragraph with no commitments, bulleted or inline, is not a pledge (a
    page footer, say): its lines are skipped.
    """
    first = next((i for i, org in enumerate(parser.organisations) if org.commitments), None)
    if first is None:
        raise PledgePageError(NO_ORGANISATIONS)
    start = parser.organisations[first].first_line.no
    skipped = []
    for line in parser.skipped:
        if line.line_no < start and line.reason not in ("boilerplate", "blank bullet"):
            reason = "boilerplate" if line.bullet else "preamble"
            line = SkippedLine(line.line_no, line.text, reason, line.bullet)
        skipped.append(line)

    organisations, slugs = [], set()
    for index, org in enumerate(parser.organisations):
        statement = "\n\n".join(line.text for line in org.statement) or None
        inline = _inline_commitments(statement, bool(org.commitments)) if statement else ()
        if index < first or not (org.commitments or inline):
            reason = "preamble" if index < first else "no commitments, bulleted or inline"
            heading = [] if org.name_derived else [org.first_line]
            skipped += [SkippedLine(line.no, line.text, reason) for line in heading + org.statement]
            continue
        slug = base = slugify(org.name)
        suffix = 2
        while slug in slugs:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        slugs.add(slug)
        commitments = tuple(
            ParsedCommitment(
                text=c.text,
                title=c.norm[:1].upper() + c.norm[1:],
                key=commitment_key(c.norm),
                position=position,
                line_no=c.line_no,
                flags=_commitment_flags(c.norm),
                duplicates_folded=c.duplicates_folded,
            )
            for position, c in enumerate(org.commitments, start=1)
        )
        organisations.append(
            ParsedOrganisation(
                name=org.name,
                slug=slug,
                statement=statement,
                name_derived=org.name_derived,
                line_no=org.first_line.no,
                commitments=commitments,
                inline_commitments=inline,
            )
        )
    skipped.sort(key=lambda line: line.line_no)
    return ParsedPage(tuple(organisations), tuple(skipped), bullet_count)
