"""Proficiency pages: the results, one result, the record form, and the coverage plan."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from qms.auth.permissions import requires
from qms.errors import check_form, page_again
from qms.people import services as people
from qms.quality import bp, proficiency
from qms.quality.proficiency_forms import ProficiencyResultForm


def _result_form() -> ProficiencyResultForm:
    form = ProficiencyResultForm()
    form.participant_id.choices = [SelectChoice(u.id, u.full_name) for u in people.members(g.qms_unit_id)]
    form.scope_id.choices = [SelectChoice(s.id, people.scope_name(s)) for s in people.scopes(g.qms_unit_id)]
    return form


@bp.get("/quality/proficiency")
@requires(proficiency.READERS)
def proficiency_list():  # type: ignore[no-untyped-def]
    return render_template("quality/proficiency_list.html", results=proficiency.results(g.qms_unit_id),
                           form=_result_form(), labels=proficiency.OUTCOME_LABELS)


@bp.post("/quality/proficiency")
@requires(proficiency.READERS, proficiency.RECORDERS)
@page_again("quality.proficiency_list")
def proficiency_record():  # type: ignore[no-untyped-def]
    form = _result_form()
    check_form(form)
    record = proficiency.record_result(g.qms_unit_id, g.qms_user, proficiency.Result(
        provider=form.provider.data, scheme=form.scheme.data, round=form.round.data, items=form.items.data or "",
        participant_id=form.participant_id.data, scope_id=form.scope_id.data, performed_on=form.performed_on.data,
        reported_result=form.reported_result.data, reference_kind=form.reference_kind.data,
        reference_value=form.reference_value.data or "", z_score=form.z_score.data, outcome=form.outcome.data or "",
        notes=form.notes.data or ""))
    flash(_("Result recorded."), "success")
    return redirect(url_for("quality.proficiency_result", test_id=record.id))


@bp.get("/quality/proficiency/<int:test_id>")
@requires(proficiency.READERS)
def proficiency_result(test_id: int):  # type: ignore[no-untyped-def]
    record = proficiency.result(test_id, g.qms_unit_id)
    return render_template("quality/proficiency_result.html", record=record, labels=proficiency.OUTCOME_LABELS,
                           references=proficiency.REFERENCE_LABELS, nonconformity=proficiency.nonconformity_of(record))


@bp.get("/quality/proficiency/plan")
@requires(proficiency.READERS)
def proficiency_plan():  # type: ignore[no-untyped-def]
    cycle = request.args.get("cycle", proficiency.DEFAULT_CYCLE_YEARS, type=int)
    return render_template("quality/proficiency_plan.html", cycle=cycle, rows=proficiency.plan(g.qms_unit_id,
                                                                                                cycle_years=cycle))
