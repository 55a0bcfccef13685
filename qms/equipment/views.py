"""Pages of the equipment domain: the register, an instrument with its records, impact reviews.

Refusals are raised by the services and answered by the one handler in `qms.errors` (a flashed
message and the page again); no view catches them.
"""
from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.utils import secure_filename
from wtforms.fields.choices import SelectChoice

from qms.auth.models import Role
from qms.auth.permissions import requires
from qms.equipment import bp, services
from qms.equipment.forms import (RECORD_KINDS, RESULT_LABELS, AssessForm, CloseReviewForm, EditInstrumentForm,
                                 InstrumentForm, RecordForm)
from qms.equipment.models import EquipmentRecord
from qms.equipment.services import ASSESSMENT_LABELS, KINDS, MANAGERS, READERS, RECORDERS
from qms.errors import NotFound, check_form, page_again
from qms.extensions import db
from qms.people import services as people

ASSESSORS = MANAGERS | {Role.EXAMINER}  # as `services.assess` allows


def _with_people(form: InstrumentForm) -> InstrumentForm:
    form.responsible_id.choices = [SelectChoice("", _("(nobody)"))] + [
        SelectChoice(person.id, person.full_name) for person in people.members(g.qms_unit_id)]
    return form


def _details(form: InstrumentForm) -> services.Details:
    return services.Details(
        identifier=form.identifier.data or "", kind=form.kind.data or "", name=form.name.data or "",
        make=form.make.data or "", model=form.model.data or "", serial_number=form.serial_number.data or "",
        location=form.location.data or "", responsible_id=form.responsible_id.data or None,
        affects_results=bool(form.affects_results.data),
        calibration_interval_months=form.calibration_interval_months.data,
        calibration_provider=form.calibration_provider.data or "", traceability=form.traceability.data or "",
        check_interval_days=form.check_interval_days.data,
        maintenance_interval_months=form.maintenance_interval_months.data)


# --- the register -------------------------------------------------------------------------------

@bp.get("/equipment")
@requires(READERS)
def register():  # type: ignore[no-untyped-def]
    return render_template("equipment/register.html", rows=services.register(g.qms_unit_id),
                           states=services.statuses(g.qms_unit_id), kinds=KINDS, label=services.status_label,
                           form=_with_people(InstrumentForm(prefix="add")),
                           open_reviews=services.reviews(g.qms_unit_id, open_only=True))


@bp.post("/equipment")
@requires(READERS, MANAGERS)
def add():  # type: ignore[no-untyped-def]
    form = _with_people(InstrumentForm(prefix="add"))
    check_form(form)
    found = services.add(g.qms_unit_id, g.qms_user, _details(form))
    flash(_("%(id)s is in the register. Record its calibration to put it in service.", id=found.identifier),
          "success")
    return redirect(url_for("equipment.instrument", equipment_id=found.id))


# --- one instrument -----------------------------------------------------------------------------

@bp.get("/equipment/<int:equipment_id>")
@requires(READERS)
def instrument(equipment_id: int):  # type: ignore[no-untyped-def]
    found = services.get(equipment_id, g.qms_unit_id)
    edit = _with_people(EditInstrumentForm(prefix="edit", obj=found if request.method == "GET" else None))
    return render_template("equipment/instrument.html", found=found, state=services.status_of(found),
                           label=services.status_label, kinds=KINDS, record_kinds=RECORD_KINDS,
                           records=services.records_of(found), edit=edit, record_form=RecordForm(prefix="record"),
                           reviews=[r for r in services.reviews(g.qms_unit_id) if r.equipment_id == found.id])


@bp.post("/equipment/<int:equipment_id>/edit")
@requires(READERS, MANAGERS)
@page_again("equipment.instrument")
def update(equipment_id: int):  # type: ignore[no-untyped-def]
    found = services.get(equipment_id, g.qms_unit_id)
    form = _with_people(EditInstrumentForm(prefix="edit"))
    check_form(form)
    services.update(found, g.qms_user, _details(form), reason=form.reason.data or "")
    flash(_("%(id)s is updated.", id=found.identifier), "success")
    return redirect(url_for("equipment.instrument", equipment_id=found.id))


