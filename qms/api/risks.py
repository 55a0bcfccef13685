"""API: the impartiality risk register (ISO/IEC 17020 4.1.3, 4.1.4) and its reviews."""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.schemas import RecordId
from qms.auth.permissions import Access
from qms.quality import risks as services
from qms.quality.risks_models import Risk, RiskSource
from qms.records import record_or_404

blp = Blueprint("api_risks", __name__, url_prefix="/quality/risks",
                description="Impartiality risks: source, likelihood and impact, controls, owner, reviews")

_TEXT = ma.validate.Length(max=20_000)
_SCALE = ma.validate.Range(min=1, max=5)


class RiskReviewSchema(ma.Schema):
    id = RecordId(dump_only=True)
    likelihood = ma.fields.Int(dump_only=True)
    impact = ma.fields.Int(dump_only=True)
    controls = ma.fields.Str(dump_only=True)
    note = ma.fields.Str(dump_only=True)
    next_review_on = ma.fields.Date(dump_only=True)
    reviewer_id = RecordId(dump_only=True, allow_none=True)
    at = ma.fields.DateTime(dump_only=True)


class RiskSchema(ma.Schema):
    id = RecordId(dump_only=True)
    title = ma.fields.Str(dump_only=True)
    source = ma.fields.Str(dump_only=True)
    description = ma.fields.Str(dump_only=True)
    likelihood = ma.fields.Int(dump_only=True)
    impact = ma.fields.Int(dump_only=True)
    score = ma.fields.Int(dump_only=True)
    controls = ma.fields.Str(dump_only=True)
    owner_id = RecordId(dump_only=True)
    review_on = ma.fields.Date(dump_only=True)
    review_overdue = ma.fields.Function(lambda r: services.is_overdue(r), dump_only=True,
                                        metadata={"type": "boolean"})


class RiskCreateSchema(ma.Schema):
    title = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    source = ma.fields.Str(required=True, validate=ma.validate.OneOf([s.value for s in RiskSource]))
    description = ma.fields.Str(load_default="", validate=_TEXT)
    likelihood = ma.fields.Int(required=True, strict=True, validate=_SCALE)
    impact = ma.fields.Int(required=True, strict=True, validate=_SCALE)
    controls = ma.fields.Str(load_default="", validate=_TEXT)
    owner_id = RecordId(required=True)
    review_on = ma.fields.Date(required=True)


class RiskQuerySchema(ma.Schema):
    overdue = ma.fields.Bool(load_default=False)


class RiskReviewCreateSchema(ma.Schema):
    likelihood = ma.fields.Int(required=True, strict=True, validate=_SCALE)
    impact = ma.fields.Int(required=True, strict=True, validate=_SCALE)
    controls = ma.fields.Str(load_default="", validate=_TEXT)
    note = ma.fields.Str(load_default="", validate=_TEXT)
    next_review_on = ma.fields.Date(required=True)


@blp.route("")
class Risks(MethodView):
    access = Access(read=services.READERS, write=services.MANAGERS)

    @blp.arguments(RiskQuerySchema, location="query")
    @blp.response(200, RiskSchema(many=True))
    def get(self, query: dict):  # type: ignore[no-untyped-def]
        """The unit's impartiality risks, highest score first (only those past their review date if asked)."""
        return services.register(g.qms_unit_id, overdue=query["overdue"])

    @blp.arguments(RiskCreateSchema)
    @blp.response(201, RiskSchema)
    def post(self, data: dict):  # type: ignore[no-untyped-def]
        """A new risk (quality managers)."""
        return services.add_risk(g.qms_unit_id, g.qms_user, services.Identified(**data))


@blp.route("/<int:risk_id>")
class RiskItem(MethodView):
    access = Access(read=services.READERS)

    @blp.response(200, RiskSchema)
    def get(self, risk_id: int):  # type: ignore[no-untyped-def]
        """One risk."""
        return record_or_404(Risk, risk_id, "risk")


@blp.route("/<int:risk_id>/reviews")
class RiskReviews(MethodView):
    access = Access(read=services.READERS, write=services.WRITERS)

    @blp.response(200, RiskReviewSchema(many=True))
    def get(self, risk_id: int):  # type: ignore[no-untyped-def]
        """The risk's reviews, oldest first."""
        return services.reviews_of(record_or_404(Risk, risk_id, "risk"))

    @blp.arguments(RiskReviewCreateSchema)
    @blp.response(201, RiskReviewSchema)
    def post(self, data: dict, risk_id: int):  # type: ignore[no-untyped-def]
        """A review by the risk's owner or a quality manager; it sets the risk's current values."""
        return services.review(record_or_404(Risk, risk_id, "risk"), g.qms_user, **data)
