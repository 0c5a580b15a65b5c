"""Evidence files: accepted by content, kept under random keys, names made safe. No database."""

from __future__ import annotations

import io
import random
import stat
import string
import struct
import unicodedata
import zipfile
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker import evidence
from tracker.evidence import ALLOWED_TYPES, EvidenceError, StoredFile, display_name, store

LIMIT = 10 * 1024 * 1024
WRONG_TYPE = (
    "The selected file must be a PDF, Word, Excel, PowerPoint, OpenDocument, CSV, text"
    " or image file"
)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"


# -- Tiny real files ---------------------------------------------------------------------------

PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


PNG = (
    b"\x89PNG\r\n\x1a\n"
    + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + _png_chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    + _png_chunk(b"IEND", b"")
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
WEBP_BODY = b"WEBPVP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00\x00"
WEBP = b"RIFF" + struct.pack("<I", len(WEBP_BODY)) + WEBP_BODY
CSV = b"Commitment,Target,Progress\nTrees planted,1000,420\nBus stops,12,12\n"
TEXT = "Évaluation du trimestre : les élèves ont planté 420 arbres à Luton.\n".encode()

CONTENT_TYPES_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
)


def zip_of(entries: dict[str, bytes], *, stored_first: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if stored_first:
            archive.writestr(stored_first, entries[stored_first], zipfile.ZIP_STORED)
        for name, body in entries.items():
            if name != stored_first:
                archive.writestr(name, body)
    return buffer.getvalue()


def ooxml(main_part: str) -> bytes:
    return zip_of(
        {
            "[Content_Types].xml": CONTENT_TYPES_XML.encode(),
            "_rels/.rels": b"<Relationships/>",
            main_part: b"<document>Progress this quarter</document>",
        }
    )


def odf(mimetype: str) -> bytes:
    return zip_of(
        {
            "mimetype": mimetype.encode(),
            "content.xml": b"<office:document-content/>",
            "META-INF/manifest.xml": b"<manifest:manifest/>",
        },
        stored_first="mimetype",
    )


DOCX_FILE = ooxml("word/document.xml")
XLSX_FILE = ooxml("xl/workbook.xml")
PPTX_FILE = ooxml("ppt/presentation.xml")
ODT_FILE = odf(ODT)
ODS_FILE = odf(ODS)


def keep(data: bytes, filename: str, folder, *, max_bytes: int = LIMIT) -> StoredFile:
    return store(io.BytesIO(data), filename, max_bytes=max_bytes, folder=folder)


# -- What is accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "name"),
    [
        (PDF, "Quarterly report.pdf", "application/pdf", "Quarterly report.pdf"),
        (PDF, "report", "application/pdf", "report.pdf"),
        (PNG, "site photo.png", "image/png", "site photo.png"),
        (PNG, "photo.pdf", "image/png", "photo.png"),
        (JPEG, "IMG_0042.JPG", "image/jpeg", "IMG_0042.JPG"),
        (JPEG, "planting.jpeg", "image/jpeg", "planting.jpeg"),
        (GIF, "chart.gif", "image/gif", "chart.gif"),
        (WEBP, "chart", "image/webp", "chart.webp"),
        (DOCX_FILE, "Minutes.docx", DOCX, "Minutes.docx"),
        (XLSX_FILE, "Figures.xlsx", XLSX, "Figures.xlsx"),
        (XLSX_FILE, "Figures.docx", XLSX, "Figures.xlsx"),
        (PPTX_FILE, "Board deck", PPTX, "Board deck.pptx"),
        (ODT_FILE, "Minutes.odt", ODT, "Minutes.odt"),
        (ODS_FILE, "Figures.xls", ODS, "Figures.ods"),
        (CSV, "figures.csv", "text/csv", "figures.csv"),
        (CSV, "figures", "text/csv", "figures.csv"),
        (TEXT, "notes.txt", "text/plain", "notes.txt"),
        (TEXT, "notes", "text/plain", "notes.txt"),
        (TEXT, "notes.html", "text/plain", "notes.txt"),
        (b"\xef\xbb\xbfA note with a byte order mark\n", "note.md", "text/plain", "note.md"),
    ],
)
def test_accepted_by_content_with_the_name_corrected(
    tmp_path, data, filename, content_type, name
) -> None:
    kept = keep(data, filename, tmp_path)

    assert (kept.content_type, kept.name, kept.size) == (content_type, name, len(data))
    assert evidence.path_for(kept.key, tmp_path).read_bytes() == data
    assert kept.content_type in ALLOWED_TYPES


