"""Forms of the people pages (Flask-WTF: every one carries its CSRF token)."""
from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import DateField, DecimalField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.forms import Form
from qms.identifiers import RecordIdField, RecordIdSelectField
from qms.people.models import AuthorisationKind, DeclarationKind, GateMode, TrainingOutcome, WitnessOutcome
from qms.people.services import DEFAULT_MEANING

OUTCOME_LABELS = {TrainingOutcome.PASSED: _l("passed"), TrainingOutcome.COMPLETED: _l("completed (no assessment)"),
                  TrainingOutcome.FAILED: _l("failed")}
WITNESS_LABELS = {WitnessOutcome.SATISFACTORY: _l("satisfactory"),
                  WitnessOutcome.NEEDS_IMPROVEMENT: _l("needs improvement"),
                  WitnessOutcome.UNSATISFACTORY: _l("unsatisfactory")}
DECLARATION_LABELS = {DeclarationKind.CONFLICT_OF_INTEREST: _l("conflict of interest"),
                      DeclarationKind.CONFIDENTIALITY: _l("confidentiality")}
AUTHORISATION_LABELS = {AuthorisationKind.GRANTED: _l("granted"), AuthorisationKind.SUSPENDED: _l("suspended"),
                        AuthorisationKind.REINSTATED: _l("reinstated"), AuthorisationKind.WITHDRAWN: _l("withdrawn")}
MODE_LABELS = {GateMode.ENFORCE: _l("enforce: a missing authorisation refuses the act"),
               GateMode.WARN: _l("warn: the act goes ahead and is logged (transition only)")}


def _choices(labels: dict) -> list[SelectChoice]:  # type: ignore[type-arg]
    return [SelectChoice(value.value, label) for value, label in labels.items()]


class _Signed(Form):
    password = PasswordField(_l("Your password (electronic signature)"), validators=[DataRequired(), Length(max=1024)])
    otp = StringField(_l("MFA code (if you use an authenticator app)"), validators=[Optional(), Length(max=12)])


class GrantForm(_Signed):
    scope_id = RecordIdField(_l("Scope"), validators=[DataRequired()])
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_until = DateField(_l("Valid until (optional)"), validators=[Optional()])
    justification = TextAreaField(_l("Justification (required when requirements are not yet met)"),
                                  validators=[Optional(), Length(max=4000)])
    meaning = StringField(_l("Meaning of the signature"), default=lambda: gettext(DEFAULT_MEANING),
                          validators=[DataRequired(), Length(max=200)])


class ChangeForm(_Signed):
    """Suspend, reinstate or withdraw: a reason and the signature."""

    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=4000)])


class FileForm(Form):
    job_title = StringField(_l("Job title"), validators=[Optional(), Length(max=200)])
    education = TextAreaField(_l("Education"), validators=[Optional(), Length(max=4000)])
    qualifications = TextAreaField(_l("Qualifications"), validators=[Optional(), Length(max=4000)])


class TrainingForm(Form):
    course = StringField(_l("Course"), validators=[DataRequired(), Length(max=200)])
    provider = StringField(_l("Provider"), validators=[Optional(), Length(max=200)])
    started_on = DateField(_l("Started on"), validators=[DataRequired()])
    completed_on = DateField(_l("Completed on"), validators=[DataRequired()])
    hours = DecimalField(_l("Hours"), places=None, default=0, validators=[Optional(), NumberRange(min=0, max=10000)])
    outcome = SelectField(_l("Outcome"), choices=_choices(OUTCOME_LABELS))
    scope_id = RecordIdSelectField(_l("Towards the scope (optional)"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])
    certificate = FileField(_l("Certificate (PDF, PNG or JPEG; optional)"))


class SupervisedForm(Form):
    scope_id = RecordIdSelectField(_l("Scope"), validators=[DataRequired()])
    supervisor_id = RecordIdSelectField(_l("Supervisor"), validators=[DataRequired()])
    performed_on = DateField(_l("Performed on"), validators=[DataRequired()])
    reference = StringField(_l("Case or exercise"), validators=[DataRequired(), Length(max=200)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])


class WitnessingForm(Form):
    scope_id = RecordIdSelectField(_l("Scope"), validators=[DataRequired()])
    observer_id = RecordIdSelectField(_l("Observer"), validators=[DataRequired()])
    observed_on = DateField(_l("Observed on"), validators=[DataRequired()])
    reference = StringField(_l("Case or exercise"), validators=[DataRequired(), Length(max=200)])
    outcome = SelectField(_l("Outcome"), choices=_choices(WITNESS_LABELS))
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])


class DeclarationForm(Form):
    kind = SelectField(_l("Declaration"), choices=_choices(DECLARATION_LABELS))
    year = IntegerField(_l("Year"), validators=[DataRequired(), NumberRange(min=2000, max=2200)])
    interests = TextAreaField(_l("Interests to declare (leave empty if none)"),
                              validators=[Optional(), Length(max=4000)])


class GateModeForm(Form):
    mode = SelectField(_l("Gate mode"), choices=_choices(MODE_LABELS))
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class RequirementsForm(Form):
    requirements = TextAreaField(_l("Requirements (in words)"), validators=[Optional(), Length(max=4000)])
    education = StringField(_l("Education"), validators=[Optional(), Length(max=300)])
    min_training_hours = DecimalField(_l("Training hours at least"), places=None, default=0,
                                      validators=[Optional(), NumberRange(min=0, max=10000)])
    min_supervised = IntegerField(_l("Supervised cases at least"), default=0,
                                  validators=[Optional(), NumberRange(min=0, max=10000)])
    min_witnessed = IntegerField(_l("Satisfactory witnessed examinations at least"), default=0,
                                 validators=[Optional(), NumberRange(min=0, max=1000)])
    witness_interval_months = IntegerField(_l("Witnessing every (months; 0: never)"), default=12,
                                           validators=[Optional(), NumberRange(min=0, max=120)])


class ScopeForm(RequirementsForm):
    code = StringField(_l("Code (letters, digits, underscores)"), validators=[DataRequired(), Length(max=40)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])


class ScopeEditForm(RequirementsForm):
    reason = TextAreaField(_l("Reason for the change"), validators=[DataRequired(), Length(max=500)])
