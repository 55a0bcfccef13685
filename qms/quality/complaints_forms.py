"""Forms of the complaints pages (the services check the values again: these give early reasons)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from qms.forms import Form
from qms.identifiers import RecordIdSelectField
from qms.quality.complaints import CHANNEL_LABELS, KIND_LABELS, STATE_LABELS
from qms.quality.complaints_models import Step
from qms.quality.models import RiskGrade
from qms.quality.services import GRADE_LABELS


class ComplaintForm(Form):
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k.value, label) for k, label in KIND_LABELS.items()])
    complainant = StringField(_l("From whom"), validators=[DataRequired(), Length(max=200)])
    contact = StringField(_l("Contact (address, e-mail or phone)"), validators=[Length(max=300)])
    channel = SelectField(_l("Received by"), choices=[SelectChoice(c.value, label)
                                                      for c, label in CHANNEL_LABELS.items()])
    received_on = DateField(_l("Received on"), validators=[Optional()])
    case_number = StringField(_l("About case (its number)"), validators=[Length(max=64)])
    audit_id = RecordIdSelectField(_l("About audit"), validators=[Optional()])
    report_ref = StringField(_l("About report (its reference)"), validators=[Length(max=200)])
    description = TextAreaField(_l("What the complaint says"), validators=[DataRequired(), Length(max=20_000)])


class ComplaintStepForm(Form):
    step = SelectField(_l("Step"), choices=[SelectChoice(s.value, STATE_LABELS[s]) for s in Step])
    text = TextAreaField(_l("Text (note, reason, findings, decision or notice)"),
                         validators=[DataRequired(), Length(max=20_000)])


class ComplaintNonconformityForm(Form):
    title = StringField(_l("Title of the nonconformity"), validators=[DataRequired(), Length(max=200)])
    risk_grade = SelectField(_l("Risk grade"), choices=[SelectChoice(g.value, GRADE_LABELS[g]) for g in RiskGrade],
                             default=RiskGrade.MEDIUM.value)
