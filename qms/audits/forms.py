from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.audits.models import AuditKind, Grade, Result, RiskLevel, RootCauseMethod, StepKind, TeamRole
from qms.identifiers import RecordIdField, RecordIdMultipleField, RecordIdSelectField

RESULT_CHOICES = [SelectChoice(r.value, r.label) for r in Result]
GRADE_CHOICES = [SelectChoice(g.value, g.label) for g in Grade]
KIND_CHOICES = [SelectChoice(k.value, k.value.capitalize()) for k in AuditKind if k is not AuditKind.RE_AUDIT]
RISK_CHOICES = [SelectChoice(r.value, r.value.capitalize()) for r in RiskLevel]
METHOD_CHOICES = [SelectChoice("", "(not a root cause)")] + [
    SelectChoice(m.value, m.value.replace("_", " ").capitalize()) for m in RootCauseMethod]
OWNER_STEP_CHOICES = [SelectChoice(k.value, k.label) for k in
                      (StepKind.CORRECTION, StepKind.ROOT_CAUSE, StepKind.ACTION_PLAN, StepKind.IMPLEMENTATION)]
TEAM_ROLE_CHOICES = [SelectChoice(r.value, r.value.replace("_", " ").capitalize()) for r in TeamRole]
BODY_TYPE_CHOICES = [SelectChoice(b, f"Type {b}") for b in ("A", "B", "C")]


class ProgrammeForm(FlaskForm):
    year = IntegerField("Year", validators=[DataRequired(), NumberRange(min=2000, max=2200)])
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    risk_notes = TextAreaField("Risk notes (what drives the priorities)", validators=[Length(max=20_000)])


class EntryForm(FlaskForm):
    process_area = StringField("Process or area", validators=[DataRequired(), Length(max=200)])
    clauses = StringField("Clauses (ids such as 17020:7.1, separated by spaces)",
                          validators=[DataRequired(), Length(max=2000)])
    planned_month = IntegerField("Planned month (1-12)", validators=[DataRequired(), NumberRange(min=1, max=12)])
    risk_level = SelectField("Risk", choices=RISK_CHOICES, default="medium")
    rationale = TextAreaField("Why this risk level", validators=[Length(max=20_000)])


class AuditForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=KIND_CHOICES)
    body_type = SelectField("Inspection body type", choices=BODY_TYPE_CHOICES)
    checklist_template = SelectField("Checklist", validators=[Optional()])
    clauses = StringField("Or clauses (ids such as 17020:6.1 17020:7.1)", validators=[Length(max=2000)])
    planned_start = DateField("Planned start", validators=[DataRequired()])
    planned_end = DateField("Planned end", validators=[DataRequired()])
    lead_auditor_id = RecordIdSelectField("Lead auditor", validators=[DataRequired()])
    team = RecordIdMultipleField("Team (auditors)", validators=[Optional()])
    auditee = StringField("Auditee", validators=[Length(max=200)])
    areas = TextAreaField("Areas and activities", validators=[Length(max=20_000)])
    programme_entry_id = RecordIdField("Programme entry", validators=[Optional()])


class TeamForm(FlaskForm):
    user_id = RecordIdSelectField("Member", validators=[DataRequired()])
    role = SelectField("Role", choices=TEAM_ROLE_CHOICES)


class ConclusionForm(FlaskForm):
    conclusion = TextAreaField("Conclusion of the audit", validators=[DataRequired(), Length(max=20_000)])


class ResultForm(FlaskForm):
    result = SelectField("Result", choices=RESULT_CHOICES)
    evidence_note = TextAreaField("Objective evidence", validators=[Length(max=20_000)])
    justification = TextAreaField("Justification (required when not applicable)", validators=[Length(max=20_000)])
    revision_ids = RecordIdMultipleField("SOP revisions examined", validators=[Optional()])
    files = MultipleFileField("Evidence files (PDF, PNG, JPEG, text)")


class FindingForm(FlaskForm):
    grade = SelectField("Grade", choices=GRADE_CHOICES)
    statement = TextAreaField("Statement of the finding", validators=[DataRequired(), Length(max=20_000)])
    evidence = TextAreaField("Evidence", validators=[Length(max=20_000)])


class ReviseFindingForm(FindingForm):
    reason = StringField("Reason for the change", validators=[DataRequired(), Length(max=500)])


class ActionForm(FlaskForm):
    title = StringField("Corrective action", validators=[DataRequired(), Length(max=200)])
    owner_id = RecordIdSelectField("Owner", validators=[DataRequired()])
    due_on = DateField("Due by", validators=[DataRequired()])


class StepForm(FlaskForm):
    kind = SelectField("Step", choices=OWNER_STEP_CHOICES)
    text = TextAreaField("What was done or found", validators=[DataRequired(), Length(max=20_000)])
    method = SelectField("Root cause method", choices=METHOD_CHOICES, validators=[Optional()])
    planned_due_on = DateField("Plan finishes by", validators=[Optional()])
    evidence = FileField("Evidence of implementation (PDF, PNG, JPEG, text)")


class ReviewForm(FlaskForm):
    effective = BooleanField("The action was effective")
    text = TextAreaField("What the review looked at", validators=[DataRequired(), Length(max=20_000)])


class CloseForm(FlaskForm):
    text = TextAreaField("Closure note", validators=[DataRequired(), Length(max=20_000)])


class ReauditForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    planned_start = DateField("Planned start", validators=[DataRequired()])
    planned_end = DateField("Planned end", validators=[DataRequired()])
    lead_auditor_id = RecordIdSelectField("Lead auditor", validators=[DataRequired()])
