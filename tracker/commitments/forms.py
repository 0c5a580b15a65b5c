"""The form for a commitment's title, owner, priorities, SMART target and milestones."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import wtforms
from govuk_frontend_wtf.gov_form_base import GovFormBase
from govuk_frontend_wtf.wtforms_widgets import (
    GovDateInput,
    GovRadioInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import Field, FieldList, FormField, HiddenField, RadioField, StringField
from wtforms.validators import DataRequired, Email, Optional, ValidationError

from tracker.domain.enums import Direction
from tracker.domain.smart import SHORT_TITLE
from tracker.forms import EARLIEST_YEAR, LATEST_YEAR, Form, options, submit

TITLE_MAX = 500
OWNER_NAME_MAX = 200
EMAIL_MAX = 320
METRIC_MAX = 200
UNIT_MAX = 50
MILESTONE_TITLE_MAX = 300
REASON_MAX = 2_000
AMOUNT_LIMIT = Decimal(10) ** 12
AMOUNT_PLACES = 4
NEW_MILESTONE_ROWS = 3
# Dated steps toward one target, not a project plan: no more are added beyond this many.
MAX_MILESTONES = 30
# A ceiling on the rows read from a posted form (a tampered one could send thousands): above any
# commitment's list, even one saved before MAX_MILESTONES, when the form allowed up to 60.
MAX_MILESTONE_ROWS = 100

_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")

DIRECTION_CHOICES = options(
    [
        ("", "Not set"),
        (Direction.INCREASE.value, "Increase (a higher number is better)"),
        (Direction.DECREASE.value, "Decrease (a lower number is better)"),
    ]
)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def field_name(field: Field) -> str:
    """The field's label as an error message names it: without "(optional)"."""
    return field.label.text.removesuffix(" (optional)")


def max_chars(limit: int) -> Callable[[Any, Field], None]:
    """At most ``limit`` characters, a line break counting once (as GOV.UK's character count)."""

    def check(form: Any, field: Field) -> None:
        if field.data and len(field.data.replace("\r\n", "\n")) > limit:
            raise ValidationError(f"{field_name(field)} must be {limit:,} characters or fewer")

    return check


def one_line(form: Any, field: Field) -> None:
    """Short text fields take no line breaks or control characters (NUL included)."""
    if field.data and any(ord(c) < 32 or c == "\x7f" for c in field.data):
        raise ValidationError(
            f"{field_name(field)} must be on one line, without special characters"
        )


class _Problem(Field):
    """A field whose parsing problems name the field by its label at validation time.

    (Labels are set after the form is made, e.g. "Milestone 2 due date", but formdata is parsed
    while it is made: so the problem is kept and worded in ``pre_validate``.)
    """

    problem: str | None = None

    def pre_validate(self, form: Any) -> None:
        if self.problem:
            raise ValidationError(self.problem.format(label=field_name(self)))


class DateInput(GovDateInput):
    """GOV.UK date input; the day box carries the field's id, so error summary links land on it."""

    def map_gov_params(self, field: DateInputField, **kwargs: Any) -> dict[str, Any]:
        params = GovFormBase.map_gov_params(self, field, **kwargs)
        params["id"] = f"{field.id}-input"
        error = " govuk-input--error" if field.errors else ""
        day, month, year = field.parts()
        params.setdefault("fieldset", {"legend": {"text": field.label.text}})
        params["items"] = [
            {
                "label": "Day",
                "id": field.id,
                "name": field.name,
                "classes": "govuk-input--width-2" + error,
                "value": day,
            },
            {
                "label": "Month",
                "id": f"{field.id}-month",
                "name": field.name,
                "classes": "govuk-input--width-2" + error,
                "value": month,
            },
            {
                "label": "Year",
                "id": f"{field.id}-year",
                "name": field.name,
                "classes": "govuk-input--width-4" + error,
                "value": year,
            },
        ]
        return params


