"""The summary page's frozen part, rendered once per web worker and kept.

A board summary never changes after it is built (a rebuild adds a revision), so the sections the
page shows, rendered from its stored page part, are the same for every reader: on the region
they were most of the page's time (thousands of table cells through Jinja macros). Each app
keeps the last few renderings under the summary's ``fingerprint``, a token given at build time;
a summary without one is rendered on every read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from flask import current_app
from markupsafe import Markup

from tracker.board.views import page_view_of, template_helpers
from tracker.domain.summary import PAGE_LIST_LIMIT
from tracker.models import BoardSummary

KEPT = 16  # summaries per worker: a few quarters' latest revisions


@dataclass(frozen=True)
class RenderedSummary:
    label: str
    slug: str
    in_brief: Markup
    sections: Markup


class _Kept:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.renderings: OrderedDict[str, RenderedSummary] = OrderedDict()


def rendered(summary: BoardSummary) -> RenderedSummary:
    """The summary's frozen sections as HTML, from this worker's keep when it has them."""
    kept: _Kept = current_app.extensions.setdefault("board_renderings", _Kept())
    key = summary.fingerprint
    if key is not None:
        with kept.lock:
            found = kept.renderings.get(key)
            if found is not None:
                kept.renderings.move_to_end(key)
                return found
    made = _render(summary)
    if key is not None:
        with kept.lock:
            kept.renderings[key] = made
            while len(kept.renderings) > KEPT:
                kept.renderings.popitem(last=False)
    return made


def _render(summary: BoardSummary) -> RenderedSummary:
    # The page's stored part: the first PAGE_LIST_LIMIT items of each long list, with totals.
    view = page_view_of(summary)
    sections = current_app.jinja_env.get_template("board/_sections.html").make_module(
        {"list_limit": PAGE_LIST_LIMIT, **template_helpers()}
    )
    return RenderedSummary(
        label=view.label,
        slug=view.slug,
        in_brief=sections.in_brief(view),  # macros of an .html template return Markup
        sections=sections.all_sections(view),
    )
