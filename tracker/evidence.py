"""Evidence files for quarterly updates: what is accepted, where it is kept, how it is served.

The rules, and why:

- **The content decides the type.** A file is accepted only when its first bytes (and, for
  Office and OpenDocument files, its ZIP directory) say it is one of ``ALLOWED_TYPES``. The
  name and the browser's ``Content-Type`` are chosen by the person uploading, so they decide
  nothing; the kept name is corrected to match what the file really is. HTML, SVG (it can carry
  script), executables and anything unknown are refused.
- **ZIP-based documents are checked without being unpacked.** Only the central directory is
  read (and, for OpenDocument, the few bytes of the uncompressed ``mimetype`` entry), so a zip
  bomb costs nothing.
- **Files live outside the web root.** They are kept under ``{INSTANCE_PATH}/evidence/`` (or
  ``EVIDENCE_DIR``), never under ``static/`` or ``templates/``, and reach a browser only through a
  route that checks permissions and calls ``send_stored``.
- **Random keys.** Each file is stored under ``secrets.token_urlsafe(24)`` (192 bits), so names
  cannot collide or be guessed, and a key is checked against the token alphabet before it
  becomes a path, so there is no path traversal.
- **Nothing kept that nothing uses.** A stored file is part of an update once an evidence row
  names its key. Until then it is a pending upload (tracker/returns/pending.py), good for
  ``PENDING_KEPT_FOR``; a file no row names and older than that is deleted by a daily job
  (``tracker.services.evidence_files.prune_unattached``, using ``kept_before``). So the folder
  belongs to one database: two databases must not share it.
- **Served as a download.** ``Content-Disposition: attachment``, the detected type,
  ``nosniff``, ``no-store`` and a sandboxing CSP: a file is never rendered as a page of this
  site.

See RELIABILITY.md, "Input and output" (upload size limited).
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import struct
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import IO, BinaryIO, Protocol
from urllib.parse import quote

from flask import Response, current_app, send_file
from werkzeug.exceptions import NotFound

__all__ = [
    "ALLOWED_TYPES",
    "PENDING_KEPT_FOR",
    "EvidenceError",
    "FileType",
    "StoredFile",
    "delete",
    "display_name",
    "evidence_folder",
    "kept_before",
    "open_stored",
    "path_for",
    "send_stored",
    "store",
]


@dataclass(frozen=True)
class FileType:
    """A kind of file we accept: a label for people and the extensions its name may end with."""

    label: str
    # The first is the one a corrected name gets.
    extensions: tuple[str, ...]


_OOXML = "application/vnd.openxmlformats-officedocument"

# Content type (as stored in EvidenceFile.content_type) → what it is. How each is
# recognised: PDF by "%PDF-"; PNG, JPEG, GIF and WebP by their signatures; Word, Excel and
# PowerPoint by a ZIP directory holding "[Content_Types].xml" and "word/", "xl/" or "ppt/";
# OpenDocument by its uncompressed "mimetype" entry; CSV and text by being valid UTF-8 with no
# NUL bytes, mostly printable, and not markup.
ALLOWED_TYPES: Mapping[str, FileType] = MappingProxyType(
    {
        "application/pdf": FileType("PDF", (".pdf",)),
        "image/png": FileType("PNG image", (".png",)),
        "image/jpeg": FileType("JPEG image", (".jpg", ".jpeg")),
        "image/gif": FileType("GIF image", (".gif",)),
        "image/webp": FileType("WebP image", (".webp",)),
        f"{_OOXML}.wordprocessingml.document": FileType("Word document", (".docx",)),
        f"{_OOXML}.spreadsheetml.sheet": FileType("Excel spreadsheet", (".xlsx",)),
        f"{_OOXML}.presentationml.presentation": FileType("PowerPoint presentation", (".pptx",)),
        "application/vnd.oasis.opendocument.text": FileType("OpenDocument text", (".odt",)),
        "application/vnd.oasis.opendocument.spreadsheet": FileType(
            "OpenDocument spreadsheet", (".ods",)
        ),
        "text/csv": FileType("CSV file", (".csv",)),
        "text/plain": FileType("text file", (".txt", ".text", ".log", ".md")),
    }
)

WRONG_TYPE = (
    "The selected file must be a PDF, Word, Excel, PowerPoint, OpenDocument, CSV, text"
    " or image file"
)
EMPTY = "The selected file is empty"

KEY_BYTES = 24
_KEY = re.compile(r"[A-Za-z0-9_-]{32,100}")  # token_urlsafe(24) is 32 characters
NAME_LIMIT = 255
_FALLBACK_STEM = "evidence"


# How long a file chosen on a refused form waits for its update to be saved.
PENDING_KEPT_FOR = timedelta(days=1)


class EvidenceError(ValueError):
    """The uploaded file cannot be kept; the message is for the person who chose it."""


@dataclass(frozen=True)
class StoredFile:
    """A kept evidence file: its random key, display name, detected type and size in bytes."""

    key: str
    name: str
    content_type: str
    size: int


class _Downloadable(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def content_type(self) -> str: ...


# -- Where files live ------------------------------------------------------------------------


def evidence_folder() -> Path:
    """The current app's evidence folder: ``EVIDENCE_DIR``, else ``{INSTANCE_PATH}/evidence``."""
    app = current_app
    configured = app.config.get("EVIDENCE_DIR")
    instance = app.config.get("INSTANCE_PATH") or app.instance_path
    folder = Path(configured) if configured else Path(instance) / "evidence"
    resolved = folder.resolve()
    public = [app.static_folder, app.template_folder]
    for served in filter(None, public):
        served_path = Path(app.root_path, served).resolve()
        if resolved == served_path or served_path in resolved.parents:
            raise RuntimeError(f"EVIDENCE_DIR must be outside {served_path}, not {resolved}")
    return resolved


