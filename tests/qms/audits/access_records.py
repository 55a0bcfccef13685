"""Unit B's audit records for the access test: a programme, an audit in progress with a result, a
file, a finding and a corrective action with an implementation step and its file."""
from __future__ import annotations

from datetime import timedelta

from qms.auth import services as auth_services
from qms.auth.models import Role
from qms.db import today

RECORD_PARAMS = {"programme_id", "audit_id", "checklist_item_id", "finding_id", "action_id", "file_id",
                 "step_id"}


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from qms.audits import services

    auth_services.grant_role(user_b, unit_b, Role.AUDITOR)
    programme = services.create_programme(unit_id=unit_b.id, actor=user_b, year=2026,
                                          title="UNIT-B-MARKER programme")
    services.add_entry(programme, user_b, process="UNIT-B-MARKER process", clauses=["17020:7.1"], planned_month=4,
                       risk_level="high")
    plan = services.AuditPlan(title="UNIT-B-MARKER audit", planned_start=today(),
                              planned_end=today() + timedelta(days=1), lead_auditor_id=user_b.id,
                              clauses=("17020:7.1",), auditee="UNIT-B-MARKER auditee")
    audit = services.create_audit(plan, unit_id=unit_b.id, actor=user_b)
    services.start_audit(audit, user_b)
    item = audit.items[0]
    result = services.record_result(item, user_b, result="non_conforming", evidence_note="UNIT-B-MARKER evidence",
                                    files=[services.Evidence(b"UNIT-B-MARKER file", "UNIT-B-MARKER.txt")])
    finding = services.raise_finding(item, user_b, grade="major", statement="UNIT-B-MARKER finding")
    action = services.raise_action(finding, user_b, title="UNIT-B-MARKER action", owner_id=user_b.id,
                                   due_on=today() + timedelta(days=5))
    services.record_step(action, user_b, kind="root_cause", method="five_whys", text="UNIT-B-MARKER cause")
    services.record_step(action, user_b, kind="action_plan", text="UNIT-B-MARKER plan")
    step = services.record_step(action, user_b, kind="implementation", text="UNIT-B-MARKER done",
                                evidence=services.Evidence(b"UNIT-B-MARKER step file", "UNIT-B-MARKER.txt"))
    return {"programme_id": programme.id, "audit_id": audit.id, "checklist_item_id": item.id,
            "finding_id": finding.id, "action_id": action.id, "file_id": result.files[0].id, "step_id": step.id}
