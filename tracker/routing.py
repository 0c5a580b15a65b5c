"""URL converters for every route: a part of a URL that names nothing is a 404, never a 500.

Registered in place of Werkzeug's own, so every ``<int:…>`` and ``<slug>`` in every blueprint
gets them without saying so.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, Map, UnicodeConverter

# Ids (and versions) are INTEGER columns: PostgreSQL refuses a larger number with an error, and
# SQLite's driver cannot pass one beyond 64 bits at all.
ID_MAX = 2**31 - 1


class BoundedIntegerConverter(IntegerConverter):
    """``<int:…>``: ASCII digits up to the largest id a row can have."""

    # Werkzeug's \\d also matches other scripts' digits ("٣"); an id is written in ASCII.
    regex = "[0-9]+"

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = ID_MAX,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


class TextConverter(UnicodeConverter):
    """``<slug>`` and ``<string:…>``: one path segment without control characters.

    A NUL that reached PostgreSQL in a query would be refused with an error.
    """

    def __init__(
        self,
        map: Map,
        minlength: int = 1,
        maxlength: int | None = None,
        length: int | None = None,
    ) -> None:
        super().__init__(map, minlength, maxlength, length)
        self.regex = self.regex.replace("[^/]", r"[^/\x00-\x1f\x7f]", 1)


def init_app(app: Flask) -> None:
    """Use these converters for every route registered from now on (before the blueprints)."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.url_map.converters["default"] = TextConverter
    app.url_map.converters["string"] = TextConverter
