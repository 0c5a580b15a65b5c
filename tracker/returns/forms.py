"""The quarterly update form, and the admin's review and period forms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCharacterCount,
    GovDateInput,
    GovFileInput,
    GovRadioInput,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    DateField,
    HiddenField,
    RadioField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from tracker.domain.enums import DeliveryStatus
from tracker.domain.updates import EVIDENCE_FILES_MAX, NARRATIVE_MAX, REVIEWER_NOTE_MAX, RISKS_MAX
from tracker.forms import EARLIEST_YEAR, LATEST_YEAR, Form, options

STATUS_HINTS = {
    DeliveryStatus.NOT_STARTED: "Work on this has not begun",
    DeliveryStatus.ON_TRACK: "Going as planned",
    DeliveryStatus.AT_RISK: "Could slip without action: say what is in the way",
    DeliveryStatus.OFF_TRACK: "Will not be met as planned: say what is happening",
    DeliveryStatus.COMPLETED: "Done",
    DeliveryStatus.DISCONTINUED: "No longer being pursued: give the reason",
}


class UpdateForm(Form):
    status = RadioField(
        "How is this commitment going?",
        choices=options((s.value, s.label) for s in DeliveryStatus),
        widget=GovRadioInput(),
        validators=[Optional()],
    )
    progress_value = StringField(
        "Progress so far",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=30, message="Progress so far must be a number")],
    )
    narrative = StringField(
        "Progress update",
        widget=GovCharacterCount(),
        description=(
            "Published once the programme team accepts your return, with your link to evidence."
            " What happened this quarter. Required if it is at risk, off track or discontinued."
        ),
        validators=[Length(max=NARRATIVE_MAX * 2)],
    )
    reviewer_note = StringField(
        "Note for the reviewer (not published)",
        widget=GovCharacterCount(),
        description=(
            "Anything only the programme team should read, such as context for this quarter."
            " It is never published."
        ),
        validators=[Length(max=REVIEWER_NOTE_MAX * 2)],
    )
    evidence_url = StringField(
        "Link to evidence (optional)",
        widget=GovTextInput(),
        description="A web page or document that shows the progress, starting with https://",
        validators=[Length(max=4000)],
    )
    evidence_file = FileField(
        "Add a file as evidence (optional)",
        widget=GovFileInput(),
        description=(
            "PDF, Word, Excel, PowerPoint, OpenDocument, CSV, text or an image."
            f" An update can have up to {EVIDENCE_FILES_MAX} files."
        ),
    )
    # Ticked attached files (their ids) come off the update when it is saved. The template draws
    # these checkboxes itself: the list of files is the page's, not the form's.
    remove_files = SelectMultipleField(
        "Remove files", coerce=int, validate_choice=False, validators=[Optional()]
    )
    # Files kept from an earlier refusal of this form: signed tokens (tracker/returns/pending.py)
    # and, ticked, the keys of those not to attach after all.
    pending_upload = SelectMultipleField(validate_choice=False, validators=[Optional()])
    drop_pending = SelectMultipleField(validate_choice=False, validators=[Optional()])
    risks = StringField(
        "Risks or support needed (optional)",
        widget=GovCharacterCount(),
        validators=[Length(max=RISKS_MAX * 2)],
    )
    version = HiddenField()
    save = SubmitField("Save and continue", widget=GovSubmitInput())
    draft = SubmitField("Save as draft", widget=GovSubmitInput())
    no_change = SubmitField("No change since last quarter", widget=GovSubmitInput())

    def progress_decimal(self) -> Decimal | None:
        raw = (self.progress_value.data or "").replace(",", "").strip()
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            return None
        return value if value.is_finite() else None

    def validate_progress_value(self, field: Any) -> None:
        raw = (field.data or "").replace(",", "").strip()
        if raw and self.progress_decimal() is None:
            raise ValidationError("Progress so far must be a number, like 120 or 45.5")


class SendBackForm(Form):
    comment = StringField(
        "What needs changing?",
        widget=GovTextArea(),
        description="The organisation's leads see this on their return and in an email.",
        validators=[
            InputRequired(message="Say what needs changing"),
            Length(max=5000, message="Keep the comment to 5,000 characters or fewer"),
        ],
    )
    submit = SubmitField("Send back to the organisation", widget=GovSubmitInput())
    # The version of the return the admin read: a decision applies to that submission only.
    version = HiddenField()


class DayMonthYearField(DateField):
    """A GOV.UK date input (day, month, year boxes) that names what is wrong with a date."""

    def process_formdata(self, valuelist: list[str]) -> None:
        # The widget expects exactly three boxes; a tampered form must not break the page.
        parts = [str(v).strip() for v in valuelist[:3]]
        parts += [""] * (3 - len(parts))
        self.raw_data = parts
        if not any(parts):
            self.data = None
            return
        day, month, year = parts
        self.data = None
        # ASCII digits only ("²" is a digit to str.isdigit(), not to int()), and a day or month
        # of at most two: a longer one is never a date, and a huge one overflows date().
        if not all(p.isascii() and p.isdigit() for p in parts):
            raise ValueError(f"{self.label.text} must be a real date, with numbers only")
        if len(year) != 4:
            raise ValueError(f"{self.label.text} must include a 4-digit year")
        if len(day) > 2 or len(month) > 2:
            raise ValueError(f"{self.label.text} must be a real date")
        try:
            value = date(int(year), int(month), int(day))
        except ValueError:
            raise ValueError(f"{self.label.text} must be a real date") from None
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise ValueError(f"{self.label.text} must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
        self.data = value


def _date_field(label: str, message: str) -> DayMonthYearField:
    return DayMonthYearField(
        label,
        widget=GovDateInput(),
        validators=[InputRequired(message=message)],
        description="For example, 21 7 2025",
    )


class PeriodDatesForm(Form):
    opens_on = _date_field("Window opens", "Enter the date the window opens, like 16 6 2025")
    due_on = _date_field("Returns due", "Enter the due date, like 21 7 2025")
    closes_on = _date_field("Window closes", "Enter the date the window closes, like 11 8 2025")
    version = HiddenField()
    submit = SubmitField("Save dates", widget=GovSubmitInput())


class ExtensionForm(Form):
    due_on = _date_field("New due date", "Enter the new due date, like 4 8 2025")
    reason = StringField(
        "Reason for the extension",
        widget=GovTextArea(),
        validators=[
            InputRequired(message="Give the reason for the extension"),
            Length(max=2000, message="Keep the reason to 2,000 characters or fewer"),
        ],
    )
    submit = SubmitField("Grant extension", widget=GovSubmitInput())


def parse_date(value: Any) -> date | None:
    return value if isinstance(value, date) else None
