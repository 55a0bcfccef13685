"""Pages of the firearm register: the register with its filters, a record with its history and leads, the
leads to decide, and the statistics.

Refusals are raised by the services and answered by the one handler in `qms.errors` (a flashed
message and the page again); no view catches them.
"""
from __future__ import annotations

from typing import Any

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from qms.auth.permissions import requires
from qms.db import today
from qms.errors import check_form, page_again
from qms.firearms import ballistics, bp, leads, services, statistics, statistics_charts
from qms.firearms.forms import AddFirearmForm, EditFirearmForm, EventForm, FirearmForm, LeadDecisionForm
from qms.firearms.models import Firearm
from qms.firearms.roles import READERS, RECORDERS

LABELS = {"types": services.TYPE_LABELS, "printed": services.PRINTED_LABELS, "conversions": services.CONVERSION_LABELS,
          "event_labels": services.EVENT_LABELS, "categories": services.CATEGORY_LABELS, "bases": leads.BASIS_LABELS,
          "outcomes": leads.OUTCOME_LABELS}


@bp.app_context_processor
def _partials() -> dict[str, Any]:
    """What the evidence case page's partial calls (`firearms/_case_fired_by.html`): the register's firearms
    that fired the case's casings. Registered here so that the evidence domain never imports the register."""
    return {"firearms_fired_by": ballistics.fired_by,
            "firearms_reader": lambda: bool(g.get("qms_roles", frozenset()) & READERS)}


def _with_items(form: FirearmForm, found: Firearm | None = None) -> FirearmForm:
    items = services.firearm_items(g.qms_unit_id)
    if found is not None and found.item is not None:
        items = [found.item, *items]
    form.item_id.choices = [SelectChoice("", _("(not in custody)"))] + [
        SelectChoice(item.id, f"{item.case.case_number} / {item.exhibit_number}: {item.description[:60]}")
        for item in items]
    return form


def _details(form: FirearmForm) -> services.Details:
    return services.Details(
        firearm_type=form.firearm_type.data or "", make=form.make.data or "", model=form.model.data or "",
        calibre=form.calibre.data or "", serial_number=form.serial_number.data or "",
        other_markings=form.other_markings.data or "", country_of_manufacture=form.country_of_manufacture.data or "",
        printed=form.printed.data or "", conversion=form.conversion.data or "", home_made=bool(form.home_made.data),
        modified=bool(form.modified.data), description=form.description.data or "", item_id=form.item_id.data or None)


def _filters() -> services.Filters:
    page = request.args.get("page", "1")
    return services.Filters(serial=request.args.get("serial", ""), text=request.args.get("q", ""),
                            firearm_type=request.args.get("type", ""), status=request.args.get("status", ""),
                            category=request.args.get("category", ""),
                            page=int(page) if page.isascii() and page.isdigit() and len(page) < 7 else 1)


# --- the register ---------------------------------------------------------------------------------------

@bp.get("/firearms")
@requires(READERS)
def register():  # type: ignore[no-untyped-def]
    filters = _filters()
    return render_template("firearms/register.html", page=services.register(g.qms_unit_id, filters),
                           filters=filters, form=_with_items(AddFirearmForm(prefix="add")),
                           open_leads=len(leads.leads(g.qms_unit_id, open_only=True)),
                           status_label=services.status_label, **LABELS)


@bp.post("/firearms")
@requires(READERS, RECORDERS)
def add():  # type: ignore[no-untyped-def]
    form = _with_items(AddFirearmForm(prefix="add"))
    check_form(form)
    first = None
    if form.event_kind.data:
        first = services.EventInput(kind=form.event_kind.data, occurred_on=form.event_on.data or today(),
                                    place=form.event_place.data or "", reporter=form.event_reporter.data or "",
                                    police_reference=form.event_police_reference.data or "")
    found = services.add(g.qms_unit_id, g.qms_user, _details(form), first)
    waiting = len(leads.leads_of(found))
    flash(_("%(label)s is in the register.", label=found.label), "success")
    if waiting:
        flash(_("It matches %(n)d record(s) of the register: see the leads below.", n=waiting), "warning")
    return redirect(url_for("firearms.firearm", firearm_id=found.id))


# --- one record -----------------------------------------------------------------------------------------

