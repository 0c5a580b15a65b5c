"""The admin's form for rebuilding a board summary."""

from __future__ import annotations

from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from tracker.forms import Form

REASON_MAX = 1_000


class RebuildForm(Form):
    reason = StringField(
        "Why is the summary being rebuilt?",
        description="The board sees this beside the new revision, for example "
        "“Beta College's return was accepted after the summary was built”.",
        widget=GovTextArea(),
        validators=[
            DataRequired(message="Give the reason for rebuilding the summary"),
            Length(
                max=REASON_MAX,
                message=f"Keep the reason to {REASON_MAX:,} characters or fewer",
            ),
        ],
    )
    submit = SubmitField("Rebuild the summary", widget=GovSubmitInput())