def test_a_pdf_called_docx_is_kept_as_a_pdf(tmp_path) -> None:
    kept = keep(PDF, "report.docx", tmp_path)

    assert (kept.content_type, kept.name) == ("application/pdf", "report.pdf")


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", "page.txt"),
        (b"  \n<html><body>hello</body></html>", "page.html"),
        (b"Quarterly notes\n<script>fetch('/admin')</script>\n", "notes.txt"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "a.svg"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "chart.png"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48, "a.pdf"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 57, "report.pdf"),
        (zip_of({"data.txt": b"hello", "more/thing.bin": b"\x00\x01"}), "archive.docx"),
        (zip_of({"[Content_Types].xml": CONTENT_TYPES_XML.encode(), "x.xml": b"<x/>"}), "a.docx"),
        (
            zip_of(
                {
                    "[Content_Types].xml": CONTENT_TYPES_XML.encode(),
                    "word/document.xml": b"<document/>",
                    "word/vbaProject.bin": b"\x00macro",
                }
            ),
            "macro.docx",
        ),
        (
            zip_of(
                {
                    "[Content_Types].xml": CONTENT_TYPES_XML.encode(),
                    "word/document.xml": b"<document/>",
                    "xl/workbook.xml": b"<workbook/>",
                }
            ),
            "both.docx",
        ),
        (odf("application/vnd.oasis.opendocument.graphics"), "drawing.odt"),
        (zip_of({"mimetype": ODT.encode(), "content.xml": b"<x/>"}), "compressed.odt"),
        (b"PK\x03\x04" + b"\x00" * 40, "broken.docx"),
        (DOCX_FILE[: len(DOCX_FILE) // 2], "truncated.docx"),
        (random.Random(2040).randbytes(4096), "junk.txt"),
        (b"plain words\x00with a NUL\n", "notes.txt"),
        ("UTF-16 text".encode("utf-16"), "notes.txt"),
        (b"Caf\xe9 in Latin-1\n", "notes.txt"),
        (b"\x01\x02\x03\x04 mostly control characters \x05\x06\x07\x08\x0e\x0f\x10\x11", "a.txt"),
    ],
    ids=[
        "html",
        "html-after-whitespace",
        "script-in-text",
        "svg",
        "svg-with-xml-declaration",
        "exe",
        "elf",
        "plain-zip",
        "content-types-without-a-part",
        "macro-enabled",
        "two-office-families",
        "odf-drawing",
        "odf-compressed-mimetype",
        "broken-zip",
        "truncated-docx",
        "binary-junk",
        "text-with-nul",
        "utf-16",
        "latin-1",
        "control-characters",
    ],
)
def test_refused(tmp_path, data, filename) -> None:
    with pytest.raises(EvidenceError) as refused:
        keep(data, filename, tmp_path)

    assert str(refused.value) == WRONG_TYPE
    assert not any(path.is_file() for path in tmp_path.rglob("*"))


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n"])
def test_an_empty_file_is_refused(tmp_path, data) -> None:
    with pytest.raises(EvidenceError, match=r"^The selected file is empty$"):
        keep(data, "report.pdf", tmp_path)


