"""Complaints and appeals pages: each view reads the request, calls one service, renders or redirects."""
from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from qms.audits.models import Audit
from qms.auth.permissions import requires
from qms.errors import check_form, page_again
from qms.extensions import db
from qms.main.services import add_panel_provider
from qms.quality import bp
from qms.quality import complaints as services
from qms.quality.complaints_forms import ComplaintNonconformityForm, ComplaintForm, ComplaintStepForm
from qms.quality.complaints_models import Complaint, Step
from qms.records import record_or_404


@bp.record_once
def _dashboard_panel(state: BlueprintSetupState) -> None:
    # Added here, not found in qms.quality.services: that module may not import this one (a cycle).
    add_panel_provider(state.app, services.dashboard_panels)


def _receive_form() -> ComplaintForm:
    form = ComplaintForm()
    audits = db.session.scalars(select(Audit).where(Audit.unit_id == g.qms_unit_id).order_by(Audit.id.desc()))
    form.audit_id.choices = [SelectChoice("", _("(none)"))] + [SelectChoice(a.id, a.title) for a in audits]
    return form


@bp.get("/quality/complaints")
@requires(services.READERS)
def complaint_list():  # type: ignore[no-untyped-def]
    state = request.args.get("state", "")
    return render_template("quality/complaints_list.html", rows=services.complaints(g.qms_unit_id, state=state),
                           state=state, states=services.STATE_LABELS, form=_receive_form())


@bp.post("/quality/complaints")
@requires(services.READERS, services.RECEIVERS)
@page_again("quality.complaint_list")
def complaint_new():  # type: ignore[no-untyped-def]
    form = _receive_form()
    check_form(form)
    record = services.receive(g.qms_unit_id, g.qms_user, services.Received(
        kind=form.kind.data, complainant=form.complainant.data, contact=form.contact.data or "",
        channel=form.channel.data, received_on=form.received_on.data, case_number=form.case_number.data or "",
        audit_id=form.audit_id.data, report_ref=form.report_ref.data or "", description=form.description.data))
    flash(_("%(number)s recorded.", number=record.number), "success")
    return redirect(url_for("quality.complaint", complaint_id=record.id))


@bp.get("/quality/complaints/<int:complaint_id>")
@requires(services.READERS)
def complaint(complaint_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Complaint, complaint_id, "complaint")
    found = services.progress(record)
    form = ComplaintStepForm()
    # Readers without a role that may record a step see the history, not a form the service would refuse.
    may_act = bool(g.qms_roles & services.STEP_ROLES)
    form.step.choices = [SelectChoice(s.value, services.STATE_LABELS[s])
                         for s in services.NEXT[found.state]] if may_act else []
    return render_template("quality/complaints_detail.html", complaint=record, progress=found,
                           events=services.events_of(record), form=form,
                           nc_form=ComplaintNonconformityForm() if g.qms_roles & services.HANDLERS else None,
                           labels=services.STATE_LABELS, kind_label=services.KIND_LABELS[record.kind],
                           channel_label=services.CHANNEL_LABELS[record.channel], closed=found.state == Step.CLOSED)


@bp.post("/quality/complaints/<int:complaint_id>/steps")
@requires(services.READERS, services.STEP_ROLES)  # the service refuses by step: role, and involvement
@page_again("quality.complaint")
def complaint_step(complaint_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Complaint, complaint_id, "complaint")
    form = ComplaintStepForm()
    check_form(form)
    services.record_step(record, g.qms_user, form.step.data, form.text.data)
    flash(_("Step recorded."), "success")
    return redirect(url_for("quality.complaint", complaint_id=complaint_id))


@bp.post("/quality/complaints/<int:complaint_id>/nonconformity")
@requires(services.READERS, services.HANDLERS)
@page_again("quality.complaint")
def complaint_nonconformity(complaint_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Complaint, complaint_id, "complaint")
    form = ComplaintNonconformityForm()
    check_form(form)
    found = services.open_nonconformity(record, g.qms_user, title=form.title.data, risk_grade=form.risk_grade.data)
    flash(_("Nonconformity %(number)s opened.", number=found.number), "success")
    return redirect(url_for("quality.complaint", complaint_id=complaint_id))


@bp.get("/quality/complaints/<int:complaint_id>/notice.pdf")
@requires(services.READERS)
def complaint_notice(complaint_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Complaint, complaint_id, "complaint")
    return Response(services.notice_pdf(record), mimetype="application/pdf",
                    headers={"Content-Disposition": f"inline; filename={record.number}.pdf"})
