"""Forms for signing in, accepting an invitation and managing a password."""

from __future__ import annotations

from typing import Any

from govuk_frontend_wtf.wtforms_widgets import GovTextInput
from wtforms import StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from tracker.domain.passwords import RECOMMENDED_LENGTH, password_problem
from tracker.forms import Form, email_field, name_field, password_field, submit


class SignInForm(Form):
    email = email_field()
    password = password_field()
    submit = submit("Sign in")


class NewPasswordMixin:
    """A new password, typed twice, checked against the password rules."""

    password = password_field(
        "New password",
        message="Enter a new password",
        description=(
            f"Use {RECOMMENDED_LENGTH} characters or more if you can."
            " A few unrelated words work well."
        ),
    )
    confirm = password_field("Confirm new password", message="Confirm your new password")

    def user_inputs(self) -> tuple[str, ...]:
        return ()

    def validate_password(self, field: Any) -> None:
        problem = password_problem(field.data or "", user_inputs=self.user_inputs())
        if problem:
            raise ValidationError(problem)

    def validate_confirm(self, field: Any) -> None:
        EqualTo("password", message="Passwords must match")(self, field)


class AcceptInvitationForm(NewPasswordMixin, Form):
    name = name_field("Your full name")
    submit = submit("Create account")

    def __init__(self, *args: Any, email: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._email = email

    def user_inputs(self) -> tuple[str, ...]:
        return (self.name.data or "", self._email)


class RequestResetForm(Form):
    email = email_field()
    submit = submit("Send reset link")


class ResetPasswordForm(NewPasswordMixin, Form):
    submit = submit("Set new password")

    def __init__(self, *args: Any, user_inputs: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._user_inputs = user_inputs

    def user_inputs(self) -> tuple[str, ...]:
        # The person's own name and email address are refused as passwords, as on the change
        # form (password_problem's rule).
        return self._user_inputs


class ChangePasswordForm(NewPasswordMixin, Form):
    current = password_field("Current password", message="Enter your current password")
    submit = submit("Change password")


def code_field(label: str, *, description: str = "") -> StringField:
    return StringField(
        label,
        widget=GovTextInput(),
        validators=[
            DataRequired(message="Enter the code from your authenticator app"),
            Length(max=64, message="Enter the 6-digit code from your authenticator app"),
        ],
        description=description,
    )


class SecondFactorForm(Form):
    code = code_field(
        "Code from your authenticator app",
        description="The 6-digit code your app shows now, or one of your recovery codes.",
    )
    submit = submit("Continue")


class SetUpSecondFactorForm(Form):
    code = code_field(
        "Code from your authenticator app",
        description="Once the app has the key, enter the 6-digit code it shows.",
    )
    submit = submit("Turn on two-factor authentication")


class ManageSecondFactorForm(Form):
    code = code_field(
        "Code from your authenticator app",
        description="To change anything here, enter the 6-digit code your app shows now.",
    )
