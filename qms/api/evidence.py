"""API: cases, items, custody events, two-party transfers and verification of the chain of custody.

A request that names a record of another unit gets 404 before its body is read. A refused custody
action raises its refusal and the one handler answers (400, 409 for a concurrent change) with the
reason; nothing is recorded but a failed password attempt, which the throttle keeps.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import abort, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.schemas import RecordId
from qms.auth.permissions import Access
from qms.evidence import custody, services
from qms.evidence.custody import RECORDABLE, When
from qms.evidence.models import Case, Item, ItemType
from qms.records import record_or_404

blp = Blueprint("api_evidence", __name__, url_prefix="/evidence",
                description="Chain of custody: cases, items, custody events, transfers, verification")
ACCESS = Access(read=services.READERS, write=services.ACTORS)



class CaseSchema(ma.Schema):
    id = RecordId(dump_only=True)
    case_number = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=64))
    offence_type = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=120))
    offence_date = ma.fields.Date(allow_none=True)
    opened_on = ma.fields.Date(load_default=date.today)
    summary = ma.fields.Str(load_default="", validate=ma.validate.Length(max=4000))


class ItemSchema(ma.Schema):
    id = RecordId(dump_only=True)
    case_id = RecordId(dump_only=True)
    parent_item_id = RecordId(dump_only=True, allow_none=True)
    exhibit_number = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=32))
    item_type = ma.fields.Str(required=True, validate=ma.validate.OneOf([t.value for t in ItemType]))
    description = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=4000))
    make = ma.fields.Str(load_default="", validate=ma.validate.Length(max=80))
    model = ma.fields.Str(load_default="", validate=ma.validate.Length(max=80))
    serial_number = ma.fields.Str(load_default="", validate=ma.validate.Length(max=80))
    calibre = ma.fields.Str(load_default="", validate=ma.validate.Length(max=40))
    packaging = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    seal_number = ma.fields.Str(load_default="", validate=ma.validate.Length(max=64))
    collected_place = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    label_code = ma.fields.Str(dump_only=True)
    state = ma.fields.Str(dump_only=True)
    holder_id = RecordId(dump_only=True, allow_none=True)
    pending_to_id = RecordId(dump_only=True, allow_none=True)
    location_id = RecordId(dump_only=True, allow_none=True)
    sealed = ma.fields.Bool(dump_only=True)
    head_seq = ma.fields.Int(dump_only=True)
    head_hash = ma.fields.Str(dump_only=True)


class EventSchema(ma.Schema):
    seq = ma.fields.Int()
    kind = ma.fields.Str()
    occurred_at = ma.fields.DateTime()
    utc_offset_minutes = ma.fields.Int()
    recorded_at = ma.fields.DateTime()
    actor_id = RecordId()
    from_user_id = RecordId(allow_none=True)
    to_user_id = RecordId(allow_none=True)
    witness_id = RecordId(allow_none=True)
    location_id = RecordId(allow_none=True)
    seal_number = ma.fields.Str()
    refers_to_seq = ma.fields.Int(allow_none=True)
    notes = ma.fields.Str()
    details = ma.fields.Dict()
    hash_version = ma.fields.Int()
    prev_hash = ma.fields.Str()
    hash = ma.fields.Str()


class TimedSchema(ma.Schema):
    occurred_at = ma.fields.AwareDateTime(load_default=None, metadata={"description": "With its UTC offset."})
    utc_offset_minutes = ma.fields.Int(load_default=0, validate=ma.validate.Range(min=-840, max=840))
    notes = ma.fields.Str(load_default="", validate=ma.validate.Length(max=2000))


class EventCreateSchema(TimedSchema):
    kind = ma.fields.Str(required=True, validate=ma.validate.OneOf([k.value for k in RECORDABLE]))
    location_id = RecordId(load_default=None)
    seal_number = ma.fields.Str(load_default="", validate=ma.validate.Length(max=64))
    recipient = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    wrong_seq = RecordId(load_default=None)


class OfferSchema(TimedSchema):
    receiver_username = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=64))


class AcceptSchema(TimedSchema):
    username = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=64))
    password = ma.fields.Str(required=True, load_only=True, validate=ma.validate.Length(min=1, max=1024))


class VerifySchema(ma.Schema):
    ok = ma.fields.Bool()
    items_checked = ma.fields.Int()
    events_checked = ma.fields.Int()
    checkpoints_checked = ma.fields.Int()
    problems = ma.fields.List(ma.fields.Str())



def _body(schema: ma.Schema) -> dict[str, Any]:
    """The JSON body, validated after the record lookup (so another unit's record answers 404 first)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description="Send a JSON object.")
    problems = schema.validate(data)
    if problems:
        abort(422, description="The request has invalid fields: " + "; ".join(
            f"{field}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for field, msgs in problems.items()))
    return schema.load(data)


def _when(body: dict[str, Any]) -> When:
    return When(body.get("occurred_at"), body.get("utc_offset_minutes") or 0)


def _request_body_doc(schema: type[ma.Schema]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@blp.route("/cases")
class Cases(MethodView):
    access = ACCESS

    @blp.response(200, CaseSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The cases of the unit."""
        return services.cases()

    @blp.arguments(CaseSchema)
    @blp.response(201, CaseSchema)
    def post(self, body: dict):  # type: ignore[no-untyped-def]
        """Register a case."""
        return custody.register_case(unit_id=g.qms_unit_id, actor=g.qms_user, **body)


@blp.route("/cases/<int:case_id>")
class CaseItem(MethodView):
    access = ACCESS

    @blp.response(200, CaseSchema)
    def get(self, case_id: int):  # type: ignore[no-untyped-def]
        """One case."""
        return record_or_404(Case, case_id, "case")


@blp.route("/cases/<int:case_id>/items")
class CaseItems(MethodView):
    access = ACCESS

    @blp.response(200, ItemSchema(many=True))
    def get(self, case_id: int):  # type: ignore[no-untyped-def]
        """The items of a case."""
        return services.items_of(record_or_404(Case, case_id, "case"))

    @blp.doc(**_request_body_doc(ItemSchema))
    @blp.response(201, ItemSchema)
    def post(self, case_id: int):  # type: ignore[no-untyped-def]
        """Register an item: the caller takes it into custody ("collected", and "sealed" with a seal number)."""
        case = record_or_404(Case, case_id, "case")
        body = _body(ItemSchema())
        return custody.register_item(case, actor=g.qms_user, **body)


@blp.route("/items/<int:item_id>")
class ItemView(MethodView):
    access = ACCESS

    @blp.response(200, ItemSchema)
    def get(self, item_id: int):  # type: ignore[no-untyped-def]
        """One item with its current custody (derived from its events)."""
        return record_or_404(Item, item_id, "item")


@blp.route("/items/<int:item_id>/events")
class ItemEvents(MethodView):
    access = ACCESS

    @blp.response(200, EventSchema(many=True))
    def get(self, item_id: int):  # type: ignore[no-untyped-def]
        """The item's custody events with their hashes, oldest first."""
        return services.events_of(record_or_404(Item, item_id, "item"))

    @blp.doc(**_request_body_doc(EventCreateSchema))
    @blp.response(201, EventSchema)
    def post(self, item_id: int):  # type: ignore[no-untyped-def]
        """Record a custody event (stored, removed_from_storage, examined, sealed, seal_broken, resealed,
        returned_to_owner, correction). Impossible events are refused with the reason."""
        item = record_or_404(Item, item_id, "item")
        body = _body(EventCreateSchema())
        return custody.record(item, actor=g.qms_user, kind=body["kind"], when=_when(body), notes=body["notes"],
                              location_id=body["location_id"], seal_number=body["seal_number"],
                              recipient=body["recipient"], wrong_seq=body["wrong_seq"])


@blp.route("/items/<int:item_id>/transfer-offer")
class TransferOffer(MethodView):
    access = ACCESS

    @blp.doc(**_request_body_doc(OfferSchema))
    @blp.response(201, EventSchema)
    def post(self, item_id: int):  # type: ignore[no-untyped-def]
        """Offer the item to a colleague; the caller keeps custody until the receiver accepts."""
        item = record_or_404(Item, item_id, "item")
        body = _body(OfferSchema())
        receiver = services.find_user(body["receiver_username"])
        return custody.offer_transfer(item, actor=g.qms_user, receiver=receiver, when=_when(body), notes=body["notes"])


@blp.route("/items/<int:item_id>/transfer-accept")
class TransferAccept(MethodView):
    access = ACCESS

    @blp.doc(**_request_body_doc(AcceptSchema))
    @blp.response(201, EventSchema)
    def post(self, item_id: int):  # type: ignore[no-untyped-def]
        """The receiver accepts with their user name and password; custody moves to them."""
        item = record_or_404(Item, item_id, "item")
        body = _body(AcceptSchema())
        # A wrong password raises AuthenticationFailed, which keeps its work: the attempt is committed.
        return custody.accept_transfer(item, username=body["username"], password=body["password"],
                                       recorded_by=g.qms_user, when=_when(body), notes=body["notes"])


@blp.route("/verify")
class Verify(MethodView):
    access = ACCESS

    @blp.response(200, VerifySchema)
    def get(self):  # type: ignore[no-untyped-def]
        """Check every custody chain of the unit against its hashes and every signed checkpoint."""
        report = services.verify_unit()
        return {"ok": report.ok, "items_checked": report.chains.items_checked,
                "events_checked": report.chains.events_checked, "checkpoints_checked": report.checkpoints_checked,
                "problems": report.lines()}
