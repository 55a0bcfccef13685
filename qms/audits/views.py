from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.utils import secure_filename
from wtforms.fields.choices import SelectChoice

from qms.audits import bp, services
from qms.audits.forms import (ActionForm, AuditForm, CloseForm, ConclusionForm, EntryForm, FindingForm,
                              ProgrammeForm, ReauditForm, ResultForm, ReviewForm, ReviseFindingForm, StepForm,
                              TeamForm)
from qms.audits.models import (ActionStatus, Audit, AuditProgramme, AuditStatus, ChecklistItem,
                               CorrectiveAction, Finding, Grade, Result)
from qms.audits.services import PLANNERS, READERS, WRITERS, AuditError, Evidence
from qms.auth.permissions import requires
from qms.extensions import db
from qms.transactions import mark_failed
from qms.records import record_or_404




def _refused(error: AuditError) -> None:
    """Undo whatever the refused action prepared and keep its reason for the page."""
    mark_failed()
    db.session.rollback()
    flash(str(error), "error")


def _attempt(action: Callable[[], Any], page: Callable[[int], Any]) -> Any:
    """Run a service action; a refusal re-renders the page with the reason and its status."""
    try:
        return action()
    except AuditError as error:
        _refused(error)
        return page(error.status)


def _invalid(form: Any, page: Callable[[int], Any]) -> Any:
    mark_failed()
    flash("Some fields need attention: " + "; ".join(
        f"{getattr(form, name).label.text}: {' '.join(str(e) for e in errors)}"
        for name, errors in form.errors.items()), "error")
    return page(400)


def _member_choices(unit_id: int) -> list[SelectChoice]:
    return [SelectChoice(u.id, u.full_name) for u in services.unit_members(unit_id)]


def _auditor_choices(unit_id: int) -> list[SelectChoice]:
    return [SelectChoice(u.id, u.full_name) for u in services.auditors(unit_id)]


def _download(data: bytes, name: str, mimetype: str) -> Response:
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename={secure_filename(name) or 'file'}"})


# --- programme --------------------------------------------------------------------------------

def _programmes_page(status: int = 200, form: ProgrammeForm | None = None) -> tuple[str, int]:
    return render_template("audits/programmes.html", programmes=services.programmes(),
                           form=form or ProgrammeForm(formdata=None)), status


@bp.get("/audits/programme")
@requires(READERS)
def programmes():  # type: ignore[no-untyped-def]
    return _programmes_page()


@bp.post("/audits/programme")
@requires(READERS, PLANNERS)
def programme_new():  # type: ignore[no-untyped-def]
    form = ProgrammeForm()
    if not form.validate():
        return _invalid(form, lambda status: _programmes_page(status, form))
    programme = _attempt(lambda: services.create_programme(
        unit_id=g.qms_unit_id, actor=g.qms_user, year=form.year.data, title=form.title.data,
        risk_notes=form.risk_notes.data or ""), lambda status: _programmes_page(status, form))
    if not isinstance(programme, AuditProgramme):
        return programme
    return redirect(url_for("audits.programme", programme_id=programme.id))


def _programme_page(programme_id: int, status: int = 200, form: EntryForm | None = None) -> tuple[str, int]:
    programme = record_or_404(AuditProgramme, programme_id, "audit programme")
    return render_template("audits/programme.html", programme=programme,
                           entries=services.entries_by_risk(programme),
                           form=form or EntryForm(formdata=None)), status


@bp.get("/audits/programme/<int:programme_id>")
@requires(READERS)
def programme(programme_id: int):  # type: ignore[no-untyped-def]
    return _programme_page(programme_id)


