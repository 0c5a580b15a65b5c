"""The PDF board pack is a tagged PDF (PDF/UA-1) that a screen reader can navigate: its
language and title, one h1 then h2 and h3 with no level skipped, tables with captions and header
cells tied to their data cells, and each chart a Figure whose alternative text gives its figures."""

from __future__ import annotations

import logging
import re
from itertools import pairwise

import pytest

from tests.support import tagged_pdf
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tests.test_board import region as region  # the crafted region fixture
from tests.test_board_pages import built as built
from tests.test_board_pages import people as people

SECTIONS = [
    "Contents",
    "Needs the board's attention",
    "What changed since last quarter",
    "At a glance",
    "By priority",
    "Themes across organisations",
    "Trend over the last 2 quarters",
    "Organisations and priorities",
    "SMART completeness",
]


@pytest.fixture
def pack(client, built, people, tmp_path, caplog):
    sign_in(client, people["admin"])
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        response = client.get("/board/2024-25-q2.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    # WeasyPrint logs an error for a missing language, title or image alt text: none here.
    assert not [r for r in caplog.records if r.name.startswith("weasyprint")], caplog.text
    path = tmp_path / "pack.pdf"
    path.write_bytes(response.data)
    return tagged_pdf.read(path)


def test_the_pack_is_a_tagged_pdf_ua_document_with_its_language_and_title(pack):
    catalog = pack.catalog
    assert catalog["/MarkInfo"]["/Marked"].value is True
    assert "/StructTreeRoot" in catalog
    assert catalog["/Lang"] == "en-GB"
    # A reader's window shows the title, not the file name.
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    title = "Luton 2040 Place Board pack 2024/25 Q2"
    assert pack.info["/Title"] == title
    assert 'pdfuaid:part="1"' in pack.xmp and f">{title}</rdf:li>" in pack.xmp


def test_headings_go_h1_then_h2_and_h3_without_skipping_a_level(pack):
    headings = pack.all("H1", "H2", "H3", "H4", "H5", "H6")
    levels = [int(h.type[1]) for h in headings]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in pairwise(levels)), levels
    # The one h1 says what the document is; the h2s are the sections, in the contents' order.
    assert headings[0].text == "Luton 2040 Place Board pack 2024/25 Q2"
    assert [h.text for h in headings if h.type == "H2"] == SECTIONS
    assert "Off track (1)" in [h.text for h in headings if h.type == "H3"]


def test_the_contents_read_as_section_names_and_their_page_numbers(pack):
    contents = pack.all("L")[0]
    entries = [item.text for item in contents.iter("LI")]
    assert len(entries) == len(SECTIONS) - 1
    # No leader dots to be read out: a name, then the page its section starts on.
    pages = {h.text: h.page for h in pack.all("H2")}
    for entry, section in zip(entries, SECTIONS[1:], strict=True):
        name, page = re.fullmatch(r"([A-Za-z' ]+) (\d+)", entry).groups()
        assert section.startswith(name)
        assert int(page) == pages[section]


def test_tables_have_captions_and_every_data_cell_names_its_headers(pack):
    tables = pack.all("Table")
    # WeasyPrint tags page by page: a table broken across pages would be one Table per page,
    # the later ones with no caption (the accessibility statement says so). None breaks here.
    assert len(tables) >= 10
    for table in tables:
        parts = [child.type for child in table.children]
        assert parts[0] == "Caption", (table.page, parts)
        header_ids = {th.id for th in table.iter("TH")}
        cells = list(table.iter("TD"))
        assert header_ids and None not in header_ids and cells
        for cell in cells:
            headers = [str(h) for h in cell.attributes.get("/Headers", [])]
            assert headers and set(headers) <= header_ids, (table.children[0].text, cell.text)
    captions = [table.children[0].text for table in tables]
    # Captions the web page hides visually are kept for screen readers in the PDF too.
    assert "Off track" in captions
    assert "Organisations late with their returns or not communicating" in captions
    assert "The quarter in figures" in captions
    assert "Commitments by status and priority (the chart's figures)" in captions
    # Row headers: the "At a glance" figures are read as "Off track: 1 of 7 commitments".
    glance = tables[captions.index("The quarter in figures")]
    first_row = next(glance.iter("TR"))
    assert [cell.text for cell in first_row.children] == ["Off track", "1 of 7 commitments"]
    assert [c.type for c in first_row.children] == ["TH", "TD"]


def test_each_chart_is_a_figure_whose_alt_text_gives_its_figures(pack, built):
    figures = pack.all("Figure")
    assert len(figures) == 2
    priorities, trend = (f.alt or "" for f in figures)
    headline = built.data["headline"]
    counts = headline["status_counts"]
    assert priorities.startswith("Commitments by status and priority, 2024/25 Q2. ")
    assert (
        f"All commitments: {headline['commitments']} in all, {counts['off_track']} off track"
        in priorities
    )
    for priority in built.data["priorities"]:
        assert f"{priority['name']}: " in priorities
    assert trend.startswith("Status of all commitments at the end of each quarter. ")
    for point in built.data["trend"]:
        total = sum(point["status_counts"].values())
        assert f"{point['label']}: {total} in all" in trend


def test_the_accessibility_statement_says_the_pack_is_tagged_and_what_is_missing(client):
    page = get_page(client, "/accessibility-statement")
    assert "it is a tagged PDF (PDF/UA-1)" in page.text
    assert "is not a tagged PDF" not in page.text and "has no tags" not in page.text
    # The known gaps are stated, not hidden.
    assert "a table that runs onto the next page is tagged as a new table on each page" in page.text
    assert "not yet been checked with a PDF/UA validator" in page.text
