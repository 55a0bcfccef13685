"""API: audit programmes, audits and their checklists, results, findings, corrective actions, re-audits."""
from __future__ import annotations

import base64
import binascii
from typing import Any

import marshmallow as ma
from flask import Response, g
from flask_babel import gettext as _
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.utils import secure_filename

from qms.audits import services
from qms.audits.models import (ActionStatus, Audit, AuditProgramme, AuditStatus, ChecklistItem, CorrectiveAction,
                               Finding, Grade, Result, RiskLevel, RootCauseMethod, StepKind)
from qms.audits.services import PLANNERS, READERS, WRITERS
from qms.api.schemas import RecordId, RecordIds, RecordIdOf, RecordIdsOf
from qms.auth.permissions import Access
from qms.errors import InvalidInput
from qms.records import record_or_404

blp = Blueprint("api_audits", __name__, url_prefix="/audits",
                description="Audits against ISO/IEC 17020: programme, checklists, results, findings, actions")

_TEXT = ma.validate.Length(max=services.MAX_TEXT)


class ProgrammeEntrySchema(ma.Schema):
    id = RecordId(dump_only=True)
    process = ma.fields.Str(dump_only=True)
    clauses = ma.fields.List(ma.fields.Str(), dump_only=True)
    planned_month = ma.fields.Int(dump_only=True)
    risk_level = ma.fields.Str(dump_only=True)
    rationale = ma.fields.Str(dump_only=True)
    audit_ids = RecordIdsOf(lambda e: [a.id for a in e.audits])


class ProgrammeSchema(ma.Schema):
    id = RecordId(dump_only=True)
    year = ma.fields.Int(required=True, validate=ma.validate.Range(min=2000, max=2200))
    title = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    risk_notes = ma.fields.Str(load_default="", validate=_TEXT)
    entries = ma.fields.List(ma.fields.Nested(ProgrammeEntrySchema), dump_only=True)


# Nothing is `required` on bodies of URLs that name a record: the record is looked up first (404
# for another unit's), then the service says clearly what is missing (400).
class ProgrammeEntryCreateSchema(ma.Schema):
    process = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    clauses = ma.fields.List(ma.fields.Str(validate=ma.validate.Length(max=100)), load_default=list)
    planned_month = ma.fields.Int(required=True, validate=ma.validate.Range(min=1, max=12))
    risk_level = ma.fields.Str(load_default=RiskLevel.MEDIUM.value,
                               validate=ma.validate.OneOf([r.value for r in RiskLevel]))
    rationale = ma.fields.Str(load_default="", validate=_TEXT)


class TeamMemberSchema(ma.Schema):
    user_id = RecordId()
    role = ma.fields.Str()


class AuditSchema(ma.Schema):
    id = RecordId()
    title = ma.fields.Str()
    kind = ma.fields.Str()
    body_type = ma.fields.Str()
    scope = ma.fields.List(ma.fields.Dict())
    checklist_template = ma.fields.Str()
    catalogue_versions = ma.fields.Dict()
    planned_start = ma.fields.Date()
    planned_end = ma.fields.Date()
    lead_auditor_id = RecordId()
    team = ma.fields.List(ma.fields.Nested(TeamMemberSchema))
    auditee = ma.fields.Str()
    areas = ma.fields.Str()
    status = ma.fields.Str()
    conclusion = ma.fields.Str()
    programme_entry_id = RecordId(allow_none=True)
    previous_audit_id = RecordId(allow_none=True)
    started_at = ma.fields.DateTime(allow_none=True)
    reported_at = ma.fields.DateTime(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    item_count = ma.fields.Function(lambda a: len(a.items))


class AuditCreateSchema(ma.Schema):
    title = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    planned_start = ma.fields.Date(required=True)
    planned_end = ma.fields.Date(required=True)
    lead_auditor_id = RecordId(required=True)
    kind = ma.fields.Str(load_default="internal", validate=ma.validate.OneOf(["internal", "technical"]))
    body_type = ma.fields.Str(load_default="A", validate=ma.validate.OneOf(["A", "B", "C"]))
    checklist_template = ma.fields.Str(load_default="", validate=ma.validate.Length(max=64))
    clauses = ma.fields.List(ma.fields.Str(validate=ma.validate.Length(max=100)), load_default=list)
    auditee = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    areas = ma.fields.Str(load_default="", validate=_TEXT)
    programme_entry_id = RecordId(load_default=None, allow_none=True)
    team = ma.fields.List(ma.fields.Nested(TeamMemberSchema), load_default=list)


class AuditQuerySchema(ma.Schema):
    status = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(s.value for s in AuditStatus)]))