@bp.post("/audits/programme/<int:programme_id>/entries")
@requires(READERS, PLANNERS)
def entry_new(programme_id: int):  # type: ignore[no-untyped-def]
    plan = record_or_404(AuditProgramme, programme_id, "audit programme")
    form = EntryForm()
    page = lambda status: _programme_page(programme_id, status, form)  # noqa: E731
    if not form.validate():
        return _invalid(form, page)
    done = _attempt(lambda: services.add_entry(
        plan, g.qms_user, process=form.process_area.data, clauses=[form.clauses.data],
        planned_month=form.planned_month.data, risk_level=form.risk_level.data,
        rationale=form.rationale.data or ""), page)
    if isinstance(done, tuple):
        return done
    flash("Entry added to the programme.", "success")
    return redirect(url_for("audits.programme", programme_id=programme_id))


# --- audits -----------------------------------------------------------------------------------

@bp.get("/audits")
@requires(READERS)
def audit_list():  # type: ignore[no-untyped-def]
    status = request.args.get("status", "")
    try:
        rows = services.audits(status=status or None)
    except AuditError as error:
        abort(400, description=str(error))
    return render_template("audits/list.html", audits=rows, status=status, statuses=list(AuditStatus))


def _audit_form(form: AuditForm) -> AuditForm:
    form.checklist_template.choices = [SelectChoice("", "(use the clauses below)")] + [
        SelectChoice(i, t) for i, t in services.checklist_templates()]
    form.lead_auditor_id.choices = _auditor_choices(g.qms_unit_id)
    form.team.choices = _member_choices(g.qms_unit_id)
    return form


def _new_audit_page(form: AuditForm, status: int = 200) -> tuple[str, int]:
    return render_template("audits/audit_form.html", form=_audit_form(form)), status


@bp.route("/audits/new", methods=["GET", "POST"])
@requires(PLANNERS, PLANNERS)
def audit_new():  # type: ignore[no-untyped-def]
    form = AuditForm(data={"programme_entry_id": request.args.get("entry", type=int)} if request.method == "GET"
                     else None)
    _audit_form(form)
    if request.method == "GET":
        return _new_audit_page(form)
    if not form.validate():
        return _invalid(form, lambda status: _new_audit_page(form, status))
    plan = services.AuditPlan(
        title=form.title.data, kind=form.kind.data, body_type=form.body_type.data,
        checklist_template=form.checklist_template.data or "", clauses=tuple((form.clauses.data or "").split()),
        planned_start=form.planned_start.data, planned_end=form.planned_end.data,
        lead_auditor_id=form.lead_auditor_id.data, auditee=form.auditee.data or "", areas=form.areas.data or "",
        programme_entry_id=form.programme_entry_id.data,
        team=tuple((user_id, "auditor") for user_id in form.team.data or () if user_id != form.lead_auditor_id.data))
    made = _attempt(lambda: services.create_audit(plan, unit_id=g.qms_unit_id, actor=g.qms_user),
                    lambda status: _new_audit_page(form, status))
    if not isinstance(made, Audit):
        return made
    flash(f"Audit planned with {len(made.items)} requirements on its checklist.", "success")
    return redirect(url_for("audits.audit", audit_id=made.id))


def _audit_page(audit_id: int, status: int = 200, **forms: Any) -> tuple[str, int]:
    audit = record_or_404(Audit, audit_id, "audit")
    section, result = request.args.get("section", ""), request.args.get("result", "")
    try:
        rows = services.checklist(audit, section=section, result=result)
    except AuditError as error:
        abort(400, description=str(error))
    team_form = forms.get("team") or TeamForm(formdata=None)
    team_form.user_id.choices = _member_choices(audit.unit_id)
    return render_template(
        "audits/audit.html", audit=audit, rows=rows, section=section, result=result,
        sections=services.sections(audit), results=list(Result), summary=services.audit_summary(audit),
        can_record=services.may_record(audit, g.qms_user), can_plan=bool(g.qms_roles & PLANNERS),
        team_form=team_form, conclusion_form=forms.get("conclusion") or ConclusionForm(formdata=None),
        is_overdue=services.is_overdue, Status=AuditStatus), status


