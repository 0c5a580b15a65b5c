"""What every template can use: the service's name, navigation for the user's role, status tags."""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import MutableMapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, has_request_context, request, url_for
from flask.templating import Environment as FlaskEnvironment
from flask_login import current_user
from jinja2.filters import do_indent
from markupsafe import Markup

from tracker.charts import format_amount
from tracker.domain.enums import Role
from tracker.domain.updates import status_tag
from tracker.evidence import ALLOWED_TYPES
from tracker.security import csp_nonce

_PRIVATE_ORGANISATION_PAGE = re.compile(r"^/organisations/[^/]+/(returns|commitments)(/|$)")


# Names a plain dict answers as attributes (its methods): Jinja looks these up as attributes first.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Globals(ChainMap[str, Any]):
    """A template's globals over the environment's, as Jinja keeps them, with a cheap ``keys``.

    Each ``{% from … import … %}`` inside a GOV.UK macro asks which of the importing context's
    globals the imported template lacks (``Template._get_default_module``: a set minus these
    keys): through ``KeysView`` that is a ``ChainMap.__contains__``, each through a generator,
    for every one of sixteen globals, at dozens of imports per form field. That was a sixth of
    rendering a field (cProfile); a set of the same keys answers at once.
    """

    def keys(self) -> set[str]:  # type: ignore[override]
        return set(self)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    """Jinja's ``indent`` filter, the same text, but markup is indented as one string.

    Jinja splits markup into lines and joins them as markup: a ``Markup`` made for every line
    and every join, and the GOV.UK macros indent each nested component's HTML. Its indention
    is not escaped either way (``Markup(indention)``), so plain text gives the same result.
    """
    if isinstance(s, Markup):
        # Already markup, and the indention is whitespace Jinja would not escape either.
        return Markup(do_indent(str(s), width, first, blank))  # noqa: S704
    return do_indent(s, width, first, blank)


class Environment(FlaskEnvironment):
    """Flask's Jinja environment, rendering the same output with less work per lookup.

    The GOV.UK Frontend macros read their ``params`` dicts with attribute syntax
    (``params.hint.text``): Jinja tries the attribute first, and for a dict that raises (and
    formats) an ``AttributeError`` before the key is read. Half of the update form's time
    was its ten fields' macros; these three changes halve each field (cProfile: the form's
    status radios 1.0 → 0.5 ms), byte for byte the same HTML (``tests/unit/test_templating``).
    """

    def __init__(self, app: Flask, **options: Any) -> None:
        super().__init__(app, **options)
        self.filters["indent"] = _indent

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return _Globals({} if d is None else d, self.globals)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # A plain dict has no attributes but its methods: for any other name, Jinja's own
        # lookup ends at the key, or at undefined.
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) is dict and type(argument) is str and argument not in _DICT_ATTRIBUTES:
            try:
                return obj[argument]
            except KeyError:
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)


def navigation() -> list[dict[str, Any]]:
    """Header links for whoever is looking: what their role can use, and nothing else.

    A link is the current page on its own URL and active anywhere under it.
    """
    from tracker.auth.access import second_factor_pending

    if second_factor_pending():
        return []  # every page but signing out waits for the code: no links that bounce back
    items = [("Pledges", "site.home"), ("Organisations", "public.organisations")]
    if current_user.is_authenticated:
        if current_user.role == Role.ADMIN:
            items.append(("Admin", "admin.overview"))
        if current_user.role == Role.LEAD:
            items.append(("Your returns", "returns.mine"))
        if current_user.role in (Role.ADMIN, Role.BOARD):
            items.append(("Board summary", "board.latest"))
        items.append(("Your account", "auth.account"))
    else:
        items.append(("Sign in", "auth.sign_in"))
    # An organisation's return and commitment pages belong to the lead's returns, not to the
    # public organisation pages their addresses start with.
    path = request.path
    if _PRIVATE_ORGANISATION_PAGE.match(path):
        path = "/returns/"
    links = []
    for text, endpoint in items:
        href = url_for(endpoint)
        current = request.path == href
        active = current or (href != "/" and path.startswith(href + "/"))
        links.append({"text": text, "href": href, "current": current, "active": active})
    return links


def london_time(value: datetime | None, fmt: str = "%-d %B %Y at %-I:%M%p") -> str:
    """A stored UTC time as people in the place read it."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
    return local.strftime(fmt).replace("AM", "am").replace("PM", "pm")


def _amount(value: Decimal | float | int | None) -> str:
    """A figure as people write it: 120, 45.5, 12,500 (never 1.2E+2 or 120.0000)."""
    return "" if value is None else format_amount(value)


def long_date(value: date | None) -> str:
    """GOV.UK style dates: 1 April 2025."""
    return value.strftime("%-d %B %Y") if value else ""


def file_size(size: int | None) -> str:
    """A file's size as people read it: 900 bytes, 12 KB, 1.5 MB."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} byte{'s' if size != 1 else ''}"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


def file_kind(content_type: str | None) -> str:
    """What a stored file is, in words: "PDF", "Word document"."""
    known = ALLOWED_TYPES.get(content_type or "")
    return known.label if known else "File"


def compile_templates(app: Flask) -> int:
    """Compile every template now; how many. For the served app (``tracker.wsgi``) only.

    Jinja compiles a template the first time a page needs it, once in each worker: on the
    load test that was a tenth of the workers' time in its first minute (py-spy), visitors
    waiting while the GOV.UK macros compiled. Compiled when the app is built, the work is done
    before a worker takes a request, and once for all of them when gunicorn preloads the app.
    """
    names = app.jinja_env.list_templates(filter_func=lambda name: not name.endswith(".py"))
    for name in names:
        app.jinja_env.get_template(name)
    return len(names)


def init_app(app: Flask) -> None:
    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "service_name": app.config["SERVICE_NAME"],
            "place_name": app.config["PLACE_NAME"],
            "navigation": navigation,
            # Emails are rendered by jobs, outside any request.
            "cspNonce": csp_nonce() if has_request_context() else "",
            "current_user": current_user,
        }

    app.jinja_env.filters["london_time"] = london_time
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["amount"] = _amount
    app.jinja_env.filters["file_size"] = file_size
    app.jinja_env.filters["file_kind"] = file_kind
    app.jinja_env.globals["delivery_status_tag"] = status_tag
