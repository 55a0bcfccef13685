"""API: ballistic entries, correlation jobs and their ranked candidates, blind decisions, case links.

A request that names a record of another unit gets 404. Decisions follow the same blind rule as
the pages: the first examiner's conclusion and note are withheld until the verification is in.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g, request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint, abort
from werkzeug.exceptions import RequestEntityTooLarge

from qms.api.schemas import ID_DOC, TEXT_DOC, RecordId
from qms.auth.permissions import Access
from qms.comparisons import services
from qms.comparisons.models import BallisticEntry, Candidate, Conclusion, CorrelationJob
from qms.comparisons.views import too_large
from qms.errors import InvalidInput, NotFound, StateConflict
from qms.evidence.models import Item
from qms.extensions import db
from qms.identifiers import optional_record_id
from qms.records import record_or_404

blp = Blueprint("api_comparisons", __name__, url_prefix="/comparisons",
                description="Ballistic intelligence: entries, correlation jobs, candidates, decisions, links")
blp.register_error_handler(RequestEntityTooLarge, too_large)
ACCESS = Access(read=services.READERS, write=services.EXAMINERS)


class EntrySchema(ma.Schema):
    id = RecordId()
    item_id = RecordId(allow_none=True)
    label = ma.fields.Str()
    calibre = ma.fields.Str()
    firearm_make = ma.fields.Str()
    firearm_model = ma.fields.Str()
    device = ma.fields.Str()
    device_id = RecordId(allow_none=True)
    device_status = ma.fields.Str()
    device_calibrated_until = ma.fields.Date(allow_none=True)
    settings = ma.fields.Dict()
    acquired_by_name = ma.fields.Str()
    acquired_at = ma.fields.DateTime()
    kind = ma.fields.Str()
    pixel_size_um = ma.fields.Float()
    original_sha256 = ma.fields.Str()
    original_name = ma.fields.Str()
    original_type = ma.fields.Str()
    original_size = ma.fields.Int()
    processed_sha256 = ma.fields.Str(allow_none=True)
    origin = ma.fields.Str()
    source_unit = ma.fields.Str()


class JobSchema(ma.Schema):
    id = RecordId()
    entry_id = RecordId()
    state = ma.fields.Str()
    stage = ma.fields.Str()
    progress = ma.fields.Int()
    attempts = ma.fields.Int()
    error = ma.fields.Str()
    index_size = ma.fields.Int(allow_none=True)
    timings = ma.fields.Dict()
    created_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)


class CandidateSchema(ma.Schema):
    id = RecordId()
    job_id = RecordId()
    rank = ma.fields.Int()
    entry_id = RecordId(allow_none=True)
    first_pass_score = ma.fields.Float()
    first_pass_rank = ma.fields.Int()
    score = ma.fields.Float(allow_none=True)
    high_cmc = ma.fields.Int(allow_none=True)
    possible_cells = ma.fields.Int(allow_none=True)
    cmc_original = ma.fields.List(ma.fields.Int(), allow_none=True)
    correlation = ma.fields.Float(allow_none=True)
    angle_deg = ma.fields.Float(allow_none=True)
    log10_lr = ma.fields.Float(allow_none=True)
    calibration_name = ma.fields.Str()
    calibration_size = ma.fields.Int(allow_none=True)


class DecisionSchema(ma.Schema):
    id = RecordId()
    role = ma.fields.Str()
    conclusion = ma.fields.Str()
    note = ma.fields.Str()
    examiner_id = RecordId()
    signed_at = ma.fields.DateTime()


class PairSchema(ma.Schema):
    blind = ma.fields.Bool(metadata={"description": "True while a first decision exists that you may not see yet."})
    first = ma.fields.Nested(DecisionSchema, allow_none=True)
    verification = ma.fields.Nested(DecisionSchema, allow_none=True)
    my_role = ma.fields.Str(allow_none=True, metadata={"description": "The role you may still record, if any."})
    link_id = RecordId(allow_none=True)


class DecisionCreateSchema(ma.Schema):
    conclusion = ma.fields.Str(required=True, validate=ma.validate.OneOf([c.value for c in Conclusion]))
    note = ma.fields.Str(load_default="", validate=ma.validate.Length(max=4000))
    password = ma.fields.Str(required=True, load_only=True, validate=ma.validate.Length(min=1, max=1024))


class LinkSchema(ma.Schema):
    id = RecordId()
    entry_low_id = RecordId()
    entry_high_id = RecordId()
    case_low_id = RecordId(allow_none=True)
    case_high_id = RecordId(allow_none=True)
    first_decision_id = RecordId()
    verification_id = RecordId()
    confirmed_at = ma.fields.DateTime()


def _json_body(schema: ma.Schema) -> dict[str, Any]:
    """The JSON body, validated after the record lookup (so another unit's record answers 404 first).

    Invalid fields answer 422 with their reasons, as `@blp.arguments` does for bodies read before the view.
    """
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(_("Send a JSON object."))
    errors = schema.validate(data)
    if errors:
        abort(422, messages=errors)
    return schema.load(data)


def _form_record_id(name: str) -> int | None:
    """A record id sent as a multipart field; None when it cannot name a record (too large, not a number)."""
    try:
        return optional_record_id(request.form.get(name, ""))
    except ValueError:
        return None


def _number(value: str | None, what: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(_("%(field)s must be a number.", field=what), errors={what: [_("Not a number.")]}) from None


@blp.route("/entries")
class Entries(MethodView):
    access = ACCESS

    @blp.response(200, EntrySchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The ballistic entries of the unit (its own and imported ones)."""
        return services.entries()

    @blp.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["item_id", "scan"],
        "properties": {"item_id": ID_DOC, "scan": {"type": "string", "format": "binary"},
                       "pixel_size_um": {"type": "number"}, "calibre": TEXT_DOC,
                       "firearm_make": TEXT_DOC, "firearm_model": TEXT_DOC, "device_id": ID_DOC}}}}})
    @blp.response(201, EntrySchema)
    def post(self):  # type: ignore[no-untyped-def]
        """Upload a scan of a custody item: stored unchanged, then processed and searched in the background."""
        item = db.session.get(Item, item_id) if (item_id := _form_record_id("item_id")) is not None else None
        if item is None:
            raise NotFound(_("No such custody item."))
        scan = request.files.get("scan")
        if scan is None:
            raise InvalidInput(_("Send the scan as the multipart field 'scan'."))
        return services.add_entry(
            item, actor=g.qms_user, data=scan.read(services.upload_limit() + 1), filename=scan.filename or "",
            calibre=request.form.get("calibre", "")[:40], firearm_make=request.form.get("firearm_make", "")[:80],
            firearm_model=request.form.get("firearm_model", "")[:80], device_id=_form_record_id("device_id"),
            pixel_size_um=_number(request.form.get("pixel_size_um"), "pixel_size_um"))


