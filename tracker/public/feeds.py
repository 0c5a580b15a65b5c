"""Atom 1.0 feeds (RFC 4287) of accepted updates, for residents and journalists to follow.

Built with the standard library's ElementTree, which escapes text and attributes; characters
XML 1.0 cannot carry at all (most control characters) are dropped first, so a narrative pasted
from anywhere still makes a feed every reader can parse. An entry's content is the narrative as
plain text (``type="text"``): readers show it as written, never as markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree

from flask import current_app, url_for

from tracker.services.public import FeedEntry

NAMESPACE = "http://www.w3.org/2005/Atom"
# What XML 1.0 allows (https://www.w3.org/TR/xml/#charsets): everything else is dropped.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# A feed with no entries yet still needs an <updated>: the start of the Unix epoch says "never".
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def absolute_url(endpoint: str, **values: object) -> str:
    """A page's address at the site's public address (``PUBLIC_BASE_URL``), as emails link.

    Not from the request's Host header: an entry's id must stay the same however the feed was
    reached, and a forged Host must not end up in a cached feed.
    """
    return current_app.config["PUBLIC_BASE_URL"] + url_for(endpoint, **values)


def xml_text(value: str | None) -> str:
    """Text that XML 1.0 can carry: characters it forbids are removed."""
    return _NOT_XML.sub("", value or "")


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive times; they are stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _add(parent: ElementTree.Element, tag: str, text: str | None = None, **attributes: str):
    element = ElementTree.SubElement(parent, tag, {k: xml_text(v) for k, v in attributes.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _summary(entry: FeedEntry) -> str:
    update = entry.update
    parts = [f"{update.status.label} in {update.period.label}"]
    if update.progress_text:
        figure = f"Progress {update.progress_text}"
        if update.percent_text:
            figure += f" ({update.percent_text} to the target)"
        parts.append(figure)
    return ". ".join(parts) + "."


def _content(entry: FeedEntry) -> str:
    update = entry.update
    words = [update.narrative or "No progress update was written for this quarter."]
    if update.evidence_link:
        words.append(f"Evidence: {update.evidence_link}")
    return "\n\n".join([_summary(entry), *words])


def atom_feed(
    *,
    title: str,
    self_url: str,
    alternate_url: str,
    author: str,
    entries: Sequence[FeedEntry],
    fallback_updated: datetime | None,
) -> bytes:
    """The feed document, newest entry first, as UTF-8 bytes."""
    feed = ElementTree.Element("feed", {"xmlns": NAMESPACE, "xml:lang": "en-GB"})
    _add(feed, "id", self_url)
    _add(feed, "title", title)
    times = [e.update.accepted_at for e in entries if e.update.accepted_at is not None]
    _add(feed, "updated", _timestamp(max(times) if times else fallback_updated or _NEVER))
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=alternate_url)
    _add(_add(feed, "author"), "name", author)
    _add(feed, "generator", "Pledge Tracker")
    for entry in entries:
        update = entry.update
        page = absolute_url(
            "public.commitment", slug=entry.organisation_slug, commitment_id=entry.commitment_id
        )
        item = _add(feed, "entry")
        # The commitment's page at that quarter: permanent, and unique to this update.
        _add(item, "id", f"{page}#{update.period.slug}")
        _add(item, "title", f"{entry.organisation_name}: {entry.heading} ({update.period.label})")
        _add(item, "updated", _timestamp(update.accepted_at or _NEVER))
        _add(item, "link", rel="alternate", type="text/html", href=f"{page}#{update.period.slug}")
        _add(_add(item, "author"), "name", entry.organisation_name)
        _add(item, "summary", _summary(entry), type="text")
        _add(item, "content", _content(entry), type="text")
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
