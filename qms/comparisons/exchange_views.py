"""Exchange pages (export, import, partner keys) and the lead-report download, on the comparisons blueprint."""
from __future__ import annotations

from typing import Any

from flask import Response, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from qms.auth.models import Unit
from qms.auth.permissions import requires
from qms.comparisons import bp, exchange, lead_report
from qms.comparisons.exchange_forms import ExportForm, ImportForm, PartnerKeyForm, RevokeKeyForm
from qms.comparisons.exchange_models import PartnerKey
from qms.comparisons.models import Candidate, CaseLink
from qms.errors import check_form, page_again
from qms.extensions import db
from qms.records import record_or_404

READ, EXCHANGERS = exchange.READ, exchange.EXCHANGERS
KEY_READERS, KEY_KEEPERS = exchange.KEY_READERS, exchange.KEY_KEEPERS


def _exchange_page(outcome: Any = None) -> str:
    """The exchange page; its forms hold what was posted when it is shown again after a refusal."""
    export_form = ExportForm(prefix="export")
    entries = exchange.exportable_entries()
    export_form.entry_ids.choices = [(e.id, e.label) for e in entries]
    return render_template("comparisons/exchange.html", export_form=export_form,
                           import_form=ImportForm(prefix="import"), entries=entries,
                           packages=exchange.packages(), own_key=exchange.own_public_key(), outcome=outcome,
                           can_exchange=bool(g.qms_roles & EXCHANGERS))


def _unit() -> Unit:
    return db.session.get(Unit, g.qms_unit_id)


@bp.get("/comparisons/exchange")
@requires(READ)
def exchange_page():  # type: ignore[no-untyped-def]
    return _exchange_page()


@bp.post("/comparisons/exchange/export")
@requires(READ, EXCHANGERS)
@page_again("comparisons.exchange_page")
def exchange_export():  # type: ignore[no-untyped-def]
    form = ExportForm(prefix="export")
    check_form(form)
    package, data = exchange.export_entries(exchange.entries_by_id(form.entry_ids.data or []), unit=_unit(),
                                            actor=g.qms_user)
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f"attachment; filename=exchange-{_unit().code}-{package.sha256[:12]}.zip",
        "X-Content-SHA256": package.sha256})


@bp.post("/comparisons/exchange/import")
@requires(READ, EXCHANGERS)
@page_again("comparisons.exchange_page")
def exchange_import():  # type: ignore[no-untyped-def]
    form = ImportForm(prefix="import")
    check_form(form)
    data = form.package.data.read(exchange.limits().max_bytes + 1)  # a larger file is refused by the size check
    outcome = exchange.import_package(data, unit=_unit(), actor=g.qms_user)
    flash(ngettext("Imported %(num)d entry from %(source)s; it is in this unit's index and its search is queued.",
                   "Imported %(num)d entries from %(source)s; they are in this unit's index and their searches "
                   "are queued.", len(outcome.imported), source=outcome.package.source_unit_name)
          + (" " + _("%(count)d already here were skipped.", count=len(outcome.skipped)) if outcome.skipped else ""),
          "success")
    return _exchange_page(outcome=outcome)


def _partner_keys_page() -> str:
    return render_template("comparisons/exchange_keys.html", form=PartnerKeyForm(prefix="key"),
                           keys=exchange.partner_keys(), own_key=exchange.own_public_key(),
                           revoke_form=RevokeKeyForm(prefix="revoke"), can_keep=bool(g.qms_roles & KEY_KEEPERS))


@bp.get("/comparisons/exchange/keys")
@requires(KEY_READERS)
def partner_keys():  # type: ignore[no-untyped-def]
    return _partner_keys_page()


@bp.post("/comparisons/exchange/keys")
@requires(KEY_READERS, KEY_KEEPERS)
def add_partner_key():  # type: ignore[no-untyped-def]
    form = PartnerKeyForm(prefix="key")
    check_form(form)
    key = exchange.add_partner_key(unit_id=g.qms_unit_id, name=form.name.data, key_text=form.public_key.data,
                                   actor=g.qms_user)
    flash(_("Packages signed by %(name)s (fingerprint %(fingerprint)s) are now accepted.", name=key.name,
            fingerprint=key.fingerprint), "success")
    return redirect(url_for("comparisons.partner_keys"))


@bp.post("/comparisons/exchange/keys/revoke")
@requires(KEY_KEEPERS)
@page_again("comparisons.partner_keys")
def revoke_partner_key():  # type: ignore[no-untyped-def]
    form = RevokeKeyForm(prefix="revoke")
    check_form(form)
    key = record_or_404(PartnerKey, form.key_id.data, "partner key")
    exchange.revoke_partner_key(key, actor=g.qms_user)
    flash(_("The key of %(name)s is revoked: its packages are refused from now on.", name=key.name), "success")
    return redirect(url_for("comparisons.partner_keys"))


@bp.get("/comparisons/links/<int:link_id>/report.pdf")
@requires(READ)
def lead_report_pdf(link_id: int):  # type: ignore[no-untyped-def]
    link = record_or_404(CaseLink, link_id, "case link")
    pdf = lead_report.lead_report_pdf(link, printed_by=g.qms_user)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename=lead-report-{link.id}.pdf"})


@bp.get("/comparisons/candidates/<int:candidate_id>/lead-report.pdf")
@requires(READ)
@page_again("comparisons.review")  # refused (not a lead, not yours, confirmed): the review says why
def pending_report_pdf(candidate_id: int):  # type: ignore[no-untyped-def]
    candidate = record_or_404(Candidate, candidate_id, "candidate")
    pdf = lead_report.pending_report_pdf(candidate, printed_by=g.qms_user, unit_id=g.qms_unit_id)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename=pending-lead-{candidate.id}.pdf"})
