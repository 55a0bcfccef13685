"""API: the firearm register, its status events, register leads and their signed decisions, the statistics CSV.

A record's status is derived from its events and answered with it; it is never written. Every new or
changed record, and every new event, is matched against the unit's register: the leads it makes are
listed under /leads. A record or lead of another unit answers 404.
"""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

import marshmallow as ma
from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.schemas import ChangesSchema, RecordId
from qms.auth.permissions import Access
from qms.firearms import ballistics, leads, services, statistics
from qms.firearms.models import Conversion, EventKind, Firearm, FirearmLead, FirearmType, LeadOutcome, Printed
from qms.firearms.roles import READERS, RECORDERS

blp = Blueprint("api_firearms", __name__, url_prefix="/firearms",
                description="Firearms intelligence: the register of seized, found, stolen and lost firearms, "
                            "its status history, cross-matching leads and statistics")
ACCESS = Access(read=READERS, write=RECORDERS)
TEXT = ma.validate.Length(max=services.MAX_TEXT)
SERIAL_DOC = ("As marked; ? or * for each character that cannot be read. Matched with look-alike characters "
              "read alike (O/0, I/1/L, S/5, B/8, Z/2, G/6, U/V/Y).")


class FirearmSchema(ma.Schema):
    id = RecordId()
    firearm_type = ma.fields.Str()
    make = ma.fields.Str()
    model = ma.fields.Str()
    calibre = ma.fields.Str()
    serial_number = ma.fields.Str(metadata={"description": "As marked."})
    serial_key = ma.fields.Str(metadata={"description": "The serial as compared: look-alike classes, no "
                                                        "separators, ? for unreadable characters."})
    serial_partial = ma.fields.Bool()
    other_markings = ma.fields.Str()
    country_of_manufacture = ma.fields.Str()
    printed = ma.fields.Str()
    conversion = ma.fields.Str()
    home_made = ma.fields.Bool()
    modified = ma.fields.Bool()
    description = ma.fields.Str()
    item_id = RecordId(allow_none=True, metadata={"description": "The custody item, when in custody."})
    created_by_id = RecordId(allow_none=True)
    created_at = ma.fields.DateTime()
    status = ma.fields.Str(allow_none=True, metadata={"description": "The latest event's kind (by its date); "
                                                                     "null before the first event."})
    status_since = ma.fields.Date(allow_none=True)


class LinkedCaseSchema(ma.Schema):
    link_id = RecordId(metadata={"description": "The confirmed link (listed under /comparisons/links)."})
    case_id = RecordId(allow_none=True, metadata={"description": "Null for a casing imported from another unit."})
    case_number = ma.fields.Str(allow_none=True)
    casing_entry_id = RecordId(metadata={"description": "The ballistic entry of the casing."})
    casing_item_id = RecordId(allow_none=True, metadata={"description": "The casing's custody item."})
    casing_exhibit_number = ma.fields.Str(allow_none=True)
    casing_label = ma.fields.Str(metadata={"description": "Case and exhibit, or the source of an imported entry."})
    test_fire_entry_id = RecordId()
    test_fire_item_id = RecordId(metadata={"description": "The test fire: a sub-item of the firearm's item."})
    test_fire_exhibit_number = ma.fields.Str()
    confirmed_at = ma.fields.DateTime()
    first_examiner_id = RecordId(metadata={"description": "Who recorded the identification lead."})
    verifier_id = RecordId(metadata={"description": "Who verified it, blind and independently."})


class FirearmRecordSchema(FirearmSchema):
    linked_cases = ma.fields.List(ma.fields.Nested(LinkedCaseSchema), metadata={
        "description": "Cases tied to the firearm by confirmed ballistic links: a casing of the case matched one "
                       "of the firearm's test fires (sub-items of its custody item), oldest link first."})