@bp.post("/equipment/<int:equipment_id>/records")
@requires(READERS, RECORDERS)
@page_again("equipment.instrument")
def add_record(equipment_id: int):  # type: ignore[no-untyped-def]
    found = services.get(equipment_id, g.qms_unit_id)
    form = RecordForm(prefix="record")
    check_form(form)
    upload = form.certificate.data
    data = upload.read(services.MAX_CERTIFICATE_BYTES + 1) if upload else None
    record = services.add_record(found, g.qms_user, services.RecordInput(
        kind=form.kind.data or "", performed_on=form.performed_on.data, result=form.result.data or "",
        next_due=form.next_due.data, performed_by=form.performed_by.data or "",
        certificate_number=form.certificate_number.data or "", notes=form.notes.data or "",
        certificate=data, certificate_name=(upload.filename or "") if upload else ""))
    state = services.status_of(found)
    flash(_("Recorded. %(id)s is now: %(status)s.", id=found.identifier, status=services.status_label(state)),
          "success" if state.status.usable else "warning")
    if record.failed and services.reviews(g.qms_unit_id, open_only=True):
        flash(_("An impact review lists the work done with it since its last good calibration or check."), "warning")
    return redirect(url_for("equipment.instrument", equipment_id=found.id))


@bp.get("/equipment/records/<int:record_id>/certificate")
@requires(READERS)
def certificate(record_id: int):  # type: ignore[no-untyped-def]
    record = db.session.get(EquipmentRecord, record_id)
    if record is None or record.unit_id != g.qms_unit_id or not record.certificate_sha256:
        raise NotFound(_("No such certificate in this unit."))
    from qms.storage import object_store

    name = secure_filename(record.certificate_name) or "certificate.pdf"
    return Response(object_store().get(record.certificate_sha256), mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


# --- impact reviews -----------------------------------------------------------------------------

@bp.get("/equipment/reviews")
@requires(READERS)
def reviews():  # type: ignore[no-untyped-def]
    return render_template("equipment/reviews.html", reviews=services.reviews(g.qms_unit_id))


@bp.get("/equipment/reviews/<int:review_id>")
@requires(READERS)
def review(review_id: int):  # type: ignore[no-untyped-def]
    found = services.review(review_id, g.qms_unit_id)
    return render_template("equipment/review.html", review=found, lines=services.review_lines(found),
                           assessments=ASSESSMENT_LABELS, record_kinds=RECORD_KINDS, result_labels=RESULT_LABELS,
                           assess_form=AssessForm(prefix="assess"),
                           close_form=CloseReviewForm(prefix="close"))


@bp.post("/equipment/reviews/<int:review_id>/assess")
@requires(READERS, ASSESSORS)
@page_again("equipment.review")
def assess(review_id: int):  # type: ignore[no-untyped-def]
    found = services.review(review_id, g.qms_unit_id)
    form = AssessForm(prefix="assess")
    check_form(form)
    services.assess(found, g.qms_user, work_kind=form.work_kind.data or "", work_id=form.work_id.data,
                    assessment=form.assessment.data or "", note=form.note.data or "")
    flash(_("Assessment recorded."), "success")
    return redirect(url_for("equipment.review", review_id=found.id))


@bp.post("/equipment/reviews/<int:review_id>/close")
@requires(READERS, MANAGERS)
@page_again("equipment.review")
def close(review_id: int):  # type: ignore[no-untyped-def]
    found = services.review(review_id, g.qms_unit_id)
    form = CloseReviewForm(prefix="close")
    check_form(form)
    services.close_review(found, g.qms_user, conclusion=form.conclusion.data or "")
    flash(_("The impact review is closed."), "success")
    return redirect(url_for("equipment.review", review_id=found.id))

