from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, MultipleFileField
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.audits.models import GRADE_LABELS, RESULT_LABELS, STEP_LABELS, Grade, Result, StepKind
from qms.forms import Form
from qms.identifiers import RecordIdField, RecordIdMultipleField, RecordIdSelectField

# Labels stay lazy: the choices are built once, at import, and shown in each reader's language.
RESULT_CHOICES = [SelectChoice(r.value, RESULT_LABELS[r]) for r in Result]
GRADE_CHOICES = [SelectChoice(g.value, GRADE_LABELS[g]) for g in Grade]
KIND_CHOICES = [SelectChoice("internal", _l("Internal")), SelectChoice("technical", _l("Technical"))]
RISK_CHOICES = [SelectChoice("low", _l("Low")), SelectChoice("medium", _l("Medium")), SelectChoice("high", _l("High"))]
METHOD_CHOICES = [SelectChoice("", _l("(not a root cause)")), SelectChoice("five_whys", _l("Five whys")),
                  SelectChoice("fishbone", _l("Fishbone")), SelectChoice("fault_tree", _l("Fault tree")),
                  SelectChoice("other", _l("Other"))]
OWNER_STEP_CHOICES = [SelectChoice(k.value, STEP_LABELS[k]) for k in
                      (StepKind.CORRECTION, StepKind.ROOT_CAUSE, StepKind.ACTION_PLAN, StepKind.IMPLEMENTATION)]
TEAM_ROLE_CHOICES = [SelectChoice("auditor", _l("Auditor")), SelectChoice("technical_expert", _l("Technical expert")),
                     SelectChoice("observer", _l("Observer"))]
BODY_TYPE_CHOICES = [SelectChoice(b, _l("Type %(letter)s", letter=b)) for b in ("A", "B", "C")]


class ProgrammeForm(Form):
    year = IntegerField(_l("Year"), validators=[DataRequired(), NumberRange(min=2000, max=2200)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    risk_notes = TextAreaField(_l("Risk notes (what drives the priorities)"), validators=[Length(max=20_000)])


class EntryForm(Form):
    process_area = StringField(_l("Process or area"), validators=[DataRequired(), Length(max=200)])
    clauses = StringField(_l("Clauses (ids such as 17020:7.1, separated by spaces)"),
                          validators=[DataRequired(), Length(max=2000)])
    planned_month = IntegerField(_l("Planned month (1-12)"), validators=[DataRequired(), NumberRange(min=1, max=12)])
    risk_level = SelectField(_l("Risk"), choices=RISK_CHOICES, default="medium")
    rationale = TextAreaField(_l("Why this risk level"), validators=[Length(max=20_000)])


class AuditForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=KIND_CHOICES)
    body_type = SelectField(_l("Inspection body type"), choices=BODY_TYPE_CHOICES)
    checklist_template = SelectField(_l("Checklist"), validators=[Optional()])
    clauses = StringField(_l("Or clauses (ids such as 17020:6.1 17020:7.1)"), validators=[Length(max=2000)])
    planned_start = DateField(_l("Planned start"), validators=[DataRequired()])
    planned_end = DateField(_l("Planned end"), validators=[DataRequired()])
    lead_auditor_id = RecordIdSelectField(_l("Lead auditor"), validators=[DataRequired()])
    team = RecordIdMultipleField(_l("Team (auditors)"), validators=[Optional()])
    auditee = StringField(_l("Auditee"), validators=[Length(max=200)])
    areas = TextAreaField(_l("Areas and activities"), validators=[Length(max=20_000)])
    programme_entry_id = RecordIdField(_l("Programme entry"), validators=[Optional()])


class TeamForm(Form):
    user_id = RecordIdSelectField(_l("Member"), validators=[DataRequired()])
    role = SelectField(_l("Role"), choices=TEAM_ROLE_CHOICES)


class ConclusionForm(Form):
    conclusion = TextAreaField(_l("Conclusion of the audit"), validators=[DataRequired(), Length(max=20_000)])


class ResultForm(Form):
    result = SelectField(_l("Result"), choices=RESULT_CHOICES)
    evidence_note = TextAreaField(_l("Objective evidence"), validators=[Length(max=20_000)])
    justification = TextAreaField(_l("Justification (required when not applicable)"), validators=[Length(max=20_000)])
    revision_ids = RecordIdMultipleField(_l("SOP revisions examined"), validators=[Optional()])
    files = MultipleFileField(_l("Evidence files (PDF, PNG, JPEG, text)"))


class FindingForm(Form):
    grade = SelectField(_l("Grade"), choices=GRADE_CHOICES)
    statement = TextAreaField(_l("Statement of the finding"), validators=[DataRequired(), Length(max=20_000)])
    evidence = TextAreaField(_l("Evidence"), validators=[Length(max=20_000)])


class ReviseFindingForm(FindingForm):
    reason = StringField(_l("Reason for the change"), validators=[DataRequired(), Length(max=500)])


class ActionForm(Form):
    title = StringField(_l("Corrective action"), validators=[DataRequired(), Length(max=200)])
    owner_id = RecordIdSelectField(_l("Owner"), validators=[DataRequired()])
    due_on = DateField(_l("Due by"), validators=[DataRequired()])


class StepForm(Form):
    kind = SelectField(_l("Step"), choices=OWNER_STEP_CHOICES)
    text = TextAreaField(_l("What was done or found"), validators=[DataRequired(), Length(max=20_000)])
    method = SelectField(_l("Root cause method"), choices=METHOD_CHOICES, validators=[Optional()])
    planned_due_on = DateField(_l("Plan finishes by"), validators=[Optional()])
    evidence = FileField(_l("Evidence of implementation (PDF, PNG, JPEG, text)"))


class ReviewForm(Form):
    effective = BooleanField(_l("The action was effective"))
    text = TextAreaField(_l("What the review looked at"), validators=[DataRequired(), Length(max=20_000)])


class CloseForm(Form):
    text = TextAreaField(_l("Closure note"), validators=[DataRequired(), Length(max=20_000)])


class ReauditForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    planned_start = DateField(_l("Planned start"), validators=[DataRequired()])
    planned_end = DateField(_l("Planned end"), validators=[DataRequired()])
    lead_auditor_id = RecordIdSelectField(_l("Lead auditor"), validators=[DataRequired()])