def path_for(key: str, folder: Path | None = None) -> Path:
    """Where the file with this key lives; refuses anything that is not a key we made."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError("not an evidence file key")
    root = folder if folder is not None else evidence_folder()
    return Path(root) / key[:2] / key


def open_stored(key: str, folder: Path | None = None) -> BinaryIO:
    """Open a kept file for reading (``FileNotFoundError`` when it is gone)."""
    return path_for(key, folder).open("rb")


def delete(key: str, folder: Path | None = None) -> None:
    """Remove a kept file; a file that is already gone is fine."""
    path_for(key, folder).unlink(missing_ok=True)


def kept_before(moment: datetime, folder: Path | None = None) -> Iterator[str]:
    """The keys of kept files last written before ``moment`` (anything else there is left)."""
    root = Path(folder) if folder is not None else evidence_folder()
    if not root.is_dir():
        return
    for shelf in sorted(root.iterdir()):
        if not shelf.is_dir() or len(shelf.name) != 2:
            continue
        for path in sorted(shelf.iterdir()):
            key = path.name
            if not (_KEY.fullmatch(key) and key[:2] == shelf.name and path.is_file()):
                continue
            if datetime.fromtimestamp(path.stat().st_mtime, UTC) < moment:
                yield key


# -- Keeping a file --------------------------------------------------------------------------


def store(
    stream: IO[bytes], filename: str, *, max_bytes: int, folder: Path | None = None
) -> StoredFile:
    """Check an upload by its content and keep it under a new random key."""
    data = _read_at_most(stream, max_bytes + 1)
    if not data:
        raise EvidenceError(EMPTY)
    if len(data) > max_bytes:
        raise EvidenceError(f"The selected file must be smaller than {_size_label(max_bytes)}")
    content_type = _sniff(data, filename or "")
    if content_type is None:
        raise EvidenceError(EMPTY if not data.strip() else WRONG_TYPE)

    key = secrets.token_urlsafe(KEY_BYTES)
    target = path_for(key, folder)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written beside the target and renamed: a reader never sees half a file. mkstemp makes it
    # 0o600, readable only by the app.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return StoredFile(
        key=key,
        name=display_name(filename or "", content_type),
        content_type=content_type,
        size=len(data),
    )


def _read_at_most(stream: IO[bytes], limit: int) -> bytes:
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _size_label(size: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size} bytes"


# -- What a file is --------------------------------------------------------------------------


def _sniff(data: bytes, filename: str) -> str | None:
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"PK\x03\x04"):
        return _zip_document_type(data)
    return _text_type(data, filename)


# zipfile raises all sorts on a damaged archive; each means "not a document we accept".
_BROKEN_ZIP = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    OverflowError,
    struct.error,
)
_ODF_TYPES = {
    b"application/vnd.oasis.opendocument.text",
    b"application/vnd.oasis.opendocument.spreadsheet",
}
_OOXML_FAMILIES = {
    "word/": f"{_OOXML}.wordprocessingml.document",
    "xl/": f"{_OOXML}.spreadsheetml.sheet",
    "ppt/": f"{_OOXML}.presentationml.presentation",
}


def _zip_document_type(data: bytes) -> str | None:
    try:
        # The constructor reads only the central directory; nothing is decompressed.
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
            mimetype = next((e for e in entries if e.filename == "mimetype"), None)
            if mimetype is not None:
                return _odf_type(archive, mimetype)
            if "[Content_Types].xml" not in names:
                return None
            # Macro-enabled documents (.docm, .xlsm) are not what the form asks for.
            if any(name.lower().endswith("vbaproject.bin") for name in names):
                return None
            families = {
                content_type
                for prefix, content_type in _OOXML_FAMILIES.items()
                if any(name.startswith(prefix) for name in names)
            }
            return families.pop() if len(families) == 1 else None
    except _BROKEN_ZIP:
        return None


def _odf_type(archive: zipfile.ZipFile, mimetype: zipfile.ZipInfo) -> str | None:
    # OpenDocument requires the mimetype entry to be stored uncompressed; insisting on that
    # means reading it never runs a decompressor, and a lying size is cut off by read(n).
    if mimetype.compress_type != zipfile.ZIP_STORED or mimetype.flag_bits & 0x1:
        return None
    if mimetype.file_size > 100:
        return None
    with archive.open(mimetype) as entry:
        declared = entry.read(101).strip()
    return declared.decode("ascii") if declared in _ODF_TYPES else None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MARKUP = re.compile(
    r"<\s*(?:!doctype|\?xml|html|head|body|script|iframe|frame|svg|math|object|embed|style"
    r"|meta|link|base|form)\b",
    re.IGNORECASE,
)


def _text_type(data: bytes, filename: str) -> str | None:
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return None
    # "Mostly printable": no more than 1 character in 100 may be a control character.
    if len(_CONTROL.findall(text)) * 100 > len(text):
        return None
    # Markup is refused even as text: HTML and SVG are how script gets into a file.
    if text.lstrip().startswith("<") or _MARKUP.search(text):
        return None
    # CSV and text are both safe text; the name may choose between them, the content only
    # when the name does not say.
    extension = _split_extension(re.split(r"[/\\]", filename)[-1].strip())[1].lower()
    if extension == ".csv":
        return "text/csv"
    if extension in ALLOWED_TYPES["text/plain"].extensions:
        return "text/plain"
    return "text/csv" if _looks_like_csv(text) else "text/plain"


def _looks_like_csv(text: str) -> bool:
    lines = [line for line in text[:65536].splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        widths = {len(row) for row in csv.reader(lines)}
    except csv.Error:
        return False
    return len(widths) == 1 and widths.pop() >= 2


# -- Names -----------------------------------------------------------------------------------

_QUOTES = "\"'`"
_FILE_SUFFIX = re.compile(r"\.(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{1,4}")


def display_name(filename: str, content_type: str) -> str:
    """The name to keep and offer: the person's own name, made safe, ending as its type does."""
    # Browsers send a basename, but some old ones send a full Windows path.
    name = re.split(r"[/\\]", filename or "")[-1]
    name = unicodedata.normalize("NFC", name)
    # Control and format characters go: the latter include the right-to-left override that
    # makes "gpj.exe" read as "exe.jpg".
    name = "".join(
        " " if unicodedata.category(ch) in {"Zl", "Zp"} else ch
        for ch in name
        if unicodedata.category(ch) not in {"Cc", "Cf", "Cs"} and ch not in _QUOTES
    )
    name = " ".join(name.split()).strip(". ")
    if content_type not in ALLOWED_TYPES:
        return name[:NAME_LIMIT] or _FALLBACK_STEM
    wanted = ALLOWED_TYPES[content_type].extensions
    stem, extension = _split_extension(name)
    if extension.lower() not in wanted:
        if not _FILE_SUFFIX.fullmatch(extension):
            # "Minutes v1.2" is a name with a dot in it, not a file type to replace.
            stem = name
        extension = wanted[0]
    stem = stem[: NAME_LIMIT - len(extension)].rstrip(". ") or _FALLBACK_STEM
    return stem + extension


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        return name, ""
    return stem, "." + suffix