class ConclusionSchema(ma.Schema):
    conclusion = ma.fields.Str(load_default="", validate=_TEXT)


class ReauditSchema(ma.Schema):
    title = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    planned_start = ma.fields.Date(load_default=None, allow_none=True)
    planned_end = ma.fields.Date(load_default=None, allow_none=True)
    lead_auditor_id = RecordId(load_default=None, allow_none=True)


class EvidenceFileSchema(ma.Schema):
    filename = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    content_base64 = ma.fields.Str(required=True, metadata={"description": "The file, base64-encoded (PDF, PNG, "
                                                                          "JPEG or UTF-8 text; 20 MB at most)."})


class ResultSchema(ma.Schema):
    id = RecordId(dump_only=True)
    item_id = RecordId(dump_only=True)
    result = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(r.value for r in Result)]))
    evidence_note = ma.fields.Str(load_default="", validate=_TEXT)
    justification = ma.fields.Str(load_default="", validate=_TEXT)
    revision_ids = RecordIds(load_default=list, load_only=True)
    files = ma.fields.List(ma.fields.Nested(EvidenceFileSchema), load_default=list, load_only=True,
                           validate=ma.validate.Length(max=10))
    sop_revision_ids = RecordIdsOf(lambda r: [link.revision_id for link in r.sop_links])
    file_ids = RecordIdsOf(lambda r: [f.id for f in r.files])
    recorded_by_id = RecordId(dump_only=True, allow_none=True)
    recorded_at = ma.fields.DateTime(dump_only=True)


class ChecklistRowSchema(ma.Schema):
    id = RecordIdOf(lambda row: row.item.id)
    position = ma.fields.Function(lambda row: row.item.position)
    requirement_id = ma.fields.Function(lambda row: row.item.requirement_id)
    section_id = ma.fields.Function(lambda row: row.item.section_id)
    title = ma.fields.Function(lambda row: row.item.title)
    result = ma.fields.Function(lambda row: row.value)
    current = ma.fields.Function(lambda row: ResultSchema().dump(row.result) if row.result else None)


class ChecklistQuerySchema(ma.Schema):
    section = ma.fields.Str(load_default="", validate=ma.validate.Length(max=100))
    result = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(r.value for r in Result)]))


class SummarySchema(ma.Schema):
    items = ma.fields.Int()
    by_result = ma.fields.Dict(keys=ma.fields.Str(), values=ma.fields.Int())
    by_section = ma.fields.Dict(keys=ma.fields.Str(), values=ma.fields.Dict())
    section_titles = ma.fields.Dict(keys=ma.fields.Str(), values=ma.fields.Str())
    findings_by_grade = ma.fields.Dict(keys=ma.fields.Str(), values=ma.fields.Int())
    actions_by_status = ma.fields.Dict(keys=ma.fields.Str(), values=ma.fields.Int())
    overdue_actions = ma.fields.Int()


class FindingSchema(ma.Schema):
    id = RecordId(dump_only=True)
    audit_id = RecordId(dump_only=True)
    item_id = RecordId(dump_only=True)
    number = ma.fields.Int(dump_only=True)
    grade = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(g.value for g in Grade)]))
    statement = ma.fields.Str(load_default="", validate=_TEXT)
    evidence = ma.fields.Str(load_default="", validate=_TEXT)
    raised_by_id = RecordId(dump_only=True, allow_none=True)
    raised_at = ma.fields.DateTime(dump_only=True)
    action_ids = RecordIdsOf(lambda f: [a.id for a in f.actions])


_OWNER_STEPS = (StepKind.CORRECTION, StepKind.ROOT_CAUSE, StepKind.ACTION_PLAN, StepKind.IMPLEMENTATION)


class StepCreateSchema(ma.Schema):
    kind = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(k.value for k in _OWNER_STEPS)]))
    text = ma.fields.Str(load_default="", validate=_TEXT)
    method = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(m.value for m in RootCauseMethod)]),
                           metadata={"description": "The root cause method (root_cause steps only)."})
    planned_due_on = ma.fields.Date(load_default=None, allow_none=True)


class StepSchema(ma.Schema):
    """A step as recorded: only a root cause has a method, only an action plan a planned date."""

    id = RecordId(dump_only=True)
    kind = ma.fields.Str(dump_only=True)
    text = ma.fields.Str(dump_only=True)
    method = ma.fields.Str(dump_only=True, allow_none=True)
    planned_due_on = ma.fields.Date(dump_only=True, allow_none=True)
    effective = ma.fields.Bool(dump_only=True, allow_none=True)
    actor_id = RecordId(dump_only=True, allow_none=True)
    actor_name = ma.fields.Str(dump_only=True)
    at = ma.fields.DateTime(dump_only=True)


