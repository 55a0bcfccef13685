"""Audit pages: each view reads the request, calls one service, and renders or redirects.

Refusals are raised by the services and answered by the one handler in `qms.errors`: a refused
form shows its page again with the reason and the submitted values (the action URLs name that
page with `@page_again`).
"""
from __future__ import annotations

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.utils import secure_filename
from wtforms.fields.choices import SelectChoice

from qms.audits import bp, services
from qms.audits.forms import (
    ActionForm,
    AuditForm,
    CloseForm,
    ConclusionForm,
    EntryForm,
    FindingForm,
    ProgrammeForm,
    ReauditForm,
    ResultForm,
    ReviewForm,
    ReviseFindingForm,
    StepForm,
    TeamForm,
)
from qms.audits.models import (
    ActionStatus,
    Audit,
    AuditProgramme,
    AuditStatus,
    ChecklistItem,
    CorrectiveAction,
    Finding,
    Grade,
    Result,
    word,
)
from qms.audits.services import PLANNERS, READERS, WRITERS, Evidence
from qms.auth.permissions import requires
from qms.errors import check_form, page_again
from qms.i18n import in_language
from qms.records import record_or_404


@bp.app_template_filter("audit_word")
def audit_word(code: str) -> str:
    return word(code)


def _member_choices(unit_id: int) -> list[SelectChoice]:
    return [SelectChoice(u.id, u.full_name) for u in services.unit_members(unit_id)]


def _auditor_choices(unit_id: int) -> list[SelectChoice]:
    return [SelectChoice(u.id, u.full_name) for u in services.auditors(unit_id)]


def _download(data: bytes, name: str, mimetype: str) -> Response:
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename={secure_filename(name) or 'file'}"})


# Forms are built the same way for the page and for its POST: on a GET they are empty (or hold the
# record's values); when a refused POST shows the page again, they hold what was submitted.

# --- programme --------------------------------------------------------------------------------

@bp.get("/audits/programme")
@requires(READERS)
def programmes():  # type: ignore[no-untyped-def]
    return render_template("audits/programmes.html", programmes=services.programmes(), form=ProgrammeForm())


@bp.post("/audits/programme")
@requires(READERS, PLANNERS)
def programme_new():  # type: ignore[no-untyped-def]
    form = ProgrammeForm()
    check_form(form)
    programme = services.create_programme(unit_id=g.qms_unit_id, actor=g.qms_user, year=form.year.data,
                                          title=form.title.data, risk_notes=form.risk_notes.data or "")
    return redirect(url_for("audits.programme", programme_id=programme.id))


@bp.get("/audits/programme/<int:programme_id>")
@requires(READERS)
def programme(programme_id: int):  # type: ignore[no-untyped-def]
    plan = record_or_404(AuditProgramme, programme_id, "audit programme")
    return render_template("audits/programme.html", programme=plan, entries=services.entries_by_risk(plan),
                           form=EntryForm())


@bp.post("/audits/programme/<int:programme_id>/entries")
@requires(READERS, PLANNERS)
@page_again("audits.programme")
def entry_new(programme_id: int):  # type: ignore[no-untyped-def]
    plan = record_or_404(AuditProgramme, programme_id, "audit programme")
    form = EntryForm()
    check_form(form)
    services.add_entry(plan, g.qms_user, process=form.process_area.data, clauses=[form.clauses.data],
                       planned_month=form.planned_month.data, risk_level=form.risk_level.data,
                       rationale=form.rationale.data or "")
    flash(_("Entry added to the programme."), "success")
    return redirect(url_for("audits.programme", programme_id=programme_id))


# --- audits -----------------------------------------------------------------------------------

@bp.get("/audits")
@requires(READERS)
def audit_list():  # type: ignore[no-untyped-def]
    status = request.args.get("status", "")
    return render_template("audits/list.html", audits=services.audits(status=status or None), status=status,
                           statuses=list(AuditStatus))


def _audit_form() -> AuditForm:
    form = AuditForm(data={"programme_entry_id": request.args.get("entry", type=int)})
    form.checklist_template.choices = [SelectChoice("", _("(use the clauses below)"))] + [
        SelectChoice(i, t) for i, t in services.checklist_templates()]
    form.lead_auditor_id.choices = _auditor_choices(g.qms_unit_id)
    form.team.choices = _member_choices(g.qms_unit_id)
    return form


