"""The app's Jinja environment renders exactly what Flask's own would, only with less work.

``tracker.templating.Environment`` reads plain dicts, template globals and indented markup
more cheaply (the GOV.UK macros do all three for every form field). Each case is rendered by
it and by a stock Flask environment with the same loader and settings: the bytes must match.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
from flask.templating import Environment as FlaskEnvironment
from markupsafe import Markup

from tests.conftest import make_test_app
from tracker.templating import Environment

NASTY = "Say <b>\"this\"</b> & 'that'"


@pytest.fixture(scope="module")
def environments(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    folder: Path = tmp_path_factory.mktemp("templating")
    app = make_test_app(f"sqlite:///{folder / 'unused.db'}", folder)
    ours = app.jinja_env
    assert isinstance(ours, Environment)
    stock = FlaskEnvironment(
        app,
        loader=ours.loader,
        undefined=ours.undefined,
        trim_blocks=ours.trim_blocks,
        lstrip_blocks=ours.lstrip_blocks,
        autoescape=ours.autoescape,
    )
    stock.filters.update({k: v for k, v in ours.filters.items() if k != "indent"})
    stock.globals.update(ours.globals)
    assert stock.filters["indent"] is not ours.filters["indent"]
    return ours, stock


def both(environments: tuple[Any, Any], source: str, **context: Any) -> str:
    ours, stock = environments
    with ours.app.test_request_context("/"):
        mine = ours.from_string(source).render(**context)
        theirs = stock.from_string(source).render(**context)
    assert mine == theirs
    return mine


def test_dict_lookups_read_keys_methods_and_missing_names_as_jinja_does(environments):
    d = {"text": NASTY, "items": ["a", "b"], "nested": {"html": Markup("<i>x</i>")}}
    out = both(
        environments,
        "{{ d.text }}|{{ d['items'] }}|{{ d.items is callable }}|{{ d.keys is callable }}"
        "|{{ d.missing is defined }}|{{ d.missing.deeper is defined }}|{{ d.nested.html }}"
        "|{{ d['nested']['html'] }}|{{ d[0] is defined }}|{{ d.get('text') }}"
        "|{% for k, v in d.items() %}{{ k }};{% endfor %}",
        d=d,
    )
    assert out.startswith("Say &lt;b&gt;&#34;this&#34;&lt;/b&gt; &amp; &#39;that&#39;|[&#39;a&#39;")
    assert "|True|True|False|False|<i>x</i>|<i>x</i>|False|" in out
    assert out.endswith("text;items;nested;")


def test_dict_subclasses_and_other_objects_keep_jinja_own_lookup(environments):
    class Labelled(dict):  # type: ignore[type-arg]
        label = "from the attribute"

    out = both(
        environments,
        "{{ o.label }}|{{ o['label'] }}|{{ od.x }}|{{ od.move_to_end is callable }}"
        "|{{ s.upper() }}",
        o=Labelled(label="from the key"),
        od=OrderedDict(x=1),
        s="abc",
    )
    assert out == "from the attribute|from the key|1|True|ABC"


@pytest.mark.parametrize("width", [2, "<b>", "  "])
@pytest.mark.parametrize("first", [False, True])
@pytest.mark.parametrize("blank", [False, True])
def test_indent_gives_the_same_text_for_markup_and_for_plain_text(
    environments, width, first, blank
):
    text = "one <b>\n\n  two &\nthree\n"
    out = both(
        environments,
        "{{ m | indent(width, first, blank) }}#{{ t | indent(width, first, blank) }}",
        m=Markup(text),
        t=text,
        width=width,
        first=first,
        blank=blank,
    )
    assert "one <b>" in out and "one &lt;b&gt;" in out


COMPONENTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "radios",
        "govukRadios",
        {
            "idPrefix": "status",
            "name": "status",
            "fieldset": {"legend": {"text": NASTY, "classes": "govuk-fieldset__legend--m"}},
            "hint": {"html": Markup("<strong>Pick</strong> one")},
            "errorMessage": {"text": "Choose how it is going"},
            "items": [
                {"value": "on_track", "text": "On track", "hint": {"text": NASTY}},
                {"divider": "or"},
                {
                    "value": "at_risk",
                    "text": "At risk",
                    "checked": True,
                    "conditional": {"html": Markup("<p>Say why</p>")},
                    "attributes": {"data-x": NASTY},
                },
            ],
        },
    ),
    (
        "checkboxes",
        "govukCheckboxes",
        {
            "idPrefix": "remove_files",
            "name": "remove_files",
            "classes": "govuk-checkboxes--small",
            "items": [{"value": "1", "text": NASTY}, {"value": "2", "html": Markup("<i>x</i>")}],
        },
    ),
    (
        "character-count",
        "govukCharacterCount",
        {
            "name": "narrative",
            "id": "narrative",
            "maxlength": 5000,
            "rows": 6,
            "value": NASTY + "\nsecond line",
            "label": {"text": "Progress update", "isPageHeading": True},
            "hint": {"text": NASTY},
        },
    ),
    (
        "input",
        "govukInput",
        {
            "id": "progress",
            "name": "progress",
            "value": "12.5",
            "inputmode": "decimal",
            "suffix": {"text": "%"},
            "label": {"text": "Progress so far"},
            "errorMessage": {"html": Markup("Enter a <em>number</em>")},
            "attributes": {"spellcheck": "false"},
        },
    ),
    ("button", "govukButton", {"text": "Save and continue", "preventDoubleClick": True}),
    (
        "error-summary",
        "govukErrorSummary",
        {"titleText": "There is a problem", "errorList": [{"text": NASTY, "href": "#status"}]},
    ),
    (
        "summary-list",
        "govukSummaryList",
        {
            "rows": [
                {
                    "key": {"text": "Status"},
                    "value": {"html": Markup("<strong>On track</strong>")},
                    "actions": {
                        "items": [{"href": "/x", "text": "Change", "visuallyHiddenText": NASTY}]
                    },
                }
            ]
        },
    ),
    (
        "table",
        "govukTable",
        {
            "caption": NASTY,
            "firstCellIsHeader": True,
            "head": [{"text": "Organisation"}, {"text": "Returns", "format": "numeric"}],
            "rows": [[{"text": "Active Luton"}, {"text": "3", "format": "numeric"}]],
        },
    ),
    (
        "date-input",
        "govukDateInput",
        {
            "id": "due",
            "namePrefix": "due",
            "fieldset": {"legend": {"text": "New due date"}},
            "items": [{"name": "day", "value": "1"}, {"name": "month"}, {"name": "year"}],
        },
    ),
    (
        "select",
        "govukSelect",
        {
            "id": "sector",
            "name": "sector",
            "label": {"text": "Sector"},
            "items": [
                {"value": "", "text": "Any"},
                {"value": "nhs", "text": NASTY, "selected": True},
            ],
        },
    ),
    ("file-upload", "govukFileUpload", {"id": "file", "name": "file", "label": {"text": NASTY}}),
    (
        "notification-banner",
        "govukNotificationBanner",
        {"type": "success", "html": Markup("<p class='govuk-body'>Saved</p>")},
    ),
    ("tag", "govukTag", {"text": NASTY, "classes": "govuk-tag--green"}),
    (
        "pagination",
        "govukPagination",
        {
            "previous": {"href": "?page=1"},
            "next": {"href": "?page=3"},
            "items": [
                {"number": 1, "href": "?page=1"},
                {"number": 2, "current": True, "href": "?page=2"},
            ],
        },
    ),
]


@pytest.mark.parametrize(
    ("component", "macro", "params"), COMPONENTS, ids=[c[0] for c in COMPONENTS]
)
def test_every_gov_uk_component_renders_byte_for_byte_as_before(
    environments, component, macro, params
):
    out = both(
        environments,
        f'{{% from "govuk_frontend_jinja/components/{component}/macro.html" import {macro} %}}'
        f"{{{{ {macro}(params) }}}}",
        params=params,
    )
    assert out.strip()
