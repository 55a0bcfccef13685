"""Forms of the proficiency pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, FloatField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.forms import Form
from qms.identifiers import RecordIdSelectField
from qms.quality.proficiency import MAX_Z, OUTCOME_LABELS, REFERENCE_LABELS

OUTCOME_CHOICES = [SelectChoice("", _l("(from the z-score)"))] + [
    SelectChoice(o.value, label) for o, label in OUTCOME_LABELS.items()]
REFERENCE_CHOICES = [SelectChoice(k.value, label) for k, label in REFERENCE_LABELS.items()]


class ProficiencyResultForm(Form):
    provider = StringField(_l("Provider"), validators=[DataRequired(), Length(max=200)])
    scheme = StringField(_l("Scheme"), validators=[DataRequired(), Length(max=200)])
    round = StringField(_l("Round"), validators=[DataRequired(), Length(max=100)])
    items = TextAreaField(_l("Test items"), validators=[Length(max=20_000)])
    participant_id = RecordIdSelectField(_l("Participant"), validators=[DataRequired()])
    scope_id = RecordIdSelectField(_l("Scope of authorisation covered"), validators=[DataRequired()])
    performed_on = DateField(_l("Date of the round"), validators=[DataRequired()])
    reported_result = TextAreaField(_l("Reported result"), validators=[DataRequired(), Length(max=20_000)])
    reference_kind = SelectField(_l("Compared with"), choices=REFERENCE_CHOICES, default="assigned")
    reference_value = TextAreaField(_l("Assigned or consensus value"), validators=[Length(max=20_000)])
    z_score = FloatField(_l("z-score"), validators=[Optional(), NumberRange(min=-MAX_Z, max=MAX_Z)])
    outcome = SelectField(_l("Outcome"), choices=OUTCOME_CHOICES, validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=20_000)])