class ActionSchema(ma.Schema):
    id = RecordId(dump_only=True)
    finding_id = RecordId(dump_only=True, allow_none=True)
    audit_id = RecordId(dump_only=True, allow_none=True)
    nonconformity_id = RecordId(dump_only=True, allow_none=True)  # an action answers a finding or a nonconformity
    title = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    owner_id = RecordId(load_default=None, allow_none=True)
    due_on = ma.fields.Date(load_default=None, allow_none=True)
    status = ma.fields.Str(dump_only=True)
    overdue = ma.fields.Function(lambda a: services.is_overdue(a), dump_only=True)
    closed_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    steps = ma.fields.List(ma.fields.Nested(StepSchema), dump_only=True)


class ActionQuerySchema(ma.Schema):
    status = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(s.value for s in ActionStatus)]))
    mine = ma.fields.Bool(load_default=False)
    overdue = ma.fields.Bool(load_default=False)


class ReviewSchema(ma.Schema):
    effective = ma.fields.Bool(load_default=None, allow_none=True)
    text = ma.fields.Str(load_default="", validate=_TEXT)


class NoteSchema(ma.Schema):
    text = ma.fields.Str(load_default="", validate=_TEXT)


class ProgressRowSchema(ma.Schema):
    requirement_id = ma.fields.Function(lambda row: row.item.requirement_id)
    before = ma.fields.Str()
    after = ma.fields.Str()
    change = ma.fields.Str()


class ProgressSchema(ma.Schema):
    previous_audit_id = RecordIdOf(lambda p: p.previous.id)
    counts = ma.fields.Dict(keys=ma.fields.Str(), values=ma.fields.Int())
    rows = ma.fields.List(ma.fields.Nested(ProgressRowSchema))


