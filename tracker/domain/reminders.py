"""The reminder ladder: which emails about one organisation's return are due on a day.

DESIGN.md ("How it flows" step 4, "A reminder ladder for a partnership"): remind the
organisation's leads when the period opens, 7 days and 1 day before the return is due, the day
after it was due, then weekly while it is overdue; tell the organisation's deputy or sponsor
(when one is set) at 3 days overdue; escalate to admins 7 days after it was due — each step
once. Every job must be safe to re-run or to run late.

:func:`ladder` lists every step with its date; :func:`steps_due` picks what to send today:

- Nothing once the return has been submitted, and nothing after the window closes (a reminder
  about a return that can no longer be sent helps nobody). Submitted means ever submitted: a
  return sent back for changes was in, on time or late by its first submission, so it is never
  overdue (``domain.worklist``); its leads had the reviewer's comment by email, and the admins
  see it on their work list as sent back.
- A step is due when its date has come and its key is not in ``already_sent``.
- **Catch-up**: when the scheduler was down and several lead steps fell due meanwhile, only the
  most recent is sent — one email, not a burst — and the others are returned as *superseded*,
  for the caller to record so they are never sent later. A lead step older than one already
  sent is superseded too, so a caller that did not record the skipped keys is still safe.
- A step that says the return is open or due soon is true only until the deadline: one caught
  up on the due date still goes (it says "due today"), one caught up later is superseded.
- The contact and admin steps are separate audiences: each is sent once when due (the
  contact's only when the organisation has one; it is sent later if one is added while the
  return is still overdue and the window open).

**The deadline** is the due date or, if later, the extension an admin granted. An extension is
a new deadline, so the leads' steps that count from the deadline get new keys carrying it
(``extended-2024-08-04-due-in-7``): a lead whose extension was granted after the original
reminders went out is reminded again before and after the new date. The contact and admin
steps keep their keys — each is told once per period. An extension past the window's close
keeps the organisation's ladder going until its own deadline.

Keys are stable strings (``opened``, ``due-in-7``, ``due-in-1``, ``overdue-1``,
``overdue-week-1``, ``overdue-week-2``, ``contact-overdue-3``, ``admins-overdue-7``) for the
outbox's idempotency key, which adds the organisation, period and recipient.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal

Audience = Literal["leads", "contact", "admins"]

WEEK = timedelta(days=7)


class ReminderKind(StrEnum):
    """Which email a step sends; the key says which rung of the ladder it is."""

    OPENED = "opened"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    CONTACT_OVERDUE = "contact_overdue"
    ADMINS_OVERDUE = "admins_overdue"


@dataclass(frozen=True)
class LadderRules:
    """When reminders go out, in days relative to the return's deadline (configurable)."""

    remind_on_open: bool = True
    days_before_due: tuple[int, ...] = (7, 1)
    days_after_due: int = 1
    weekly_while_overdue: bool = True
    contact_after_days: int | None = 3
    admins_after_days: int | None = 7

    def __post_init__(self) -> None:
        # Accept a list from configuration, but keep the rules hashable.
        object.__setattr__(self, "days_before_due", tuple(self.days_before_due))
        if not all(_is_positive_int(days) for days in self.days_before_due):
            raise ValueError("days before due must be whole numbers of days, 1 or more")
        if len(set(self.days_before_due)) != len(self.days_before_due):
            raise ValueError("days before due must not repeat")
        if not _is_positive_int(self.days_after_due):
            raise ValueError("the first overdue reminder must be 1 or more days after the deadline")
        for name in ("contact_after_days", "admins_after_days"):
            days = getattr(self, name)
            if days is not None and not _is_positive_int(days):
                raise ValueError(f"{name.replace('_', ' ')} must be 1 or more, or None to skip")


@dataclass(frozen=True)
class ReminderStep:
    """One rung of the ladder: who hears, which email, on which day, under which stable key."""

    key: str
    audience: Audience
    kind: str
    on: date
    # The last day the email is still true, if it has one ("due tomorrow" is not once overdue).
    until: date | None = None


@dataclass(frozen=True)
class Due:
    """What to send today, and the steps skipped for good by catch-up."""

    send: list[ReminderStep]
    superseded: list[ReminderStep]


