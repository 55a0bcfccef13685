"""API: nonconformities from any source and the corrective actions raised on them.

The actions' steps, effectiveness review and closure are the audits API's `/audits/actions/...`:
the same rules whatever the origin.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask_babel import gettext as _
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.audits import ActionSchema
from qms.api.schemas import RecordId
from qms.auth.permissions import Access
from qms.errors import InvalidInput
from qms.quality import services
from qms.quality.models import RiskGrade, Source
from qms.quality.services import READERS, RECORDERS, Found

blp = Blueprint("api_nonconformities", __name__, url_prefix="/nonconformities",
                description="Nonconformities from any source (ISO/IEC 17020 8.7) and their corrective actions")

_TEXT = ma.validate.Length(max=4000)


class RegisterQuerySchema(ma.Schema):
    source = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(s.value for s in Source)]))
    grade = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *(r.value for r in RiskGrade)]))


class RegisterRowSchema(ma.Schema):
    """One line of the register: a nonconformity, or an audit finding graded major or minor (see `url`)."""

    source = ma.fields.Str(dump_only=True)
    number = ma.fields.Str(dump_only=True)
    title = ma.fields.Str(dump_only=True)
    found_on = ma.fields.Date(dump_only=True)
    risk_grade = ma.fields.Str(dump_only=True)
    open_actions = ma.fields.Int(dump_only=True)
    is_open = ma.fields.Bool(dump_only=True)
    url = ma.fields.Str(dump_only=True)


class NonconformitySchema(ma.Schema):
    id = RecordId(dump_only=True)
    number = ma.fields.Str(dump_only=True)
    source = ma.fields.Str(load_default=Source.OTHER.value,
                           validate=ma.validate.OneOf([s.value for s in Source if s is not Source.AUDIT_FINDING]))
    source_key = ma.fields.Str(dump_only=True)
    source_url = ma.fields.Str(dump_only=True)
    title = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.Str(load_default="", validate=_TEXT)
    location = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    found_on = ma.fields.Date(load_default=None, allow_none=True)
    found_by_id = RecordId(dump_only=True, allow_none=True)
    found_by_name = ma.fields.Str(dump_only=True)
    risk_grade = ma.fields.Str(load_default=RiskGrade.MEDIUM.value,
                               validate=ma.validate.OneOf([r.value for r in RiskGrade]))
    immediate_correction = ma.fields.Str(load_default="", validate=_TEXT)
    created_at = ma.fields.DateTime(dump_only=True)


class NonconformityDetailSchema(NonconformitySchema):
    actions = ma.fields.Function(lambda nc: ActionSchema(many=True).dump(services.actions_of(nc)), dump_only=True,
                                 metadata={"description": "Its corrective actions, with their steps."})


def _needed(value: Any, what: str) -> Any:
    if value is None:
        raise InvalidInput(_("%(what)s is required.", what=what))
    return value


@blp.route("")
class Nonconformities(MethodView):
    access = Access(read=READERS, write=RECORDERS)

    @blp.arguments(RegisterQuerySchema, location="query")
    @blp.response(200, RegisterRowSchema(many=True))
    def get(self, args: dict):  # type: ignore[no-untyped-def]
        """The register, newest first, audit findings of grade major or minor included (filter: source, grade)."""
        return services.register(g.qms_unit_id, source=args["source"], grade=args["grade"])

    @blp.arguments(NonconformitySchema)
    @blp.response(201, NonconformitySchema)
    def post(self, data: dict):  # type: ignore[no-untyped-def]
        """Record a nonconformity found by the caller (audit findings are raised in their audit)."""
        source = data.pop("source")
        return services.record_nonconformity(g.qms_unit_id, g.qms_user, source, Found(**data))


@blp.route("/<int:nc_id>")
class NonconformityItem(MethodView):
    access = Access(read=READERS)

    @blp.response(200, NonconformityDetailSchema)
    def get(self, nc_id: int):  # type: ignore[no-untyped-def]
        """One nonconformity with its corrective actions."""
        return services.nonconformity(nc_id, g.qms_unit_id)


@blp.route("/<int:nc_id>/actions")
class NonconformityActions(MethodView):
    access = Access(read=READERS, write=RECORDERS)

    @blp.arguments(ActionSchema)
    @blp.response(201, ActionSchema)
    def post(self, data: dict, nc_id: int):  # type: ignore[no-untyped-def]
        """Raise a corrective action with an owner and a due date (quality manager); record its steps at
        /audits/actions/{action_id}/steps."""
        target = services.nonconformity(nc_id, g.qms_unit_id)
        return services.raise_action(target, g.qms_user, title=data["title"],
                                     owner_id=_needed(data["owner_id"], "owner_id"),
                                     due_on=_needed(data["due_on"], "due_on"))
