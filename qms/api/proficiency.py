"""API: proficiency test and interlaboratory comparison results (read by staff, recorded by quality managers)."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.schemas import RecordId
from qms.auth.permissions import Access
from qms.quality import proficiency
from qms.quality.proficiency_models import Outcome, ReferenceKind

blp = Blueprint("api_proficiency", __name__, url_prefix="/proficiency",
                description="Proficiency tests and interlaboratory comparisons: results and their outcomes")


class ProficiencyResultSchema(ma.Schema):
    id = RecordId(dump_only=True)
    provider = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    scheme = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    round = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=100))
    items = ma.fields.Str(load_default="", validate=ma.validate.Length(max=20_000))
    participant_id = RecordId(required=True)
    scope_id = RecordId(required=True)
    performed_on = ma.fields.Date(required=True)
    reported_result = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=20_000))
    reference_kind = ma.fields.Str(load_default=ReferenceKind.ASSIGNED.value,
                                   validate=ma.validate.OneOf([k.value for k in ReferenceKind]))
    reference_value = ma.fields.Str(load_default="", validate=ma.validate.Length(max=20_000))
    z_score = ma.fields.Float(load_default=None, allow_none=True, allow_nan=False,
                              validate=ma.validate.Range(min=-proficiency.MAX_Z, max=proficiency.MAX_Z),
                              metadata={"description": "|z| <= 2 satisfactory, 2 < |z| < 3 questionable, "
                                                       "|z| >= 3 unsatisfactory"})
    outcome = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(o.value for o in Outcome)]),
                            metadata={"description": "The provider's verdict; empty to take it from the z-score"})
    notes = ma.fields.Str(load_default="", validate=ma.validate.Length(max=20_000))
    nonconformity_id = RecordId(dump_only=True, allow_none=True)
    recorded_at = ma.fields.DateTime(dump_only=True)


@blp.route("")
class ProficiencyResults(MethodView):
    access = Access(read=proficiency.READERS, write=proficiency.RECORDERS)

    @blp.response(200, ProficiencyResultSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The unit's results, newest first."""
        return proficiency.results(g.qms_unit_id)

    @blp.arguments(ProficiencyResultSchema)
    @blp.response(201, ProficiencyResultSchema)
    def post(self, data: dict[str, Any]):  # type: ignore[no-untyped-def]
        """Record a result; a questionable or unsatisfactory outcome opens a nonconformity."""
        return proficiency.record_result(g.qms_unit_id, g.qms_user, proficiency.Result(**data))


@blp.route("/<int:test_id>")
class ProficiencyResult(MethodView):
    access = Access(read=proficiency.READERS)

    @blp.response(200, ProficiencyResultSchema)
    def get(self, test_id: int):  # type: ignore[no-untyped-def]
        """One result."""
        return proficiency.result(test_id, g.qms_unit_id)
