"""Form building blocks shared by features: GOV.UK widgets and the checks every form needs."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovPasswordInput,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import PasswordField, SelectChoice, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from tracker.routing import ID_MAX

# The years a date typed into any form may have: enough for any baseline or deadline, and far
# from the ends of the calendar, where adding a day to a date raises an error.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100


class Form(FlaskForm):
    """Base form: text is stripped and NUL characters are refused everywhere."""

    class Meta:
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            filters = list(unbound_field.kwargs.get("filters", []))
            if unbound_field.field_class in (StringField,):
                filters.append(_strip)
            unbound_field.kwargs["filters"] = filters
            return unbound_field.bind(form=form, **options)

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            data = field.data
            if isinstance(data, str) and "\x00" in data:
                field.errors = [
                    *field.errors,
                    f"{field.label.text} must not contain NUL characters",
                ]
                valid = False
        return valid


def whole_number(text: str | None, *, high: int = ID_MAX) -> int | None:
    """``text`` as a whole number from 0 to ``high`` (an id, a version, a page), else None.

    Only ASCII digits: ``"²".isdigit()`` is true but ``int("²")`` fails, and ``int()`` refuses
    more than 4,300 digits with an error.
    """
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if value <= high else None


def options(pairs: Any) -> list[SelectChoice]:
    """Choices for select, radio and checkbox fields from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def email_field(label: str = "Email address", **kwargs: Any) -> StringField:
    return StringField(
        label,
        widget=GovTextInput(),
        validators=[
            DataRequired(message="Enter an email address"),
            Length(max=320, message="Email address must be 320 characters or fewer"),
            Email(
                message="Enter an email address in the correct format, like name@example.com",
                check_deliverability=False,
            ),
        ],
        **kwargs,
    )


def name_field(label: str = "Full name", **kwargs: Any) -> StringField:
    return StringField(
        label,
        widget=GovTextInput(),
        validators=[
            DataRequired(message="Enter a name"),
            Length(max=200, message="Name must be 200 characters or fewer"),
            no_control_characters,
        ],
        **kwargs,
    )


def password_field(
    label: str = "Password", *, message: str = "Enter a password", description: str = ""
) -> PasswordField:
    return PasswordField(
        label,
        widget=GovPasswordInput(),
        validators=[DataRequired(message=message)],
        description=description,
    )


def submit(label: str) -> SubmitField:
    return SubmitField(label, widget=GovSubmitInput())


def no_control_characters(form: Any, field: Any) -> None:
    """One-line fields (names go into email headers) refuse line breaks and control characters."""
    if field.data and any(ord(c) < 32 or c == "\x7f" for c in field.data):
        raise ValidationError(f"{field.label.text} must be on one line, without special characters")