def _evidence(file: dict[str, str]) -> services.Evidence:
    try:
        content = base64.b64decode(file["content_base64"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(_("The file %(name)r is not valid base64.", name=file["filename"][:80])) from None
    return services.Evidence(content, file["filename"])


def _needed(value: Any, what: str) -> Any:
    if value is None:
        raise InvalidInput(_("%(what)s is required.", what=what))
    return value


@blp.route("/programmes")
class Programmes(MethodView):
    access = Access(read=READERS, write=PLANNERS)

    @blp.response(200, ProgrammeSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The unit's audit programmes, newest year first."""
        return services.programmes()

    @blp.arguments(ProgrammeSchema)
    @blp.response(201, ProgrammeSchema)
    def post(self, data: dict):  # type: ignore[no-untyped-def]
        """A new yearly audit programme (auditors and quality managers)."""
        return services.create_programme(unit_id=g.qms_unit_id, actor=g.qms_user, **data)


@blp.route("/programmes/<int:programme_id>")
class ProgrammeItem(MethodView):
    access = Access(read=READERS)

    @blp.response(200, ProgrammeSchema)
    def get(self, programme_id: int):  # type: ignore[no-untyped-def]
        """One programme with its planned audits."""
        return record_or_404(AuditProgramme, programme_id, "audit programme")


@blp.route("/programmes/<int:programme_id>/entries")
class ProgrammeEntries(MethodView):
    access = Access(read=READERS, write=PLANNERS)

    @blp.arguments(ProgrammeEntryCreateSchema)
    @blp.response(201, ProgrammeEntrySchema)
    def post(self, data: dict, programme_id: int):  # type: ignore[no-untyped-def]
        """Plan an audit of a process against clauses, with its risk level."""
        programme = record_or_404(AuditProgramme, programme_id, "audit programme")
        return services.add_entry(programme, g.qms_user, **data)


@blp.route("")
class Audits(MethodView):
    access = Access(read=READERS, write=PLANNERS)

    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditSchema(many=True))
    def get(self, args: dict):  # type: ignore[no-untyped-def]
        """The unit's audits, newest first (filter by status)."""
        return services.audits(status=args["status"] or None)

    @blp.arguments(AuditCreateSchema)
    @blp.response(201, AuditSchema)
    def post(self, data: dict):  # type: ignore[no-untyped-def]
        """Plan an audit; its checklist is generated from the checklist file or the clauses."""
        team = tuple((m.get("user_id"), m.get("role") or "auditor") for m in data.pop("team"))
        plan = services.AuditPlan(**data | {"clauses": tuple(data["clauses"]), "team": team})
        return services.create_audit(plan, unit_id=g.qms_unit_id, actor=g.qms_user)


@blp.route("/<int:audit_id>")
class AuditItem(MethodView):
    access = Access(read=READERS)

    @blp.response(200, AuditSchema)
    def get(self, audit_id: int):  # type: ignore[no-untyped-def]
        """One audit: scope, dates, team, status."""
        return record_or_404(Audit, audit_id, "audit")


@blp.route("/<int:audit_id>/summary")
class AuditSummary(MethodView):
    access = Access(read=READERS)

    @blp.response(200, SummarySchema)
    def get(self, audit_id: int):  # type: ignore[no-untyped-def]
        """Counts by current result (overall and per section), findings by grade, actions by status."""
        return services.audit_summary(record_or_404(Audit, audit_id, "audit"))


@blp.route("/<int:audit_id>/checklist")
class AuditChecklist(MethodView):
    access = Access(read=READERS)

    @blp.arguments(ChecklistQuerySchema, location="query")
    @blp.response(200, ChecklistRowSchema(many=True))
    def get(self, args: dict, audit_id: int):  # type: ignore[no-untyped-def]
        """The checklist with each requirement's current result (filter by section and result)."""
        return services.checklist(record_or_404(Audit, audit_id, "audit"), **args)


def _lifecycle(audit_id: int, action, *args):  # type: ignore[no-untyped-def]
    audit = record_or_404(Audit, audit_id, "audit")
    action(audit, g.qms_user, *args)
    return audit


@blp.route("/<int:audit_id>/start")
class StartAudit(MethodView):
    access = Access(read=READERS, write=PLANNERS)

    @blp.response(200, AuditSchema)
    def post(self, audit_id: int):  # type: ignore[no-untyped-def]
        """Planned → in progress."""
        return _lifecycle(audit_id, services.start_audit)


@blp.route("/<int:audit_id>/report")
class ReportAudit(MethodView):
    access = Access(read=READERS, write=PLANNERS)

    @blp.arguments(ConclusionSchema)
    @blp.response(200, AuditSchema)
    def post(self, data: dict, audit_id: int):  # type: ignore[no-untyped-def]
        """In progress → reported, with the lead auditor's conclusion."""
        return _lifecycle(audit_id, services.report_audit, data["conclusion"])


@blp.route("/<int:audit_id>/close")
class CloseAudit(MethodView):
    access = Access(read=READERS, write=PLANNERS)

    @blp.response(200, AuditSchema)
    def post(self, audit_id: int):  # type: ignore[no-untyped-def]
        """Reported → closed, once every nonconformity's actions are closed."""
        return _lifecycle(audit_id, services.close_audit)


@blp.route("/<int:audit_id>/reaudit")
class Reaudit(MethodView):
    access = Access(read=READERS, write=PLANNERS)

    @blp.arguments(ReauditSchema)
    @blp.response(201, AuditSchema)
    def post(self, data: dict, audit_id: int):  # type: ignore[no-untyped-def]
        """A re-audit of a reported or closed audit: same checklist, results reset."""
        previous = record_or_404(Audit, audit_id, "audit")
        return services.start_reaudit(previous, g.qms_user, title=data["title"],
                    planned_start=_needed(data["planned_start"], "planned_start"),
                    planned_end=_needed(data["planned_end"], "planned_end"),
                    lead_auditor_id=_needed(data["lead_auditor_id"], "lead_auditor_id"))


@blp.route("/<int:audit_id>/progress")
class AuditProgress(MethodView):
    access = Access(read=READERS)

    @blp.response(200, ProgressSchema)
    def get(self, audit_id: int):  # type: ignore[no-untyped-def]
        """Each requirement's result in the previous audit beside its result in this re-audit."""
        return services.progress(record_or_404(Audit, audit_id, "audit"))


@blp.route("/items/<int:checklist_item_id>/results")
class ItemResults(MethodView):
    access = Access(read=READERS, write=WRITERS)

    @blp.response(200, ResultSchema(many=True))
    def get(self, checklist_item_id: int):  # type: ignore[no-untyped-def]
        """Every result recorded for a checklist item, oldest first; the last is the current one."""
        return services.item_history(record_or_404(ChecklistItem, checklist_item_id, "checklist item"))

    @blp.arguments(ResultSchema)
    @blp.response(201, ResultSchema)
    def post(self, data: dict, checklist_item_id: int):  # type: ignore[no-untyped-def]
        """Record a result (lead auditor and team); not applicable needs a justification; evidence files inline."""
        item = record_or_404(ChecklistItem, checklist_item_id, "checklist item")
        files = [_evidence(f) for f in data.pop("files")]
        return services.record_result(item, g.qms_user, files=files, **data)


@blp.route("/files/<int:file_id>")
class EvidenceFile(MethodView):
    access = Access(read=READERS)

    @blp.doc(responses={"200": {"description": "The evidence file as uploaded.",
                                "content": {"application/octet-stream": {}}}})
    def get(self, file_id: int):  # type: ignore[no-untyped-def]
        """An evidence file of a result (its id is in the result's file_ids)."""
        row, content = services.result_file(file_id)  # another unit's file is as unknown as a missing one
        return Response(content, mimetype=row.media_type, headers={
            "Content-Disposition": f"attachment; filename={secure_filename(row.filename) or 'evidence'}"})


@blp.route("/items/<int:checklist_item_id>/findings")
class ItemFindings(MethodView):
    access = Access(read=READERS, write=WRITERS)

    @blp.arguments(FindingSchema)
    @blp.response(201, FindingSchema)
    def post(self, data: dict, checklist_item_id: int):  # type: ignore[no-untyped-def]
        """Raise a graded finding against this requirement (lead auditor and team)."""
        item = record_or_404(ChecklistItem, checklist_item_id, "checklist item")
        return services.raise_finding(item, g.qms_user, **data)


@blp.route("/findings/<int:finding_id>")
class FindingItem(MethodView):
    access = Access(read=READERS)

    @blp.response(200, FindingSchema)
    def get(self, finding_id: int):  # type: ignore[no-untyped-def]
        """One finding with the ids of its corrective actions."""
        return record_or_404(Finding, finding_id, "finding")


@blp.route("/findings/<int:finding_id>/actions")
class FindingActions(MethodView):
    access = Access(read=READERS, write=WRITERS)

    @blp.arguments(ActionSchema)
    @blp.response(201, ActionSchema)
    def post(self, data: dict, finding_id: int):  # type: ignore[no-untyped-def]
        """Raise a corrective action with an owner and a due date."""
        finding = record_or_404(Finding, finding_id, "finding")
        return services.raise_action(finding, g.qms_user, title=data["title"],
                    owner_id=_needed(data["owner_id"], "owner_id"), due_on=_needed(data["due_on"], "due_on"))


@blp.route("/actions")
class Actions(MethodView):
    access = Access(read=READERS)

    @blp.arguments(ActionQuerySchema, location="query")
    @blp.response(200, ActionSchema(many=True))
    def get(self, args: dict):  # type: ignore[no-untyped-def]
        """Corrective actions by due date (filter: status, mine, overdue)."""
        return services.actions(owner_id=g.qms_user.id if args["mine"] else None, status=args["status"],
                                overdue=args["overdue"])


@blp.route("/actions/<int:action_id>")
class ActionItem(MethodView):
    access = Access(read=READERS)

    @blp.response(200, ActionSchema)
    def get(self, action_id: int):  # type: ignore[no-untyped-def]
        """One corrective action with its steps."""
        return record_or_404(CorrectiveAction, action_id, "corrective action")


@blp.route("/actions/<int:action_id>/steps")
class ActionSteps(MethodView):
    access = Access(read=READERS, write=WRITERS)

    @blp.arguments(StepCreateSchema)
    @blp.response(201, StepSchema)
    def post(self, data: dict, action_id: int):  # type: ignore[no-untyped-def]
        """Record the correction, root cause (with method), action plan or implementation (owner)."""
        return services.record_step(record_or_404(CorrectiveAction, action_id, "corrective action"), g.qms_user,
                    **data)


@blp.route("/actions/<int:action_id>/review")
class ActionReview(MethodView):
    access = Access(read=READERS, write=PLANNERS)

    @blp.arguments(ReviewSchema)
    @blp.response(201, StepSchema)
    def post(self, data: dict, action_id: int):  # type: ignore[no-untyped-def]
        """Effectiveness review by an auditor or quality manager other than the owner."""
        action = record_or_404(CorrectiveAction, action_id, "corrective action")
        return services.review_effectiveness(action, g.qms_user,
                    effective=_needed(data["effective"], "effective (true or false)"), text=data["text"])


@blp.route("/actions/<int:action_id>/close")
class ActionClose(MethodView):
    access = Access(read=READERS, write=PLANNERS)

    @blp.arguments(NoteSchema)
    @blp.response(201, StepSchema)
    def post(self, data: dict, action_id: int):  # type: ignore[no-untyped-def]
        """Close an action found effective by someone other than its owner."""
        return services.close_action(record_or_404(CorrectiveAction, action_id, "corrective action"), g.qms_user,
                    text=data["text"])
