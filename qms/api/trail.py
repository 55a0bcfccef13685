"""API: the audit trail, limited to the record types the caller may see (the same rule as the page)."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.schemas import RecordId
from qms.identifiers import MAX_RECORD_ID
from qms.auth.permissions import Access
from qms.trail import services

blp = Blueprint("api_trail", __name__, url_prefix="/trail",
                description="The audit trail: who changed what, when and why")


class TrailQuerySchema(ma.Schema):
    entity = ma.fields.Str(load_default="", validate=ma.validate.Regexp(r"^[A-Za-z]{0,64}$"),
                           metadata={"description": "Record type, e.g. User"})
    entity_id = ma.fields.Int(load_default=None, validate=ma.validate.Range(min=1, max=MAX_RECORD_ID),
                              metadata={"description": "The record's id"})
    username = ma.fields.Str(load_default="", validate=ma.validate.Length(max=64))
    action = ma.fields.Str(load_default="", validate=ma.validate.OneOf(("", "insert", "update", "delete")))
    since = ma.fields.Date(load_default=None, metadata={"description": "First day, e.g. 2026-11-23"})
    until = ma.fields.Date(load_default=None, metadata={"description": "Last day, e.g. 2026-11-30"})
    page = ma.fields.Int(load_default=1, validate=ma.validate.Range(min=1, max=MAX_RECORD_ID))


class ChangeSchema(ma.Schema):
    field = ma.fields.Str()
    label = ma.fields.Str()
    before = ma.fields.Str(allow_none=True)
    after = ma.fields.Str(allow_none=True)


class TrailEventSchema(ma.Schema):
    id = RecordId()
    at = ma.fields.Str()
    user_id = RecordId(allow_none=True)
    username = ma.fields.Str()
    actor = ma.fields.Str()
    action = ma.fields.Str()
    action_label = ma.fields.Str()
    entity = ma.fields.Str()
    entity_id = ma.fields.Str()
    record = ma.fields.Str()
    url = ma.fields.Str(allow_none=True)
    reason = ma.fields.Str()
    changes = ma.fields.List(ma.fields.Nested(ChangeSchema))
    before = ma.fields.Dict(allow_none=True)
    after = ma.fields.Dict(allow_none=True)


class TrailPageSchema(ma.Schema):
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()
    items = ma.fields.List(ma.fields.Nested(TrailEventSchema))


@blp.route("")
class Trail(MethodView):
    access = Access(read=services.READERS)

    @blp.arguments(TrailQuerySchema, location="query")
    @blp.response(200, TrailPageSchema)
    def get(self, args: dict[str, Any]):  # type: ignore[no-untyped-def]
        """The trail of the caller's unit, newest first, as far as the caller may see it."""
        as_text = {name: "" if args[name] is None else str(args[name]) for name in ("since", "until", "entity_id")}
        trail = services.read_events({**args, **as_text}, roles=g.qms_roles, page=args["page"],
                                   per_page=current_app.config["PAGE_SIZE"])
        return {"page": trail.page.page, "pages": trail.page.pages, "total": trail.page.total,
                "items": [row.as_json() for row in trail.rows]}
