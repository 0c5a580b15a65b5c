"""Pending uploads: an acceptable evidence file kept while the rest of its form is put right.

A browser never sends a chosen file twice, so when the update form is refused for something
else, the file it carried would be lost. Instead it is kept in the evidence store at once and
the re-rendered form carries a *pending upload token* in a hidden field. The rules, and why:

- **Signed, never trusted raw.** The token is the stored file's key, name, type and size,
  signed with the app's secret (itsdangerous). A storage key typed into the form is refused,
  so nobody can attach a file they did not upload.
- **Bound to one person and one place.** The token names the signed-in user and the
  organisation, period and commitment of the form; anywhere else, or for anyone else, it is
  ignored (never an error: a stale tab should not break the page).
- **Short-lived.** A token is good for ``PENDING_KEPT_FOR`` (a day). A stored file no
  evidence row names is deleted once older than that
  (``tracker.services.evidence_files.prune_unattached``), so files chosen and never saved do
  not pile up. The token is carried unchanged from one refusal to the next, never re-signed,
  so it never outlives its file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from tracker.evidence import PENDING_KEPT_FOR, StoredFile, path_for

_SALT = "tracker.pending-evidence-upload"
# More than the form ever carries (it stops at the file cap); the rest of a tampered list is
# not even read.
_MOST_TOKENS = 20


@dataclass(frozen=True)
class UploadPlace:
    """Whose upload, and for which update: the signed-in user and the form's commitment."""

    user_id: int
    organisation_id: int
    period_id: int
    commitment_id: int

    def as_list(self) -> list[int]:
        return [self.user_id, self.organisation_id, self.period_id, self.commitment_id]


@dataclass(frozen=True)
class PendingUpload:
    """A stored file waiting for its update to be saved, and the token that names it."""

    file: StoredFile
    token: str


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def pending_upload(file: StoredFile, place: UploadPlace) -> PendingUpload:
    """A token for a file just stored, for the form to carry until the update is saved."""
    token = _serializer().dumps(
        {
            "key": file.key,
            "name": file.name,
            "type": file.content_type,
            "size": file.size,
            "for": place.as_list(),
        }
    )
    return PendingUpload(file, token)


def pending_uploads(tokens: Iterable[str], place: UploadPlace) -> list[PendingUpload]:
    """The files the form's tokens name, leaving out any forged, expired, misplaced or gone."""
    found: dict[str, PendingUpload] = {}
    for token in list(tokens)[:_MOST_TOKENS]:
        file = _read(token, place)
        if file is not None and file.key not in found:
            found[file.key] = PendingUpload(file, token)
    return list(found.values())


def _read(token: str, place: UploadPlace) -> StoredFile | None:
    if not isinstance(token, str) or len(token) > 2000:
        return None
    try:
        data: Any = _serializer().loads(token, max_age=int(PENDING_KEPT_FOR.total_seconds()))
    except BadData:
        return None
    if not isinstance(data, dict) or data.get("for") != place.as_list():
        return None
    key, name, content_type, size = (data.get(k) for k in ("key", "name", "type", "size"))
    if not (isinstance(key, str) and isinstance(name, str) and isinstance(content_type, str)):
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return None
    try:
        if not path_for(key).is_file():
            return None  # already cleaned up: nothing to attach
    except ValueError:
        return None
    return StoredFile(key=key, name=name, content_type=content_type, size=size)