def test_one_byte_over_the_limit_is_refused_and_the_limit_itself_is_fine(tmp_path) -> None:
    assert keep(PDF, "report.pdf", tmp_path, max_bytes=len(PDF)).size == len(PDF)

    with pytest.raises(EvidenceError) as refused:
        keep(PDF, "report.pdf", tmp_path, max_bytes=len(PDF) - 1)

    assert str(refused.value) == f"The selected file must be smaller than {len(PDF) - 1} bytes"


def test_the_size_message_uses_the_configured_limit(tmp_path) -> None:
    over = PDF + b"\n" * (LIMIT + 1 - len(PDF))

    with pytest.raises(EvidenceError) as refused:
        keep(over, "report.pdf", tmp_path)

    assert str(refused.value) == "The selected file must be smaller than 10MB"
    with pytest.raises(EvidenceError, match=r"smaller than 2MB$"):
        keep(over, "report.pdf", tmp_path, max_bytes=2 * 1024 * 1024)


def test_no_more_than_the_limit_and_one_byte_is_read(tmp_path) -> None:
    stream = io.BytesIO(PDF + b"\n" * 100_000)

    with pytest.raises(EvidenceError):
        store(stream, "report.pdf", max_bytes=1000, folder=tmp_path)

    assert stream.tell() == 1001


def test_office_files_are_recognised_without_decompressing_anything(tmp_path, monkeypatch) -> None:
    bomb = zip_of(
        {
            "[Content_Types].xml": CONTENT_TYPES_XML.encode(),
            "word/document.xml": b"<document/>",
            "word/media/zeros.bin": b"\x00" * (20 * 1024 * 1024),
        }
    )
    assert len(bomb) < 100_000

    def refuse(*args, **kwargs):
        raise AssertionError("an entry was decompressed")

    monkeypatch.setattr(zipfile.ZipFile, "read", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)

    assert keep(bomb, "bomb.docx", tmp_path).content_type == DOCX


def test_an_opendocument_mimetype_claiming_to_be_huge_is_not_read(tmp_path) -> None:
    data = bytearray(ODT_FILE)
    # Patch the central directory's uncompressed size for "mimetype" to 1 GB.
    header = data.rindex(b"PK\x01\x02", 0, data.index(b"PK\x05\x06"))
    while data[header + 46 : header + 54] != b"mimetype":
        header = data.rindex(b"PK\x01\x02", 0, header)
    data[header + 24 : header + 28] = struct.pack("<I", 1 << 30)

    with pytest.raises(EvidenceError, match=WRONG_TYPE):
        keep(bytes(data), "big.odt", tmp_path)


# -- Where files are kept -----------------------------------------------------------------------


def test_files_are_kept_under_random_unguessable_keys(tmp_path) -> None:
    first = keep(PDF, "report.pdf", tmp_path)
    second = keep(PDF, "report.pdf", tmp_path)

    assert first.key != second.key
    for kept in (first, second):
        assert len(kept.key) == 32  # 24 random bytes, 192 bits
        assert set(kept.key) <= set(string.ascii_letters + string.digits + "-_")
        path = evidence.path_for(kept.key, tmp_path)
        assert path == tmp_path / kept.key[:2] / kept.key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Nothing but the two files: the temporary files were renamed into place.
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        [first.key, second.key]
    )


@pytest.mark.parametrize(
    "key",
    ["../x", "a/b", "..", ".", "", "/etc/passwd", "x" * 31, "a" * 30 + "/..", "a" * 31 + "\x00"],
)
def test_path_for_refuses_anything_that_is_not_a_key(tmp_path, key) -> None:
    with pytest.raises(ValueError):
        evidence.path_for(key, tmp_path)
    with pytest.raises(ValueError):
        evidence.delete(key, tmp_path)
    with pytest.raises(ValueError):
        evidence.open_stored(key, tmp_path)


def test_open_and_delete(tmp_path) -> None:
    kept = keep(CSV, "figures.csv", tmp_path)

    with evidence.open_stored(kept.key, tmp_path) as opened:
        assert opened.read() == CSV
    evidence.delete(kept.key, tmp_path)
    evidence.delete(kept.key, tmp_path)  # already gone is fine

    assert not evidence.path_for(kept.key, tmp_path).exists()
    with pytest.raises(FileNotFoundError):
        evidence.open_stored(kept.key, tmp_path)