@bp.get("/firearms/<int:firearm_id>")
@requires(READERS)
def firearm(firearm_id: int):  # type: ignore[no-untyped-def]
    found = services.get(firearm_id, g.qms_unit_id)
    edit = _with_items(EditFirearmForm(prefix="edit", obj=found if request.method == "GET" else None), found)
    return render_template("firearms/firearm.html", found=found, standing=services.standing_of(found),
                           events=services.events_of(found), leads=leads.leads_of(found), other=leads.other_side,
                           linked=ballistics.linked_cases(found),
                           flags=services.categories_of(found), edit=edit, event_form=EventForm(prefix="event"),
                           status_label=services.status_label, **LABELS)


@bp.post("/firearms/<int:firearm_id>/edit")
@requires(READERS, RECORDERS)
@page_again("firearms.firearm")
def update(firearm_id: int):  # type: ignore[no-untyped-def]
    found = services.get(firearm_id, g.qms_unit_id)
    form = _with_items(EditFirearmForm(prefix="edit"), found)
    check_form(form)
    services.update(found, g.qms_user, _details(form), reason=form.reason.data or "")
    flash(_("The record is updated."), "success")
    return redirect(url_for("firearms.firearm", firearm_id=found.id))


@bp.post("/firearms/<int:firearm_id>/events")
@requires(READERS, RECORDERS)
@page_again("firearms.firearm")
def add_event(firearm_id: int):  # type: ignore[no-untyped-def]
    found = services.get(firearm_id, g.qms_unit_id)
    form = EventForm(prefix="event")
    check_form(form)
    services.add_event(found, g.qms_user, services.EventInput(
        kind=form.kind.data or "", occurred_on=form.occurred_on.data, place=form.place.data or "",
        reporter=form.reporter.data or "", police_reference=form.police_reference.data or "",
        notes=form.notes.data or ""))
    flash(_("Recorded. The firearm's status is now: %(status)s.",
            status=services.status_label(services.standing_of(found).status)), "success")
    return redirect(url_for("firearms.firearm", firearm_id=found.id))


# --- leads ----------------------------------------------------------------------------------------------

@bp.get("/firearms/leads")
@requires(READERS)
def lead_list():  # type: ignore[no-untyped-def]
    return render_template("firearms/leads.html", rows=leads.leads(g.qms_unit_id), **LABELS)


@bp.get("/firearms/leads/<int:lead_id>")
@requires(READERS)
def lead(lead_id: int):  # type: ignore[no-untyped-def]
    found = leads.get_lead(lead_id, g.qms_unit_id)
    sides = [(f, services.standing_of(f), services.events_of(f)) for f in (found.firearm_low, found.firearm_high)]
    return render_template("firearms/lead.html", lead=found, decision=leads.decision_of(found), sides=sides,
                           form=LeadDecisionForm(prefix="decide"), status_label=services.status_label,
                           flags=services.categories_of, **LABELS)


@bp.post("/firearms/leads/<int:lead_id>/decide")
@requires(READERS, RECORDERS)
@page_again("firearms.lead")
def decide(lead_id: int):  # type: ignore[no-untyped-def]
    found = leads.get_lead(lead_id, g.qms_unit_id)
    form = LeadDecisionForm(prefix="decide")
    check_form(form)
    # A wrong password is refused with its attempt kept (the login throttle counts it): the handler commits it.
    decision = leads.decide(found, g.qms_user, outcome=form.outcome.data or "", note=form.note.data or "",
                            password=form.password.data or "")
    flash(_("Decision signed: %(outcome)s.", outcome=leads.OUTCOME_LABELS[decision.outcome]), "success")
    return redirect(url_for("firearms.lead", lead_id=found.id))


# --- statistics -----------------------------------------------------------------------------------------

@bp.get("/firearms/statistics")
@requires(READERS)
def statistics_page():  # type: ignore[no-untyped-def]
    figures, charts = statistics_charts.page(g.qms_unit_id)
    return render_template("firearms/statistics.html", figures=figures, warning_labels=statistics.WARNING_CATEGORIES,
                           charts=charts, **LABELS)


@bp.get("/firearms/statistics.csv")
@requires(READERS)
def statistics_csv():  # type: ignore[no-untyped-def]
    body = statistics.csv_export(g.qms_unit_id)
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=firearm-statistics.csv"})


from qms.firearms import trace_views  # noqa: E402,F401  (the trace pages, on this blueprint)
from qms.firearms import chart_views  # noqa: E402,F401  (the link chart: its routes on this blueprint)
