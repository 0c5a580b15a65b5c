"""Forms for managing people and organisations."""

from __future__ import annotations

from typing import Any

from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovRadioInput,
    GovSelect,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from tracker.domain.enums import Role, Sector
from tracker.domain.lookup import typed_lines
from tracker.forms import Form, email_field, name_field, no_control_characters, options, submit
from tracker.services.lookup import organisations_named

ROLE_CHOICES = options((role.value, role.label) for role in Role)
ROLE_HINTS = {
    Role.ADMIN: "Sets up organisations and people, opens periods, reviews returns",
    Role.LEAD: "Reports progress for their own organisations each quarter",
    Role.BOARD: "Reads everything, changes nothing",
}


# Made before the shared fields below so that, on the invitation form, it comes first in the
# error summary as it does on the page (WTForms orders fields by when they were made).
_INVITEE_EMAIL = email_field()


class MultiCheckboxField(SelectMultipleField):
    widget = GovCheckboxesInput()


# Organisations added in one save: a lead of a group of charities, not a spreadsheet.
ADDED_AT_ONCE = 50


class UserForm(Form):
    """A person's name, role and the organisations they lead.

    The organisations come as ticked ids, which count only if the form offered them (every
    organisation in a town; in a region, those the person leads now), and, in a region, as
    names or slugs typed one a line, which the server looks up. Either way the organisations
    saved are rows the server read, never whatever ids a request sends.
    """

    name = name_field()
    role = RadioField(
        "Role",
        choices=ROLE_CHOICES,
        widget=GovRadioInput(),
        validators=[InputRequired(message="Select a role")],
    )
    organisations = MultiCheckboxField(
        "Organisations they lead",
        coerce=int,
        description="Only for organisation leads.",
        validate_choice=True,
        invalid_value_message="Select organisations from the list",
        invalid_choice_message="Select organisations from the list",
    )
    add_organisations = StringField(
        "Add organisations they lead",
        widget=GovTextArea(),
        description=(
            "One a line: its name, or its slug from the end of its web address "
            "(like luton-rotary in /organisations/luton-rotary)."
        ),
        validators=[
            Length(max=10_000, message="The organisations must be 10,000 characters or fewer"),
        ],
    )

    # The organisations typed into the box, once it is valid: ids the server looked up.
    added_organisation_ids: tuple[int, ...] = ()

    def offer_organisations(self, every: list[Any] | None, leads_now: list[Any]) -> None:
        """Checkboxes for ``every`` organisation when there are few; else for those the person
        leads now, and the box to type more into."""
        if every is not None:
            self.organisations.choices = options((o.id, o.name) for o in every)
            del self.add_organisations
        else:
            self.organisations.choices = options((o.id, o.name) for o in leads_now)

    @property
    def _first_organisation_field(self) -> Any:
        """Where a problem with the organisations as a whole is shown: the first field shown."""
        if self.add_organisations is None or self.organisations.choices:
            return self.organisations
        return self.add_organisations

    def _lead_without_organisations(self) -> bool:
        typed = self.add_organisations is not None and typed_lines(self.add_organisations.data)
        return self.role.data == Role.LEAD and not self.organisations.data and not typed

    def validate_organisations(self, field: Any) -> None:
        if self.role.data != Role.LEAD and field.data:
            raise ValidationError("Only organisation leads belong to organisations: clear these")
        if self._lead_without_organisations() and self._first_organisation_field is field:
            raise ValidationError("Select the organisations this lead reports for")

    def validate_add_organisations(self, field: Any) -> None:
        typed = typed_lines(field.data)
        if not typed:
            if self._lead_without_organisations() and self._first_organisation_field is field:
                raise ValidationError("Enter the organisations this lead reports for")
            return
        if self.role.data != Role.LEAD:
            raise ValidationError("Only organisation leads belong to organisations: clear these")
        if len(typed) > ADDED_AT_ONCE:
            raise ValidationError(f"Add up to {ADDED_AT_ONCE} organisations at a time")
        found = organisations_named(typed)
        problems = [f.problem for f in found if f.problem]
        if problems:
            # A field shows one message, so every line's problem goes into it.
            raise ValidationError(". ".join(problems))
        self.added_organisation_ids = tuple(f.record.id for f in found if f.record)

    def chosen_organisation_ids(self) -> set[int]:
        """The organisations ticked and added, once the form is valid."""
        return set(self.organisations.data or []) | set(self.added_organisation_ids)


class InviteForm(UserForm):
    email = _INVITEE_EMAIL
    submit = submit("Send invitation")


class EditUserForm(UserForm):
    submit = submit("Save changes")


def _contact_pair(form: Any, role: str) -> None:
    name, email = getattr(form, f"{role}_name"), getattr(form, f"{role}_email")
    if bool(name.data) != bool(email.data):
        missing = email if name.data else name
        missing.errors = [*missing.errors, f"Enter both the {role}'s name and email address"]
        raise ValidationError("")