class DateInputField(_Problem):
    """A date typed as day, month and year boxes (all named the same), checked the GOV.UK way."""

    widget = DateInput()

    def process_formdata(self, valuelist: list[str]) -> None:
        parts = [(value or "").strip() for value in valuelist[:3]]
        parts += [""] * (3 - len(parts))
        self.raw_data = parts
        self.data = None
        self.problem = None
        if not any(parts):
            return
        missing = [
            name for name, part in zip(("day", "month", "year"), parts, strict=True) if not part
        ]
        if missing:
            self.problem = "{label} must include a " + " and a ".join(missing)
            return
        day, month, year = parts
        if not all(p.isascii() and p.isdigit() for p in parts) or len(day) > 2 or len(month) > 2:
            self.problem = "{label} must be a real date"
            return
        if len(year) != 4:
            self.problem = "{label} must include a year with 4 numbers, like 2030"
            return
        try:
            value = date(int(year), int(month), int(day))
        except ValueError:
            self.problem = "{label} must be a real date"
            return
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            self.problem = f"{{label}} must be between {EARLIEST_YEAR} and {LATEST_YEAR}"
            return
        self.data = value

    def parts(self) -> tuple[str, str, str]:
        """What the three boxes show: what was typed, else the saved date."""
        if self.raw_data is not None and len(self.raw_data) == 3:
            day, month, year = self.raw_data
            return day, month, year
        if isinstance(self.data, date):
            return str(self.data.day), str(self.data.month), str(self.data.year)
        return "", "", ""

    def _value(self) -> str:
        return self.display()

    def display(self) -> str:
        day, month, year = self.parts()
        return "/".join((day, month, year)) if any((day, month, year)) else ""


class AmountField(_Problem):
    """A number up to a trillion either side of zero with at most 4 decimal places."""

    widget = GovTextInput()

    def process_formdata(self, valuelist: list[str]) -> None:
        text = (valuelist[0] if valuelist else "").strip()
        self.raw_data = [text]
        self.data = None
        self.problem = None
        if not text:
            return
        plain = text.replace(",", "")
        if not _NUMBER.match(plain):
            self.problem = "{label} must be a number, like 400 or 12.5"
            return
        try:
            value = Decimal(plain)
        except InvalidOperation:
            self.problem = "{label} must be a number, like 400 or 12.5"
            return
        if abs(value) >= AMOUNT_LIMIT:
            self.problem = "{label} must be between -999,999,999,999.9999 and 999,999,999,999.9999"
            return
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > AMOUNT_PLACES:
            self.problem = f"{{label}} must have {AMOUNT_PLACES} decimal places or fewer"
            return
        self.data = value

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if isinstance(self.data, Decimal):
            return f"{self.data.normalize() + 0:f}"
        return ""


class MilestoneForm(wtforms.Form):
    """One milestone row: a blank title removes a saved milestone; blank new rows are ignored."""

    # Set by CommitmentForm on the first new row that would take the list past MAX_MILESTONES.
    too_many: str | None = None

    id = HiddenField(filters=[_strip])
    title = StringField(
        "Title",
        widget=GovTextInput(),
        filters=[_strip],
        validators=[max_chars(MILESTONE_TITLE_MAX), one_line],
    )
    due_on = DateInputField("Due date", description="For example, 31 3 2027")

    def validate_title(self, field: Field) -> None:
        if self.too_many:
            raise ValidationError(self.too_many)
        if not field.data and self.due_on.data and self.existing_id is None:
            raise ValidationError(f"Enter {field_name(field).lower()}, or clear its due date")

    @property
    def existing_id(self) -> int | None:
        value = self.id.data or ""
        return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else None


class MilestoneRows(FieldList):
    """The milestone rows: every saved milestone when the form is shown, and from a posted form
    no more than ``MAX_MILESTONE_ROWS`` rows (so a list saved long ago still opens)."""

    def _extract_indices(self, prefix: str, formdata: Any) -> list[int]:
        return sorted(set(super()._extract_indices(prefix, formdata)))[:MAX_MILESTONE_ROWS]


