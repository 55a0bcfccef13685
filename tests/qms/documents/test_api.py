"""The documents API: readable records, the main actions, and the OpenAPI document."""
from __future__ import annotations

from openapi_spec_validator import validate

from qms.auth import services as auth
from qms.auth.models import Role
from tests.conftest import PASSWORD
from tests.qms.documents.conftest import CONTENT


def _client(app, db_session, user, unit, role):  # type: ignore[no-untyped-def]
    _, clear = auth.issue_token(user, unit_id=unit.id, role=role, name="test")
    db_session.commit()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
    return client


def test_openapi_documents_the_documents_endpoints(client):
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    assert {"/api/v1/documents/sops", "/api/v1/documents/sops/{sop_id}", "/api/v1/documents/revisions/{revision_id}",
            "/api/v1/documents/revisions/{revision_id}/approve",
            "/api/v1/documents/revisions/{revision_id}/acknowledge"} <= set(spec["paths"])


def test_workflow_through_the_api(app, db_session, staff):
    qm = _client(app, db_session, staff.qm, staff.unit, Role.QUALITY_MANAGER)
    examiner = _client(app, db_session, staff.examiner, staff.unit, Role.EXAMINER)
    csi = _client(app, db_session, staff.csi, staff.unit, Role.CSI_OFFICER)

    assert qm.post("/api/v1/documents/sops", json={}).status_code == 422
    created = qm.post("/api/v1/documents/sops", json={
        "code": "CSI-SOP-950", "title": "API procedure", "discipline": "evidence handling",
        "applies_to": ["csi_officer"], "content_markdown": CONTENT, "requirement_ids": ["17020:8.3.1"]})
    assert created.status_code == 201, created.json
    sop_id = created.json["id"]
    assert csi.post("/api/v1/documents/sops", json={"code": "X-1", "title": "t", "discipline": "equipment"}
                    ).status_code == 403
    listing = qm.get(f"/api/v1/documents/sops/{sop_id}/revisions")
    assert listing.status_code == 200, listing.json
    (rev,) = listing.json
    rid = rev["id"]
    assert rev["state"] == "draft" and rev["requirement_ids"] == ["17020:8.3.1"]

    bad = qm.patch(f"/api/v1/documents/revisions/{rid}", json={"requirement_ids": ["nope:1"]})
    assert bad.status_code == 400 and "Unknown requirement" in bad.json["message"]
    assert qm.patch(f"/api/v1/documents/revisions/{rid}", json={"change_summary": "First."}).status_code == 200
    assert qm.post(f"/api/v1/documents/revisions/{rid}/submit").json["state"] == "in_review"
    assert qm.patch(f"/api/v1/documents/revisions/{rid}", json={"content_markdown": "x"}).status_code == 409

    assert csi.post(f"/api/v1/documents/revisions/{rid}/acknowledge").status_code == 409
    assert qm.post(f"/api/v1/documents/revisions/{rid}/approve", json={"password": PASSWORD}).status_code == 403
    wrong = examiner.post(f"/api/v1/documents/revisions/{rid}/approve", json={"password": "guess"})
    assert wrong.status_code == 403 and "password" not in str(wrong.json.get("errors", ""))
    signed = examiner.post(f"/api/v1/documents/revisions/{rid}/approve", json={"password": PASSWORD})
    assert signed.status_code == 200 and signed.json["state"] == "effective"
    assert PASSWORD not in signed.get_data(as_text=True)
    approved = next(e for e in signed.json["events"] if e["kind"] == "approved")
    assert approved["actor_id"] == staff.examiner.id and approved["content_sha256"] == rev["content_sha256"]

    ack = csi.post(f"/api/v1/documents/revisions/{rid}/acknowledge")
    assert ack.status_code == 201 and ack.json["revision_id"] == rid
    assert qm.get(f"/api/v1/documents/sops/{sop_id}").json["status"] == "effective"
    listed = csi.get("/api/v1/documents/sops?status=effective&q=API").json
    assert [s["code"] for s in listed] == ["CSI-SOP-950"]
    assert csi.get("/api/v1/documents/sops?status=bogus").status_code == 422

    second = examiner.post(f"/api/v1/documents/sops/{sop_id}/revisions")
    assert second.status_code == 201 and second.json["number"] == 2
    rejected = qm.post(f"/api/v1/documents/revisions/{second.json['id']}/reject", json={"comment": "no"})
    assert rejected.status_code == 409  # a draft is not in review
