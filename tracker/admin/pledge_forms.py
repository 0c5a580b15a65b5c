"""Forms for keeping pledges current: the import, triage, commitments and proposals."""

from __future__ import annotations

from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovFileInput,
    GovRadioInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import HiddenField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from tracker.commitments.forms import (
    DIRECTION_CHOICES,
    METRIC_MAX,
    REASON_MAX,
    TITLE_MAX,
    UNIT_MAX,
    AmountField,
    DateInputField,
    max_chars,
    one_line,
)
from tracker.forms import Form, no_control_characters, options, submit
from tracker.services.pledges import TEXT_MAX

COMMENT_MAX = 2_000
STATEMENT_MAX = 10_000


def priority_field(label: str) -> RadioField:
    """The town priority a commitment serves: one of the place's priorities, required."""
    message = "Select the town priority this commitment serves"
    return RadioField(
        label,
        widget=GovRadioInput(),
        validate_choice=True,
        invalid_choice_message=message,
        validators=[InputRequired(message=message)],
    )


def set_priority_choices(field: RadioField, priorities: list) -> None:  # type: ignore[type-arg]
    field.choices = options([(str(priority.id), priority.name) for priority in priorities])


class ImportForm(Form):
    page_file = FileField(
        "Upload the pledge page as a text file",
        widget=GovFileInput(),
        description="Plain text (.txt), up to 400 KB: the page copied from the web and saved.",
    )
    page_text = TextAreaField(
        "Or paste the text of the page",
        widget=GovTextArea(),
        description="Each organisation's name on its own line, its statement, then its "
        "commitments as bullets starting with '-' or '•'.",
        validators=[Optional()],
    )
    submit = submit("Preview the import")


class ConfirmImportForm(Form):
    text = HiddenField()
    source = HiddenField()
    digest = HiddenField()
    submit = submit("Import these changes")


class StatementForm(Form):
    statement = TextAreaField(
        "Pledge statement",
        widget=GovTextArea(),
        description="The organisation's own words introducing its commitments.",
        validators=[
            Length(max=STATEMENT_MAX, message="The statement must be 10,000 characters or fewer")
        ],
    )
    submit = submit("Save the statement")


class CommitmentTextForm(Form):
    text = TextAreaField(
        "Commitment",
        widget=GovTextArea(),
        description="In the organisation's own words, as it would read on the pledge page.",
        validators=[
            DataRequired(message="Enter the commitment"),
            max_chars(TEXT_MAX),
        ],
    )
    title = StringField(
        "Short title (optional)",
        widget=GovTextInput(),
        description="A few words naming the outcome. Leave blank to use the wording.",
        validators=[max_chars(TITLE_MAX), one_line],
    )
    primary_priority = priority_field("Town priority")
    submit = submit("Add the commitment")

    def set_priorities(self, priorities: list) -> None:  # type: ignore[type-arg]
        set_priority_choices(self.primary_priority, priorities)


class RetireForm(Form):
    reason = TextAreaField(
        "Why is it being retired?",
        widget=GovTextArea(),
        description="Shown with the commitment in its history and on the public record.",
        validators=[
            DataRequired(message="Give the reason for retiring this commitment"),
            max_chars(REASON_MAX),
        ],
    )
    submit = submit("Retire the commitment")


class NameForm(Form):
    name = StringField(
        "Organisation name",
        widget=GovTextInput(),
        description="Read from the first words of the pledge paragraph. Correct it if needed.",
        validators=[
            DataRequired(message="Enter the organisation's name"),
            Length(max=200, message="Name must be 200 characters or fewer"),
            no_control_characters,
        ],
    )
    submit = submit("Confirm the name")


class PriorityForm(Form):
    primary_priority = priority_field("Which town priority does it serve most?")
    submit = submit("Save the priority")

    def set_priorities(self, priorities: list) -> None:  # type: ignore[type-arg]
        set_priority_choices(self.primary_priority, priorities)


class LeadInForm(Form):
    action = RadioField(
        "What should happen to this bullet?",
        widget=GovRadioInput(),
        choices=options(
            [
                ("split", "Split it into the commitments it introduces"),
                ("merge", "Merge it into the commitment after it"),
                ("keep", "Keep it as a commitment as it is"),
            ]
        ),
        validate_choice=True,
        invalid_choice_message="Choose what should happen to this bullet",
        validators=[InputRequired(message="Choose what should happen to this bullet")],
    )
    commitments = TextAreaField(
        "The commitments, one a line (if you split it)",
        widget=GovTextArea(),
        validators=[Length(max=TEXT_MAX * 10)],
    )
    submit = submit("Save")

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        valid = super().validate(extra_validators)
        if self.action.data == "split" and not (self.commitments.data or "").strip():
            self.commitments.errors = [
                *self.commitments.errors,
                "Enter the commitments to split it into, one a line",
            ]
            valid = False
        return valid


class DecisionForm(Form):
    comment = TextAreaField(
        "Comment for the lead",
        widget=GovTextArea(),
        description="Sent to the lead with the decision. Needed if you decline.",
        validators=[max_chars(COMMENT_MAX)],
    )
    decision = RadioField(
        "Decision",
        widget=GovRadioInput(),
        choices=options([("approve", "Approve and apply it"), ("decline", "Decline it")]),
        validate_choice=True,
        invalid_choice_message="Choose whether to approve or decline it",
        validators=[InputRequired(message="Choose whether to approve or decline it")],
    )
    submit = submit("Save the decision")


class ProposalForm(Form):
    """A lead's proposed wording and SMART target for a commitment, with a reason."""

    original_text = TextAreaField(
        "Wording",
        widget=GovTextArea(),
        description="What the organisation commits to, in its own words.",
        validators=[DataRequired(message="Enter the commitment's wording"), max_chars(TEXT_MAX)],
    )
    title = StringField(
        "Short title (optional)",
        widget=GovTextInput(),
        validators=[max_chars(TITLE_MAX), one_line],
    )
    metric = StringField(
        "What is measured (optional)",
        widget=GovTextInput(),
        description="For example, new affordable homes built.",
        validators=[max_chars(METRIC_MAX), one_line],
    )
    unit = StringField(
        "Unit (optional)",
        widget=GovTextInput(),
        validators=[max_chars(UNIT_MAX), one_line],
    )
    baseline_value = AmountField("Baseline value (optional)", description="Where it started.")
    baseline_date = DateInputField("Baseline date (optional)", description="For example, 31 3 2024")
    target_value = AmountField("Target value (optional)", description="For example, 400 or 12.5")
    target_date = DateInputField("Due date (optional)", description="For example, 31 3 2030")
    direction = RadioField(
        "Direction (optional)",
        widget=GovRadioInput(),
        choices=DIRECTION_CHOICES,
        default="",
        validate_choice=True,
        invalid_choice_message="Select whether the number should go up or down, or Not set",
    )
    reason = TextAreaField(
        "Why this revision?",
        widget=GovTextArea(),
        description="The programme team reads this. If approved, a changed target shows it "
        "in the commitment's public history.",
        validators=[
            DataRequired(message="Give the reason for the revision"),
            max_chars(REASON_MAX),
        ],
    )
    # The commitment's version the lead's form was made from (a change, not a new commitment).
    version = HiddenField()
    submit = submit("Send the proposal")

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        valid = super().validate(extra_validators)
        start, end = self.baseline_date, self.target_date
        if start.data and end.data and start.data > end.data and not start.errors:
            start.errors.append("Baseline date must be the same as or before the due date")
            valid = False
        return valid
