"""The audit pages: the whole workflow through forms, refusals, filters, the trail with who acted."""
from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa

from qms.audits.models import ActionStep, CorrectiveAction, Finding, RequirementResult
from qms.db import today
from qms.trail.models import AuditEvent
from tests.qms.audits.conftest import CYRILLIC, effective_sop, item

TODAY = today()


def _count(db_session, model) -> int:  # type: ignore[no-untyped-def]
    return db_session.scalar(sa.select(sa.func.count()).select_from(model))


def test_plan_an_audit_through_the_form(staff, login_as, db_session) -> None:
    qm = login_as(staff.qm)
    assert qm.get("/audits/new").status_code == 200
    response = qm.post("/audits/new", data={
        "title": "Full internal audit", "kind": "internal", "body_type": "A",
        "checklist_template": "full-17020-internal-audit", "planned_start": TODAY.isoformat(),
        "planned_end": (TODAY + timedelta(days=3)).isoformat(), "lead_auditor_id": staff.lead.id,
        "team": [staff.auditor.id], "auditee": "Unit"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = qm.get(response.headers["Location"]).get_data(as_text=True)
    assert "Full internal audit" in page and "17020:8.8" in page and "auditor2" not in page  # full names shown
    assert "Test User (auditor)" in page


def test_bad_audit_form_answers_400_and_saves_nothing(staff, login_as, db_session) -> None:
    from qms.audits.models import Audit

    qm = login_as(staff.qm)
    response = qm.post("/audits/new", data={"title": "X", "kind": "internal", "body_type": "A",
                                            "clauses": "17020:99", "planned_start": TODAY.isoformat(),
                                            "planned_end": TODAY.isoformat(), "lead_auditor_id": staff.lead.id})
    assert response.status_code == 400 and "Unknown clause" in response.get_data(as_text=True)
    response = qm.post("/audits/new", data={"title": "X", "planned_start": "not a date"})
    assert response.status_code == 400
    assert _count(db_session, Audit) == 0


def test_examiner_may_not_plan(staff, login_as) -> None:
    assert login_as(staff.examiner).get("/audits/new").status_code == 403
    assert login_as(staff.examiner).get("/audits").status_code == 200


def test_results_findings_and_actions_through_the_pages(running, staff, login_as, db_session) -> None:
    lead = login_as(staff.lead)
    target = item(running, "17020:6.1.5")
    page = lead.get(f"/audits/items/{target.id}")
    assert page.status_code == 200 and "Record a result" in page.get_data(as_text=True)
    response = lead.post(f"/audits/items/{target.id}/result", data={
        "result": "non_conforming", "evidence_note": CYRILLIC,
        "files": (io.BytesIO(b"%PDF-1.4 record"), "training.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    audit_page = lead.get(f"/audits/{running.id}").get_data(as_text=True)
    assert CYRILLIC in audit_page
    filtered = lead.get(f"/audits/{running.id}?result=non_conforming").get_data(as_text=True)
    assert "17020:6.1.5" in filtered and "17020:6.1.4" not in filtered
    assert lead.get(f"/audits/{running.id}?result=bogus").status_code == 400

    response = lead.post(f"/audits/items/{target.id}/findings", data={"grade": "minor",
                                                                        "statement": "Training not recorded."})
    assert response.status_code == 302
    finding = db_session.scalars(sa.select(Finding)).one()
    response = lead.post(f"/audits/findings/{finding.id}/actions", data={
        "title": "Record training", "owner_id": staff.examiner.id, "due_on": (TODAY + timedelta(days=10)).isoformat()})
    assert response.status_code == 302
    action = db_session.scalars(sa.select(CorrectiveAction)).one()

    owner = login_as(staff.examiner)
    for data in ({"kind": "correction", "text": "Records written up."},
                 {"kind": "root_cause", "method": "five_whys", "text": "No form existed."},
                 {"kind": "action_plan", "text": "Add a form."}):
        assert owner.post(f"/audits/actions/{action.id}/steps", data=data).status_code == 302
    response = owner.post(f"/audits/actions/{action.id}/steps", data={
        "kind": "implementation", "text": "Form in use.", "evidence": (io.BytesIO(b"form in use"), "form.txt")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    # The owner may not review their own action: the web refuses with the reason, nothing saved.
    before = _count(db_session, ActionStep)
    refused = owner.post(f"/audits/actions/{action.id}/review", data={"effective": "y", "text": "Fine."})
    assert refused.status_code == 403
    refused = login_as(staff.qm).post(f"/audits/actions/{action.id}/close", data={"text": "Close it."})
    assert refused.status_code == 409 and "effectiveness review" in refused.get_data(as_text=True)
    assert _count(db_session, ActionStep) == before
    assert 'id="review-form"' not in owner.get(f"/audits/actions/{action.id}").get_data(as_text=True)
    reviewer = login_as(staff.auditor)
    assert 'id="review-form"' in reviewer.get(f"/audits/actions/{action.id}").get_data(as_text=True)
    assert reviewer.post(f"/audits/actions/{action.id}/review",
                         data={"effective": "y", "text": "Sampled 5 files."}).status_code == 302
    assert reviewer.post(f"/audits/actions/{action.id}/close", data={"text": "Done."}).status_code == 302
    db_session.expire_all()
    assert db_session.get(CorrectiveAction, action.id).status == "closed"

    trail = db_session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity.in_(["RequirementResult", "Finding", "CorrectiveAction", "ActionStep", "ResultFile"]))
        .order_by(AuditEvent.id)).all()
    by_user = {(e.entity, e.username) for e in trail}
    assert {("RequirementResult", "lead"), ("ResultFile", "lead"), ("Finding", "lead"),
            ("CorrectiveAction", "lead"), ("ActionStep", "examiner"), ("ActionStep", "auditor2"),
            ("CorrectiveAction", "auditor2")} <= by_user


def test_not_applicable_without_justification_is_refused_on_the_page(running, staff, login_as, db_session) -> None:
    lead = login_as(staff.lead)
    target = item(running, "17020:6.1.3")
    response = lead.post(f"/audits/items/{target.id}/result", data={
        "result": "not_applicable", "justification": " ", "evidence_note": "Typed before the refusal 4711"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "needs a justification" in page
    # The item page again, with the form as it was sent: nothing typed is lost.
    assert "Record a result" in page and "Typed before the refusal 4711" in page
    assert _count(db_session, RequirementResult) == 0


def test_an_observer_or_outsider_cannot_record(running, staff, login_as, db_session) -> None:
    target = item(running, "17020:6.1.3")
    response = login_as(staff.qm).post(f"/audits/items/{target.id}/result", data={"result": "conforming"})
    assert response.status_code == 403 and "audit team" in response.get_data(as_text=True)
    assert login_as(staff.csi).post(f"/audits/items/{target.id}/result",
                                    data={"result": "conforming"}).status_code == 403


def test_programme_pages(staff, login_as, db_session) -> None:
    qm = login_as(staff.qm)
    response = qm.post("/audits/programme", data={"year": 2026, "title": "Programme 2026"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert qm.post(location + "/entries", data={"process_area": "Firearms", "clauses": "17020:7.1",
                                               "planned_month": 5, "risk_level": "high"}).status_code == 302
    bad = qm.post(location + "/entries", data={"process_area": "X", "clauses": "nope:1", "planned_month": 5,
                                              "risk_level": "low"})
    assert bad.status_code == 400 and "Unknown clause" in bad.get_data(as_text=True)
    page = qm.get(location).get_data(as_text=True)
    assert "Firearms" in page and "Plan it" in page
    assert qm.post("/audits/programme", data={"year": 2026, "title": "Again"}).status_code == 409


def test_dashboard_shows_overdue_and_own_actions(running, staff, login_as, db_session) -> None:
    from qms.audits import services

    target = item(running, "17020:6.1.5")
    services.record_result(target, staff.lead, result="non_conforming")
    finding = services.raise_finding(target, staff.lead, grade="minor", statement="Gap.")
    action = services.raise_action(finding, staff.lead, title="Overdue fix", owner_id=staff.examiner.id,
                                   due_on=TODAY)
    action.due_on = TODAY - timedelta(days=3)  # time passes
    db_session.commit()
    board = login_as(staff.qm).get("/").get_data(as_text=True)
    assert "Overdue corrective actions" in board and "Overdue fix" in board and "Audits in progress" in board
    mine = login_as(staff.examiner).get("/").get_data(as_text=True)
    assert "My corrective actions" in mine and "Overdue fix" in mine
    listing = login_as(staff.qm).get("/audits/actions?show=overdue").get_data(as_text=True)
    assert "Overdue fix" in listing and "overdue-label" in listing
    assert login_as(staff.qm).get("/audits/actions?show=bogus").status_code == 400


def test_reaudit_pages(running, staff, login_as, db_session) -> None:
    from qms.audits import services

    services.record_result(item(running, "17020:6.1.1"), staff.lead, result="non_conforming")
    services.report_audit(running, staff.lead, "Reported.")
    db_session.commit()
    qm = login_as(staff.qm)
    assert qm.get(f"/audits/{running.id}/reaudit").status_code == 200
    response = qm.post(f"/audits/{running.id}/reaudit", data={
        "title": "Re-audit", "planned_start": TODAY.isoformat(), "planned_end": TODAY.isoformat(),
        "lead_auditor_id": staff.auditor.id})
    assert response.status_code == 302
    page = qm.get(response.headers["Location"].rstrip("/") + "/progress")
    assert page.status_code == 200 and "not assessed" in page.get_data(as_text=True)
    assert qm.get(f"/audits/{running.id}/progress").status_code == 400  # not a re-audit


def test_report_and_exports_download(running, staff, login_as, db_session) -> None:
    from qms.audits import services

    services.record_result(item(running, "17020:6.1.1"), staff.lead, result="conforming", evidence_note=CYRILLIC)
    db_session.commit()
    viewer = login_as(staff.csi)
    pdf = viewer.get(f"/audits/{running.id}/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]
    csv = viewer.get(f"/audits/{running.id}/checklist.csv")
    assert csv.status_code == 200 and CYRILLIC in csv.data.decode("utf-8-sig")
    xlsx = viewer.get(f"/audits/{running.id}/checklist.xlsx")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    page = viewer.get(f"/audits/{running.id}").get_data(as_text=True)
    assert f"/audits/{running.id}/report.pdf" in page and f"/audits/{running.id}/checklist.xlsx" in page
    assert viewer.get("/audits/999999/report.pdf").status_code == 404



def test_the_report_in_a_language_nobody_offers_is_refused_with_the_reason(running, staff, login_as) -> None:
    viewer = login_as(staff.csi)
    refused = viewer.get(f"/audits/{running.id}/report.pdf?lang=xx")
    assert refused.status_code == 400 and refused.mimetype != "application/pdf"
    assert "There is no catalogue for the language xx" in refused.get_data(as_text=True)
    chosen = viewer.get(f"/audits/{running.id}/report.pdf?lang=mk")
    assert chosen.status_code == 200 and chosen.data.startswith(b"%PDF")

def test_gap_analysis_page(running, staff, login_as, db_session) -> None:
    from qms.audits import services

    services.record_result(item(running, "17020:6.1.1"), staff.lead, result="conforming")
    db_session.commit()
    page = login_as(staff.examiner).get("/audits/gap")
    assert page.status_code == 200 and "Gap analysis" in page.get_data(as_text=True)
    assert "6.1.1" in page.get_data(as_text=True)


def test_team_member_auditing_own_work_is_refused_on_the_page(audit, staff, login_as, db_session) -> None:
    from qms.audits.models import TeamMember

    effective_sop(staff, db_session, staff.examiner, ["17020:7.1.2"])
    db_session.commit()
    qm = login_as(staff.qm)
    response = qm.post(f"/audits/{audit.id}/team", data={"user_id": staff.examiner.id, "role": "technical_expert"})
    assert response.status_code == 403 and "may not audit their own work" in response.get_data(as_text=True)
    assert response.get_data(as_text=True).count("CSI-SOP-301") >= 1
    assert [m.user_id for m in db_session.scalars(sa.select(TeamMember))] == [staff.auditor.id]
    assert qm.post(f"/audits/{audit.id}/team", data={"user_id": staff.csi.id, "role": "observer"}).status_code == 302


def test_a_finding_correction_keeps_its_reason_on_the_trail(running, staff, login_as, db_session) -> None:
    from qms.audits import services

    target = item(running, "17020:6.1.5")
    services.record_result(target, staff.lead, result="non_conforming")
    finding = services.raise_finding(target, staff.lead, grade="observation", statement="Looks thin.")
    db_session.commit()
    lead = login_as(staff.lead)
    refused = lead.post(f"/audits/findings/{finding.id}/revise", data={"grade": "major", "statement": "Missing."})
    assert refused.status_code == 400 and "Reason for the change" in refused.get_data(as_text=True)
    assert "Missing." in refused.get_data(as_text=True)  # the finding page again, with the statement as typed
    done = lead.post(f"/audits/findings/{finding.id}/revise", data={
        "grade": "major", "statement": "No monitoring at all.", "reason": "Second sample confirmed it."})
    assert done.status_code == 302
    row = db_session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "Finding",
                                                         AuditEvent.action == "update")).one()
    assert (row.username, row.reason, row.before["grade"], row.after["grade"]) == (
        "lead", "Second sample confirmed it.", "observation", "major")


def test_list_filters_refuse_unknown_values(audit, staff, login_as) -> None:
    viewer = login_as(staff.csi)
    assert "Personnel and methods" in viewer.get("/audits?status=planned").get_data(as_text=True)
    assert "Personnel and methods" not in viewer.get("/audits?status=closed").get_data(as_text=True)
    assert viewer.get("/audits?status=bogus").status_code == 400
    assert viewer.get("/audits/findings?grade=bogus").status_code == 400
    assert viewer.get("/audits/actions?status=bogus").status_code == 400
    page = viewer.get(f"/audits/{audit.id}").get_data(as_text=True)
    assert "Start the audit" not in page  # a CSI officer reads, the auditors run it