@blp.route("/entries/<int:entry_id>")
class EntryItem(MethodView):
    access = ACCESS

    @blp.response(200, EntrySchema)
    def get(self, entry_id: int):  # type: ignore[no-untyped-def]
        """One entry."""
        return record_or_404(BallisticEntry, entry_id, "ballistic entry")


@blp.route("/entries/<int:entry_id>/jobs")
class EntryJobs(MethodView):
    access = ACCESS

    @blp.response(200, JobSchema(many=True))
    def get(self, entry_id: int):  # type: ignore[no-untyped-def]
        """The correlation jobs of an entry, newest first."""
        return services.jobs_of(record_or_404(BallisticEntry, entry_id, "ballistic entry"))

    @blp.response(201, JobSchema)
    def post(self, entry_id: int):  # type: ignore[no-untyped-def]
        """Queue a new search of the entry against the unit's database."""
        entry = record_or_404(BallisticEntry, entry_id, "ballistic entry")
        return services.enqueue_correlation(entry, requested_by=g.qms_user)


@blp.route("/jobs/<int:job_id>")
class JobItem(MethodView):
    access = ACCESS

    @blp.response(200, JobSchema)
    def get(self, job_id: int):  # type: ignore[no-untyped-def]
        """A job's state and progress."""
        return record_or_404(CorrelationJob, job_id, "correlation job")


@blp.route("/jobs/<int:job_id>/candidates")
class JobCandidates(MethodView):
    access = ACCESS

    @blp.response(200, CandidateSchema(many=True))
    def get(self, job_id: int):  # type: ignore[no-untyped-def]
        """The ranked candidates of a finished job (empty until it is done)."""
        return services.candidates_of(record_or_404(CorrelationJob, job_id, "correlation job"))


def _pair(candidate: Candidate) -> dict[str, Any]:
    if candidate.entry_id is None:
        raise StateConflict(_("This candidate has no entry record here; it cannot be decided."))
    view = services.pair_view(candidate.job.entry_id, candidate.entry_id, g.qms_user, g.qms_unit_id)
    return {"blind": view.blind, "first": view.first, "verification": view.verification, "my_role": view.my_role,
            "link_id": view.link.id if view.link else None}


@blp.route("/candidates/<int:candidate_id>/decisions")
class CandidateDecisions(MethodView):
    access = ACCESS

    @blp.response(200, PairSchema)
    def get(self, candidate_id: int):  # type: ignore[no-untyped-def]
        """The decisions on the pair, as you may see them (blind until the verification is in)."""
        return _pair(record_or_404(Candidate, candidate_id, "candidate"))

    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": DecisionCreateSchema}}})
    @blp.response(201, PairSchema)
    def post(self, candidate_id: int):  # type: ignore[no-untyped-def]
        """Sign your decision (first) or your blind verification; two identification leads link the cases."""
        candidate = record_or_404(Candidate, candidate_id, "candidate")
        body = _json_body(DecisionCreateSchema())
        # A wrong password is refused with its attempt kept (the login throttle counts it): the handler commits it.
        services.record_decision(candidate, examiner=g.qms_user, unit_id=g.qms_unit_id, **body)
        return _pair(candidate)


@blp.route("/links")
class Links(MethodView):
    access = ACCESS

    @blp.response(200, LinkSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """Confirmed links (verified identification leads) of the unit."""
        return services.links()