# -- Names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content_type", "name"),
    [
        ("../../etc/passwd", "text/plain", "passwd.txt"),
        ("C:\\Users\\Amina\\Documents\\Q3 report.pdf", "application/pdf", "Q3 report.pdf"),
        ("rep\x00o\x1brt\n\r.pdf", "application/pdf", "report.pdf"),
        ("\u202egpj.exe", "image/png", "gpj.png"),
        ('the "final" report\'s copy.pdf', "application/pdf", "the final reports copy.pdf"),
        ("  Q3 \t  report \u00a0 final.pdf  ", "application/pdf", "Q3 report final.pdf"),
        ("Minutes v1.2", "application/pdf", "Minutes v1.2.pdf"),
        ("report.final.pdf", "application/pdf", "report.final.pdf"),
        ("Évaluation 2024 – final.pdf", "application/pdf", "Évaluation 2024 – final.pdf"),
        ("", "application/pdf", "evidence.pdf"),
        ("...", "image/png", "evidence.png"),
        (".pdf", "application/pdf", "pdf.pdf"),
        ("figures.CSV", "text/csv", "figures.CSV"),
    ],
)
def test_display_names_are_made_safe(filename, content_type, name) -> None:
    assert display_name(filename, content_type) == name


def test_decomposed_accents_are_composed() -> None:
    decomposed = unicodedata.normalize("NFD", "Évaluation.pdf")

    assert display_name(decomposed, "application/pdf") == "Évaluation.pdf"


@pytest.mark.parametrize("filename", ["a" * 300 + ".pdf", "a" * 300, "b" * 252 + ".exe"])
def test_long_names_are_cut_to_255_characters_keeping_the_extension(filename) -> None:
    name = display_name(filename, "application/pdf")

    assert len(name) == 255
    assert name.endswith(".pdf")
    assert set(name[:-4]) <= {"a", "b"}


def test_a_stored_name_is_the_safe_name(tmp_path) -> None:
    kept = keep(TEXT, "../../etc/passwd", tmp_path)

    assert kept.name == "passwd.txt"
    assert not (tmp_path.parent / "etc").exists()


# -- Any input ----------------------------------------------------------------------------------

SAMPLES = [PDF, PNG, JPEG, GIF, WEBP, DOCX_FILE, XLSX_FILE, ODT_FILE, CSV, TEXT]
MAGIC = [b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"PK\x03\x04", b"<", b"MZ"]


@st.composite
def damaged(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut] if draw(st.booleans()) else data)


any_bytes = st.one_of(
    st.binary(max_size=2048),
    st.tuples(st.sampled_from(MAGIC), st.binary(max_size=512)).map(b"".join),
    st.text(max_size=500).map(str.encode),
    damaged(),
)


# The folder is shared by every example on purpose: keys are random, so files never clash.
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=any_bytes, filename=st.text(max_size=400), max_bytes=st.integers(1, 4096))
def test_any_bytes_and_any_name_are_kept_or_refused_politely(
    tmp_path, data, filename, max_bytes
) -> None:
    try:
        kept = keep(data, filename, tmp_path, max_bytes=max_bytes)
    except EvidenceError as refused:
        assert str(refused).startswith("The selected file ")
        return

    assert kept.content_type in ALLOWED_TYPES
    assert 0 < kept.size == len(data) <= max_bytes
    assert 0 < len(kept.name) <= 255
    assert kept.name.endswith(ALLOWED_TYPES[kept.content_type].extensions)
    assert not any(ch in kept.name for ch in "/\\\"'\r\n\x00")
    assert all(unicodedata.category(ch) not in {"Cc", "Cf", "Cs"} for ch in kept.name)
    assert evidence.path_for(kept.key, tmp_path).read_bytes() == data
