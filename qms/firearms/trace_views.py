"""Trace request pages on the firearms blueprint: the requests of the unit, a new request, importing a
partner's request or an answer, one request with its log, and signing an answer.

Refusals are raised by `qms.firearms.trace` and answered by the one handler in `qms.errors`.
"""
from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from qms.auth.models import Unit
from qms.auth.permissions import requires
from qms.comparisons import exchange
from qms.errors import check_form, page_again
from qms.extensions import db
from qms.firearms import bp, leads, services, trace
from qms.firearms.roles import READERS, RECORDERS
from qms.firearms.trace_forms import TraceAnswerForm, TraceImportForm, TraceRequestForm
from qms.firearms.trace_models import STEP_LABELS, TraceDirection, TraceStep

LABELS = {"types": services.TYPE_LABELS, "printed": services.PRINTED_LABELS, "conversions": services.CONVERSION_LABELS,
          "event_labels": services.EVENT_LABELS, "categories": services.CATEGORY_LABELS, "bases": leads.BASIS_LABELS}


def _step_label(step: str) -> str:
    """Looked up when shown, so each reader sees the step in their language."""
    label = STEP_LABELS.get(step)  # type: ignore[call-overload]
    return str(label) if label is not None else step


def _unit() -> Unit:
    return db.session.get(Unit, g.qms_unit_id)


def _request_form() -> TraceRequestForm:
    form = TraceRequestForm(prefix="trace")
    form.partner.choices = [SelectChoice(p.fingerprint, p.name) for p in trace.partners(g.qms_unit_id)]
    return form


def _download(data: bytes, sha256: str, name: str) -> Response:
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f"attachment; filename={name}-{_unit().code}-{sha256[:12]}.zip",
        "X-Content-SHA256": sha256})


@bp.get("/firearms/trace")
@requires(READERS)
def trace_page():  # type: ignore[no-untyped-def]
    return render_template("firearms/trace.html", rows=trace.requests(g.qms_unit_id), form=_request_form(),
                           import_form=TraceImportForm(prefix="import"), step_label=_step_label,
                           partner_label=trace.partner_label,
                           outgoing=TraceDirection.OUTGOING.value, can_trace=bool(g.qms_roles & RECORDERS))


@bp.post("/firearms/trace")
@requires(READERS, RECORDERS)
@page_again("firearms.trace_page")
def trace_create():  # type: ignore[no-untyped-def]
    form = _request_form()
    check_form(form)
    query = trace.Query(serial_number=form.serial_number.data or "", make=form.make.data or "",
                        model=form.model.data or "", calibre=form.calibre.data or "", reason=form.reason.data or "",
                        reference=form.reference.data or "")
    request, data = trace.create_request(_unit(), g.qms_user, query, partner=form.partner.data or "")
    return _download(data, request.request_sha256, "trace-request")


@bp.post("/firearms/trace/import")
@requires(READERS, RECORDERS)
@page_again("firearms.trace_page")
def trace_import():  # type: ignore[no-untyped-def]
    form = TraceImportForm(prefix="import")
    check_form(form)
    data = form.package.data.read(exchange.limits().max_bytes + 1)  # a larger file is refused by the size check
    imported = trace.import_package(data, unit=_unit(), actor=g.qms_user)
    if imported.step is TraceStep.REQUEST_RECEIVED:
        flash(_("Trace request from %(unit)s received: review what the register holds and sign the answer.",
                unit=trace.partner_label(imported.request)), "success")
    elif imported.records:
        flash(_("Answer received from %(partner)s: %(n)d record(s) of their register.",
                partner=trace.partner_label(imported.request), n=len(imported.records)), "warning")
    else:
        flash(_("Answer received from %(partner)s: no record of this firearm.",
                partner=trace.partner_label(imported.request)), "success")
    return redirect(url_for("firearms.trace_request", trace_id=imported.request.id))


@bp.get("/firearms/trace/<int:trace_id>")
@requires(READERS)
def trace_request(trace_id: int):  # type: ignore[no-untyped-def]
    found = trace.get(trace_id, g.qms_unit_id)
    outgoing = found.direction == TraceDirection.OUTGOING.value
    log = trace.log_of(found)
    answered = any(entry.step == TraceStep.ANSWER_SENT.value for entry in log)
    records = [(record, trace.register_matches(record)) for record in trace.partner_records(found)]
    return render_template("firearms/trace_request.html", found=found, outgoing=outgoing, log=log,
                           step_label=_step_label, partner_label=trace.partner_label, answered=answered,
                           records=records,
                           matches=[] if outgoing or answered else trace.matches(found),
                           standing_of=services.standing_of, status_label=services.status_label,
                           flags=services.categories_of, form=TraceAnswerForm(prefix="answer"),
                           can_trace=bool(g.qms_roles & RECORDERS), **LABELS)


@bp.post("/firearms/trace/<int:trace_id>/answer")
@requires(READERS, RECORDERS)
@page_again("firearms.trace_request")
def trace_answer(trace_id: int):  # type: ignore[no-untyped-def]
    found = trace.get(trace_id, g.qms_unit_id)
    check_form(TraceAnswerForm(prefix="answer"))
    entry, data = trace.answer(found, _unit(), g.qms_user)
    return _download(data, entry.package_sha256, "trace-answer")


@bp.get("/firearms/trace/<int:trace_id>/package.zip")
@requires(RECORDERS)
def trace_package(trace_id: int):  # type: ignore[no-untyped-def]
    entry, data = trace.sent_package(trace.get(trace_id, g.qms_unit_id))
    name = "trace-request" if entry.step == TraceStep.REQUEST_SENT.value else "trace-answer"
    return _download(data, entry.package_sha256, name)
