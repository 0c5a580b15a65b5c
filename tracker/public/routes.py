"""Public, signed-out pages and open data: who pledged what, and how delivery is going.

Shown only while the place publishes its pledges. When it does not, visitors get 404 and
signed-in people still see the pages (with a banner), so the programme team can check them
before switching publication on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
    stream_with_context,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.http import is_resource_modified

from tracker.auth.access import public
from tracker.extensions import begin_reading
from tracker.forms import whole_number
from tracker.public.feeds import absolute_url, atom_feed
from tracker.services import open_data_files
from tracker.services import public as service
from tracker.services.open_data import CSV_COLUMNS, is_published, licence

bp = Blueprint("public", __name__)


@bp.app_context_processor
def _publication() -> dict[str, Any]:
    # A function, so pages that never ask do no query.
    return {"public_pages_visible": _visible}


def _visible() -> bool:
    return service.is_published() or bool(current_user and current_user.is_authenticated)


def _page(template: str, **context: Any) -> ResponseReturnValue:
    published = service.is_published()
    if not published and not current_user.is_authenticated:
        abort(404)
    return render_template(template, published=published, **context)


@bp.get("/organisations")
@public
def organisations() -> ResponseReturnValue:
    """Every organisation that pledged, filtered by priority, sector, theme and reporting status,
    a page at a time."""
    known = service.catalogue()
    filters, problems = service.read_organisation_filters(request.args, known)
    found = service.organisation_list(filters, known, service.place_today(), _page_number())
    selects = [
        _select("priority", "Town priority", known.priority_choices, filters.priority),
        _select("theme", "Theme", known.theme_choices, filters.theme),
        _select("sector", "Sector", known.sector_choices, filters.sector),
        _select(
            "reporting_status",
            "Reporting status",
            known.reporting_choices,
            filters.reporting_status,
        ),
    ]
    return _page(
        "public/organisations.html",
        found=found,
        page_size=service.COLLECTION_PAGE_SIZE,
        filters=filters,
        problems=problems,
        errors={problem.parameter: problem.message for problem in problems},
        selects=selects,
    )


def _select(
    name: str, label: str, choices: list[service.Choice], selected: str | None
) -> dict[str, Any]:
    """A GOV.UK select's items: "Any …" first, then the choices, the chosen one selected."""
    items = [{"value": "", "text": f"Any {label.lower()}", "selected": not selected}]
    items += [{"value": c.value, "text": c.label, "selected": c.value == selected} for c in choices]
    return {"name": name, "label": label, "items": items}


@bp.get("/organisations/<slug>")
@public
def organisation(slug: str) -> ResponseReturnValue:
    """One organisation's pledge: statement, commitments, accepted progress, moved goalposts."""
    page = service.organisation_page(slug, service.place_today())
    if page is None:
        abort(404)
    return _page("public/organisation.html", page=page)


@bp.get("/organisations/<slug>/progress/<int:commitment_id>")
@public
def commitment(slug: str, commitment_id: int) -> ResponseReturnValue:
    """One commitment, quarter by quarter: each accepted update, newest first."""
    page = service.commitment_timeline(
        slug, commitment_id, service.catalogue(), service.place_today()
    )
    if page is None:
        abort(404)
    return _page("public/commitment.html", page=page)


ATOM = "application/atom+xml"


def _conditional(response: Response) -> Response:
    """A strong ETag and Last-Modified, as the API answers; 304 when the reader has it."""
    response.add_etag()
    changed = service.last_changed()
    if changed is not None:
        response.last_modified = changed
    response.headers.setdefault("Cache-Control", "public, max-age=300")
    return response.make_conditional(request)


def _feed_visible() -> None:
    """Feeds follow the pages: public while the place publishes, else for signed-in people."""
    if not service.is_published() and not current_user.is_authenticated:
        abort(404)


@bp.get("/updates.atom")
@public
def updates_feed() -> ResponseReturnValue:
    """An Atom feed of the newest accepted updates of every organisation."""
    _feed_visible()
    entries = service.feed_entries()
    body = atom_feed(
        title=f"{current_app.config['PLACE_NAME']} pledges: accepted progress updates",
        self_url=absolute_url("public.updates_feed"),
        alternate_url=absolute_url("site.home"),
        author=current_app.config["PLACE_NAME"],
        entries=entries,
        fallback_updated=service.last_changed(),
    )
    response = Response(body, mimetype=ATOM)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return _conditional(response)


