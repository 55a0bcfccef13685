"""API: the equipment register, its records (calibrations, checks, maintenance, faults) and impact reviews.

An instrument's status is derived from its records and answered with it; it is never written.
An instrument or review of another unit answers 404.
"""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.schemas import ChangesSchema, RecordId
from qms.auth.permissions import Access
from qms.equipment import services
from qms.equipment.models import Assessment, Equipment, RecordKind, Result
from qms.equipment.status import Derived

blp = Blueprint("api_equipment", __name__, url_prefix="/equipment",
                description="Equipment (ISO/IEC 17020 6.2): register, calibration and checks, impact reviews")
REGISTER = Access(read=services.READERS, write=services.MANAGERS)
RECORDS = Access(read=services.READERS, write=services.RECORDERS)
TEXT = ma.validate.Length(max=services.MAX_TEXT)


class EquipmentSchema(ma.Schema):
    id = RecordId()
    identifier = ma.fields.Str()
    kind = ma.fields.Str()
    name = ma.fields.Str()
    make = ma.fields.Str()
    model = ma.fields.Str()
    serial_number = ma.fields.Str()
    location = ma.fields.Str()
    responsible_id = RecordId(allow_none=True)
    affects_results = ma.fields.Bool()
    calibration_interval_months = ma.fields.Int(allow_none=True)
    calibration_provider = ma.fields.Str()
    traceability = ma.fields.Str()
    check_interval_days = ma.fields.Int(allow_none=True)
    maintenance_interval_months = ma.fields.Int(allow_none=True)
    status = ma.fields.Str(metadata={"description": "Derived from the records: in_service, due_soon, "
                                                    "out_of_service or retired."})
    why = ma.fields.Str()
    calibrated_until = ma.fields.Date(allow_none=True)
    last_good = ma.fields.Date(allow_none=True)


def _optional_int(low: int, high: int) -> ma.fields.Int:
    return ma.fields.Int(allow_none=True, validate=ma.validate.Range(min=low, max=high))


class _DetailsFields(ma.Schema):
    kind = ma.fields.Str(validate=ma.validate.OneOf(list(services.KINDS)))
    name = ma.fields.Str(validate=ma.validate.Length(max=200))
    make = ma.fields.Str(validate=ma.validate.Length(max=100))
    model = ma.fields.Str(validate=ma.validate.Length(max=100))
    serial_number = ma.fields.Str(validate=ma.validate.Length(max=100))
    location = ma.fields.Str(validate=ma.validate.Length(max=200))
    responsible_id = RecordId(allow_none=True)
    affects_results = ma.fields.Bool()
    calibration_interval_months = _optional_int(1, 120)
    calibration_provider = ma.fields.Str(validate=ma.validate.Length(max=200))
    traceability = ma.fields.Str(validate=TEXT)
    check_interval_days = _optional_int(1, 3660)
    maintenance_interval_months = _optional_int(1, 120)


class EquipmentCreateSchema(_DetailsFields):
    identifier = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=40),
                               metadata={"description": "Unique in the unit's register."})
    kind = ma.fields.Str(required=True, validate=ma.validate.OneOf(list(services.KINDS)))


class EquipmentUpdateSchema(_DetailsFields, ChangesSchema):
    identifier = ma.fields.Str(validate=ma.validate.Length(min=1, max=40))
    reason = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=500),
                           metadata={"description": "Why the register changes (kept on the audit trail)."})


class EquipmentRecordSchema(ma.Schema):
    id = RecordId()
    equipment_id = RecordId()
    kind = ma.fields.Str()
    performed_on = ma.fields.Date()
    result = ma.fields.Str()
    next_due = ma.fields.Date(allow_none=True)
    performed_by = ma.fields.Str()
    certificate_number = ma.fields.Str()
    certificate_sha256 = ma.fields.Str(allow_none=True)
    certificate_name = ma.fields.Str()
    notes = ma.fields.Str()
    recorded_by_id = RecordId(allow_none=True)
    recorded_at = ma.fields.DateTime()


class EquipmentRecordCreateSchema(ma.Schema):
    kind = ma.fields.Str(required=True, validate=ma.validate.OneOf([k.value for k in RecordKind]))
    performed_on = ma.fields.Date(required=True)
    result = ma.fields.Str(load_default="", validate=ma.validate.OneOf([r.value for r in Result]),
                           metadata={"description": "pass or fail for calibrations and checks; empty otherwise."})
    next_due = ma.fields.Date(load_default=None, allow_none=True)
    performed_by = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    certificate_number = ma.fields.Str(load_default="", validate=ma.validate.Length(max=100))
    notes = ma.fields.Str(load_default="", validate=TEXT)


class ImpactReviewSchema(ma.Schema):
    id = RecordId()
    equipment_id = RecordId()
    failed_record_id = RecordId()
    since = ma.fields.Date(allow_none=True)
    until = ma.fields.Date()
    opened_at = ma.fields.DateTime()
    closed_at = ma.fields.DateTime(allow_none=True)
    closed_by_id = RecordId(allow_none=True)
    conclusion = ma.fields.Str()


class ImpactAssessmentSchema(ma.Schema):
    id = RecordId()
    review_id = RecordId()
    work_kind = ma.fields.Str()
    work_id = RecordId()
    assessment = ma.fields.Str()
    note = ma.fields.Str()
    assessed_by_id = RecordId(allow_none=True)
    assessed_at = ma.fields.DateTime()