def _plan_of(form: AuditForm) -> services.AuditPlan:
    lead = form.lead_auditor_id.data
    return services.AuditPlan(
        title=form.title.data, kind=form.kind.data, body_type=form.body_type.data,
        checklist_template=form.checklist_template.data or "", clauses=tuple((form.clauses.data or "").split()),
        planned_start=form.planned_start.data, planned_end=form.planned_end.data, lead_auditor_id=lead,
        auditee=form.auditee.data or "", areas=form.areas.data or "", programme_entry_id=form.programme_entry_id.data,
        team=tuple((user_id, "auditor") for user_id in form.team.data or () if user_id != lead))


@bp.get("/audits/new")
@requires(PLANNERS)
def audit_new():  # type: ignore[no-untyped-def]
    return render_template("audits/audit_form.html", form=_audit_form())


@bp.post("/audits/new")
@requires(PLANNERS, PLANNERS)
def audit_create():  # type: ignore[no-untyped-def]
    form = _audit_form()
    check_form(form)
    made = services.create_audit(_plan_of(form), unit_id=g.qms_unit_id, actor=g.qms_user)
    flash(_("Audit planned with %(count)d requirements on its checklist.", count=len(made.items)), "success")
    return redirect(url_for("audits.audit", audit_id=made.id))


def _team_form(unit_id: int) -> TeamForm:
    form = TeamForm()
    form.user_id.choices = _member_choices(unit_id)
    return form


@bp.get("/audits/<int:audit_id>")
@requires(READERS)
def audit(audit_id: int):  # type: ignore[no-untyped-def]
    shown = record_or_404(Audit, audit_id, "audit")
    section, result = request.args.get("section", ""), request.args.get("result", "")
    return render_template(
        "audits/audit.html", audit=shown, rows=services.checklist(shown, section=section, result=result),
        section=section, result=result, sections=services.sections(shown), results=list(Result),
        summary=services.audit_summary(shown), can_record=services.may_record(shown, g.qms_user),
        can_plan=bool(g.qms_roles & PLANNERS), team_form=_team_form(shown.unit_id),
        conclusion_form=ConclusionForm(), is_overdue=services.is_overdue, Status=AuditStatus)


def _back_to_audit(audit_id: int, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("audits.audit", audit_id=audit_id))


@bp.post("/audits/<int:audit_id>/start")
@requires(READERS, PLANNERS)
@page_again("audits.audit")
def audit_start(audit_id: int):  # type: ignore[no-untyped-def]
    services.start_audit(record_or_404(Audit, audit_id, "audit"), g.qms_user)
    return _back_to_audit(audit_id, _("The audit is in progress."))


@bp.post("/audits/<int:audit_id>/report")
@requires(READERS, PLANNERS)
@page_again("audits.audit")
def audit_report(audit_id: int):  # type: ignore[no-untyped-def]
    form = ConclusionForm()
    check_form(form)
    services.report_audit(record_or_404(Audit, audit_id, "audit"), g.qms_user, form.conclusion.data)
    return _back_to_audit(audit_id, _("The audit is reported."))


@bp.post("/audits/<int:audit_id>/close")
@requires(READERS, PLANNERS)
@page_again("audits.audit")
def audit_close(audit_id: int):  # type: ignore[no-untyped-def]
    services.close_audit(record_or_404(Audit, audit_id, "audit"), g.qms_user)
    return _back_to_audit(audit_id, _("The audit is closed."))