# -- Serving a file --------------------------------------------------------------------------


def send_stored(stored: _Downloadable, folder: Path | None = None) -> Response:
    """A download of a kept file that a browser will not render, sniff or cache (404 if gone)."""
    try:
        path = path_for(stored.key, folder)
    except ValueError:
        raise NotFound() from None
    if not path.is_file():
        raise NotFound()
    content_type = (
        stored.content_type if stored.content_type in ALLOWED_TYPES else "application/octet-stream"
    )
    response = send_file(path, mimetype=content_type, conditional=False, etag=False)
    response.headers["Content-Disposition"] = _content_disposition(stored.name, content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _content_disposition(name: str, content_type: str) -> str:
    """``attachment``, an ASCII ``filename`` for old clients and the real one in ``filename*``."""
    name = display_name(name, content_type)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = "".join(ch for ch in ascii_name if ch.isprintable() and ch not in '"\\')
    ascii_name = " ".join(ascii_name.split())
    stem, dot, suffix = ascii_name.rpartition(".")
    if not (stem if dot else suffix).strip(". "):
        # Nothing of the name survives in ASCII ("報告.pdf"): keep at least its type.
        ascii_name = _FALLBACK_STEM + (f".{suffix}" if dot and suffix else "")
    # RFC 6266 and RFC 8187: percent-encoded UTF-8, attr-char left as it is.
    encoded = quote(name, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}"