class _DetailsFields(ma.Schema):
    firearm_type = ma.fields.Str(validate=ma.validate.OneOf([t.value for t in FirearmType]))
    make = ma.fields.Str(validate=ma.validate.Length(max=100))
    model = ma.fields.Str(validate=ma.validate.Length(max=100))
    calibre = ma.fields.Str(validate=ma.validate.Length(max=60))
    serial_number = ma.fields.Str(validate=ma.validate.Length(max=60), metadata={"description": SERIAL_DOC})
    other_markings = ma.fields.Str(validate=TEXT)
    country_of_manufacture = ma.fields.Str(validate=ma.validate.Length(max=100))
    printed = ma.fields.Str(validate=ma.validate.OneOf([p.value for p in Printed]))
    conversion = ma.fields.Str(validate=ma.validate.OneOf([c.value for c in Conversion]))
    home_made = ma.fields.Bool()
    modified = ma.fields.Bool()
    description = ma.fields.Str(validate=TEXT)
    item_id = RecordId(allow_none=True, metadata={"description": "A firearm item of the unit's custody."})


class FirearmEventCreateSchema(ma.Schema):
    kind = ma.fields.Str(required=True, validate=ma.validate.OneOf([k.value for k in EventKind]))
    occurred_on = ma.fields.Date(required=True)
    place = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200),
                          metadata={"description": "Required for stolen and lost reports."})
    reporter = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200),
                             metadata={"description": "Required for stolen and lost reports."})
    police_reference = ma.fields.Str(load_default="", validate=ma.validate.Length(max=100),
                                     metadata={"description": "Required for stolen and lost reports."})
    notes = ma.fields.Str(load_default="", validate=TEXT)


class FirearmCreateSchema(_DetailsFields):
    firearm_type = ma.fields.Str(required=True, validate=ma.validate.OneOf([t.value for t in FirearmType]))
    event = ma.fields.Nested(FirearmEventCreateSchema, load_default=None, allow_none=True,
                             metadata={"description": "What happened first (a report, a seizure...)."})


class FirearmUpdateSchema(_DetailsFields, ChangesSchema):
    reason = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=500),
                           metadata={"description": "Why the record changes (kept on the audit trail)."})


class FirearmRegisterQuerySchema(ma.Schema):
    serial = ma.fields.Str(load_default="", validate=ma.validate.Length(max=60), metadata={"description": SERIAL_DOC})
    q = ma.fields.Str(load_default="", validate=ma.validate.Length(max=100),
                      metadata={"description": "Text in the make, model or description."})
    firearm_type = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(t.value for t in FirearmType)]))
    status = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", "none", *(k.value for k in EventKind)]))
    category = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *services.CATEGORIES]))
    page = ma.fields.Int(load_default=1, validate=ma.validate.Range(min=1, max=100000))


class FirearmRegisterPageSchema(ma.Schema):
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()
    items = ma.fields.List(ma.fields.Nested(FirearmSchema))


class FirearmEventSchema(ma.Schema):
    id = RecordId()
    firearm_id = RecordId()
    kind = ma.fields.Str()
    occurred_on = ma.fields.Date()
    place = ma.fields.Str()
    reporter = ma.fields.Str()
    police_reference = ma.fields.Str()
    notes = ma.fields.Str()
    recorded_by_id = RecordId(allow_none=True)
    recorded_at = ma.fields.DateTime()


class FirearmLeadDecisionSchema(ma.Schema):
    id = RecordId()
    lead_id = RecordId()
    outcome = ma.fields.Str()
    note = ma.fields.Str()
    decided_by_id = RecordId()
    signed_at = ma.fields.DateTime()


class FirearmLeadSchema(ma.Schema):
    id = RecordId()
    firearm_low_id = RecordId()
    firearm_high_id = RecordId()
    basis = ma.fields.Str(metadata={"description": "serial, partial_serial or profile (make, model and calibre)."})
    found_at = ma.fields.DateTime()
    decision = ma.fields.Nested(FirearmLeadDecisionSchema, allow_none=True)