class ImpactReviewLineSchema(ma.Schema):
    work_kind = ma.fields.Str()
    work_id = RecordId()
    on = ma.fields.Date()
    label = ma.fields.Str()
    assessment = ma.fields.Nested(ImpactAssessmentSchema, allow_none=True)


class ImpactReviewDetailSchema(ImpactReviewSchema):
    lines = ma.fields.List(ma.fields.Nested(ImpactReviewLineSchema))


class ImpactAssessmentCreateSchema(ma.Schema):
    work_kind = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=32))
    work_id = RecordId(required=True)
    assessment = ma.fields.Str(required=True, validate=ma.validate.OneOf([a.value for a in Assessment]))
    note = ma.fields.Str(load_default="", validate=TEXT,
                         metadata={"description": "Required unless the assessment is no_effect."})


class ImpactCloseSchema(ma.Schema):
    conclusion = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=services.MAX_TEXT))


def _with_status(found: Equipment, derived: Derived) -> dict[str, Any]:
    answer = {column: getattr(found, column) for column in EquipmentSchema().fields if hasattr(found, column)}
    return answer | {"status": derived.status.value, "why": derived.why.value,
                     "calibrated_until": derived.calibrated_until, "last_good": derived.last_good}


def _details_of(found: Equipment) -> services.Details:
    return services.Details(**{f.name: getattr(found, f.name) for f in fields(services.Details)})


@blp.route("")
class Register(MethodView):
    access = REGISTER

    @blp.response(200, EquipmentSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The unit's equipment register, each instrument with its status derived today."""
        current = services.statuses(g.qms_unit_id)
        return [_with_status(found, current[found.id]) for found in services.register(g.qms_unit_id)]

    @blp.arguments(EquipmentCreateSchema)
    @blp.response(201, EquipmentSchema)
    def post(self, data: dict):  # type: ignore[no-untyped-def]
        """Add an instrument to the register (quality managers)."""
        found = services.add(g.qms_unit_id, g.qms_user, services.Details(**data))
        return _with_status(found, services.status_of(found))


@blp.route("/<int:equipment_id>")
class Instrument(MethodView):
    access = REGISTER

    @blp.response(200, EquipmentSchema)
    def get(self, equipment_id: int):  # type: ignore[no-untyped-def]
        """One instrument with its derived status."""
        found = services.get(equipment_id, g.qms_unit_id)
        return _with_status(found, services.status_of(found))

    @blp.arguments(EquipmentUpdateSchema)
    @blp.response(200, EquipmentSchema)
    def patch(self, changes: dict, equipment_id: int):  # type: ignore[no-untyped-def]
        """Change the register entry, with the reason (quality managers; on the audit trail)."""
        found = services.get(equipment_id, g.qms_unit_id)
        reason = changes.pop("reason")
        details = services.Details(**(asdict(_details_of(found)) | changes))
        services.update(found, g.qms_user, details, reason=reason)
        return _with_status(found, services.status_of(found))


@blp.route("/<int:equipment_id>/records")
class Records(MethodView):
    access = RECORDS

    @blp.response(200, EquipmentRecordSchema(many=True))
    def get(self, equipment_id: int):  # type: ignore[no-untyped-def]
        """The instrument's calibrations, checks, maintenance, repairs and faults, oldest first."""
        return services.records_of(services.get(equipment_id, g.qms_unit_id))

    @blp.arguments(EquipmentRecordCreateSchema)
    @blp.response(201, EquipmentRecordSchema)
    def post(self, data: dict, equipment_id: int):  # type: ignore[no-untyped-def]
        """Add a record; a failed calibration or check, or a fault, opens an impact review."""
        found = services.get(equipment_id, g.qms_unit_id)
        return services.add_record(found, g.qms_user, services.RecordInput(**data))


@blp.route("/reviews")
class Reviews(MethodView):
    access = RECORDS

    @blp.response(200, ImpactReviewSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The unit's impact reviews, newest first."""
        return services.reviews(g.qms_unit_id)


def _review_detail(found: Any) -> dict[str, Any]:
    lines = [{"work_kind": line.work.kind, "work_id": line.work.id, "on": line.work.on, "label": line.work.label,
              "assessment": line.assessment} for line in services.review_lines(found)]
    return {column: getattr(found, column) for column in ImpactReviewSchema().fields} | {"lines": lines}


@blp.route("/reviews/<int:review_id>")
class ReviewItem(MethodView):
    access = RECORDS

    @blp.response(200, ImpactReviewDetailSchema)
    def get(self, review_id: int):  # type: ignore[no-untyped-def]
        """One impact review with the work done since the last good record, each with its latest assessment."""
        return _review_detail(services.review(review_id, g.qms_unit_id))


@blp.route("/reviews/<int:review_id>/assessments")
class ReviewAssessments(MethodView):
    access = RECORDS

    @blp.arguments(ImpactAssessmentCreateSchema)
    @blp.response(201, ImpactAssessmentSchema)
    def post(self, data: dict, review_id: int):  # type: ignore[no-untyped-def]
        """Assess one piece of work of the review (a later assessment supersedes an earlier one)."""
        return services.assess(services.review(review_id, g.qms_unit_id), g.qms_user, **data)


@blp.route("/reviews/<int:review_id>/close")
class ReviewClose(MethodView):
    access = RECORDS

    @blp.arguments(ImpactCloseSchema)
    @blp.response(200, ImpactReviewDetailSchema)
    def post(self, data: dict, review_id: int):  # type: ignore[no-untyped-def]
        """Close the review once every piece of work is assessed (409 before; quality managers)."""
        found = services.close_review(services.review(review_id, g.qms_unit_id), g.qms_user, **data)
        return _review_detail(found)
