"""Forms of the equipment pages (Flask-WTF: every one carries its CSRF token)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.equipment.models import Result
from qms.equipment.services import ASSESSMENT_LABELS, KINDS, RECORD_KINDS
from qms.forms import Form
from qms.identifiers import RecordIdField, RecordIdSelectField

# pass and fail of a calibration or check, as the instrument page shows them
RESULT_LABELS = {Result.PASS: _l("pass"), Result.FAIL: _l("fail")}


class InstrumentForm(Form):
    identifier = StringField(_l("Identifier (unique in the unit)"), validators=[DataRequired(), Length(max=40)])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(key, label) for key, label in KINDS.items()])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    make = StringField(_l("Make"), validators=[Optional(), Length(max=100)])
    model = StringField(_l("Model"), validators=[Optional(), Length(max=100)])
    serial_number = StringField(_l("Serial number"), validators=[Optional(), Length(max=100)])
    location = StringField(_l("Location"), validators=[Optional(), Length(max=200)])
    responsible_id = RecordIdSelectField(_l("Responsible person"), validators=[Optional()])
    affects_results = BooleanField(_l("Affects the results"), default=True)
    calibration_interval_months = IntegerField(_l("Calibration interval (months)"),
                                               validators=[Optional(), NumberRange(min=1, max=120)])
    calibration_provider = StringField(_l("Calibration provider"), validators=[Optional(), Length(max=200)])
    traceability = TextAreaField(_l("Traceability statement"), validators=[Optional(), Length(max=4000)])
    check_interval_days = IntegerField(_l("Intermediate check interval (days)"),
                                       validators=[Optional(), NumberRange(min=1, max=3660)])
    maintenance_interval_months = IntegerField(_l("Maintenance interval (months)"),
                                               validators=[Optional(), NumberRange(min=1, max=120)])


class EditInstrumentForm(InstrumentForm):
    reason = StringField(_l("Reason for the change"), validators=[DataRequired(), Length(max=500)])


class RecordForm(Form):
    kind = SelectField(_l("Record"), choices=[SelectChoice(kind.value, label) for kind, label in RECORD_KINDS.items()])
    performed_on = DateField(_l("Date"), validators=[DataRequired()])
    result = SelectField(_l("Result (calibrations and checks)"),
                         choices=[SelectChoice("", _l("(none)")), SelectChoice("pass", _l("Pass")),
                                  SelectChoice("fail", _l("Fail"))], validators=[Optional()])
    next_due = DateField(_l("Next calibration due (calibrations)"), validators=[Optional()])
    performed_by = StringField(_l("Performed by (provider or person)"), validators=[Optional(), Length(max=200)])
    certificate_number = StringField(_l("Certificate number"), validators=[Optional(), Length(max=100)])
    certificate = FileField(_l("Certificate (PDF)"))
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])


class AssessForm(Form):
    work_kind = HiddenField(validators=[DataRequired(), Length(max=32)])
    work_id = RecordIdField(_l("Work"), validators=[DataRequired()])
    assessment = SelectField(_l("Assessment"),
                             choices=[SelectChoice(key.value, label) for key, label in ASSESSMENT_LABELS.items()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=4000)])


class CloseReviewForm(Form):
    conclusion = TextAreaField(_l("Conclusion"), validators=[DataRequired(), Length(max=4000)])
