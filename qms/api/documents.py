"""API: SOPs and their revisions; draft, submit, approve (e-signature), reject and acknowledge.

Refusals raised by the services become JSON problem bodies in `qms.errors`; nothing here catches
them. Reading never writes: a revision is in force from its effective date (`qms.documents.models`).
"""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask_babel import gettext as _
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.schemas import ChangesSchema, RecordId
from qms.auth.permissions import Access
from qms.documents import services
from qms.documents.models import DISCIPLINES, Revision, Sop, SopStatus
from qms.documents.services import APPROVERS, AUTHORS, MANAGERS, READERS
from qms.errors import NotFound
from qms.extensions import db

blp = Blueprint("api_documents", __name__, url_prefix="/documents",
                description="SOP document control: register, revisions, approval and acknowledgement")


class SopRevisionEventSchema(ma.Schema):
    kind = ma.fields.Str()
    at = ma.fields.DateTime()
    actor_id = RecordId(allow_none=True)
    actor_name = ma.fields.Str()
    comment = ma.fields.Str()
    content_sha256 = ma.fields.Str()
    signature_meaning = ma.fields.Str()
    effective_on = ma.fields.Date(allow_none=True)


class SopSchema(ma.Schema):
    id = RecordId(dump_only=True)
    code = ma.fields.Str(dump_only=True)
    title = ma.fields.Str(dump_only=True)
    discipline = ma.fields.Str(dump_only=True)
    owner_id = RecordId(dump_only=True, allow_none=True)
    review_months = ma.fields.Int(dump_only=True)
    applies_to = ma.fields.List(ma.fields.Str(), dump_only=True)
    status = ma.fields.Str(dump_only=True)
    current_revision_id = RecordId(dump_only=True, allow_none=True)
    last_reviewed_on = ma.fields.Date(dump_only=True, allow_none=True)
    next_review_on = ma.fields.Date(dump_only=True, allow_none=True)
    retired_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class SopRevisionSchema(ma.Schema):
    id = RecordId()
    sop_id = RecordId()
    number = ma.fields.Int()
    state = ma.fields.Function(lambda rev: rev.state.value)
    content_markdown = ma.fields.Str(allow_none=True)
    filename = ma.fields.Str()
    media_type = ma.fields.Str()
    file_size = ma.fields.Int(allow_none=True)
    change_summary = ma.fields.Str()
    content_sha256 = ma.fields.Str()
    requirement_ids = ma.fields.List(ma.fields.Str())
    author_id = RecordId(allow_none=True)
    created_at = ma.fields.DateTime()
    submitted_at = ma.fields.DateTime(allow_none=True)
    events = ma.fields.List(ma.fields.Nested(SopRevisionEventSchema))


class SopRegisterQuerySchema(ma.Schema):
    q = ma.fields.Str(load_default="", validate=ma.validate.Length(max=100))
    discipline = ma.fields.Str(load_default="", validate=ma.validate.OneOf(("", *DISCIPLINES)))
    status = ma.fields.Str(load_default="", validate=ma.validate.OneOf(("", *(s.value for s in SopStatus))))