class FirearmLeadQuerySchema(ma.Schema):
    open = ma.fields.Bool(load_default=False, metadata={"description": "Only the leads not decided yet."})


class FirearmLeadDecisionCreateSchema(ma.Schema):
    outcome = ma.fields.Str(required=True, validate=ma.validate.OneOf([o.value for o in LeadOutcome]))
    note = ma.fields.Str(load_default="", validate=TEXT, metadata={"description": "Required to dismiss."})
    password = ma.fields.Str(required=True, load_only=True, validate=ma.validate.Length(min=1, max=1024),
                             metadata={"description": "Your password: it signs the decision."})


def _answer(found: Firearm, status: EventKind | None = None, since: Any = None, *, fold: bool = True) -> dict:  # type: ignore[type-arg]
    if fold:
        standing = services.standing_of(found)
        status, since = standing.status, standing.since
    answer = {name: getattr(found, name) for name in FirearmSchema().fields if hasattr(found, name)}
    return answer | {"status": status.value if status else None, "status_since": since}


def _record(found: Firearm) -> dict[str, Any]:
    """One record as the API answers it: with its status and the cases linked by its test fires."""
    return _answer(found) | {"linked_cases": [_linked_case(row) for row in ballistics.linked_cases(found)]}


def _linked_case(row: ballistics.LinkedCase) -> dict[str, Any]:
    casing, test_fire = row.casing.item, row.test_fire.item
    return {"link_id": row.link.id, "case_id": row.case.id if row.case else None,
            "case_number": row.case.case_number if row.case else None, "casing_entry_id": row.casing.id,
            "casing_item_id": casing.id if casing else None,
            "casing_exhibit_number": casing.exhibit_number if casing else None, "casing_label": row.casing.label,
            "test_fire_entry_id": row.test_fire.id, "test_fire_item_id": test_fire.id if test_fire else None,
            "test_fire_exhibit_number": test_fire.exhibit_number if test_fire else None,
            "confirmed_at": row.confirmed_at, "first_examiner_id": row.first_examiner.id,
            "verifier_id": row.verifier.id}


def _details_of(found: Firearm) -> services.Details:
    return services.Details(**{f.name: getattr(found, f.name) for f in fields(services.Details)})


def _event_input(data: dict[str, Any] | None) -> services.EventInput | None:
    return services.EventInput(**data) if data else None


def _lead(lead: FirearmLead) -> dict[str, Any]:
    return {name: getattr(lead, name) for name in ("id", "firearm_low_id", "firearm_high_id", "basis", "found_at")} | {
        "decision": leads.decision_of(lead)}


@blp.route("")
class Register(MethodView):
    access = ACCESS

    @blp.arguments(FirearmRegisterQuerySchema, location="query")
    @blp.response(200, FirearmRegisterPageSchema)
    def get(self, args: dict[str, Any]):  # type: ignore[no-untyped-def]
        """The unit's register, newest first, 200 records a page, with each record's status; filters as the page."""
        page = services.register(g.qms_unit_id, services.Filters(
            serial=args["serial"], text=args["q"], firearm_type=args["firearm_type"], status=args["status"],
            category=args["category"], page=args["page"]))
        return {"page": page.page, "pages": page.pages, "total": page.total,
                "items": [_answer(row.firearm, row.status, row.since, fold=False) for row in page.rows]}

    @blp.arguments(FirearmCreateSchema)
    @blp.response(201, FirearmRecordSchema)
    def post(self, data: dict):  # type: ignore[no-untyped-def]
        """Add a firearm, with what happened first; it is matched against the register (see /leads)."""
        first = _event_input(data.pop("event", None))
        return _record(services.add(g.qms_unit_id, g.qms_user, services.Details(**data), first))


