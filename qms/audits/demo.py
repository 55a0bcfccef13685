"""Demo audits for FC-MOI: this year's programme, a reported audit with findings and actions (one
overdue, one closed after an independent review) and a technical audit in progress."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from qms.audits import services
from qms.audits.models import Audit, AuditProgramme
from qms.auth.models import Unit, User
from qms.db import today
from qms.extensions import db
from qms.trail.audited import audit_reason, set_actor

UNIT = "FC-MOI"
PERSONNEL_RESULTS = {  # requirement -> (result, objective evidence or justification)
    "17020:6.1.1": ("conforming", "Job descriptions for all 14 posts, signed and dated."),
    "17020:6.1.2": ("conforming", "Competence criteria per task in the training manual, revision 3."),
    "17020:6.1.3": ("non_conforming", "Two of five new CSI officers attend scenes alone without a recorded "
                                      "authorisation."),
    "17020:6.1.4": ("partially_conforming", "Training plan exists; 2026 plan not yet approved."),
    "17020:6.1.5": ("non_conforming", "Monitoring of examiners: no witnessed examination recorded in 2026."),
    "17020:6.1.6": ("conforming", "Records of competence for all staff in personnel files."),
}


def _users(*names: str) -> dict[str, User]:
    return {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(names)))}


def _programme(unit: Unit, qm: User) -> AuditProgramme:
    year = today().year
    programme = services.create_programme(
        unit_id=unit.id, actor=qm, year=year, title=f"Internal audit programme {year}",
        risk_notes="Firearms work carries the highest risk: new examiners and a new comparison microscope.")
    services.add_entry(programme, qm, process="Firearms examination and ballistic comparison",
                       clauses=["17020:7.1", "bpm-firearms:4.1"], planned_month=9, risk_level="high",
                       rationale="Two new examiners; results go to court.")
    services.add_entry(programme, qm, process="Personnel competence", clauses=["17020:6.1"], planned_month=3,
                       risk_level="medium", rationale="Several new CSI officers this year.")
    services.add_entry(programme, qm, process="Management system documents and records",
                       clauses=["17020:8.3", "17020:8.4"], planned_month=11, risk_level="low",
                       rationale="Conforming at the last audit.")
    return programme


def _reported_audit(unit: Unit, programme: AuditProgramme, users: dict[str, User]) -> Audit:
    auditor, examiner = users["auditor"], users["examiner"]
    entry = next(e for e in programme.entries if e.process == "Personnel competence")
    start = today() - timedelta(days=60)
    audit = services.create_audit(services.AuditPlan(
        title="Personnel competence audit", planned_start=start, planned_end=start + timedelta(days=2),
        lead_auditor_id=auditor.id, clauses=("17020:6.1",), auditee="Scene examination and firearms sections",
        areas="Training, authorisation and monitoring of staff", programme_entry_id=entry.id),
        unit_id=unit.id, actor=users["quality"])
    services.start_audit(audit, auditor)
    by_id = {item.requirement_id: item for item in audit.items}
    for requirement_id, (result, note) in PERSONNEL_RESULTS.items():
        services.record_result(by_id[requirement_id], auditor, result=result, evidence_note=note)
    services.record_result(by_id["17020:6.1.13"], auditor, result="not_applicable",
                           justification="No work is subcontracted to outside inspectors.")
    overdue = services.raise_finding(by_id["17020:6.1.5"], auditor, grade="major",
                                     statement="Examiners' work is not monitored.")
    closed = services.raise_finding(by_id["17020:6.1.3"], auditor, grade="minor",
                                    statement="Authorisation to attend scenes alone is not recorded.")
    services.raise_finding(by_id["17020:6.1.4"], auditor, grade="observation",
                           statement="The training plan is approved late each year.")
    late = services.raise_action(overdue, auditor, title="Witness one examination per examiner each quarter",
                                 owner_id=examiner.id, due_on=today())
    with audit_reason(db.session, "demo: the action was due three weeks ago"):
        late.due_on = today() - timedelta(days=21)
    services.record_step(late, examiner, kind="correction",
                         text="Witnessed examinations planned for both new examiners.")
    _closed_action(closed, users)
    services.report_audit(audit, auditor, "Competence is managed, but authorisation and monitoring records lag.")
    return audit


def _closed_action(finding: Any, users: dict[str, User]) -> None:
    auditor, verifier, qm = users["auditor"], users["verifier"], users["quality"]
    action = services.raise_action(finding, auditor, title="Record scene authorisations",
                                   owner_id=verifier.id, due_on=today() + timedelta(days=30))
    services.record_step(action, verifier, kind="correction", text="Authorisations of the two officers recorded.")
    services.record_step(action, verifier, kind="root_cause", method="five_whys",
                         text="Why unrecorded? No form. Why no form? The SOP never asked for one.")
    services.record_step(action, verifier, kind="action_plan", text="Authorisation form added to the training SOP.")
    services.record_step(action, verifier, kind="implementation", text="Form in use since last month.")
    services.review_effectiveness(action, auditor, effective=True, text="All 5 new officers have signed forms.")
    services.close_action(action, qm, text="Effective; closed.")


def _audit_in_progress(unit: Unit, programme: AuditProgramme, users: dict[str, User]) -> Audit:
    auditor = users["auditor"]
    entry = next(e for e in programme.entries if e.risk_level == "high")
    audit = services.create_audit(services.AuditPlan(
        title="Firearms technical audit", kind="technical", checklist_template="firearms-technical-audit",
        planned_start=today(), planned_end=today() + timedelta(days=3),
        lead_auditor_id=auditor.id, auditee="Firearms section", programme_entry_id=entry.id),
        unit_id=unit.id, actor=users["quality"])
    services.start_audit(audit, auditor)
    services.record_result(audit.items[0], auditor, result="conforming",
                           evidence_note="Записник о оспособљености испитивача, потписан 2026.")
    services.record_result(audit.items[1], auditor, result="partially_conforming",
                           evidence_note="Training records for one of two examiners incomplete.")
    return audit


def seed_audits(accounts: list[Any]) -> None:
    """Once per database: FC-MOI's audit programme and two audits."""
    unit = db.session.scalar(select(Unit).where(Unit.code == UNIT))
    if unit is None or db.session.scalar(select(AuditProgramme.id).where(AuditProgramme.unit_id == unit.id)):
        return
    users = _users("quality", "auditor", "examiner", "verifier")
    if len(users) < 4:
        return
    set_actor(db.session, user_id=None, username="demo-seed", unit_id=unit.id)
    programme = _programme(unit, users["quality"])
    _reported_audit(unit, programme, users)
    _audit_in_progress(unit, programme, users)
    db.session.flush()
