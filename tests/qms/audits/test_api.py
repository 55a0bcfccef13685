"""The audits API: readable records, the main actions, refusals, and the OpenAPI document."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from openapi_spec_validator import validate

from qms.auth import services as auth
from qms.auth.models import Role
from qms.db import today
from qms.trail.models import AuditEvent

TODAY = today()


def _client(app, db_session, user, unit, role):  # type: ignore[no-untyped-def]
    _, clear = auth.issue_token(user, unit_id=unit.id, role=role, name="test")
    db_session.commit()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
    return client


def test_openapi_documents_the_audits_endpoints(client) -> None:
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    assert {"/api/v1/audits", "/api/v1/audits/{audit_id}", "/api/v1/audits/{audit_id}/checklist",
            "/api/v1/audits/{audit_id}/summary", "/api/v1/audits/items/{checklist_item_id}/results",
            "/api/v1/audits/items/{checklist_item_id}/findings", "/api/v1/audits/findings/{finding_id}/actions",
            "/api/v1/audits/actions/{action_id}/review", "/api/v1/audits/actions/{action_id}/close",
            "/api/v1/audits/programmes", "/api/v1/audits/{audit_id}/reaudit"} <= set(spec["paths"])


def test_workflow_through_the_api(app, db_session, staff) -> None:
    qm = _client(app, db_session, staff.qm, staff.unit, Role.QUALITY_MANAGER)
    lead = _client(app, db_session, staff.lead, staff.unit, Role.AUDITOR)
    reviewer = _client(app, db_session, staff.auditor, staff.unit, Role.AUDITOR)
    owner = _client(app, db_session, staff.examiner, staff.unit, Role.EXAMINER)

    assert qm.post("/api/v1/audits", json={}).status_code == 422
    assert owner.post("/api/v1/audits", json={}).status_code == 403
    created = qm.post("/api/v1/audits", json={
        "title": "API audit", "planned_start": TODAY.isoformat(), "planned_end": TODAY.isoformat(),
        "lead_auditor_id": staff.lead.id, "clauses": ["17020:7.1"]})
    assert created.status_code == 201, created.json
    audit_id = created.json["id"]
    assert created.json["item_count"] == 9 and created.json["status"] == "planned"
    assert lead.post(f"/api/v1/audits/{audit_id}/start").json["status"] == "in_progress"

    checklist = lead.get(f"/api/v1/audits/{audit_id}/checklist").json
    first = checklist[0]["id"]
    refused = lead.post(f"/api/v1/audits/items/{first}/results", json={"result": "not_applicable"})
    assert refused.status_code == 400 and "justification" in refused.json["message"]
    recorded = lead.post(f"/api/v1/audits/items/{first}/results",
                         json={"result": "non_conforming", "evidence_note": "Нема записа."})
    assert recorded.status_code == 201 and recorded.json["evidence_note"] == "Нема записа."
    summary = lead.get(f"/api/v1/audits/{audit_id}/summary").json
    assert summary["by_result"]["non_conforming"] == 1 and summary["by_result"]["not_assessed"] == 8
    assert lead.get(f"/api/v1/audits/{audit_id}/checklist?result=non_conforming").json[0]["id"] == first
    assert lead.get(f"/api/v1/audits/{audit_id}/checklist?result=bogus").status_code == 422

    finding = lead.post(f"/api/v1/audits/items/{first}/findings", json={"grade": "major", "statement": "No records."})
    assert finding.status_code == 201, finding.json
    action = lead.post(f"/api/v1/audits/findings/{finding.json['id']}/actions", json={
        "title": "Keep records", "owner_id": staff.examiner.id, "due_on": (TODAY + timedelta(days=9)).isoformat()})
    assert action.status_code == 201, action.json
    action_id = action.json["id"]
    for step in ({"kind": "root_cause", "method": "five_whys", "text": "No form."},
                 {"kind": "action_plan", "text": "A form."}, {"kind": "implementation", "text": "Form used."}):
        assert owner.post(f"/api/v1/audits/actions/{action_id}/steps", json=step).status_code == 201
    assert qm.post(f"/api/v1/audits/actions/{action_id}/close", json={"text": "x"}).status_code == 409
    assert reviewer.post(f"/api/v1/audits/actions/{action_id}/review", json={"text": "ok"}).status_code == 400
    reviewed = reviewer.post(f"/api/v1/audits/actions/{action_id}/review", json={"effective": True, "text": "ok"})
    assert reviewed.status_code == 201 and reviewed.json["effective"] is True
    closed = qm.post(f"/api/v1/audits/actions/{action_id}/close", json={"text": "Closed."})
    assert closed.status_code == 201
    detail = owner.get(f"/api/v1/audits/actions/{action_id}").json
    assert detail["status"] == "closed" and [s["kind"] for s in detail["steps"]][-2:] == [
        "effectiveness_review", "closure"]
    trail = db_session.scalars(sa.select(AuditEvent.username).where(AuditEvent.entity == "ActionStep")).all()
    assert set(trail) == {"examiner", "auditor2", "qm"}


def test_programme_through_the_api(app, db_session, staff) -> None:
    qm = _client(app, db_session, staff.qm, staff.unit, Role.QUALITY_MANAGER)
    made = qm.post("/api/v1/audits/programmes", json={"year": 2027, "title": "Plan 2027"})
    assert made.status_code == 201
    entry = qm.post(f"/api/v1/audits/programmes/{made.json['id']}/entries",
                    json={"process": "Scene work", "clauses": ["17020:7.1"], "planned_month": 2, "risk_level": "high"})
    assert entry.status_code == 201, entry.json
    # the planned month is required (1-12): its absence is an invalid field
    assert qm.post(f"/api/v1/audits/programmes/{made.json['id']}/entries", json={}).status_code == 422
    assert qm.get(f"/api/v1/audits/programmes/{made.json['id']}").json["entries"][0]["process"] == "Scene work"


def test_evidence_files_go_with_a_result_and_come_back_only_to_the_unit(app, db_session, staff, running, make_unit,
                                                                       make_user) -> None:
    import base64

    from tests.qms.audits.conftest import item

    lead = _client(app, db_session, staff.lead, staff.unit, Role.AUDITOR)
    target = item(running, "17020:6.1.3").id
    pdf = b"%PDF-1.4\n% training records, scanned\n"
    recorded = lead.post(f"/api/v1/audits/items/{target}/results", json={
        "result": "conforming", "evidence_note": "Records seen.",
        "files": [{"filename": "training records.pdf", "content_base64": base64.b64encode(pdf).decode()}]})
    assert recorded.status_code == 201, recorded.json
    (file_id,) = recorded.json["file_ids"]
    download = lead.get(f"/api/v1/audits/files/{file_id}")
    assert download.status_code == 200 and download.data == pdf and download.mimetype == "application/pdf"
    assert "training_records.pdf" in download.headers["Content-Disposition"]

    refusals = [([{"filename": "x.bin", "content_base64": "%%%"}], 400, "not valid base64"),
                ([{"filename": "x.exe", "content_base64": base64.b64encode(b"MZ\x90\x00\x03").decode()}], 400, ""),
                ([{"filename": "x.txt"}], 422, "")]
    for files, status, reason in refusals:
        refused = lead.post(f"/api/v1/audits/items/{target}/results", json={"result": "conforming", "files": files})
        assert refused.status_code == status and reason in refused.json["message"], refused.json
    history = lead.get(f"/api/v1/audits/items/{target}/results").json
    assert len(history) == 1  # a refused upload records no result

    other_unit = make_unit(code="OTHER")
    stranger = _client(app, db_session, make_user(other_unit, Role.AUDITOR, username="stranger"), other_unit,
                       Role.AUDITOR)
    assert stranger.get(f"/api/v1/audits/files/{file_id}").status_code == 404
    assert "/api/v1/audits/files/{file_id}" in app.test_client().get("/api/v1/openapi.json").json["paths"]
