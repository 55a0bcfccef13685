"""Forms of the impartiality risk register."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange

from qms.forms import Form
from qms.identifiers import RecordIdSelectField
from qms.quality.risks import SOURCE_LABELS

SCALE = [NumberRange(min=1, max=5)]


class RiskForm(Form):
    title = StringField(_l("Risk"), validators=[DataRequired(), Length(max=200)])
    source = SelectField(_l("Source"), choices=[SelectChoice(s.value, label) for s, label in SOURCE_LABELS.items()])
    description = TextAreaField(_l("Description"), validators=[Length(max=20_000)])
    likelihood = IntegerField(_l("Likelihood (1-5)"), validators=[DataRequired(), *SCALE])
    impact = IntegerField(_l("Impact (1-5)"), validators=[DataRequired(), *SCALE])
    controls = TextAreaField(_l("Controls"), validators=[Length(max=20_000)])
    owner_id = RecordIdSelectField(_l("Owner"), validators=[DataRequired()])
    review_on = DateField(_l("Review by"), validators=[DataRequired()])


class RiskReviewForm(Form):
    likelihood = IntegerField(_l("Likelihood (1-5)"), validators=[DataRequired(), *SCALE])
    impact = IntegerField(_l("Impact (1-5)"), validators=[DataRequired(), *SCALE])
    controls = TextAreaField(_l("Controls"), validators=[Length(max=20_000)])
    note = TextAreaField(_l("What the review found"), validators=[DataRequired(), Length(max=20_000)])
    next_review_on = DateField(_l("Next review by"), validators=[DataRequired()])