@bp.get("/audits/<int:audit_id>")
@requires(READERS)
def audit(audit_id: int):  # type: ignore[no-untyped-def]
    return _audit_page(audit_id)


def _audit_action(audit_id: int, action: Callable[[Audit], Any], message: str) -> Any:
    audit = record_or_404(Audit, audit_id, "audit")
    done = _attempt(lambda: action(audit), lambda status: _audit_page(audit_id, status))
    if isinstance(done, tuple):
        return done
    flash(message, "success")
    return redirect(url_for("audits.audit", audit_id=audit_id))


@bp.post("/audits/<int:audit_id>/start")
@requires(READERS, PLANNERS)
def audit_start(audit_id: int):  # type: ignore[no-untyped-def]
    return _audit_action(audit_id, lambda a: services.start_audit(a, g.qms_user), "The audit is in progress.")


@bp.post("/audits/<int:audit_id>/report")
@requires(READERS, PLANNERS)
def audit_report(audit_id: int):  # type: ignore[no-untyped-def]
    form = ConclusionForm()
    if not form.validate():
        return _invalid(form, lambda status: _audit_page(audit_id, status, conclusion=form))
    return _audit_action(audit_id, lambda a: services.report_audit(a, g.qms_user, form.conclusion.data),
                         "The audit is reported.")


@bp.post("/audits/<int:audit_id>/close")
@requires(READERS, PLANNERS)
def audit_close(audit_id: int):  # type: ignore[no-untyped-def]
    return _audit_action(audit_id, lambda a: services.close_audit(a, g.qms_user), "The audit is closed.")


@bp.post("/audits/<int:audit_id>/team")
@requires(READERS, PLANNERS)
def team_add(audit_id: int):  # type: ignore[no-untyped-def]
    form = TeamForm()
    form.user_id.choices = _member_choices(g.qms_unit_id)
    if not form.validate():
        return _invalid(form, lambda status: _audit_page(audit_id, status, team=form))
    return _audit_action(audit_id, lambda a: services.add_team_member(a, g.qms_user, user_id=form.user_id.data,
                                                                      role=form.role.data), "Team member added.")


# --- checklist items and results ------------------------------------------------------------

def _item_page(item_id: int, status: int = 200, **forms: Any) -> tuple[str, int]:
    item = record_or_404(ChecklistItem, item_id, "checklist item")
    result_form = forms.get("result") or ResultForm(formdata=None)
    result_form.revision_ids.choices = [SelectChoice(r.id, f"{r.sop.code} revision {r.number} – {r.sop.title}")
                                        for r in services.effective_revisions(item.unit_id)]
    current = services.current_results(item.audit).get(item.id)
    return render_template(
        "audits/item.html", item=item, audit=item.audit, current=current, history=services.item_history(item),
        findings=[f for f in item.audit.findings if f.item_id == item.id],
        can_record=services.may_record(item.audit, g.qms_user) and item.audit.status == AuditStatus.IN_PROGRESS.value,
        result_form=result_form, finding_form=forms.get("finding") or FindingForm(formdata=None)), status


@bp.get("/audits/items/<int:checklist_item_id>")
@requires(READERS)
def item(checklist_item_id: int):  # type: ignore[no-untyped-def]
    return _item_page(checklist_item_id)


def _uploads(name: str) -> list[Evidence]:
    files = [f for f in request.files.getlist(name) if f and f.filename]
    return [Evidence(f.read(services.MAX_EVIDENCE_BYTES + 1), f.filename or "evidence") for f in files]


