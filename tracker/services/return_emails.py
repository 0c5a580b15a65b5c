"""The emails a return's leads get as it moves on: a receipt when it is submitted, the
reviewer's comment when it is sent back, and a notice when it is accepted.

Each goes to every active lead of the organisation through the outbox (``queue_email``: flush
only, so it commits with the change it tells of), with a plain-text and an HTML part. Its
idempotency key is (kind, return, the return's version, lead): every submission and review moves
the version on, so a return submitted again after a send-back gets a receipt of its own, while
the same step never queues the same email twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import render_template
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.mail import absolute_url, queue_email, safe_header
from tracker.models import CommitmentUpdate, Return, User

SUBMITTED = "return_submitted"
SENT_BACK = "return_sent_back"
ACCEPTED = "return_accepted"


def submitted(return_: Return, *, actor: User, now: datetime) -> int:
    """Queue a receipt for a return just submitted; returns how many leads it is for."""
    return _queue(
        return_,
        SUBMITTED,
        subject="your {period} return has been submitted",
        submitted_by=actor,
        submitted_at=now,
        commitments=_reported_on(return_),
        # Only a return that was sent back has been reviewed before it is submitted.
        again=return_.reviewed_at is not None,
    )


def sent_back(return_: Return, comment: str, *, actor: User) -> int:
    """Queue the reviewer's comment on a return just sent back; returns how many leads it is for."""
    return _queue(
        return_,
        SENT_BACK,
        subject="your {period} return needs changes",
        comment=comment,
        reviewer=actor,
    )


def accepted(return_: Return, *, actor: User, now: datetime) -> int:
    """Queue a notice that a return was accepted; returns how many leads it is for."""
    return _queue(
        return_,
        ACCEPTED,
        subject="your {period} return has been accepted",
        reviewer=actor,
        accepted_at=now,
    )


def _reported_on(return_: Return) -> int:
    """How many commitments the return has a complete update for."""
    count = db.session.scalar(
        select(func.count())
        .select_from(CommitmentUpdate)
        .where(CommitmentUpdate.return_id == return_.id, CommitmentUpdate.complete.is_(True))
    )
    return count or 0


def _queue(return_: Return, kind: str, *, subject: str, **details: Any) -> int:
    organisation = return_.organisation
    period = return_.period
    link = absolute_url("returns.task_list", slug=organisation.slug, period=period.slug)
    # Names come from people's own typing: a line break there must not become a header.
    subject = safe_header(f"{organisation.name}: {subject.format(period=period.label)}")[:300]
    queued = 0
    for lead in organisation.leads:
        if not lead.active:
            continue
        context = {
            "lead": lead,
            "organisation": organisation,
            "period": period,
            "link": link,
            **details,
        }
        row = queue_email(
            kind=kind,
            idempotency_key=f"{kind.replace('_', '-')}:{return_.id}:{return_.version}:{lead.id}",
            to_email=lead.email,
            to_name=safe_header(lead.name),
            subject=subject,
            text=render_template(f"emails/{kind}.txt", **context),
            html=render_template(f"emails/{kind}.html", **context),
            organisation_id=organisation.id,
            period_id=period.id,
            user_id=lead.id,
        )
        queued += row is not None
    return queued