@bp.get("/organisations/<slug>/updates.atom")
@public
def organisation_feed(slug: str) -> ResponseReturnValue:
    """An Atom feed of one organisation's newest accepted updates."""
    _feed_visible()
    organisation = service.organisation_by_slug(slug)
    if organisation is None:
        abort(404)
    entries = service.feed_entries(organisation.id)
    body = atom_feed(
        title=f"{organisation.name}: accepted progress updates",
        self_url=absolute_url("public.organisation_feed", slug=slug),
        alternate_url=absolute_url("public.organisation", slug=slug),
        author=organisation.name,
        entries=entries,
        fallback_updated=service.last_changed(),
    )
    response = Response(body, mimetype=ATOM)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return _conditional(response)


@bp.get("/priorities")
@public
def priorities() -> ResponseReturnValue:
    from tracker.services.figures import commitment_figures

    return _page(
        "public/priorities.html",
        entries=service.priority_index(service.catalogue()),
        pledges=commitment_figures(),
    )


@bp.get("/priorities/<code>")
@public
def priority(code: str) -> ResponseReturnValue:
    """Every organisation's commitments to one of the town's priorities."""
    page = service.priority_page(code, service.catalogue(), _page_number())
    if page is None:
        abort(404)
    return _page(
        "public/collection.html",
        page=page,
        kind="priority",
        code=code,
        page_size=service.COLLECTION_PAGE_SIZE,
    )


@bp.get("/themes")
@public
def themes() -> ResponseReturnValue:
    return _page("public/themes.html", entries=service.theme_index(service.catalogue()))


@bp.get("/themes/<slug>")
@public
def theme(slug: str) -> ResponseReturnValue:
    """A shared theme across organisations: who pledged it and who has completed it."""
    page = service.theme_page(slug, service.catalogue(), _page_number())
    if page is None:
        abort(404)
    return _page(
        "public/collection.html",
        page=page,
        kind="theme",
        code=slug,
        page_size=service.COLLECTION_PAGE_SIZE,
    )


def _page_number() -> int:
    """``?page=`` as a page number; anything else is the first page (past the last: the last)."""
    return whole_number(request.args.get("page")) or 1


@bp.get("/open-data")
@public
def open_data() -> ResponseReturnValue:
    """What the open-data files hold, field by field, and the licence they are published under."""
    return _page("public/open_data.html", licence=licence(), csv_columns=CSV_COLUMNS)


def _licence_link(response: Response) -> Response:
    terms = licence()
    if terms.url:
        response.headers["Link"] = f'<{terms.url}>; rel="license"'
    return response


@bp.get("/open-data.json")
@public
def open_data_json() -> ResponseReturnValue:
    """Every organisation and commitment, as the documented open-data JSON."""
    return _open_data_download(open_data_files.FORMATS["json"])


@bp.get("/open-data.csv")
@public
def open_data_csv() -> ResponseReturnValue:
    """The same data as a table, one row per commitment."""
    return _open_data_download(open_data_files.FORMATS["csv"], attachment=True)


def _read(chunks: Iterator[str]) -> Iterator[str]:
    """Stream a build as a reader: the view's transaction ended with the view, and a new one
    would take SQLite's write lock for as long as the download lasts."""
    begin_reading()
    yield from chunks


def _open_data_download(form: open_data_files.Format, *, attachment: bool = False) -> Response:
    """The file the scheduler built when it is current, else the live build, streamed.

    Either way with the same ETag and Last-Modified (a reader who has it gets 304 without
    anything being built), and never stale: the file is used only while its ETag, a digest of
    what is published now, is current (``tracker.services.open_data_files``).
    """
    if not is_published():
        abort(404)
    version = open_data_files.current_version()
    etag = version.etag(form.name)
    path = open_data_files.cached_file(form, version)
    if path is not None:
        # From disk in blocks (wsgi.file_wrapper): memory stays flat; ranges are honoured.
        response = send_file(
            path,
            mimetype=form.mimetype,
            etag=etag,
            last_modified=version.last_modified,
            conditional=True,
            max_age=None,
        )
    else:
        # Asked before anything is built: a reader who has this version is answered at once.
        modified = is_resource_modified(
            request.environ, etag=etag, last_modified=version.last_modified
        )
        body = stream_with_context(_read(form.build(datetime.now(UTC)))) if modified else None
        response = Response(body, status=200 if modified else 304, mimetype=form.mimetype)
        response.set_etag(etag)
        if version.last_modified is not None:
            response.last_modified = version.last_modified
    # The file's own name carries its ETag: the reader's is the download's.
    response.headers.pop("Content-Disposition", None)
    if attachment:
        response.headers["Content-Disposition"] = f'attachment; filename="{form.filename}"'
    # Caches may keep it but must ask again each time: asking costs a few small queries.
    response.headers["Cache-Control"] = "public, no-cache"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return _licence_link(response)