@bp.post("/audits/items/<int:checklist_item_id>/result")
@requires(READERS, WRITERS)
def result_new(checklist_item_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(ChecklistItem, checklist_item_id, "checklist item")
    form = ResultForm()
    form.revision_ids.choices = [SelectChoice(r.id, "") for r in services.effective_revisions(target.unit_id)]
    page = lambda status: _item_page(checklist_item_id, status, result=form)  # noqa: E731
    if not form.validate():
        return _invalid(form, page)
    done = _attempt(lambda: services.record_result(
        target, g.qms_user, result=form.result.data, evidence_note=form.evidence_note.data or "",
        justification=form.justification.data or "", revision_ids=form.revision_ids.data or [],
        files=_uploads("files")), page)
    if isinstance(done, tuple):
        return done
    flash(f"Result recorded for {target.requirement_id}.", "success")
    return redirect(url_for("audits.audit", audit_id=target.audit_id, _anchor=f"item-{target.id}"))


@bp.post("/audits/items/<int:checklist_item_id>/findings")
@requires(READERS, WRITERS)
def finding_new(checklist_item_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(ChecklistItem, checklist_item_id, "checklist item")
    form = FindingForm()
    page = lambda status: _item_page(checklist_item_id, status, finding=form)  # noqa: E731
    if not form.validate():
        return _invalid(form, page)
    made = _attempt(lambda: services.raise_finding(target, g.qms_user, grade=form.grade.data,
                                                   statement=form.statement.data,
                                                   evidence=form.evidence.data or ""), page)
    if not isinstance(made, Finding):
        return made
    flash(f"Finding {made.number} raised.", "success")
    return redirect(url_for("audits.finding", finding_id=made.id))


@bp.get("/audits/files/<int:file_id>")
@requires(READERS)
def result_file(file_id: int):  # type: ignore[no-untyped-def]
    try:
        row, data = services.result_file(file_id)
    except AuditError as error:
        abort(404, description=str(error))
    return _download(data, row.filename, row.media_type)


# --- findings ---------------------------------------------------------------------------------

def _finding_page(finding_id: int, status: int = 200, **forms: Any) -> tuple[str, int]:
    finding = record_or_404(Finding, finding_id, "finding")
    action_form = forms.get("action") or ActionForm(formdata=None)
    action_form.owner_id.choices = _member_choices(finding.unit_id)
    revise_form = forms.get("revise") or ReviseFindingForm(
        formdata=None, data={"grade": finding.grade, "statement": finding.statement, "evidence": finding.evidence})
    return render_template("audits/finding.html", finding=finding, audit=finding.audit, action_form=action_form,
                           revise_form=revise_form, can_record=services.may_record(finding.audit, g.qms_user),
                           can_raise=services.may_raise_action(finding.audit, g.qms_user),
                           is_overdue=services.is_overdue, Grade=Grade), status


@bp.get("/audits/findings")
@requires(READERS)
def finding_list():  # type: ignore[no-untyped-def]
    grade = request.args.get("grade", "")
    try:
        rows = services.findings(grade=grade)
    except AuditError as error:
        abort(400, description=str(error))
    return render_template("audits/findings.html", findings=rows, grade=grade, grades=list(Grade))


@bp.get("/audits/findings/<int:finding_id>")
@requires(READERS)
def finding(finding_id: int):  # type: ignore[no-untyped-def]
    return _finding_page(finding_id)


@bp.post("/audits/findings/<int:finding_id>/revise")
@requires(READERS, WRITERS)
def finding_revise(finding_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(Finding, finding_id, "finding")
    form = ReviseFindingForm()
    page = lambda status: _finding_page(finding_id, status, revise=form)  # noqa: E731
    if not form.validate():
        return _invalid(form, page)
    done = _attempt(lambda: services.revise_finding(target, g.qms_user, grade=form.grade.data,
                                                    statement=form.statement.data,
                                                    evidence=form.evidence.data or "", reason=form.reason.data), page)
    if isinstance(done, tuple):
        return done
    flash("Finding changed; the reason is on the audit trail.", "success")
    return redirect(url_for("audits.finding", finding_id=finding_id))


@bp.post("/audits/findings/<int:finding_id>/actions")
@requires(READERS, WRITERS)
def action_new(finding_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(Finding, finding_id, "finding")
    form = ActionForm()
    form.owner_id.choices = _member_choices(target.unit_id)
    page = lambda status: _finding_page(finding_id, status, action=form)  # noqa: E731
    if not form.validate():
        return _invalid(form, page)
    made = _attempt(lambda: services.raise_action(target, g.qms_user, title=form.title.data,
                                                  owner_id=form.owner_id.data, due_on=form.due_on.data), page)
    if not isinstance(made, CorrectiveAction):
        return made
    flash("Corrective action raised.", "success")
    return redirect(url_for("audits.action", action_id=made.id))


# --- corrective actions -----------------------------------------------------------------------

@bp.get("/audits/actions")
@requires(READERS)
def action_list():  # type: ignore[no-untyped-def]
    show = request.args.get("show", "")
    status = request.args.get("status", "")
    if show not in ("", "mine", "overdue"):
        abort(400, description="Show 'mine', 'overdue' or everything.")
    try:
        rows = services.actions(owner_id=g.qms_user.id if show == "mine" else None, status=status,
                                overdue=show == "overdue")
    except AuditError as error:
        abort(400, description=str(error))
    return render_template("audits/actions.html", actions=rows, show=show, status=status,
                           statuses=list(ActionStatus), is_overdue=services.is_overdue)


def _action_page(action_id: int, status: int = 200, **forms: Any) -> tuple[str, int]:
    action = record_or_404(CorrectiveAction, action_id, "corrective action")
    return render_template(
        "audits/action.html", action=action, finding=action.finding, is_overdue=services.is_overdue(action),
        is_owner=action.owner_id == g.qms_user.id, is_qm="quality_manager" in g.qms_roles,
        can_review=services.may_review(action, g.qms_user), can_close=services.may_close(action, g.qms_user),
        step_form=forms.get("step") or StepForm(formdata=None),
        review_form=forms.get("review") or ReviewForm(formdata=None),
        close_form=forms.get("close") or CloseForm(formdata=None), Status=ActionStatus), status


@bp.get("/audits/actions/<int:action_id>")
@requires(READERS)
def action(action_id: int):  # type: ignore[no-untyped-def]
    return _action_page(action_id)


def _action_post(action_id: int, form: Any, name: str, run: Callable[[CorrectiveAction], Any],
                 message: str) -> Any:
    target = record_or_404(CorrectiveAction, action_id, "corrective action")
    page = lambda status: _action_page(action_id, status, **{name: form})  # noqa: E731
    if not form.validate():
        return _invalid(form, page)
    done = _attempt(lambda: run(target), page)
    if isinstance(done, tuple):
        return done
    flash(message, "success")
    return redirect(url_for("audits.action", action_id=action_id))


@bp.post("/audits/actions/<int:action_id>/steps")
@requires(READERS, WRITERS)
def action_step(action_id: int):  # type: ignore[no-untyped-def]
    form = StepForm()

    def run(target: CorrectiveAction) -> Any:
        uploads = _uploads("evidence")
        return services.record_step(target, g.qms_user, kind=form.kind.data, text=form.text.data,
                                    method=form.method.data or "", planned_due_on=form.planned_due_on.data,
                                    evidence=uploads[0] if uploads else None)

    return _action_post(action_id, form, "step", run, "Step recorded.")


@bp.post("/audits/actions/<int:action_id>/review")
@requires(READERS, PLANNERS)
def action_review(action_id: int):  # type: ignore[no-untyped-def]
    form = ReviewForm()
    return _action_post(action_id, form, "review", lambda target: services.review_effectiveness(
        target, g.qms_user, effective=bool(form.effective.data), text=form.text.data), "Effectiveness review recorded.")


@bp.post("/audits/actions/<int:action_id>/close")
@requires(READERS, PLANNERS)
def action_close(action_id: int):  # type: ignore[no-untyped-def]
    form = CloseForm()
    return _action_post(action_id, form, "close", lambda target: services.close_action(
        target, g.qms_user, text=form.text.data), "Corrective action closed.")


@bp.get("/audits/steps/<int:step_id>/file")
@requires(READERS)
def step_file(step_id: int):  # type: ignore[no-untyped-def]
    try:
        step, data = services.action_step_file(step_id)
    except AuditError as error:
        abort(404, description=str(error))
    return _download(data, step.filename, services.sniff_evidence(data, step.filename))


# --- re-audit and progress --------------------------------------------------------------------

def _reaudit_page(audit_id: int, form: ReauditForm, status: int = 200) -> tuple[str, int]:
    previous = record_or_404(Audit, audit_id, "audit")
    form.lead_auditor_id.choices = _auditor_choices(previous.unit_id)
    return render_template("audits/reaudit_form.html", previous=previous, form=form), status


@bp.route("/audits/<int:audit_id>/reaudit", methods=["GET", "POST"])
@requires(PLANNERS, PLANNERS)
def reaudit(audit_id: int):  # type: ignore[no-untyped-def]
    previous = record_or_404(Audit, audit_id, "audit")
    form = ReauditForm(data={"title": f"Re-audit: {previous.title}"[:200]} if request.method == "GET" else None)
    form.lead_auditor_id.choices = _auditor_choices(previous.unit_id)
    if request.method == "GET":
        return _reaudit_page(audit_id, form)
    page = lambda status: _reaudit_page(audit_id, form, status)  # noqa: E731
    if not form.validate():
        return _invalid(form, page)
    made = _attempt(lambda: services.start_reaudit(
        previous, g.qms_user, title=form.title.data, planned_start=form.planned_start.data,
        planned_end=form.planned_end.data, lead_auditor_id=form.lead_auditor_id.data), page)
    if not isinstance(made, Audit):
        return made
    flash("Re-audit planned: same checklist, every result reset.", "success")
    return redirect(url_for("audits.audit", audit_id=made.id))


@bp.get("/audits/<int:audit_id>/progress")
@requires(READERS)
def progress(audit_id: int):  # type: ignore[no-untyped-def]
    audit = record_or_404(Audit, audit_id, "audit")
    try:
        report = services.progress(audit)
    except AuditError as error:
        abort(400, description=str(error))
    return render_template("audits/progress.html", audit=audit, progress=report)


# --- gap analysis, report and exports (computed in gap.py, report.py, exports.py) ---------------

@bp.get("/audits/gap")
@requires(READERS)
def gap():  # type: ignore[no-untyped-def]
    from qms.audits.gap import unit_gap_analysis

    return render_template("audits/gap.html", analysis=unit_gap_analysis(g.qms_unit_id))


def _file_stem(audit: Audit) -> str:
    return f"audit-{audit.id}-{audit.planned_start.isoformat()}"


@bp.get("/audits/<int:audit_id>/report.pdf")
@requires(READERS)
def report_pdf(audit_id: int):  # type: ignore[no-untyped-def]
    from qms.audits.report import gap_report_pdf

    audit = record_or_404(Audit, audit_id, "audit")
    return _download(gap_report_pdf(audit, generated_by=g.qms_user.full_name), f"{_file_stem(audit)}.pdf",
                     "application/pdf")


@bp.get("/audits/<int:audit_id>/checklist.csv")
@requires(READERS)
def checklist_csv(audit_id: int):  # type: ignore[no-untyped-def]
    from qms.audits.exports import checklist_csv as export

    audit = record_or_404(Audit, audit_id, "audit")
    return _download(export(audit), f"{_file_stem(audit)}-checklist.csv", "text/csv")


@bp.get("/audits/<int:audit_id>/checklist.xlsx")
@requires(READERS)
def checklist_xlsx(audit_id: int):  # type: ignore[no-untyped-def]
    from qms.audits.exports import checklist_xlsx as export

    audit = record_or_404(Audit, audit_id, "audit")
    return _download(export(audit), f"{_file_stem(audit)}-checklist.xlsx",
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
