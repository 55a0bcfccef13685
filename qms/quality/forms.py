"""Forms of the nonconformity pages: record a nonconformity, raise a corrective action on one."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from qms.forms import Form
from qms.identifiers import RecordIdSelectField
from qms.quality.models import RiskGrade, Source
from qms.quality.services import GRADE_LABELS, SOURCE_LABELS

# Audit findings are raised in their audit; every other source may be recorded by hand.
RECORDED_SOURCES = [SelectChoice(s.value, SOURCE_LABELS[s]) for s in Source if s is not Source.AUDIT_FINDING]
GRADE_CHOICES = [SelectChoice(g.value, GRADE_LABELS[g]) for g in RiskGrade]


class NonconformityForm(Form):
    source = SelectField(_l("Source"), choices=RECORDED_SOURCES, default=Source.OTHER.value)
    title = StringField(_l("What went wrong"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Length(max=4000)])
    location = StringField(_l("Where (process, room, case)"), validators=[Length(max=200)])
    found_on = DateField(_l("Date found"), validators=[Optional()])
    risk_grade = SelectField(_l("Risk grade"), choices=GRADE_CHOICES, default=RiskGrade.MEDIUM.value)
    immediate_correction = TextAreaField(_l("Immediate correction"), validators=[Length(max=4000)])


class NcActionForm(Form):
    title = StringField(_l("Corrective action"), validators=[DataRequired(), Length(max=200)])
    owner_id = RecordIdSelectField(_l("Owner"), validators=[DataRequired()])
    due_on = DateField(_l("Due by"), validators=[DataRequired()])
