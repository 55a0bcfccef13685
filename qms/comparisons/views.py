"""Ballistic entries, jobs, review, decisions and case links: thin views over services.py."""
from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import secure_filename
from wtforms.fields.choices import SelectChoice

from qms.auth.permissions import requires
from qms.comparisons import bp, calibration, exchange, explain, jobs, services, unit_index
from qms.comparisons.forms import DecisionForm, EntryForm
from qms.comparisons.models import SETTING_LABELS, BallisticEntry, Candidate, CorrelationJob, DerivedObject, label_of
from qms.comparisons.services import EntryError
from qms.equipment import services as equipment
from qms.errors import check_form, page_again, render_error
from qms.evidence.custody import holds_for_imaging
from qms.evidence.models import Item
from qms.extensions import db
from qms.identifiers import optional_record_id
from qms.records import record_or_404
from qms.storage import ObjectCorrupted, ObjectMissing

READ, WRITE = services.READERS, services.EXAMINERS


def too_large(error: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    """A request over the server's limit, answered with what to do instead (the generic 413 says nothing useful).

    Werkzeug raises it while the form is read, so no page can be shown again with the submitted form:
    the error page (or the JSON problem) says why. The pages and the API of the comparisons (both take
    scans and packages) register this one handler.
    """
    error.description = services.too_large_message()
    return render_error(error)


bp.register_error_handler(RequestEntityTooLarge, too_large)


@bp.app_context_processor
def _partials() -> dict[str, Any]:
    """What the evidence pages' ballistics partials call (linked cases, entries of an item)."""
    return {"ballistic_links_of": services.linked_cases, "ballistic_entries_of": services.entries_of_item,
            "ballistics_reader": lambda: bool(g.get("qms_roles", frozenset()) & READ),
            "ballistics_writer": lambda: bool(g.get("qms_roles", frozenset()) & WRITE)}



def _can_act() -> bool:
    return bool(g.qms_roles & WRITE)


@bp.get("/comparisons")
@requires(READ)
def entries():  # type: ignore[no-untyped-def]
    return render_template("comparisons/entries.html", entries=services.entries(), links=services.links(),
                           waiting=services.awaiting_verification(g.qms_user), can_act=_can_act())


@bp.get("/comparisons/calibration")
@requires(READ)
def unit_calibration():  # type: ignore[no-untyped-def]
    """The unit's score-to-LR calibration: what it was fitted on and how it performs cross-validated."""
    return render_template("comparisons/calibration.html", kinds=calibration.unit_calibrations(g.qms_unit_id))


def _entry_form() -> EntryForm:
    form = EntryForm()
    form.item_id.choices = [SelectChoice(str(i.id), _("%(case)s / exhibit %(exhibit)s: %(description)s",
                                                      case=i.case.case_number, exhibit=i.exhibit_number,
                                                      description=i.description[:60]))
                            for i in services.imageable_items()
                            if holds_for_imaging(i, g.qms_user)]  # only items the uploader holds
    form.device_id.choices = [SelectChoice(str(found.id), f"{found.label} ({equipment.status_label(state)})")
                              for found, state in equipment.imaging_devices(g.qms_unit_id)]
    if request.method == "GET" and request.args.get("item_id"):
        form.item_id.data = request.args.get("item_id", type=optional_record_id)
    return form


@bp.get("/comparisons/entries/new")
@requires(WRITE)
def entry_new():  # type: ignore[no-untyped-def]
    return render_template("comparisons/entry_new.html", form=_entry_form())


@bp.post("/comparisons/entries/new")
@requires(WRITE)
def entry_create():  # type: ignore[no-untyped-def]
    form = _entry_form()
    check_form(form)
    item = db.session.get(Item, form.item_id.data)
    if item is None:
        raise EntryError(_("Choose a custody item of this unit."))
    entry = services.add_entry(
        item, actor=g.qms_user, data=form.scan.data.read(services.upload_limit() + 1),
        filename=form.scan.data.filename or "", calibre=form.calibre.data or "",
        firearm_make=form.firearm_make.data or "", firearm_model=form.firearm_model.data or "",
        device_id=form.device_id.data, settings={"description": form.settings.data} if form.settings.data else {},
        pixel_size_um=float(form.pixel_size_um.data) if form.pixel_size_um.data else None)
    flash(_("Scan stored and queued for correlation against the unit's database."), "success")
    return redirect(url_for("comparisons.entry", entry_id=entry.id))


@bp.get("/comparisons/entries/<int:entry_id>")
@requires(READ)
def entry(entry_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(BallisticEntry, entry_id, "ballistic entry")
    job = services.latest_job(record)
    candidates = services.candidates_of(job) if job else []
    return render_template("comparisons/entry.html", entry=record, job=job, jobs=services.jobs_of(record),
                           candidates=candidates, images=services.images_states(job, candidates) if job else {},
                           derived=services.derived_of(record), can_act=_can_act(),
                           imported=exchange.origin_of(record), setting_labels=SETTING_LABELS,
                           device_status=label_of(equipment.STATUS_LABELS, record.device_status))


@bp.get("/comparisons/entries/<int:entry_id>/original")
@requires(READ)
def original(entry_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(BallisticEntry, entry_id, "ballistic entry")
    try:
        data = unit_index.original_bytes(record)
    except (ObjectMissing, ObjectCorrupted) as error:
        abort(409, description=_("The original cannot be served: %(reason)s. Report it to the quality manager.",
                                 reason=error))
    name = secure_filename(record.original_name) or f"entry-{record.id}.{record.original_type}"
    return Response(data, mimetype=unit_index.MEDIA_TYPES.get(record.original_type, "application/octet-stream"),
                    headers={"Content-Disposition": f"attachment; filename={name}",
                             "X-Content-SHA256": record.original_sha256})


@bp.post("/comparisons/entries/<int:entry_id>/correlate")
@requires(READ, WRITE)
def correlate(entry_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(BallisticEntry, entry_id, "ballistic entry")
    services.enqueue_correlation(record, requested_by=g.qms_user)
    flash(_("A new search against the unit's database is queued."), "success")
    return redirect(url_for("comparisons.entry", entry_id=record.id))


@bp.get("/comparisons/jobs/<int:job_id>")
@requires(READ)
def job_state(job_id: int):  # type: ignore[no-untyped-def]
    return jsonify(jobs.state_of(record_or_404(CorrelationJob, job_id, "correlation job")))


# --- review ---------------------------------------------------------------------------------------------

@bp.get("/comparisons/candidates/<int:candidate_id>")
@requires(READ)
def review(candidate_id: int):  # type: ignore[no-untyped-def]
    candidate = record_or_404(Candidate, candidate_id, "candidate")
    query = candidate.job.entry
    others = services.candidates_of(candidate.job)
    position = next(i for i, c in enumerate(others) if c.id == candidate.id)
    views = explain.views_of(candidate)
    pair = services.pair_view(query.id, candidate.entry_id, g.qms_user, g.qms_unit_id) if candidate.entry_id else None
    return render_template("comparisons/review.html", candidate=candidate, query=query, others=others,
                           previous=others[position - 1] if position > 0 else None,
                           next=others[position + 1] if position + 1 < len(others) else None,
                           images_ready=explain.complete(views), image_facts=explain.facts(views), pair=pair,
                           images_state=services.images_states(candidate.job, others)[candidate.id],
                           form=DecisionForm(),
                           verbal="" if candidate.log10_lr is None else calibration.verbal_label(candidate.log10_lr),
                           can_act=_can_act())


@bp.post("/comparisons/candidates/<int:candidate_id>/images")
@requires(READ, WRITE)
@page_again("comparisons.review")
def make_images(candidate_id: int):  # type: ignore[no-untyped-def]
    candidate = record_or_404(Candidate, candidate_id, "candidate")
    explain.ensure_views(candidate, candidate.job.entry)
    return redirect(url_for("comparisons.review", candidate_id=candidate.id))


@bp.get("/comparisons/candidates/<int:candidate_id>/<kind>.png")
@requires(READ)
def view_image(candidate_id: int, kind: str):  # type: ignore[no-untyped-def]
    candidate = record_or_404(Candidate, candidate_id, "candidate")
    row = db.session.scalar(db.select(DerivedObject).where(DerivedObject.candidate_id == candidate.id,
                                                           DerivedObject.kind == kind))
    if row is None:
        abort(404, description=_("No such image for this candidate; make its review images on the review page."))
    try:
        data = services.object_store().get(row.sha256)
    except (ObjectMissing, ObjectCorrupted) as error:
        abort(409, description=_("The image cannot be served: %(reason)s.", reason=error))
    return Response(data, mimetype=row.media_type, headers={"X-Content-SHA256": row.sha256,
                                                            "Cache-Control": "private, max-age=3600"})


@bp.post("/comparisons/candidates/<int:candidate_id>/decision")
@requires(READ, WRITE)
@page_again("comparisons.review")
def decide(candidate_id: int):  # type: ignore[no-untyped-def]
    candidate = record_or_404(Candidate, candidate_id, "candidate")
    form = DecisionForm()
    check_form(form)
    # A wrong password is refused with its attempt kept (the login throttle counts it): the handler commits it.
    decision = services.record_decision(candidate, examiner=g.qms_user, unit_id=g.qms_unit_id,
                                        conclusion=form.conclusion.data, note=form.note.data or "",
                                        password=form.password.data)
    flash(_("Decision recorded: %(conclusion)s.", conclusion=decision.conclusion_label.lower()), "success")
    return redirect(url_for("comparisons.review", candidate_id=candidate.id))


@bp.get("/comparisons/verification")
@requires(READ)
def verification():  # type: ignore[no-untyped-def]
    return render_template("comparisons/verification.html", waiting=services.awaiting_verification(g.qms_user))


from qms.comparisons import exchange_views  # noqa: E402,F401
