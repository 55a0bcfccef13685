"""Pages of the quality domain: the nonconformity register and one nonconformity with its actions.

Each view reads the request, calls one service, and renders or redirects; refusals come from the
services and a refused form shows its page again (`@page_again`). The corrective action itself is
the audits domain's page, whatever its origin.
"""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from qms.audits import services as audits
from qms.auth.permissions import requires
from qms.errors import check_form, page_again
from qms.quality import bp, services
from qms.quality.forms import NcActionForm, NonconformityForm
from qms.quality.models import RiskGrade, Source
from qms.quality.services import GRADE_LABELS, READERS, RECORDERS, SOURCE_LABELS, Found

__all__ = ["bp"]


def _action_form(unit_id: int) -> NcActionForm:
    form = NcActionForm()
    form.owner_id.choices = [SelectChoice(u.id, u.full_name) for u in audits.unit_members(unit_id)]
    return form


@bp.get("/quality/nonconformities")
@requires(READERS, RECORDERS)
def nonconformities():  # type: ignore[no-untyped-def]
    source, grade = request.args.get("source", ""), request.args.get("grade", "")
    return render_template("quality/nonconformities.html", rows=services.register(g.qms_unit_id, source=source,
                                                                                   grade=grade),
                           source=source, grade=grade, sources=list(Source), grades=list(RiskGrade),
                           source_labels=SOURCE_LABELS, grade_labels=GRADE_LABELS, form=NonconformityForm(),
                           can_record=bool(g.qms_roles & RECORDERS))


@bp.post("/quality/nonconformities")
@requires(READERS, RECORDERS)
@page_again("quality.nonconformities")
def nonconformity_new():  # type: ignore[no-untyped-def]
    form = NonconformityForm()
    check_form(form)
    made = services.record_nonconformity(g.qms_unit_id, g.qms_user, form.source.data, Found(
        title=form.title.data, description=form.description.data or "", location=form.location.data or "",
        found_on=form.found_on.data, risk_grade=form.risk_grade.data,
        immediate_correction=form.immediate_correction.data or ""))
    flash(_("Nonconformity %(number)s recorded.", number=made.number), "success")
    return redirect(url_for("quality.nonconformity", nc_id=made.id))


@bp.get("/quality/nonconformities/<int:nc_id>")
@requires(READERS)
def nonconformity(nc_id: int):  # type: ignore[no-untyped-def]
    shown = services.nonconformity(nc_id, g.qms_unit_id)
    return render_template("quality/nonconformity.html", nc=shown, actions=services.actions_of(shown),
                           source_labels=SOURCE_LABELS, grade_labels=GRADE_LABELS, is_overdue=audits.is_overdue,
                           form=_action_form(shown.unit_id), can_raise="quality_manager" in g.qms_roles)


@bp.post("/quality/nonconformities/<int:nc_id>/actions")
@requires(READERS, RECORDERS)
@page_again("quality.nonconformity")
def nonconformity_action_new(nc_id: int):  # type: ignore[no-untyped-def]
    target = services.nonconformity(nc_id, g.qms_unit_id)
    form = _action_form(target.unit_id)
    check_form(form)
    made = services.raise_action(target, g.qms_user, title=form.title.data, owner_id=form.owner_id.data,
                                 due_on=form.due_on.data)
    flash(_("Corrective action raised."), "success")
    return redirect(url_for("audits.action", action_id=made.id))


from qms.quality import manual_views  # noqa: E402,F401
from qms.quality import proficiency_views  # noqa: E402,F401
from qms.quality import review_views  # noqa: E402,F401
from qms.quality import complaints_views  # noqa: E402,F401
from qms.quality import risks_views  # noqa: E402,F401
