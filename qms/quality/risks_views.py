"""Impartiality risk register pages: each view reads the request, calls one service, renders or redirects."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from qms.auth.permissions import requires
from qms.audits.services import unit_members
from qms.errors import check_form, page_again
from qms.quality import bp
from qms.quality import risks as services
from qms.quality.risks_forms import RiskReviewForm, RiskForm
from qms.quality.risks_models import Risk
from qms.records import record_or_404


def _risk_form() -> RiskForm:
    form = RiskForm()
    form.owner_id.choices = [SelectChoice(u.id, u.full_name) for u in unit_members(g.qms_unit_id)]
    return form


@bp.get("/quality/risks")
@requires(services.READERS)
def risk_list():  # type: ignore[no-untyped-def]
    overdue = request.args.get("show") == "overdue"
    return render_template("quality/risks_list.html", risks=services.register(g.qms_unit_id, overdue=overdue),
                           overdue=overdue, is_overdue=services.is_overdue, grade=services.grade,
                           source_labels=services.SOURCE_LABELS, form=_risk_form())


@bp.post("/quality/risks")
@requires(services.READERS, services.MANAGERS)
@page_again("quality.risk_list")
def risk_new():  # type: ignore[no-untyped-def]
    form = _risk_form()
    check_form(form)
    found = services.add_risk(g.qms_unit_id, g.qms_user, services.Identified(
        title=form.title.data, source=form.source.data, description=form.description.data or "",
        likelihood=form.likelihood.data, impact=form.impact.data, controls=form.controls.data or "",
        owner_id=form.owner_id.data, review_on=form.review_on.data))
    flash(_("Risk added to the register."), "success")
    return redirect(url_for("quality.risk", risk_id=found.id))


@bp.get("/quality/risks/<int:risk_id>")
@requires(services.READERS)
def risk(risk_id: int):  # type: ignore[no-untyped-def]
    found = record_or_404(Risk, risk_id, "risk")
    return render_template("quality/risks_detail.html", risk=found, reviews=services.reviews_of(found),
                           overdue=services.is_overdue(found), grade_label=services.grade_label,
                           source_label=services.SOURCE_LABELS[found.source], form=RiskReviewForm(obj=found))


@bp.post("/quality/risks/<int:risk_id>/reviews")
@requires(services.READERS, services.WRITERS)
@page_again("quality.risk")
def risk_review(risk_id: int):  # type: ignore[no-untyped-def]
    found = record_or_404(Risk, risk_id, "risk")
    form = RiskReviewForm()
    check_form(form)
    services.review(found, g.qms_user, likelihood=form.likelihood.data, impact=form.impact.data,
                    controls=form.controls.data or "", note=form.note.data, next_review_on=form.next_review_on.data)
    flash(_("Review recorded."), "success")
    return redirect(url_for("quality.risk", risk_id=risk_id))
