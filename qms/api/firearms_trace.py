"""API: trace requests between units and servers (ask a partner about a firearm, import, answer).

A request and an answer are signed exchange packages: creating a request or signing an answer
answers the package bytes (`application/zip`, SHA-256 in `X-Content-SHA256`); an import sends the
package itself as the body (`Content-Type: application/zip`). A refused package answers 400 with the
reason, and nothing is stored. A request of another unit answers 404.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, abort, g, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from werkzeug.exceptions import RequestEntityTooLarge

from qms.api.schemas import RecordId
from qms.auth.models import Unit
from qms.auth.permissions import Access
from qms.comparisons.views import too_large
from qms.extensions import db
from qms.firearms import trace
from qms.firearms.roles import READERS, RECORDERS

blp = Blueprint("api_firearms_trace", __name__, url_prefix="/firearms/trace",
                description="Trace requests: ask a partner unit or server whether it holds a record of a firearm")
blp.register_error_handler(RequestEntityTooLarge, too_large)
ACCESS = Access(read=READERS, write=RECORDERS)
SERIAL_DOC = "As marked; ? or * for each character that cannot be read (at least four readable characters)."


class TraceLogSchema(ma.Schema):
    id = RecordId()
    step = ma.fields.Str(metadata={"description": "request_sent, request_received, answer_sent or answer_received."})
    package_sha256 = ma.fields.Str()
    package_size = ma.fields.Int()
    signer_fingerprint = ma.fields.Str()
    record_count = ma.fields.Int()
    recorded_by_id = RecordId()
    recorded_at = ma.fields.DateTime()


class PartnerRecordSchema(ma.Schema):
    id = RecordId()
    basis = ma.fields.Str(metadata={"description": "How the partner matched it: serial or partial_serial."})
    firearm_type = ma.fields.Str()
    make = ma.fields.Str()
    model = ma.fields.Str()
    calibre = ma.fields.Str()
    serial_number = ma.fields.Str()
    status = ma.fields.Str(metadata={"description": "The partner's latest event kind; empty when none."})
    status_on = ma.fields.Date(allow_none=True)
    categories = ma.fields.Dict()
    holder_unit = ma.fields.Str()
    holder_reference = ma.fields.Str()
    register_matches = ma.fields.List(RecordId(), metadata={
        "description": "Records of this unit's register that the partner record matches."})


class TraceRequestSchema(ma.Schema):
    id = RecordId()
    direction = ma.fields.Str(metadata={"description": "outgoing (we asked) or incoming (a partner asked)."})
    request_uuid = ma.fields.Str()
    serial_number = ma.fields.Str()
    make = ma.fields.Str()
    model = ma.fields.Str()
    calibre = ma.fields.Str()
    reason = ma.fields.Str()
    reference = ma.fields.Str()
    requested_by_name = ma.fields.Str()
    requesting_unit = ma.fields.Str()
    partner_name = ma.fields.Str(metadata={"description": "The partner key's name; empty for a unit on this server."})
    partner_server = ma.fields.Str()
    partner_fingerprint = ma.fields.Str()
    request_sha256 = ma.fields.Str()
    created_at = ma.fields.DateTime()


class TraceRequestDetailSchema(TraceRequestSchema):
    log = ma.fields.List(ma.fields.Nested(TraceLogSchema))
    partner_records = ma.fields.List(ma.fields.Nested(PartnerRecordSchema))


class TraceCreateSchema(ma.Schema):
    partner = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=64), metadata={
        "description": f"The fingerprint of one of the unit's partner keys, or {trace.OWN_SERVER!r}."})
    serial_number = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=60),
                                  metadata={"description": SERIAL_DOC})
    make = ma.fields.Str(load_default="", validate=ma.validate.Length(max=100))
    model = ma.fields.Str(load_default="", validate=ma.validate.Length(max=100))
    calibre = ma.fields.Str(load_default="", validate=ma.validate.Length(max=60))
    reason = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=2000))
    reference = ma.fields.Str(load_default="", validate=ma.validate.Length(max=100))


class TraceImportResultSchema(ma.Schema):
    step = ma.fields.Str(metadata={"description": "request_received or answer_received."})
    request = ma.fields.Nested(TraceRequestSchema)
    partner_records = ma.fields.List(ma.fields.Nested(PartnerRecordSchema))


def _zip(data: bytes, sha256: str) -> Response:
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f"attachment; filename=trace-{sha256[:12]}.zip", "X-Content-SHA256": sha256})


def _record(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in PartnerRecordSchema().fields if hasattr(record, name)} | {
        "register_matches": [f.id for f in trace.register_matches(record)]}


ZIP_ANSWER = {"200": {"description": "The signed package.", "content": {"application/zip": {}}}}


@blp.route("/requests")
class Requests(MethodView):
    access = ACCESS

    @blp.response(200, TraceRequestSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The unit's trace requests (sent and received), waiting ones first."""
        return [row.request for row in trace.requests(g.qms_unit_id)]

    @blp.arguments(TraceCreateSchema)
    @blp.doc(responses=ZIP_ANSWER)
    def post(self, body: dict[str, Any]):  # type: ignore[no-untyped-def]
        """Sign a trace request to send to a partner; logged as sent."""
        partner = body.pop("partner")
        found, data = trace.create_request(db.session.get(Unit, g.qms_unit_id), g.qms_user, trace.Query(**body),
                                           partner=partner)
        return _zip(data, found.request_sha256)


@blp.route("/requests/<int:trace_id>")
class OneRequest(MethodView):
    access = ACCESS

    @blp.response(200, TraceRequestDetailSchema)
    def get(self, trace_id: int):  # type: ignore[no-untyped-def]
        """One trace request with its log and, for ours, the partner records its answer brought."""
        found = trace.get(trace_id, g.qms_unit_id)
        fields = {name: getattr(found, name) for name in TraceRequestSchema().fields}
        records = [_record(record) for record in trace.partner_records(found)]
        return fields | {"log": trace.log_of(found), "partner_records": records}


@blp.route("/requests/<int:trace_id>/answer")
class Answer(MethodView):
    access = Access(read=RECORDERS, write=RECORDERS)

    @blp.doc(responses=ZIP_ANSWER)
    def post(self, trace_id: int):  # type: ignore[no-untyped-def]
        """Sign the answer to a received request: the matching records of the register, or "no record"."""
        found = trace.get(trace_id, g.qms_unit_id)
        entry, data = trace.answer(found, db.session.get(Unit, g.qms_unit_id), g.qms_user)
        return _zip(data, entry.package_sha256)


@blp.route("/import")
class Import(MethodView):
    access = ACCESS

    @blp.doc(requestBody={"required": True, "content": {"application/zip": {
        "schema": {"type": "string", "format": "binary"}}}})
    @blp.response(201, TraceImportResultSchema)
    def post(self):  # type: ignore[no-untyped-def]
        """Import a partner's trace request or the answer to ours; checked completely before anything is stored."""
        if request.mimetype != "application/zip":
            abort(415, description=_("Send the package as the request body with Content-Type: application/zip."))
        imported = trace.import_package(request.get_data(cache=False), unit=db.session.get(Unit, g.qms_unit_id),
                                        actor=g.qms_user)
        return {"step": imported.step.value, "request": imported.request,
                "partner_records": [_record(r) for r in imported.records]}