@blp.route("/<int:firearm_id>")
class Record(MethodView):
    access = ACCESS

    @blp.response(200, FirearmRecordSchema)
    def get(self, firearm_id: int):  # type: ignore[no-untyped-def]
        """One firearm record with its status and the cases linked to it by confirmed ballistic comparisons."""
        return _record(services.get(firearm_id, g.qms_unit_id))

    @blp.arguments(FirearmUpdateSchema)
    @blp.response(200, FirearmRecordSchema)
    def patch(self, changes: dict, firearm_id: int):  # type: ignore[no-untyped-def]
        """Correct or complete the record, with the reason (on the audit trail); it is matched again."""
        found = services.get(firearm_id, g.qms_unit_id)
        reason = changes.pop("reason")
        services.update(found, g.qms_user, services.Details(**(asdict(_details_of(found)) | changes)), reason=reason)
        return _record(found)


@blp.route("/<int:firearm_id>/events")
class Events(MethodView):
    access = ACCESS

    @blp.response(200, FirearmEventSchema(many=True))
    def get(self, firearm_id: int):  # type: ignore[no-untyped-def]
        """The firearm's status history, oldest first (by date, then by entry)."""
        return services.events_of(services.get(firearm_id, g.qms_unit_id))

    @blp.arguments(FirearmEventCreateSchema)
    @blp.response(201, FirearmEventSchema)
    def post(self, data: dict, firearm_id: int):  # type: ignore[no-untyped-def]
        """Record an event; stolen and lost reports need the reporter, place and police reference."""
        found = services.get(firearm_id, g.qms_unit_id)
        return services.add_event(found, g.qms_user, services.EventInput(**data))


@blp.route("/<int:firearm_id>/leads")
class RecordLeads(MethodView):
    access = ACCESS

    @blp.response(200, FirearmLeadSchema(many=True))
    def get(self, firearm_id: int):  # type: ignore[no-untyped-def]
        """The leads pairing this record with another of the register, each with its decision."""
        found = services.get(firearm_id, g.qms_unit_id)
        return [_lead(row.lead) for row in leads.leads_of(found)]


@blp.route("/leads")
class Leads(MethodView):
    access = ACCESS

    @blp.arguments(FirearmLeadQuerySchema, location="query")
    @blp.response(200, FirearmLeadSchema(many=True))
    def get(self, args: dict[str, Any]):  # type: ignore[no-untyped-def]
        """The unit's register leads, open ones first, newest first."""
        return [_lead(row.lead) for row in leads.leads(g.qms_unit_id, open_only=args["open"])]


@blp.route("/leads/<int:lead_id>")
class Lead(MethodView):
    access = ACCESS

    @blp.response(200, FirearmLeadSchema)
    def get(self, lead_id: int):  # type: ignore[no-untyped-def]
        """One register lead with its decision."""
        return _lead(leads.get_lead(lead_id, g.qms_unit_id))


@blp.route("/leads/<int:lead_id>/decision")
class LeadDecision(MethodView):
    access = ACCESS

    @blp.arguments(FirearmLeadDecisionCreateSchema)
    @blp.response(201, FirearmLeadDecisionSchema)
    def post(self, data: dict, lead_id: int):  # type: ignore[no-untyped-def]
        """Confirm or dismiss the lead, signed with your password (a dismissal says why); final."""
        found = leads.get_lead(lead_id, g.qms_unit_id)
        # A wrong password is refused with its attempt kept (the login throttle counts it): the handler commits it.
        return leads.decide(found, g.qms_user, **data)


@blp.route("/statistics.csv")
class StatisticsCsv(MethodView):
    access = Access(read=READERS)

    @blp.response(200, {"type": "string"}, content_type="text/csv",
                  description="The pooled counts in the documented layout (qms.firearms.statistics).")
    def get(self):  # type: ignore[no-untyped-def]
        """The unit's counts by month, event, type, make, calibre and category, as CSV."""
        return Response(statistics.csv_export(g.qms_unit_id), mimetype="text/csv")