@bp.post("/audits/<int:audit_id>/team")
@requires(READERS, PLANNERS)
@page_again("audits.audit")
def team_add(audit_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(Audit, audit_id, "audit")
    form = _team_form(target.unit_id)
    check_form(form)
    services.add_team_member(target, g.qms_user, user_id=form.user_id.data, role=form.role.data)
    return _back_to_audit(audit_id, _("Team member added."))


# --- checklist items and results ------------------------------------------------------------

def _result_form(unit_id: int) -> ResultForm:
    form = ResultForm()
    form.revision_ids.choices = [
        SelectChoice(r.id, _("%(code)s revision %(number)s – %(title)s", code=r.sop.code, number=r.number,
                             title=r.sop.title)) for r in services.effective_revisions(unit_id)]
    return form


@bp.get("/audits/items/<int:checklist_item_id>")
@requires(READERS)
def item(checklist_item_id: int):  # type: ignore[no-untyped-def]
    shown = record_or_404(ChecklistItem, checklist_item_id, "checklist item")
    running = shown.audit.status == AuditStatus.IN_PROGRESS.value
    return render_template(
        "audits/item.html", item=shown, audit=shown.audit, current=services.current_results(shown.audit).get(shown.id),
        history=services.item_history(shown), findings=[f for f in shown.audit.findings if f.item_id == shown.id],
        can_record=running and services.may_record(shown.audit, g.qms_user),
        result_form=_result_form(shown.unit_id), finding_form=FindingForm())


def _uploads(name: str) -> list[Evidence]:
    files = [f for f in request.files.getlist(name) if f and f.filename]
    return [Evidence(f.read(services.MAX_EVIDENCE_BYTES + 1), f.filename or "evidence") for f in files]


@bp.post("/audits/items/<int:checklist_item_id>/result")
@requires(READERS, WRITERS)
@page_again("audits.item")
def result_new(checklist_item_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(ChecklistItem, checklist_item_id, "checklist item")
    form = _result_form(target.unit_id)
    check_form(form)
    services.record_result(target, g.qms_user, result=form.result.data, evidence_note=form.evidence_note.data or "",
                           justification=form.justification.data or "", revision_ids=form.revision_ids.data or [],
                           files=_uploads("files"))
    flash(_("Result recorded for %(requirement)s.", requirement=target.requirement_id), "success")
    return redirect(url_for("audits.audit", audit_id=target.audit_id, _anchor=f"item-{target.id}"))


@bp.post("/audits/items/<int:checklist_item_id>/findings")
@requires(READERS, WRITERS)
@page_again("audits.item")
def finding_new(checklist_item_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(ChecklistItem, checklist_item_id, "checklist item")
    form = FindingForm()
    check_form(form)
    made = services.raise_finding(target, g.qms_user, grade=form.grade.data, statement=form.statement.data,
                                  evidence=form.evidence.data or "")
    flash(_("Finding %(number)d raised.", number=made.number), "success")
    return redirect(url_for("audits.finding", finding_id=made.id))


@bp.get("/audits/files/<int:file_id>")
@requires(READERS)
def result_file(file_id: int):  # type: ignore[no-untyped-def]
    row, data = services.result_file(file_id)
    return _download(data, row.filename, row.media_type)


# --- findings ---------------------------------------------------------------------------------

@bp.get("/audits/findings")
@requires(READERS)
def finding_list():  # type: ignore[no-untyped-def]
    grade = request.args.get("grade", "")
    return render_template("audits/findings.html", findings=services.findings(grade=grade), grade=grade,
                           grades=list(Grade))


def _action_form(unit_id: int) -> ActionForm:
    form = ActionForm()
    form.owner_id.choices = _member_choices(unit_id)
    return form


@bp.get("/audits/findings/<int:finding_id>")
@requires(READERS)
def finding(finding_id: int):  # type: ignore[no-untyped-def]
    shown = record_or_404(Finding, finding_id, "finding")
    revise_form = ReviseFindingForm(data={"grade": shown.grade, "statement": shown.statement,
                                          "evidence": shown.evidence})
    return render_template("audits/finding.html", finding=shown, audit=shown.audit,
                           action_form=_action_form(shown.unit_id), revise_form=revise_form,
                           can_record=services.may_record(shown.audit, g.qms_user),
                           can_raise=services.may_raise_action(shown.audit, g.qms_user),
                           is_overdue=services.is_overdue, Grade=Grade)


@bp.post("/audits/findings/<int:finding_id>/revise")
@requires(READERS, WRITERS)
@page_again("audits.finding")
def finding_revise(finding_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(Finding, finding_id, "finding")
    form = ReviseFindingForm()
    check_form(form)
    services.revise_finding(target, g.qms_user, grade=form.grade.data, statement=form.statement.data,
                            evidence=form.evidence.data or "", reason=form.reason.data)
    flash(_("Finding changed; the reason is on the audit trail."), "success")
    return redirect(url_for("audits.finding", finding_id=finding_id))


@bp.post("/audits/findings/<int:finding_id>/actions")
@requires(READERS, WRITERS)
@page_again("audits.finding")
def action_new(finding_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(Finding, finding_id, "finding")
    form = _action_form(target.unit_id)
    check_form(form)
    made = services.raise_action(target, g.qms_user, title=form.title.data, owner_id=form.owner_id.data,
                                 due_on=form.due_on.data)
    flash(_("Corrective action raised."), "success")
    return redirect(url_for("audits.action", action_id=made.id))


# --- corrective actions -----------------------------------------------------------------------

@bp.get("/audits/actions")
@requires(READERS)
def action_list():  # type: ignore[no-untyped-def]
    show, status = request.args.get("show", ""), request.args.get("status", "")
    if show not in ("", "mine", "overdue"):
        abort(400, description=_("Show 'mine', 'overdue' or everything."))
    rows = services.actions(owner_id=g.qms_user.id if show == "mine" else None, status=status,
                            overdue=show == "overdue")
    return render_template("audits/actions.html", actions=rows, show=show, status=status,
                           statuses=list(ActionStatus), is_overdue=services.is_overdue)


@bp.get("/audits/actions/<int:action_id>")
@requires(READERS)
def action(action_id: int):  # type: ignore[no-untyped-def]
    shown = record_or_404(CorrectiveAction, action_id, "corrective action")
    return render_template(
        "audits/action.html", action=shown, finding=shown.finding, nonconformity=shown.nonconformity,
        is_overdue=services.is_overdue(shown),
        is_owner=shown.owner_id == g.qms_user.id, is_qm="quality_manager" in g.qms_roles,
        can_review=services.may_review(shown, g.qms_user), can_close=services.may_close(shown, g.qms_user),
        step_form=StepForm(), review_form=ReviewForm(), close_form=CloseForm(), Status=ActionStatus)


def _back_to_action(action_id: int, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("audits.action", action_id=action_id))


@bp.post("/audits/actions/<int:action_id>/steps")
@requires(READERS, WRITERS)
@page_again("audits.action")
def action_step(action_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(CorrectiveAction, action_id, "corrective action")
    form = StepForm()
    check_form(form)
    uploads = _uploads("evidence")
    services.record_step(target, g.qms_user, kind=form.kind.data, text=form.text.data, method=form.method.data or "",
                         planned_due_on=form.planned_due_on.data, evidence=uploads[0] if uploads else None)
    return _back_to_action(action_id, _("Step recorded."))


@bp.post("/audits/actions/<int:action_id>/review")
@requires(READERS, PLANNERS)
@page_again("audits.action")
def action_review(action_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(CorrectiveAction, action_id, "corrective action")
    form = ReviewForm()
    check_form(form)
    services.review_effectiveness(target, g.qms_user, effective=bool(form.effective.data), text=form.text.data)
    return _back_to_action(action_id, _("Effectiveness review recorded."))


@bp.post("/audits/actions/<int:action_id>/close")
@requires(READERS, PLANNERS)
@page_again("audits.action")
def action_close(action_id: int):  # type: ignore[no-untyped-def]
    target = record_or_404(CorrectiveAction, action_id, "corrective action")
    form = CloseForm()
    check_form(form)
    services.close_action(target, g.qms_user, text=form.text.data)
    return _back_to_action(action_id, _("Corrective action closed."))


@bp.get("/audits/steps/<int:step_id>/file")
@requires(READERS)
def step_file(step_id: int):  # type: ignore[no-untyped-def]
    step, data = services.action_step_file(step_id)
    return _download(data, step.filename, services.sniff_evidence(data, step.filename))


# --- re-audit and progress --------------------------------------------------------------------

def _reaudit_form(previous: Audit) -> ReauditForm:
    form = ReauditForm(data={"title": _("Re-audit: %(title)s", title=previous.title)[:200]})
    form.lead_auditor_id.choices = _auditor_choices(previous.unit_id)
    return form


@bp.get("/audits/<int:audit_id>/reaudit")
@requires(PLANNERS)
def reaudit(audit_id: int):  # type: ignore[no-untyped-def]
    previous = record_or_404(Audit, audit_id, "audit")
    return render_template("audits/reaudit_form.html", previous=previous, form=_reaudit_form(previous))


@bp.post("/audits/<int:audit_id>/reaudit")
@requires(PLANNERS, PLANNERS)
def reaudit_create(audit_id: int):  # type: ignore[no-untyped-def]
    previous = record_or_404(Audit, audit_id, "audit")
    form = _reaudit_form(previous)
    check_form(form)
    made = services.start_reaudit(previous, g.qms_user, title=form.title.data, planned_start=form.planned_start.data,
                                  planned_end=form.planned_end.data, lead_auditor_id=form.lead_auditor_id.data)
    flash(_("Re-audit planned: same checklist, every result reset."), "success")
    return redirect(url_for("audits.audit", audit_id=made.id))


@bp.get("/audits/<int:audit_id>/progress")
@requires(READERS)
def progress(audit_id: int):  # type: ignore[no-untyped-def]
    shown = record_or_404(Audit, audit_id, "audit")
    return render_template("audits/progress.html", audit=shown, progress=services.progress(shown))


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
    from qms.audits.report import gap_report_pdf, report_file_name

    audit = record_or_404(Audit, audit_id, "audit")
    with in_language(request.args.get("lang")):  # the reader's language unless another is chosen
        report = gap_report_pdf(audit, generated_by=g.qms_user.full_name)
    return _download(report, report_file_name(audit), "application/pdf")


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
