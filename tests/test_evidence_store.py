"""Evidence files in the app: kept in the instance folder, served as safe downloads."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from urllib.parse import unquote

import pytest
from flask import Flask
from werkzeug.exceptions import NotFound

from tests.conftest import make_test_app
from tracker import evidence
from tracker.auth.access import public
from tracker.config import PROJECT_ROOT
from tracker.evidence import StoredFile, send_stored, store

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
LIMIT = 10 * 1024 * 1024


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_test_app(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)


def body(response) -> bytes:
    response.direct_passthrough = False
    try:
        return response.get_data()
    finally:
        response.close()


def test_files_are_kept_in_the_instance_folder_readable_only_by_the_app(app, tmp_path) -> None:
    with app.test_request_context():
        kept = store(io.BytesIO(PDF), "report.pdf", max_bytes=LIMIT)
        path = evidence.path_for(kept.key)

    assert path == tmp_path.resolve() / "evidence" / kept.key[:2] / kept.key
    assert path.read_bytes() == PDF
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for public_folder in (Path(app.static_folder), PROJECT_ROOT / "templates", PROJECT_ROOT):
        assert not path.is_relative_to(public_folder.resolve())


def test_evidence_dir_setting_is_used(tmp_path) -> None:
    app = make_test_app(
        f"sqlite:///{tmp_path / 'x.db'}", tmp_path, EVIDENCE_DIR=str(tmp_path / "files")
    )
    with app.test_request_context():
        kept = store(io.BytesIO(PDF), "report.pdf", max_bytes=LIMIT)

        assert evidence.path_for(kept.key).is_relative_to(tmp_path / "files")


@pytest.mark.parametrize("inside", ["static", "templates"])
def test_evidence_dir_inside_a_served_folder_is_refused(tmp_path, inside) -> None:
    served = {
        "static": PROJECT_ROOT / "tracker" / "static",
        "templates": PROJECT_ROOT / "templates",
    }
    app = make_test_app(
        f"sqlite:///{tmp_path / 'x.db'}", tmp_path, EVIDENCE_DIR=str(served[inside] / "evidence")
    )
    with app.test_request_context(), pytest.raises(RuntimeError, match="must be outside"):
        evidence.evidence_folder()


def test_send_stored_serves_the_bytes_as_a_download_nothing_renders(app) -> None:
    with app.test_request_context():
        kept = store(io.BytesIO(PDF), "Q3 report.pdf", max_bytes=LIMIT)
        response = send_stored(kept)

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Q3 report.pdf\"; filename*=UTF-8''Q3%20report.pdf"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert body(response) == PDF


def test_a_unicode_name_is_encoded_with_an_ascii_fallback(app) -> None:
    name = "Évaluation 2024 – final.pdf"
    with app.test_request_context():
        kept = store(io.BytesIO(PDF), name, max_bytes=LIMIT)
        response = send_stored(kept)
    body(response)

    disposition = response.headers["Content-Disposition"]
    assert disposition == (
        'attachment; filename="Evaluation 2024 final.pdf"; '
        "filename*=UTF-8''%C3%89valuation%202024%20%E2%80%93%20final.pdf"
    )
    assert unquote(disposition.split("UTF-8''")[1], encoding="utf-8") == name
    disposition.encode("latin-1")  # a header value must be sendable as it is


def test_a_name_with_nothing_in_ascii_still_has_a_fallback(app, tmp_path) -> None:
    with app.test_request_context():
        kept = store(io.BytesIO(PDF), "報告.pdf", max_bytes=LIMIT)
        response = send_stored(kept)
    body(response)

    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"evidence.pdf\"; filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf"
    )


def test_a_row_from_the_database_with_a_hostile_name_or_type_is_still_safe(app) -> None:
    with app.test_request_context():
        kept = store(io.BytesIO(PDF), "report.pdf", max_bytes=LIMIT)
        row = StoredFile(kept.key, 'x"\r\nSet-Cookie: a=b.html', "text/html", kept.size)
        response = send_stored(row)
    body(response)

    assert response.mimetype == "application/octet-stream"
    assert "\r" not in response.headers["Content-Disposition"]
    assert "\n" not in response.headers["Content-Disposition"]
    assert 'filename="xSet-Cookie: a=b.html"' in response.headers["Content-Disposition"]


@pytest.mark.parametrize("key", ["A" * 32, "../../secret_key", ""])
def test_a_missing_file_or_a_bad_key_is_not_found(app, key) -> None:
    with app.test_request_context(), pytest.raises(NotFound):
        send_stored(StoredFile(key, "report.pdf", "application/pdf", 1))


def test_a_deleted_file_is_not_found(app) -> None:
    with app.test_request_context():
        kept = store(io.BytesIO(PDF), "report.pdf", max_bytes=LIMIT)
        evidence.delete(kept.key)
        with pytest.raises(NotFound):
            send_stored(kept)


def test_the_app_security_headers_keep_the_download_policy(app) -> None:
    with app.test_request_context():
        kept = store(io.BytesIO(PDF), "report.pdf", max_bytes=LIMIT)

    @public
    def download() -> object:
        return send_stored(kept)

    app.add_url_rule("/evidence-download-test", view_func=download)
    response = app.test_client().get("/evidence-download-test")
    data = response.data
    response.close()

    assert response.status_code == 200
    assert data == PDF
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["Content-Disposition"].startswith("attachment;")
