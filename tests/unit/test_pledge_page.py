"""The pledge page parser: the real Luton 2040 page, each messy case, and random input."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.domain.pledge_page import (
    BOILERPLATE_PATTERNS,
    ParsedPage,
    PledgePageError,
    decode_pledge_page,
    parse_pledge_page,
    slugify,
)

SEED = Path(__file__).resolve().parents[2] / "seed" / "luton-2040-pledges.txt"
EMPTY = "The pledge page is empty."
NO_ORGANISATIONS = (
    "No organisations found: expected an organisation name on its own line, a paragraph, "
    "then '- ' bullet commitments."
)


def page(*lines: str, eol: str = "\n") -> str:
    return eol.join(lines) + eol


def org(parsed: ParsedPage, name: str):
    (found,) = [o for o in parsed.organisations if o.name == name]
    return found


def commitment_at(parsed: ParsedPage, line_no: int):
    (found,) = [c for o in parsed.organisations for c in o.commitments if c.line_no == line_no]
    return found


def assert_accounted(parsed: ParsedPage, text: str) -> None:
    """Every bullet and every non-blank line is used exactly once, and the output is well formed."""
    commitments = [c for o in parsed.organisations for c in o.commitments]
    skipped_bullets = [s for s in parsed.skipped if s.bullet]
    duplicates = [s for s in skipped_bullets if s.reason.startswith("duplicate of line ")]
    assert parsed.bullet_count == len(commitments) + len(skipped_bullets)
    assert parsed.bullet_count == sum(1 + c.duplicates_folded for c in commitments) + len(
        skipped_bullets
    ) - len(duplicates)

    lines = re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff"))
    non_blank = {no for no, line in enumerate(lines, start=1) if line.strip()}
    headings = [o.line_no for o in parsed.organisations if not o.name_derived]
    statement_lines = sum(
        len(o.statement.split("\n\n")) for o in parsed.organisations if o.statement
    )
    used = headings + [c.line_no for c in commitments] + [s.line_no for s in parsed.skipped]
    assert len(used) == len(set(used))
    assert set(used) <= non_blank
    assert len(used) + statement_lines == len(non_blank)

    assert [s.line_no for s in parsed.skipped] == sorted(s.line_no for s in parsed.skipped)
    slugs = [o.slug for o in parsed.organisations]
    assert len(slugs) == len(set(slugs))
    for o in parsed.organisations:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", o.slug)
        assert [c.position for c in o.commitments] == list(range(1, len(o.commitments) + 1))
        keys = [c.key for c in o.commitments]
        assert len(keys) == len(set(keys))
        for c in o.commitments:
            assert re.fullmatch(r"[0-9a-f]{16}", c.key)
            assert c.flags <= {"heading", "truncated"}
            assert "\r" not in c.text and "\n" not in c.text


# --- The real page --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_text() -> str:
    return decode_pledge_page(SEED.read_bytes())


@pytest.fixture(scope="module")
def seed(seed_text: str) -> ParsedPage:
    return parse_pledge_page(seed_text)


def test_seed_has_forty_organisations(seed):
    assert len(seed.organisations) == 40
    names = {o.name for o in seed.organisations}
    assert {
        "ABCD in Luton",
        "Active luton",
        "Wildlife Trust BCN",
        "University of Bedfordshire",
    } <= (names)
    assert not names & {"Join in", "The Luton 2040 Pledge"}


def test_seed_organisations_without_a_heading_are_named_from_their_paragraph(seed):
    derived = {o.name: o.line_no for o in seed.organisations if o.name_derived}
    assert derived == {"ELFT": 128, "GoodGym Luton": 149, "NOAH": 307, "TUI": 388}
    assert org(seed, "TUI").statement.startswith("At TUI, our commitment")


def test_seed_preamble_is_skipped(seed):
    preamble = [s.line_no for s in seed.skipped if s.reason == "preamble"]
    assert preamble == [1, 2, 3, 4, 5]
    assert seed.organisations[0].name == "ABCD in Luton"
    assert seed.organisations[0].line_no == 6


def test_seed_short_statements_follow_their_heading(seed):
    assert org(seed, "ABCD in Luton").statement == (
        "As a people's movement, we pledge to support the 2040 vision"
    )
    assert org(seed, "Cambridge Community Services NHS Trust").statement == (
        "For us these goals mean:"
    )
    assert org(seed, "The Feast").statement.startswith("We are committed to creating spaces")


def test_seed_sign_up_boilerplate_is_skipped_not_a_commitment(seed):
    (line,) = [s for s in seed.skipped if s.line_no == 213]
    assert line.reason == "boilerplate"
    assert line.bullet
    assert line.text.startswith("If your organisation would like to sign up")
    texts = [c.text for o in seed.organisations for c in o.commitments]
    assert not [t for t in texts if "toolkit" in t]
    assert len(org(seed, "London Luton Airport Operations Ltd").commitments) == 8


def test_seed_duplicates_are_folded(seed):
    assert commitment_at(seed, 39).duplicates_folded == 1
    assert commitment_at(seed, 174).duplicates_folded == 1  # Healthwatch Luton has one too
    duplicates = {s.line_no: s.reason for s in seed.skipped if s.reason.startswith("duplicate")}
    assert duplicates == {40: "duplicate of line 39", 175: "duplicate of line 174"}


def test_seed_flags_are_few_and_right(seed):
    flagged = {
        c.line_no: set(c.flags) for o in seed.organisations for c in o.commitments if c.flags
    }
    assert flagged == {
        38: {"heading"},  # "…This will be support by the following actions:"
        92: {"truncated"},  # "we put prevention at the heart of everything we"
        93: {"heading"},  # "…makes the following commitments:"
        94: {"truncated"},  # "n the first 12 months…"
        160: {"heading"},  # "building a more inclusive economy including"
    }


def test_seed_every_bullet_and_line_is_accounted_for(seed, seed_text):
    assert seed.bullet_count == 341
    assert_accounted(seed, seed_text)


ICB = "Bedfordshire, Luton and Milton Keynes (BLMK) Integrated Care Board"


def test_seed_commitment_counts(seed):
    # The brief guessed 25 for the ICB; the page has 30 bullets (lines 56-85), none repeated.
    assert len(org(seed, ICB).commitments) == 30
    assert len(org(seed, "Be Active").commitments) == 9
    assert len(org(seed, "Healthwatch Luton").commitments) == 24
    assert sum(len(o.commitments) for o in seed.organisations) == 338


def test_seed_slugs(seed):
    assert org(seed, ICB).slug == "bedfordshire-luton-and-milton-keynes-blmk-integrated-care-board"
    assert org(seed, "GoodGym Luton").slug == "goodgym-luton"
    assert org(seed, "The Culture Trust, Luton").slug == "the-culture-trust-luton"


def test_seed_keeps_original_wording_and_straightens_titles(seed):
    reactiv8 = commitment_at(seed, 327)
    assert "Luton’s Fairness" in reactiv8.text
    assert "Luton's Fairness" in reactiv8.title
    assert reactiv8.text.replace("’", "'") == reactiv8.title
    assert commitment_at(seed, 22).title.startswith("Promoting and delivering services")
    assert commitment_at(seed, 22).text.startswith("promoting and delivering services")


def test_seed_inline_commitments_in_a_statement(seed):
    assert org(seed, "Luton Creative community").inline_commitments == (
        "Signing up to Lutons good business charter and where and when appropriate paying all "
        "our workers the Real Living wage",
        "Increasing our local procurement spend to ensure more money remains within Luton",
        "Reducing our carbon emissions to become a net-zero organisation by 2040",
        "Reducing waste and recycling more through our organisation and our supply chains",
    )
    others = [o.name for o in seed.organisations if o.inline_commitments]
    assert others == ["Luton Creative community"]


def test_seed_roughed_up_gives_the_same_organisations_and_keys(seed, seed_text):
    """Blank lines, CRLF, "•" bullets, curly apostrophes and a BOM change nothing that matters."""
    rough = "\ufeff" + (
        seed_text.replace("\n- ", "\n•\u00a0").replace("'", "’").replace("\n", "\r\n\r\n")
    )
    parsed = parse_pledge_page(rough)

    def summary(page):
        return [
            (o.name, o.slug, o.name_derived, [(c.key, c.flags) for c in o.commitments])
            for o in page.organisations
        ]

    assert summary(parsed) == summary(seed)
    assert_accounted(parsed, rough)


def test_seed_parses_the_same_twice(seed, seed_text):
    assert parse_pledge_page(seed_text) == seed


# --- Crafted pages, one messy case each -----------------------------------------------------

SIMPLE = page(
    "Acme Trust",
    "Acme Trust is committed to Luton 2040. We will work with partners by:",
    "- paying the real living wage",
    "- planting 100 trees by 2030",
)


def test_simple_page():
    parsed = parse_pledge_page(SIMPLE)
    (acme,) = parsed.organisations
    assert (acme.name, acme.slug, acme.line_no, acme.name_derived) == (
        "Acme Trust",
        "acme-trust",
        1,
        False,
    )
    assert acme.statement == "Acme Trust is committed to Luton 2040. We will work with partners by:"
    assert [(c.text, c.title, c.position, c.line_no) for c in acme.commitments] == [
        ("paying the real living wage", "Paying the real living wage", 1, 3),
        ("planting 100 trees by 2030", "Planting 100 trees by 2030", 2, 4),
    ]
    assert acme.inline_commitments == ()
    assert parsed.skipped == ()
    assert parsed.bullet_count == 2


@pytest.mark.parametrize("eol", ["\r\n", "\r"])
def test_windows_and_old_mac_line_endings_parse_like_unix(eol):
    assert parse_pledge_page(SIMPLE.replace("\n", eol)) == parse_pledge_page(SIMPLE)


def test_byte_order_mark_is_ignored():
    assert parse_pledge_page("\ufeff" + SIMPLE) == parse_pledge_page(SIMPLE)
    assert decode_pledge_page(codecs.BOM_UTF8 + SIMPLE.encode()) == SIMPLE


@pytest.mark.parametrize("marker", ["- ", "-", "• ", "•", "* ", "– ", "— ", "· ", "  -  ", "\t• "])
def test_bullet_markers(marker):
    text = SIMPLE.replace("- ", marker)
    parsed = parse_pledge_page(text)
    assert [c.text for c in parsed.organisations[0].commitments] == [
        "paying the real living wage",
        "planting 100 trees by 2030",
    ]


def test_curly_quotes_nbsp_and_spaces_are_normalised_in_titles_and_keys():
    text = page(
        "Acme\u00a0 Trust",
        "Acme Trust is committed to Luton 2040.",
        "- supporting “Luton’s”  Fairness\u00a0Taskforce   ",
    )
    (acme,) = parse_pledge_page(text).organisations
    (commitment,) = acme.commitments
    assert acme.name == "Acme Trust"
    assert commitment.text == "supporting “Luton’s”  Fairness\u00a0Taskforce"
    assert commitment.title == 'Supporting "Luton\'s" Fairness Taskforce'
    plain = page(
        "Acme Trust", "Acme Trust is committed.", '- Supporting "Luton\'s" fairness taskforce'
    )
    assert parse_pledge_page(plain).organisations[0].commitments[0].key == commitment.key


@pytest.mark.parametrize(
    ("paragraph", "name"),
    [
        ("ELFT is committed to working with our partners. We will achieve this by:", "ELFT"),
        ("At TUI, our commitment to Luton is driven by our colleagues.", "TUI"),
        ("At Fusion Healthcare we are dedicated to affordable care.", "Fusion Healthcare"),
        ("Founded in Luton, NOAH is a charity that helps people.", "NOAH"),
        ("GoodGym Luton's mission is to get people active.", "GoodGym Luton"),
        ("GoodGym Luton’s mission is to get people active.", "GoodGym Luton"),
        (
            "Bedford Community Foundation (BCF) is committed to fairness.",
            "Bedford Community Foundation",
        ),
        ("The Mall is at the heart of Luton and is committed to the vision.", "The Mall"),
    ],
)
def test_organisation_without_a_heading_after_bullets(paragraph, name):
    text = SIMPLE + page(paragraph, "- Ensuring children have a voice", "- Planting trees")
    parsed = parse_pledge_page(text)
    assert [o.name for o in parsed.organisations] == ["Acme Trust", name]
    derived = parsed.organisations[1]
    assert derived.name_derived
    assert derived.line_no == 5
    assert derived.statement == paragraph
    assert len(derived.commitments) == 2
    assert_accounted(parsed, text)


@pytest.mark.parametrize(
    "paragraph",
    [
        "We are also committed to the following:",
        "In addition, over the next year we will:",
        "Many organisations have also made pledges.",
        "The pledge will be reviewed every quarter.",
    ],
)
def test_paragraph_between_bullets_that_names_nobody_continues_the_organisation(paragraph):
    text = SIMPLE + page(paragraph, "- cutting waste")
    parsed = parse_pledge_page(text)
    (acme,) = parsed.organisations
    assert [c.text for c in acme.commitments][-1] == "cutting waste"
    (skipped,) = parsed.skipped
    assert (skipped.line_no, skipped.reason) == (5, "paragraph after the commitments of Acme Trust")
    assert_accounted(parsed, text)


def test_preamble_headings_paragraphs_and_bullets_are_not_organisations():
    text = (
        page("- a bullet before anything", "Join in", "All organisations have a role.")
        + page("The Luton 2040 Pledge", "Many organisations have pledged.")
        + SIMPLE
    )
    parsed = parse_pledge_page(text)
    assert [o.name for o in parsed.organisations] == ["Acme Trust"]
    assert [(s.line_no, s.reason, s.bullet) for s in parsed.skipped] == [
        (1, "boilerplate", True),
        (2, "preamble", False),
        (3, "preamble", False),
        (4, "preamble", False),
        (5, "preamble", False),
    ]
    assert_accounted(parsed, text)


def test_boilerplate_inside_a_list_is_skipped_and_does_not_split_the_list():
    text = SIMPLE + page(
        "- If your organisation would like to sign up, the toolkit can be found by clicking on "
        "this link.",
        "Click here to read more",
        "- cutting waste",
        "Back to top",
    )
    parsed = parse_pledge_page(text)
    (acme,) = parsed.organisations
    assert [c.text for c in acme.commitments][-1] == "cutting waste"
    assert [(s.line_no, s.reason, s.bullet) for s in parsed.skipped] == [
        (5, "boilerplate", True),
        (6, "boilerplate", False),
        (8, "boilerplate", False),
    ]
    assert all(isinstance(p, re.Pattern) for p in BOILERPLATE_PATTERNS)


def test_exact_duplicates_fold_into_the_first_copy():
    text = page(
        "Acme Trust",
        "Acme Trust is committed to Luton 2040.",
        "- Paying the Real Living Wage",
        "- planting trees",
        "- paying the  real living wage",
        "• Paying the “Real” Living Wage",
        "- PAYING THE REAL LIVING WAGE",
        "- Paying the Real Living Wage.",  # a full stop makes it a different bullet
    )
    parsed = parse_pledge_page(text)
    commitments = parsed.organisations[0].commitments
    assert [(c.line_no, c.position, c.duplicates_folded) for c in commitments] == [
        (3, 1, 2),
        (4, 2, 0),
        (6, 3, 0),
        (8, 4, 0),
    ]
    assert [(s.line_no, s.reason) for s in parsed.skipped] == [
        (5, "duplicate of line 3"),
        (7, "duplicate of line 3"),
    ]
    assert_accounted(parsed, text)


def test_the_same_bullet_in_two_organisations_is_not_a_duplicate():
    text = SIMPLE + page(
        "Bravo Works", "Bravo Works is committed too.", "- paying the real living wage"
    )
    parsed = parse_pledge_page(text)
    acme, bravo = parsed.organisations
    assert acme.commitments[0].key == bravo.commitments[0].key
    assert parsed.skipped == ()


@pytest.mark.parametrize(
    ("bullet", "flags"),
    [
        ("building a more inclusive economy including", {"heading"}),
        ("improving wellbeing by", {"heading"}),
        ("CCS makes the following commitments:", {"heading"}),
        ("Net zero:", {"heading"}),
        ("we put prevention at the heart of everything we", {"truncated"}),
        ("supporting local charities and community groups across the town and", {"truncated"}),
        ("n the first 12 months we will develop our single point of access.", {"truncated"}),
        ("th year we will plant trees", {"truncated"}),
        ("paying the real living wage", set()),
        ("a greener town for everyone", set()),
        ("i-Cycle scheme for staff", set()),
        ("Net Zero: achieve net-zero emissions by 2050 at the latest", set()),
        ("improving wellbeing and tackle inequalities", set()),
        ("working with partners to reach net zero by 2040", set()),
    ],
)
def test_heading_and_truncated_flags(bullet, flags):
    text = page("Acme Trust", "Acme Trust is committed.", f"- {bullet}")
    (commitment,) = parse_pledge_page(text).organisations[0].commitments
    assert commitment.flags == frozenset(flags)
    assert commitment.text == bullet  # flagged bullets are kept, word for word


def test_short_lines_after_a_heading_are_statements_not_organisations():
    text = page(
        "ABCD in Luton",
        "As a people's movement, we pledge to support the 2040 vision",
        "- increasing volunteering",
        "Cambridge Community Services",
        "For us these goals mean:",
        "- children first",
        "Luton Youth Council",
        "Young people first",
        "- listening to young people",
    )
    parsed = parse_pledge_page(text)
    assert [(o.name, o.statement) for o in parsed.organisations] == [
        ("ABCD in Luton", "As a people's movement, we pledge to support the 2040 vision"),
        ("Cambridge Community Services", "For us these goals mean:"),
        ("Luton Youth Council", "Young people first"),
    ]
    assert_accounted(parsed, text)


def test_sub_heading_and_stray_titles_are_skipped_with_a_reason():
    text = SIMPLE + page(
        "Inclusive Economy",  # a lone short line right before bullets: a sub-heading
        "- hiring locally",
        "Our partners",  # not heading-like (first person): a paragraph after Acme's bullets
        "Health and Care",  # a section title: the line after it is itself a heading
        "Bravo Works",
        "Bravo Works is committed to Luton.",
        "- cycling to work",
    )
    parsed = parse_pledge_page(text)
    assert [o.name for o in parsed.organisations] == ["Acme Trust", "Bravo Works"]
    assert parsed.organisations[0].commitments[-1].text == "hiring locally"
    assert [(s.line_no, s.reason) for s in parsed.skipped] == [
        (5, "sub-heading inside the commitments of Acme Trust"),
        (7, "paragraph after the commitments of Acme Trust"),
        (8, "short line with no pledge after it"),
    ]
    assert_accounted(parsed, text)


def test_statement_of_several_paragraphs_is_joined_with_blank_lines():
    text = page(
        "Acme Trust",
        "",
        "Acme Trust is committed to Luton 2040.",
        "",
        "We have worked in Luton since 1990.",
        "- planting trees",
    )
    (acme,) = parse_pledge_page(text).organisations
    assert (
        acme.statement
        == "Acme Trust is committed to Luton 2040.\n\nWe have worked in Luton since 1990."
    )
    assert acme.commitments[0].line_no == 6


def test_inline_commitments_without_bullets():
    text = SIMPLE + page(
        "Bravo Works",
        "Bravo Works is proud to support Luton 2040. We will pay the real living wage. "
        "Further, we will plant 100 trees. We love Luton.",
        "Charlie Ltd",
        "Charlie Ltd pledges to: 1. cut waste; 2. hire locally; and 3. cycle to work.",
    )
    parsed = parse_pledge_page(text)
    _acme, bravo, charlie = parsed.organisations
    assert bravo.commitments == ()
    assert bravo.inline_commitments == (
        "We will pay the real living wage.",
        "Further, we will plant 100 trees.",
    )
    assert charlie.inline_commitments == ("cut waste", "hire locally", "cycle to work.")
    assert_accounted(parsed, text)


def test_headings_that_pledge_nothing_are_skipped():
    text = SIMPLE + page(
        "Contact",
        "For more information about Luton 2040 please get in touch.",
        "Related pages",
        "Luton 2040 Vision",
    )
    parsed = parse_pledge_page(text)
    assert [o.name for o in parsed.organisations] == ["Acme Trust"]
    assert [(s.line_no, s.reason) for s in parsed.skipped] == [
        (5, "no commitments, bulleted or inline"),
        (6, "no commitments, bulleted or inline"),
        (7, "short line with no pledge after it"),
        (8, "short line with no pledge after it"),
    ]
    assert_accounted(parsed, text)


def test_inline_commitments_with_bullets_only_when_listed():
    text = page(
        "Acme Trust",
        "Acme Trust is committed to Luton. Over two years we will: embed co-production; "
        "make our estate child friendly. We will work with partners by:",
        "- planting trees",
        "Bravo Works",
        "We will pay the living wage; we will hire locally.",
        "- cycling to work",
    )
    acme, bravo = parse_pledge_page(text).organisations
    assert acme.inline_commitments == ("embed co-production", "make our estate child friendly.")
    assert bravo.inline_commitments == ("We will pay the living wage", "we will hire locally.")


def test_same_name_twice_gives_unique_slugs():
    text = SIMPLE + SIMPLE + page("Acme Trust 2", "Acme Trust 2 is committed.", "- more")
    parsed = parse_pledge_page(text)
    assert [o.slug for o in parsed.organisations] == [
        "acme-trust",
        "acme-trust-2",
        "acme-trust-2-2",
    ]
    assert parse_pledge_page(text) == parsed


def test_keys_are_stable_when_only_whitespace_or_quotes_change():
    one = page("Acme Trust", "Acme Trust is committed.", "- Supporting Luton's  youth")
    two = page("Acme  Trust", "Acme Trust is committed.", "•   supporting Luton’s youth   ")
    first = parse_pledge_page(one).organisations[0].commitments[0]
    second = parse_pledge_page(two).organisations[0].commitments[0]
    assert first.key == second.key
    assert first.text != second.text


def test_blank_bullets_are_skipped():
    text = SIMPLE + page("-", "•   ", "- ...")
    parsed = parse_pledge_page(text)
    assert [(s.line_no, s.reason, s.bullet) for s in parsed.skipped] == [
        (5, "blank bullet", True),
        (6, "blank bullet", True),
        (7, "blank bullet", True),
    ]
    assert parsed.bullet_count == 5


@pytest.mark.parametrize("text", ["", "   ", "\n\r\n\t  \n", "\ufeff", "\u00a0\n"])
def test_empty_page(text):
    with pytest.raises(PledgePageError, match=f"^{re.escape(EMPTY)}$"):
        parse_pledge_page(text)


@pytest.mark.parametrize(
    "text",
    [
        "Just some prose about Luton 2040.\nAnd another paragraph.",
        "- a bullet\n- another bullet",
        "Acme Trust\nAcme Trust is committed to Luton 2040.",  # a pledge with no commitments
        "Acme Trust\n- planting trees",  # a heading needs a paragraph before its bullets
        "\x00\x01\x02",
    ],
)
def test_page_with_no_organisations(text):
    with pytest.raises(PledgePageError, match=f"^{re.escape(NO_ORGANISATIONS)}$"):
        parse_pledge_page(text)


# --- Decoding -------------------------------------------------------------------------------


def test_decode_utf8_cp1252_and_utf16():
    assert decode_pledge_page("Luton’s pledge".encode()) == "Luton’s pledge"
    assert decode_pledge_page("Luton’s “pledge” – café".encode("cp1252")) == (
        "Luton’s “pledge” – café"
    )
    assert decode_pledge_page("Luton’s pledge\r\n".encode("utf-16")) == "Luton’s pledge\r\n"
    assert decode_pledge_page(b"") == ""


@pytest.mark.parametrize(
    "data",
    [
        b"Acme Trust\x00\n- planting trees",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"PK\x03\x04\x14\x00\x06\x00",
        bytes(range(1, 32)) * 10,
        codecs.BOM_UTF16_LE + b"\x00\xd8",  # a lone surrogate: not UTF-16 text
    ],
)
def test_decode_refuses_binary(data):
    with pytest.raises(PledgePageError, match="looks like a binary file"):
        decode_pledge_page(data)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("GoodGym Luton", "goodgym-luton"),
        ("Luton’s Café & Bar", "lutons-cafe-bar"),
        ("  --Reactiv8 The Nation Limited--  ", "reactiv8-the-nation-limited"),
        ("南京", "organisation"),
        ("", "organisation"),
    ],
)
def test_slugify(name, slug):
    assert slugify(name) == slug


# --- Random input ---------------------------------------------------------------------------

FAST = settings(max_examples=200, deadline=None)
NAME_WORDS = ["Acme", "Luton", "Trust", "College", "Hub", "Forum", "Care", "Green", "BCN", "ELFT"]
names = st.lists(st.sampled_from(NAME_WORDS), min_size=1, max_size=4).map(" ".join)
markers = st.sampled_from(["- ", "-", "• ", "* ", "– ", "— ", "· ", "  - ", "\t•"])
one_line = st.text(st.characters(exclude_characters="\r\n"), max_size=60)
huge = st.tuples(st.characters(), st.integers(1_000, 20_000)).map(lambda t: t[0] * t[1])
anything = st.text() | one_line | huge | st.sampled_from(["", " ", "\x00", "\u00a0", "\ufeff"])


@st.composite
def messy_pages(draw) -> str:
    """Pages shaped like the real one, then roughed up with random lines and line endings."""
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(names)
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from([name, f"  {name}\u00a0", draw(anything)])))
        lines.append(f"{name} is committed to Luton 2040. {draw(anything)}")
        for _ in range(draw(st.integers(0, 4))):
            lines.append(draw(markers) + draw(anything))
        if draw(st.booleans()):
            lines.insert(draw(st.integers(0, len(lines))), draw(anything))
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return draw(st.sampled_from(["", "\ufeff"])) + eol.join(lines)


@st.composite
def tidy_pages(draw) -> tuple[str, list[tuple[str, bool, int]]]:
    """Well-formed pages (random bullet wording) and what they should parse to."""
    lines, expected = [], []
    for index in range(draw(st.integers(1, 5))):
        name, derived = draw(names), draw(st.booleans())
        if not derived:
            lines.append(name)
        lines.append(f"{name} is committed to Luton 2040. {draw(one_line)}".strip())
        bullets = draw(st.integers(1, 4))
        for number in range(bullets):
            lines.append(f"{draw(markers)}commitment {index}.{number} {draw(one_line)}")
        expected.append((name, derived, bullets))
    return "\n".join(lines), expected


def parse_or_refuse(text: str) -> ParsedPage | None:
    try:
        parsed = parse_pledge_page(text)
    except PledgePageError as error:
        assert str(error) in (EMPTY, NO_ORGANISATIONS)
        return None
    assert parse_pledge_page(text) == parsed  # deterministic
    assert_accounted(parsed, text)
    return parsed


@FAST
@given(st.text())
def test_any_text_parses_or_is_refused_clearly(text):
    parse_or_refuse(text)


@FAST
@given(messy_pages())
def test_messy_pages_parse_or_are_refused_clearly(text):
    parse_or_refuse(text)


@FAST
@given(tidy_pages())
def test_tidy_pages_parse_to_what_was_written(case):
    text, expected = case
    parsed = parse_or_refuse(text)
    assert parsed is not None
    got = [(o.name, o.name_derived, len(o.commitments)) for o in parsed.organisations]
    assert got == expected
    assert parsed.skipped == ()


@FAST
@given(st.binary())
def test_any_bytes_decode_or_are_refused_clearly(data):
    try:
        text = decode_pledge_page(data)
    except PledgePageError as error:
        assert "looks like a binary file" in str(error)
    else:
        parse_or_refuse(text)
