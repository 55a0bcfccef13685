"""API: export entries as a signed exchange package, import one, the unit's partner keys, the lead report.

An import sends the package itself as the request body (`Content-Type: application/zip`); a
refused package answers 400 with the reason (imported before, too), and nothing is stored. An export
answers the package bytes, with their SHA-256 in `X-Content-SHA256`.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, abort, g, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from werkzeug.exceptions import RequestEntityTooLarge

from qms.comparisons.views import too_large
from qms.auth.models import Unit
from qms.api.schemas import RecordId, RecordIds
from qms.auth.permissions import Access
from qms.comparisons import exchange, lead_report
from qms.comparisons.exchange import EXCHANGERS, KEY_KEEPERS, KEY_READERS, READ
from qms.comparisons.exchange_models import PartnerKey
from qms.comparisons.models import CaseLink
from qms.extensions import db
from qms.records import record_or_404

blp = Blueprint("api_comparisons_exchange", __name__, url_prefix="/comparisons",
                description="Ballistic intelligence between units: exchange packages, partner keys, lead reports")
blp.register_error_handler(RequestEntityTooLarge, too_large)  # a package above the request limit, as for scans

EXCHANGE_ACCESS = Access(read=READ, write=EXCHANGERS)
KEY_ACCESS = Access(read=KEY_READERS, write=KEY_KEEPERS)


class PackageSchema(ma.Schema):
    id = RecordId()
    direction = ma.fields.Str()
    sha256 = ma.fields.Str()
    size = ma.fields.Int()
    signer_fingerprint = ma.fields.Str()
    source_unit_code = ma.fields.Str()
    source_unit_name = ma.fields.Str()
    source_server = ma.fields.Str()
    packaged_at = ma.fields.Str()
    entry_count = ma.fields.Int()
    skipped_count = ma.fields.Int()
    recorded_by_id = RecordId()
    recorded_at = ma.fields.DateTime()


class ImportedEntrySchema(ma.Schema):
    id = RecordId()
    index_entry_id = ma.fields.Str()
    source_label = ma.fields.Str()
    calibre = ma.fields.Str()


class ImportResultSchema(ma.Schema):
    package = ma.fields.Nested(PackageSchema)
    imported = ma.fields.List(ma.fields.Nested(ImportedEntrySchema))
    skipped = ma.fields.List(ma.fields.Str(), metadata={"description": "Uuids already in this unit."})


class ExportSchema(ma.Schema):
    entry_ids = RecordIds(required=True, validate=ma.validate.Length(min=1, max=500))


class PartnerKeySchema(ma.Schema):
    id = RecordId(dump_only=True)
    name = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    public_key = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=2000),
                               metadata={"description": "PEM block or the 64 hex digits of the raw Ed25519 key."})
    fingerprint = ma.fields.Str(dump_only=True)
    added_at = ma.fields.DateTime(dump_only=True)
    revoked_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class RevokeSchema(ma.Schema):
    key_id = RecordId(required=True)


@blp.route("/exchange/packages")
class Packages(MethodView):
    access = EXCHANGE_ACCESS

    @blp.response(200, PackageSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The packages this unit exported or imported, newest first."""
        return exchange.packages()


@blp.route("/exchange/export")
class Export(MethodView):
    access = EXCHANGE_ACCESS

    @blp.arguments(ExportSchema)
    @blp.doc(responses={"200": {"description": "The signed package.", "content": {"application/zip": {}}}})
    def post(self, body: dict[str, Any]):  # type: ignore[no-untyped-def]
        """Export entries of this unit (processed ones) as a signed package; the export is recorded."""
        package, data = exchange.export_entries(exchange.entries_by_id(body["entry_ids"]),
                                                unit=db.session.get(Unit, g.qms_unit_id), actor=g.qms_user)
        return Response(data, mimetype="application/zip", headers={
            "Content-Disposition": f"attachment; filename=exchange-{package.sha256[:12]}.zip",
            "X-Content-SHA256": package.sha256})


@blp.route("/exchange/import")
class Import(MethodView):
    access = EXCHANGE_ACCESS

    @blp.doc(requestBody={"required": True, "content": {"application/zip": {
        "schema": {"type": "string", "format": "binary"}}}})
    @blp.response(201, ImportResultSchema)
    def post(self):  # type: ignore[no-untyped-def]
        """Import a package: every hash, the signature and the signer are checked before anything is stored."""
        if request.mimetype != "application/zip":
            abort(415, description=_("Send the package as the request body with Content-Type: application/zip."))
        data = request.get_data(cache=False)
        outcome = exchange.import_package(data, unit=db.session.get(Unit, g.qms_unit_id), actor=g.qms_user)
        return {"package": outcome.package, "imported": outcome.imported, "skipped": outcome.skipped}


@blp.route("/exchange/keys")
class PartnerKeys(MethodView):
    access = KEY_ACCESS

    @blp.response(200, PartnerKeySchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The partner keys of this unit (revoked ones too)."""
        return exchange.partner_keys()

    @blp.arguments(PartnerKeySchema)
    @blp.response(201, PartnerKeySchema)
    def post(self, body: dict[str, Any]):  # type: ignore[no-untyped-def]
        """Trust a partner's public key: packages it signs are accepted by this unit."""
        return exchange.add_partner_key(unit_id=g.qms_unit_id, name=body["name"], key_text=body["public_key"],
                                        actor=g.qms_user)


@blp.route("/exchange/keys/revoke")
class RevokeKey(MethodView):
    access = Access(read=KEY_KEEPERS, write=KEY_KEEPERS)

    @blp.arguments(RevokeSchema)
    @blp.response(200, PartnerKeySchema)
    def post(self, body: dict[str, Any]):  # type: ignore[no-untyped-def]
        """Stop trusting a partner key."""
        key = record_or_404(PartnerKey, body["key_id"], "partner key")
        return exchange.revoke_partner_key(key, actor=g.qms_user)


@blp.route("/links/<int:link_id>/report.pdf")
class LeadReport(MethodView):
    access = Access(read=READ)

    @blp.doc(responses={"200": {"description": "The lead report.", "content": {"application/pdf": {}}}})
    def get(self, link_id: int):  # type: ignore[no-untyped-def]
        """The lead report of a confirmed link, as PDF."""
        link = record_or_404(CaseLink, link_id, "case link")
        return Response(lead_report.lead_report_pdf(link, printed_by=g.qms_user), mimetype="application/pdf")
