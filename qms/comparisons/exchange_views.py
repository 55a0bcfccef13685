"""Exchange pages (export, import, partner keys) and the lead-report download, on the comparisons blueprint."""
from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, url_for

from qms.auth.models import Unit
from qms.auth.permissions import requires
from qms.comparisons import bp, exchange, lead_report
from qms.comparisons.exchange import ExchangeError, PackageRefused
from qms.comparisons.exchange_forms import ExportForm, ImportForm, PartnerKeyForm, RevokeKeyForm
from qms.comparisons.exchange_models import PartnerKey
from qms.comparisons.models import Candidate, CaseLink
from qms.extensions import db
from qms.transactions import mark_failed

READ, EXCHANGERS = exchange.READ, exchange.EXCHANGERS
KEY_READERS, KEY_KEEPERS = exchange.KEY_READERS, exchange.KEY_KEEPERS


def _exchange_page(*, status: int = 200, export_form: ExportForm | None = None,
                   import_form: ImportForm | None = None, outcome: Any = None) -> tuple[str, int]:
    if status >= 400:
        mark_failed()
        db.session.expire_all()  # show what is stored, not what the refused action prepared
    export_form = export_form or ExportForm(prefix="export")
    entries = exchange.exportable_entries()
    export_form.entry_ids.choices = [(e.id, e.label) for e in entries]
    return render_template("comparisons/exchange.html", export_form=export_form,
                           import_form=import_form or ImportForm(prefix="import"), entries=entries,
                           packages=exchange.packages(), own_key=exchange.own_public_key(), outcome=outcome,
                           can_exchange=bool(g.qms_roles & EXCHANGERS)), status


def _unit() -> Unit:
    return db.session.get(Unit, g.qms_unit_id)


def _errors(form: Any) -> str:
    return "; ".join(" ".join(errors) for errors in form.errors.values())


@bp.get("/comparisons/exchange")
@requires(READ)
def exchange_page():  # type: ignore[no-untyped-def]
    return _exchange_page()


@bp.post("/comparisons/exchange/export")
@requires(READ, EXCHANGERS)
def exchange_export():  # type: ignore[no-untyped-def]
    form = ExportForm(prefix="export")
    if not form.validate_on_submit():
        flash(_errors(form) or "Choose at least one entry to export.", "error")
        return _exchange_page(status=400, export_form=form)
    try:
        package, data = exchange.export_entries(exchange.entries_by_id(form.entry_ids.data or []),
                                                unit=_unit(), actor=g.qms_user)
    except ExchangeError as error:
        flash(str(error), "error")
        return _exchange_page(status=error.status, export_form=form)
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f"attachment; filename=exchange-{_unit().code}-{package.sha256[:12]}.zip",
        "X-Content-SHA256": package.sha256})


@bp.post("/comparisons/exchange/import")
@requires(READ, EXCHANGERS)
def exchange_import():  # type: ignore[no-untyped-def]
    form = ImportForm(prefix="import")
    if not form.validate_on_submit():
        flash(_errors(form) or "Choose the package file.", "error")
        return _exchange_page(status=400, import_form=form)
    data = form.package.data.read(exchange.limits().max_bytes + 1)
    try:
        outcome = exchange.import_package(data, unit=_unit(), actor=g.qms_user)
    except (PackageRefused, ExchangeError) as error:
        flash(f"Package refused, nothing was stored: {error}", "error")
        return _exchange_page(status=getattr(error, "status", 400), import_form=form)
    flash(f"Imported {len(outcome.imported)} entr{'y' if len(outcome.imported) == 1 else 'ies'} from "
          f"{outcome.package.source_unit_name}; they are in this unit's index and their searches are queued."
          + (f" {len(outcome.skipped)} already here were skipped." if outcome.skipped else ""), "success")
    return _exchange_page(outcome=outcome)


@bp.route("/comparisons/exchange/keys", methods=["GET", "POST"])
@requires(KEY_READERS, KEY_KEEPERS)
def partner_keys():  # type: ignore[no-untyped-def]
    form, status = PartnerKeyForm(prefix="key"), 200
    if form.is_submitted():
        if form.validate():
            try:
                key = exchange.add_partner_key(unit_id=g.qms_unit_id, name=form.name.data,
                                               key_text=form.public_key.data, actor=g.qms_user)
            except ExchangeError as error:
                form.public_key.errors = [str(error)]
            else:
                flash(f"Packages signed by {key.name} (fingerprint {key.fingerprint}) are now accepted.", "success")
                return redirect(url_for("comparisons.partner_keys"))
        mark_failed()
        status = 400
    return render_template("comparisons/exchange_keys.html", form=form, keys=exchange.partner_keys(),
                           own_key=exchange.own_public_key(), revoke_form=RevokeKeyForm(prefix="revoke"),
                           can_keep=bool(g.qms_roles & KEY_KEEPERS)), status


@bp.post("/comparisons/exchange/keys/revoke")
@requires(KEY_KEEPERS)
def revoke_partner_key():  # type: ignore[no-untyped-def]
    form = RevokeKeyForm(prefix="revoke")
    key = exchange.scoped_get(PartnerKey, form.key_id.data) if form.validate_on_submit() else None
    if key is None:  # scoped: another unit's key is None too
        mark_failed()
        abort(404 if form.key_id.data else 400, description="No such partner key in this unit.")
    try:
        exchange.revoke_partner_key(key, actor=g.qms_user)
    except ExchangeError as error:
        mark_failed()
        abort(409, description=str(error))
    flash(f"The key of {key.name} is revoked: its packages are refused from now on.", "success")
    return redirect(url_for("comparisons.partner_keys"))


@bp.get("/comparisons/links/<int:link_id>/report.pdf")
@requires(READ)
def lead_report_pdf(link_id: int):  # type: ignore[no-untyped-def]
    link = exchange.scoped_get(CaseLink, link_id)  # scoped: another unit's link is None
    if link is None:
        abort(404, description="No such case link.")
    pdf = lead_report.lead_report_pdf(link, printed_by=g.qms_user)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename=lead-report-{link.id}.pdf"})


@bp.get("/comparisons/candidates/<int:candidate_id>/lead-report.pdf")
@requires(READ)
def pending_report_pdf(candidate_id: int):  # type: ignore[no-untyped-def]
    candidate = exchange.scoped_get(Candidate, candidate_id)
    if candidate is None:
        abort(404, description="No such candidate.")
    try:
        pdf = lead_report.pending_report_pdf(candidate, printed_by=g.qms_user, unit_id=g.qms_unit_id)
    except lead_report.ReportRefused as error:
        mark_failed()
        abort(error.status, description=str(error))
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename=pending-lead-{candidate.id}.pdf"})
