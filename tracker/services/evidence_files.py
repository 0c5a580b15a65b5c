"""Evidence files of updates: finding one to download, and clearing away files nothing uses.

Services flush; the request (or the job) commits. Stored bytes live in tracker/evidence.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import islice

from sqlalchemy import select

from tracker.evidence import PENDING_KEPT_FOR, delete, kept_before
from tracker.extensions import db
from tracker.models import CommitmentUpdate, EvidenceFile, Organisation, ReportingPeriod, Return

# A pending upload's token may be read a moment before it expires and its update committed a
# little later: an hour's grace keeps that file from being cleared in between.
UNATTACHED_GRACE = timedelta(hours=1)
_BATCH = 500


def evidence_file(
    organisation: Organisation, period: ReportingPeriod, commitment_id: int, file_id: int
) -> EvidenceFile | None:
    """One file of a commitment's update in the organisation's return for the period."""
    return db.session.scalar(
        select(EvidenceFile)
        .join(CommitmentUpdate, CommitmentUpdate.id == EvidenceFile.update_id)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .where(
            EvidenceFile.id == file_id,
            CommitmentUpdate.commitment_id == commitment_id,
            Return.organisation_id == organisation.id,
            Return.period_id == period.id,
        )
    )


def prune_unattached(now: datetime) -> int:
    """Delete stored files that no update holds and that are older than a pending upload lives.

    They are files chosen on a form that was never saved, or leftovers of a save that failed.
    A file an evidence row names is never touched, however old. Returns how many went.
    """
    removed = 0
    old = kept_before(now - PENDING_KEPT_FOR - UNATTACHED_GRACE)
    while keys := list(islice(old, _BATCH)):
        used = set(db.session.scalars(select(EvidenceFile.key).where(EvidenceFile.key.in_(keys))))
        for key in keys:
            if key not in used:
                delete(key)
                removed += 1
    return removed