class OrganisationForm(Form):
    name = StringField(
        "Name",
        widget=GovTextInput(),
        validators=[
            DataRequired(message="Enter the organisation's name"),
            Length(max=200, message="Name must be 200 characters or fewer"),
            no_control_characters,
        ],
    )
    sector = SelectField(
        "Sector",
        choices=options([("", "Not known")] + [(s.value, s.label) for s in Sector]),
        widget=GovSelect(),
        validators=[Optional()],
    )
    website = StringField(
        "Website",
        widget=GovTextInput(),
        description="For example, https://www.example.org.uk",
        validators=[
            Optional(),
            Length(max=500, message="Website must be 500 characters or fewer"),
            URL(require_tld=True, message="Enter a website address starting with https://"),
        ],
    )
    reports_from = SelectField(
        "First quarter it reports for",
        description=(
            "The quarter it joined. It owes no return, and is never late, for a quarter before it."
        ),
        choices=[],
        widget=GovSelect(),
        validate_choice=False,
    )
    deputy_name = StringField("Deputy's name", widget=GovTextInput(), validators=[Length(max=200)])
    deputy_email = StringField(
        "Deputy's email address",
        widget=GovTextInput(),
        validators=[
            Optional(),
            Email(
                message="Enter the deputy's email address in the correct format",
                check_deliverability=False,
            ),
        ],
    )
    sponsor_name = StringField(
        "Sponsor's name", widget=GovTextInput(), validators=[Length(max=200)]
    )
    sponsor_email = StringField(
        "Sponsor's email address",
        widget=GovTextInput(),
        validators=[
            Optional(),
            Email(
                message="Enter the sponsor's email address in the correct format",
                check_deliverability=False,
            ),
        ],
    )
    version = HiddenField()
    submit = submit("Save")

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for role in ("deputy", "sponsor"):
            try:
                _contact_pair(self, role)
            except ValidationError:
                valid = False
        return valid


class NewOrganisationForm(OrganisationForm):
    """Adding an organisation: its pledge too, or it stays "no commitments yet"."""

    statement = StringField(
        "Pledge statement (optional)",
        widget=GovTextArea(),
        description="The organisation's own words introducing its commitments.",
        validators=[Length(max=10_000, message="The statement must be 10,000 characters or fewer")],
    )
    first_commitments = StringField(
        "Its first commitments (optional)",
        widget=GovTextArea(),
        description=(
            "One a line, in the organisation's own words. Until it has one, it is not counted "
            "as pledging and owes no return."
        ),
        validators=[
            Length(max=50_000, message="The commitments must be 50,000 characters or fewer")
        ],
    )


class AuditFilterForm(Form):
    """The audit log's filters. Organisations and people are typed, not picked: a region has
    2,000 of each, and the route looks up only the ones typed (``tracker.domain.lookup``)."""

    class Meta:
        csrf = False  # a GET filter changes nothing

    organisation = StringField(
        "Organisation (name or slug)",
        widget=GovTextInput(),
        validators=[
            Optional(),
            Length(max=200, message="Organisation must be 200 characters or fewer"),
        ],
    )
    user = StringField(
        "Person (name or email)",
        widget=GovTextInput(),
        validators=[Optional(), Length(max=320, message="Person must be 320 characters or fewer")],
    )
    since = StringField(
        "From (YYYY-MM-DD)", widget=GovTextInput(), validators=[Optional(), Length(max=10)]
    )
    until = StringField(
        "To (YYYY-MM-DD)", widget=GovTextInput(), validators=[Optional(), Length(max=10)]
    )
    # The page number is not a field: the route reads it, and a tampered one shows page 1.


SEARCH_MAX = 100


def _search_field(label: str, hint: str) -> StringField:
    return StringField(
        label,
        description=hint,
        widget=GovTextInput(),
        validators=[
            Optional(),
            Length(max=SEARCH_MAX, message=f"Search must be {SEARCH_MAX} characters or fewer"),
        ],
    )


class ListSearchForm(Form):
    """A search box over one of the admin's long lists: a GET, so the search is in the address
    and the list's pages keep it in their links."""

    class Meta:
        csrf = False  # a search changes nothing

    q: StringField

    def search(self) -> str:
        """The text to look for, its spaces tidied; nothing when the box has a problem (the
        page says which, above the whole list)."""
        if not self.validate():
            return ""
        return " ".join((self.q.data or "").split())


class OrganisationSearchForm(ListSearchForm):
    q = _search_field("Search organisations", "Part of a name, or of the name in its web address")


class PeopleSearchForm(ListSearchForm):
    q = _search_field("Search people", "Part of a name or an email address")


class ChaseForm(Form):
    """An admin's nudge to overdue organisations, with an optional note of their own."""

    note = StringField(
        "Add a note to the email (optional)",
        widget=GovTextArea(),
        description="The leads see it under the reminder, signed with your name.",
        validators=[
            Optional(),
            Length(max=1000, message="Your note must be 1,000 characters or fewer"),
        ],
    )
    submit = submit("Send the reminder now")


class ReportingStartForm(Form):
    """The place's first reporting quarter: nothing is owed, or late, before it."""

    quarter = SelectField(
        "Reporting began with",
        description=(
            "No organisation owes a return, or is late, for any quarter before this one. "
            "It cannot be after a quarter that already has a return submitted."
        ),
        choices=[],
        widget=GovSelect(),
        validators=[DataRequired(message="Choose the first quarter of reporting")],
    )
    submit = submit("Save")