class CommitmentForm(Form):
    title = StringField(
        "Title",
        widget=GovTextInput(),
        description=(
            f"Up to {TITLE_MAX} characters. A short title naming the outcome, "
            f"{SHORT_TITLE} characters or fewer, counts as Specific in the SMART score."
        ),
        validators=[
            DataRequired(message="Enter a title for the commitment"),
            max_chars(TITLE_MAX),
            one_line,
        ],
    )
    owner_name = StringField(
        "Owner",
        widget=GovTextInput(),
        description="The named person responsible for it. They need not use this service.",
        validators=[max_chars(OWNER_NAME_MAX), one_line],
    )
    owner_email = StringField(
        "Owner's email address (optional)",
        widget=GovTextInput(),
        validators=[
            Optional(),
            max_chars(EMAIL_MAX),
            Email(
                message="Enter the owner's email address in the correct format, "
                "like name@example.com",
                check_deliverability=False,
            ),
        ],
    )
    primary_priority = RadioField(
        "Town priority",
        widget=GovRadioInput(),
        description="The town priority this commitment does most to serve.",
        validate_choice=True,
        invalid_choice_message="Select the town priority this commitment serves",
    )
    secondary_priority = RadioField(
        "Secondary priority (optional)",
        widget=GovRadioInput(),
        description="Only if the commitment clearly serves a second priority too.",
        default="",
        validate_choice=True,
        invalid_choice_message="Select a secondary priority, or None",
    )
    metric = StringField(
        "What is measured",
        widget=GovTextInput(),
        description="For example, new affordable homes built, or tonnes of CO2 emitted a year.",
        validators=[max_chars(METRIC_MAX), one_line],
    )
    unit = StringField(
        "Unit (optional)",
        widget=GovTextInput(),
        description="For example, homes, tonnes or %.",
        validators=[max_chars(UNIT_MAX), one_line],
    )
    baseline_value = AmountField("Baseline value (optional)", description="Where it started.")
    baseline_date = DateInputField(
        "Baseline date (optional)",
        description="When the baseline was measured. For example, 31 3 2024",
    )
    target_value = AmountField("Target value", description="For example, 400 or 12.5")
    target_date = DateInputField("Target date", description="For example, 31 3 2030")
    direction = RadioField(
        "Direction (optional)",
        widget=GovRadioInput(),
        description="Which way the number has to move to meet the target.",
        choices=DIRECTION_CHOICES,
        default="",
        validate_choice=True,
        invalid_choice_message="Select whether the number should go up or down, or Not set",
    )
    milestones = MilestoneRows(FormField(MilestoneForm))
    reason = wtforms.TextAreaField(
        "Reason for the change",
        widget=GovTextArea(),
        description=(
            "Only needed if you change the target, baseline, deadline, what is measured, unit "
            "or direction. It is shown in the commitment's history and to the board."
        ),
        validators=[max_chars(REASON_MAX)],
    )
    version = HiddenField()
    submit = submit("Save changes")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for number, row in enumerate(self.milestones, start=1):
            row.form.title.label.text = f"Milestone {number} title"
            row.form.due_on.label.text = f"Milestone {number} due date (optional)"

    # The ids of the commitment's saved milestones (the route sets them before validating).
    saved_milestones: frozenset[int] = frozenset()

    def set_priorities(self, priorities: Iterable[Any]) -> None:
        pairs = [(str(p.id), p.name) for p in priorities]
        self.primary_priority.choices = options(pairs)
        self.secondary_priority.choices = options([("", "None"), *pairs])

    def validate(self, extra_validators: Any = None) -> bool:
        self._refuse_milestones_past_the_limit()
        valid = super().validate(extra_validators)
        secondary = self.secondary_priority
        if secondary.data and secondary.data == self.primary_priority.data:
            secondary.errors.append(
                "Secondary priority must be different from the primary priority"
            )
            valid = False
        start, end = self.baseline_date, self.target_date
        if start.data and end.data and start.data > end.data and not start.errors:
            start.errors.append("Baseline date must be the same as or before the target date")
            valid = False
        return valid

    def _refuse_milestones_past_the_limit(self) -> None:
        """A new milestone that takes the list past ``MAX_MILESTONES`` is an error on its row.

        Counted against the milestones saved (not the ids a form claims), so a list saved
        before the limit can still be edited and shortened, but not lengthened.
        """
        rows = [entry.form for entry in self.milestones]
        saved = self.saved_milestones
        cleared = {r.existing_id for r in rows if r.existing_id in saved and not r.title.data}
        added = [r for r in rows if r.existing_id not in saved and r.title.data]
        if added and len(saved - cleared) + len(added) > MAX_MILESTONES:
            added[0].too_many = (
                f"A commitment can have up to {MAX_MILESTONES} milestones: "
                "remove one to add another"
            )

    def summary(self) -> list[tuple[str, str]]:
        """Each field as a person reads it, for showing two versions of the form side by side."""
        rows = [
            (self.title.label.text, self.title.data or ""),
            (self.owner_name.label.text, self.owner_name.data or ""),
            (self.owner_email.label.text, self.owner_email.data or ""),
            (self.primary_priority.label.text, _choice_label(self.primary_priority)),
            (self.secondary_priority.label.text, _choice_label(self.secondary_priority)),
            (self.metric.label.text, self.metric.data or ""),
            (self.unit.label.text, self.unit.data or ""),
            (self.baseline_value.label.text, self.baseline_value._value()),
            (self.baseline_date.label.text, self.baseline_date.display()),
            (self.target_value.label.text, self.target_value._value()),
            (self.target_date.label.text, self.target_date.display()),
            (self.direction.label.text, _choice_label(self.direction)),
        ]
        milestones = [
            f"{row.form.title.data} ({row.form.due_on.display() or 'no date'})"
            for row in self.milestones
            if row.form.title.data
        ]
        rows.append(("Milestones", "; ".join(milestones)))
        return rows


def _choice_label(field: RadioField) -> str:
    for value, label, selected, _ in field.iter_choices():
        if selected and value:
            return str(label)
    return ""
