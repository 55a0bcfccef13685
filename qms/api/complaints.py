"""API: complaints and appeals, their steps (the decision by someone independent of the work)."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.schemas import RecordId
from qms.auth.permissions import Access
from qms.quality import complaints as services
from qms.quality.complaints_models import Channel, Complaint, ComplaintKind, Step
from qms.records import record_or_404

blp = Blueprint("api_complaints", __name__, url_prefix="/quality/complaints",
                description="Complaints and appeals (ISO/IEC 17020 7.5, 7.6)")

_TEXT = ma.validate.Length(max=20_000)


class ComplaintEventSchema(ma.Schema):
    id = RecordId(dump_only=True)
    step = ma.fields.Str(dump_only=True)
    text = ma.fields.Str(dump_only=True)
    actor_id = RecordId(dump_only=True, allow_none=True)
    actor_name = ma.fields.Str(dump_only=True)
    at = ma.fields.DateTime(dump_only=True)


class ComplaintSchema(ma.Schema):
    id = RecordId(dump_only=True)
    number = ma.fields.Str(dump_only=True)
    kind = ma.fields.Str(dump_only=True)
    complainant = ma.fields.Str(dump_only=True)
    contact = ma.fields.Str(dump_only=True)
    channel = ma.fields.Str(dump_only=True)
    received_on = ma.fields.Date(dump_only=True)
    case_id = RecordId(dump_only=True, allow_none=True)
    audit_id = RecordId(dump_only=True, allow_none=True)
    report_ref = ma.fields.Str(dump_only=True)
    description = ma.fields.Str(dump_only=True)
    acknowledge_by = ma.fields.Date(dump_only=True)
    decide_by = ma.fields.Date(dump_only=True)
    nonconformity_id = RecordId(dump_only=True, allow_none=True)
    state = ma.fields.Function(lambda c: str(services.state_of(c)), dump_only=True, metadata={"type": "string"})
    acknowledge_overdue = ma.fields.Function(lambda c: services.progress(c).acknowledge_overdue, dump_only=True,
                                             metadata={"type": "boolean"})
    decide_overdue = ma.fields.Function(lambda c: services.progress(c).decide_overdue, dump_only=True,
                                        metadata={"type": "boolean"})
    events = ma.fields.List(ma.fields.Nested(ComplaintEventSchema), dump_only=True)


class ComplaintReceiveSchema(ma.Schema):
    kind = ma.fields.Str(load_default=ComplaintKind.COMPLAINT.value,
                         validate=ma.validate.OneOf([k.value for k in ComplaintKind]))
    complainant = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    contact = ma.fields.Str(load_default="", validate=ma.validate.Length(max=300))
    channel = ma.fields.Str(required=True, validate=ma.validate.OneOf([c.value for c in Channel]))
    received_on = ma.fields.Date(load_default=None, allow_none=True)
    case_number = ma.fields.Str(load_default="", validate=ma.validate.Length(max=64))
    audit_id = RecordId(load_default=None, allow_none=True)
    report_ref = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    description = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=20_000))


class ComplaintQuerySchema(ma.Schema):
    state = ma.fields.Str(load_default="",
                          validate=ma.validate.OneOf(["", services.RECEIVED, *(s.value for s in Step)]))


# Nothing `required` on a body whose URL names a record: the record is looked up first (404), then
# the service says what is missing (400).
class ComplaintStepSchema(ma.Schema):
    step = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(s.value for s in Step)]))
    text = ma.fields.Str(load_default="", validate=_TEXT)


@blp.route("")
class Complaints(MethodView):
    access = Access(read=services.READERS, write=services.RECEIVERS)

    @blp.arguments(ComplaintQuerySchema, location="query")
    @blp.response(200, ComplaintSchema(many=True))
    def get(self, query: dict):  # type: ignore[no-untyped-def]
        """The unit's complaints and appeals, newest first."""
        return [record for record, _progress in services.complaints(g.qms_unit_id, state=query["state"])]

    @blp.arguments(ComplaintReceiveSchema)
    @blp.response(201, ComplaintSchema)
    def post(self, data: dict):  # type: ignore[no-untyped-def]
        """Record a complaint or appeal as received (its due dates follow from the date received)."""
        return services.receive(g.qms_unit_id, g.qms_user, services.Received(**data))


@blp.route("/<int:complaint_id>")
class ComplaintItem(MethodView):
    access = Access(read=services.READERS)

    @blp.response(200, ComplaintSchema)
    def get(self, complaint_id: int):  # type: ignore[no-untyped-def]
        """One complaint with its steps."""
        return record_or_404(Complaint, complaint_id, "complaint")


@blp.route("/<int:complaint_id>/steps")
class ComplaintSteps(MethodView):
    access = Access(read=services.READERS, write=services.STEP_ROLES)  # the service refuses by step

    @blp.arguments(ComplaintStepSchema)
    @blp.response(201, ComplaintEventSchema)
    def post(self, data: dict, complaint_id: int):  # type: ignore[no-untyped-def]
        """The next step; a decision is refused to anyone who worked on the case, the audit, or declared an
        interest in the complainant or the case."""
        record = record_or_404(Complaint, complaint_id, "complaint")
        return services.record_step(record, g.qms_user, data["step"], data["text"])
