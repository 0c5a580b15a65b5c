"""The board pack: the stored summary as an A4 PDF, with contents, page numbers and the charts.

The PDF is tagged (WeasyPrint's PDF/UA-1 variant): a structure tree of headings, paragraphs,
lists and tables with their header cells, in reading order, the document's language and title,
and each chart a Figure whose alternative text gives its figures. Screen readers, reflow and
text-to-speech read that tree rather than guessing from where text sits on the page.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from flask import render_template

from tracker.board.views import SummaryView, template_helpers

PACK_LIST_LIMIT = 200
# Tagged for accessibility; PDF/UA-1 is PDF 1.7, which every reader opens (UA-2 needs PDF 2.0).
PDF_VARIANT = "pdf/ua-1"


def _no_fetching(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # Everything the pack needs is inline; text from the database must not make the server fetch.
    raise ValueError(f"the board pack fetches nothing ({url[:60]!r})")


def render_pack(view: SummaryView) -> bytes:
    """The PDF bytes of a summary (WeasyPrint renders the inline SVG charts)."""
    html = render_template(
        "board/pack.html",
        view=dataclasses.replace(view, for_print=True),
        data=view.data,
        # A pack a board member can print: long lists are cut, the downloads have them all.
        list_limit=PACK_LIST_LIMIT,
        **template_helpers(),
    )
    with warnings.catch_warnings():
        # WeasyPrint 70 warns that it will need HarfBuzz-Subset one day; fonts embed without it.
        warnings.filterwarnings("ignore", "HarfBuzz-Subset", DeprecationWarning)
        from weasyprint import HTML

        return HTML(string=html, url_fetcher=_no_fetching).write_pdf(pdf_variant=PDF_VARIANT)