def ladder(
    *,
    opens_on: date,
    due_on: date,
    extended_to: date | None,
    closes_on: date,
    rules: LadderRules,
) -> list[ReminderStep]:
    """Every reminder step for one organisation and period, in date order."""
    if not opens_on <= due_on <= closes_on:
        raise ValueError("a return window opens, then falls due, then closes")
    deadline = max(due_on, extended_to) if extended_to else due_on
    last_day = max(closes_on, deadline)
    prefix = f"extended-{deadline.isoformat()}-" if deadline > due_on else ""

    steps = []
    if rules.remind_on_open:
        steps.append(ReminderStep("opened", "leads", ReminderKind.OPENED, opens_on, deadline))
    for days in sorted(rules.days_before_due, reverse=True):
        on = deadline - timedelta(days=days)
        # "Due in 7 days" means nothing before the window is open.
        if on >= opens_on:
            steps.append(
                ReminderStep(f"{prefix}due-in-{days}", "leads", ReminderKind.DUE_SOON, on, deadline)
            )
    first_overdue = deadline + timedelta(days=rules.days_after_due)
    steps.append(
        ReminderStep(
            f"{prefix}overdue-{rules.days_after_due}", "leads", ReminderKind.OVERDUE, first_overdue
        )
    )
    if rules.weekly_while_overdue:
        week, on = 1, first_overdue + WEEK
        while on <= last_day:
            steps.append(
                ReminderStep(f"{prefix}overdue-week-{week}", "leads", ReminderKind.OVERDUE, on)
            )
            week, on = week + 1, on + WEEK
    if rules.contact_after_days is not None:
        steps.append(
            ReminderStep(
                f"contact-overdue-{rules.contact_after_days}",
                "contact",
                ReminderKind.CONTACT_OVERDUE,
                deadline + timedelta(days=rules.contact_after_days),
            )
        )
    if rules.admins_after_days is not None:
        steps.append(
            ReminderStep(
                f"admins-overdue-{rules.admins_after_days}",
                "admins",
                ReminderKind.ADMINS_OVERDUE,
                deadline + timedelta(days=rules.admins_after_days),
            )
        )
    # Stable sort: on the same day the later rung (more urgent) comes last.
    return sorted((step for step in steps if step.on <= last_day), key=lambda step: step.on)


def steps_due(
    *,
    ladder: Sequence[ReminderStep],
    today: date,
    submitted: bool,
    already_sent: Collection[str],
    has_contact: bool,
    closes_on: date | None = None,
) -> Due:
    """What to send today for one organisation and period, and what catch-up skips for good.

    ``already_sent`` holds the keys sent or recorded as superseded before; ``closes_on`` (the
    window's close, or the extended deadline if later) stops everything after that day.
    """
    if submitted or (closes_on is not None and today > closes_on):
        return Due(send=[], superseded=[])
    # Ladder order: by date, and on one day in the order the ladder gave.
    ordered = sorted(enumerate(ladder), key=lambda pair: (pair[1].on, pair[0]))
    steps = [step for _, step in ordered]
    if len({step.key for step in steps}) != len(steps):
        raise ValueError("each step of a ladder needs its own key")
    position = {step.key: index for index, step in enumerate(steps)}
    come = [step for step in steps if step.on <= today and step.key not in already_sent]

    send: list[ReminderStep] = []
    # Caught up too late to be true: never sent.
    superseded = [step for step in come if step.until is not None and today > step.until]
    leads = [step for step in come if step.audience == "leads" and step not in superseded]
    if leads:
        newest = leads[-1]
        latest_sent = max(
            (position[s.key] for s in steps if s.audience == "leads" and s.key in already_sent),
            default=-1,
        )
        if position[newest.key] > latest_sent:
            send.append(newest)
            superseded.extend(leads[:-1])
        else:
            superseded.extend(leads)
    for step in come:
        if step.audience == "admins" or (step.audience == "contact" and has_contact):
            send.append(step)
    send.sort(key=lambda step: position[step.key])
    superseded.sort(key=lambda step: position[step.key])
    return Due(send=send, superseded=superseded)


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
