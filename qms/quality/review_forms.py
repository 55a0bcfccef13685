"""Forms of the management review pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from qms.forms import Form
from qms.identifiers import RecordIdSelectField
from qms.quality.review import KIND_LABELS, SIGNATURE_MEANING


class ManagementReviewForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    period_start = DateField(_l("Period from"), validators=[DataRequired()])
    period_end = DateField(_l("Period to"), validators=[DataRequired()])
    held_on = DateField(_l("Held on"), validators=[Optional()])
    attendees = TextAreaField(_l("Attendees"), validators=[Length(max=20_000)])


class ReviewDecisionForm(Form):
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k.value, label) for k, label in KIND_LABELS.items()])
    text = TextAreaField(_l("Decision"), validators=[DataRequired(), Length(max=20_000)])
    action_title = StringField(_l("Corrective action (if one is opened)"), validators=[Length(max=200)])
    owner_id = RecordIdSelectField(_l("Owner of the action"), validators=[Optional()])
    due_on = DateField(_l("Action due by"), validators=[Optional()])


class ReviewSignForm(Form):
    meaning = StringField(_l("Meaning of the signature"), default=SIGNATURE_MEANING,
                          validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=1024)])
    otp = StringField(_l("MFA code (if enrolled)"), validators=[Optional(), Length(max=12)])