class SopCreateSchema(ma.Schema):
    code = ma.fields.Str(required=True, validate=[
        ma.validate.Length(min=2, max=32),
        ma.validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$", error="Use letters, digits, '.', '-' and '_'.")],
        metadata={"description": "Stored in capitals, e.g. CSI-SOP-007; unique in the unit."})
    title = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    discipline = ma.fields.Str(required=True, validate=ma.validate.OneOf(DISCIPLINES))
    owner_id = RecordId(load_default=None, allow_none=True)
    review_months = ma.fields.Int(load_default=12, validate=ma.validate.Range(min=1, max=60))
    applies_to = ma.fields.List(ma.fields.Str(), load_default=list)
    content_markdown = ma.fields.Str(load_default="", validate=ma.validate.Length(max=500_000))
    change_summary = ma.fields.Str(load_default="First issue.", validate=ma.validate.Length(max=5000))
    requirement_ids = ma.fields.List(ma.fields.Str(validate=ma.validate.Length(max=64)), load_default=list)


# Nothing below is `required`: the record named in the URL is looked up first (404 for another
# unit's), and the service then says clearly what is missing (400).
class SopDraftUpdateSchema(ChangesSchema):
    content_markdown = ma.fields.Str(validate=ma.validate.Length(max=500_000))
    change_summary = ma.fields.Str(validate=ma.validate.Length(max=5000))
    requirement_ids = ma.fields.List(ma.fields.Str(validate=ma.validate.Length(max=64)))


class SopApproveSchema(ma.Schema):
    password = ma.fields.Str(load_only=True, load_default="", validate=ma.validate.Length(max=1024))
    otp = ma.fields.Str(load_only=True, load_default="", validate=ma.validate.Length(max=12))
    effective_on = ma.fields.Date(load_default=None, allow_none=True)
    meaning = ma.fields.Str(load_default=services.DEFAULT_MEANING, validate=ma.validate.Length(max=200))


class SopCommentSchema(ma.Schema):
    comment = ma.fields.Str(load_default="", validate=ma.validate.Length(max=5000))


class SopAcknowledgementSchema(ma.Schema):
    id = RecordId()
    sop_id = RecordId()
    revision_id = RecordId()
    user_id = RecordId()
    content_sha256 = ma.fields.Str()
    acknowledged_at = ma.fields.DateTime()


def _sop(sop_id: int) -> Sop:
    sop = db.session.get(Sop, sop_id)
    if sop is None:
        raise NotFound(_("No such SOP in this unit."))
    return sop


def _revision(revision_id: int) -> Revision:
    rev = db.session.get(Revision, revision_id)
    if rev is None:
        raise NotFound(_("No such revision in this unit."))
    return rev


@blp.route("/sops")
class Sops(MethodView):
    access = Access(read=READERS, write=MANAGERS)

    @blp.arguments(SopRegisterQuerySchema, location="query")
    @blp.response(200, SopSchema(many=True))
    def get(self, args: dict):  # type: ignore[no-untyped-def]
        """The unit's SOP register (search by code or title, filter by discipline and status)."""
        return services.register(services.RegisterFilter(**args))

    @blp.arguments(SopCreateSchema)
    @blp.response(201, SopSchema)
    def post(self, data: dict):  # type: ignore[no-untyped-def]
        """A new SOP with revision 1 as a draft by the caller (quality managers)."""
        return services.create_sop(unit_id=g.qms_unit_id, author=g.qms_user, **data)


@blp.route("/sops/<int:sop_id>")
class SopItem(MethodView):
    access = Access(read=READERS)

    @blp.response(200, SopSchema)
    def get(self, sop_id: int):  # type: ignore[no-untyped-def]
        """One SOP of the register."""
        return _sop(sop_id)


@blp.route("/sops/<int:sop_id>/revisions")
class SopRevisions(MethodView):
    access = Access(read=READERS, write=AUTHORS)

    @blp.response(200, SopRevisionSchema(many=True))
    def get(self, sop_id: int):  # type: ignore[no-untyped-def]
        """Every revision of the SOP with its history (events, signatures)."""
        return _sop(sop_id).revisions

    @blp.response(201, SopRevisionSchema)
    def post(self, sop_id: int):  # type: ignore[no-untyped-def]
        """Start the next revision as a draft, from the effective content."""
        return services.new_draft(_sop(sop_id), g.qms_user)


@blp.route("/revisions/<int:revision_id>")
class RevisionItem(MethodView):
    access = Access(read=READERS, write=AUTHORS)

    @blp.response(200, SopRevisionSchema)
    def get(self, revision_id: int):  # type: ignore[no-untyped-def]
        """One revision: content, hash, requirement ids and history."""
        return _revision(revision_id)

    @blp.arguments(SopDraftUpdateSchema)
    @blp.response(200, SopRevisionSchema)
    def patch(self, changes: dict, revision_id: int):  # type: ignore[no-untyped-def]
        """Change a draft (refused, 409, once it was submitted)."""
        return services.edit_draft(_revision(revision_id), g.qms_user, **changes)


@blp.route("/revisions/<int:revision_id>/submit")
class Submit(MethodView):
    access = Access(read=READERS, write=AUTHORS)

    @blp.response(200, SopRevisionSchema)
    def post(self, revision_id: int):  # type: ignore[no-untyped-def]
        """Submit a draft for review; its content is frozen from now on."""
        return services.submit(_revision(revision_id), g.qms_user)


@blp.route("/revisions/<int:revision_id>/approve")
class Approve(MethodView):
    access = Access(read=READERS, write=APPROVERS)

    @blp.arguments(SopApproveSchema)
    @blp.response(200, SopRevisionSchema)
    def post(self, data: dict, revision_id: int):  # type: ignore[no-untyped-def]
        """Approve with an electronic signature: the caller's password (and MFA code if enrolled) in the body.

        Refused for the revision's author, editor or submitter (403) and for a wrong password (400).
        """
        rev = _revision(revision_id)
        services.approve(rev, g.qms_user, **data)
        return rev


@blp.route("/revisions/<int:revision_id>/reject")
class Reject(MethodView):
    access = Access(read=READERS, write=APPROVERS)

    @blp.arguments(SopCommentSchema)
    @blp.response(201, SopRevisionSchema)
    def post(self, data: dict, revision_id: int):  # type: ignore[no-untyped-def]
        """Reject a revision in review with comments; answers the author's new draft."""
        return services.reject(_revision(revision_id), g.qms_user, data["comment"])


@blp.route("/revisions/<int:revision_id>/acknowledge")
class Acknowledge(MethodView):
    access = Access(read=READERS, write=READERS)

    @blp.response(201, SopAcknowledgementSchema)
    def post(self, revision_id: int):  # type: ignore[no-untyped-def]
        """Record that the caller has read and understood this (effective) revision."""
        return services.acknowledge(_revision(revision_id), g.qms_user)
