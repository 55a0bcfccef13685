"""The people and equipment API: signed authorisations, competence records, the register and impact reviews."""
from __future__ import annotations

import hashlib
import io
import uuid
from datetime import timedelta

from qms.auth import services as auth
from qms.auth.models import Role
from qms.comparisons.models import BallisticEntry
from qms.db import today, utcnow
from qms.evidence import custody
from qms.extensions import db
from tests.conftest import PASSWORD
from tests.qms.conftest import Staff

TODAY = today()


def _client(app, db_session, user, unit, role):  # type: ignore[no-untyped-def]
    _, clear = auth.issue_token(user, unit_id=unit.id, role=role, name="test")
    db_session.commit()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {clear}"
    return client


def _scope_id(client, code: str) -> int:  # type: ignore[no-untyped-def]
    return next(s["id"] for s in client.get("/api/v1/people/scopes").json if s["code"] == code)


def test_the_document_lists_the_people_and_equipment_operations(client) -> None:
    paths = set(client.get("/api/v1/openapi.json").json["paths"])
    assert {"/api/v1/people", "/api/v1/people/scopes", "/api/v1/people/matrix", "/api/v1/people/{user_id}",
            "/api/v1/people/{user_id}/training", "/api/v1/people/{user_id}/supervised",
            "/api/v1/people/{user_id}/witnessing", "/api/v1/people/{user_id}/authorisations/{scope_id}/grant",
            "/api/v1/people/{user_id}/authorisations/{scope_id}/suspend",
            "/api/v1/people/{user_id}/authorisations/{scope_id}/reinstate",
            "/api/v1/people/{user_id}/authorisations/{scope_id}/withdraw", "/api/v1/equipment",
            "/api/v1/equipment/{equipment_id}", "/api/v1/equipment/{equipment_id}/records",
            "/api/v1/equipment/reviews", "/api/v1/equipment/reviews/{review_id}",
            "/api/v1/equipment/reviews/{review_id}/assessments",
            "/api/v1/equipment/reviews/{review_id}/close"} <= paths


def test_a_grant_is_signed_with_the_password_and_a_wrong_one_is_refused(app, db_session, staff: Staff,
                                                                        make_user) -> None:
    trainee = make_user(staff.unit, Role.EXAMINER, username="trainee", authorised=False)
    qm = _client(app, db_session, staff.qm, staff.unit, Role.QUALITY_MANAGER)
    examiner = _client(app, db_session, staff.examiner, staff.unit, Role.EXAMINER)
    scope_id = _scope_id(qm, "sop_approval")
    url = f"/api/v1/people/{trainee.id}"

    trained = qm.post(f"{url}/training", json={
        "course": "Document control", "started_on": (TODAY - timedelta(days=3)).isoformat(),
        "completed_on": (TODAY - timedelta(days=2)).isoformat(), "hours": 4, "outcome": "passed",
        "scope_id": scope_id, "provider": "Академија"})
    assert trained.status_code == 201, trained.json
    assert trained.json["provider"] == "Академија"
    assert examiner.post(f"{url}/training", json=trained.json | {"id": None}).status_code in (403, 422)

    grant = f"{url}/authorisations/{scope_id}/grant"
    wrong = qm.post(grant, json={"password": "not the password"})
    assert wrong.status_code == 403 and wrong.json["message"]
    assert examiner.post(grant, json={"password": PASSWORD}).status_code == 403  # not a quality manager
    granted = qm.post(grant, json={"password": PASSWORD, "valid_until": (TODAY + timedelta(days=400)).isoformat()})
    assert granted.status_code == 201, granted.json
    assert granted.json["kind"] == "granted" and granted.json["signed_by_id"] == staff.qm.id
    assert "password" not in granted.json

    person = qm.get(url).json
    row = next(a for a in person["authorisations"] if a["scope_id"] == scope_id)
    assert row["standing"] == "authorised" and [e["kind"] for e in row["events"]] == ["granted"]
    assert person["training"][0]["course"] == "Document control"

    suspended = qm.post(f"{url}/authorisations/{scope_id}/suspend", json={"password": PASSWORD, "reason": "Review"})
    assert suspended.status_code == 201
    assert qm.post(f"{url}/authorisations/{scope_id}/suspend",
                   json={"password": PASSWORD, "reason": "Again"}).status_code == 409
    assert qm.post(f"{url}/authorisations/{scope_id}/reinstate",
                   json={"password": PASSWORD, "reason": "Reviewed"}).status_code == 201
    matrix = qm.get("/api/v1/people/matrix").json
    cells = next(r for r in matrix["rows"] if r["person"]["id"] == trainee.id)["cells"]
    assert next(c for c in cells if c["scope_id"] == scope_id)["standing"] == "authorised"
    assert qm.post(f"{url}/authorisations/{scope_id}/withdraw",
                   json={"password": PASSWORD, "reason": "Left the section"}).status_code == 201
    assert next(a for a in qm.get(url).json["authorisations"] if a["scope_id"] == scope_id)["standing"] == "withdrawn"


def test_unmet_requirements_need_a_justification_and_witnessing_is_recorded(app, db_session, staff: Staff,
                                                                           make_user) -> None:
    trainee = make_user(staff.unit, Role.CSI_OFFICER, username="trainee", authorised=False)
    qm = _client(app, db_session, staff.qm, staff.unit, Role.QUALITY_MANAGER)
    scope_id = _scope_id(qm, "scene_examination")
    url = f"/api/v1/people/{trainee.id}"
    refused = qm.post(f"{url}/authorisations/{scope_id}/grant", json={"password": PASSWORD})
    assert refused.status_code == 400 and "justification" in refused.json["message"]
    witnessed = qm.post(f"{url}/witnessing", json={
        "scope_id": scope_id, "observer_id": staff.csi.id, "observed_on": TODAY.isoformat(),
        "reference": "Exercise 3", "outcome": "satisfactory"})
    assert witnessed.status_code == 201 and witnessed.json["observer_id"] == staff.csi.id
    supervised = qm.post(f"{url}/supervised", json={
        "scope_id": scope_id, "supervisor_id": staff.csi.id, "performed_on": TODAY.isoformat(),
        "reference": "Case 12/26"})
    assert supervised.status_code == 201
    assert qm.post(f"{url}/witnessing", json={
        "scope_id": scope_id, "observer_id": trainee.id, "observed_on": TODAY.isoformat(),
        "reference": "Self", "outcome": "satisfactory"}).status_code == 400
    granted = qm.post(f"{url}/authorisations/{scope_id}/grant",
                      json={"password": PASSWORD, "justification": "Twenty years of scene work elsewhere."})
    assert granted.status_code == 201 and granted.json["unmet"]
    people = qm.get("/api/v1/people").json
    assert trainee.id in {p["id"] for p in people}


def _scanner(qm, identifier: str = "SCAN-9", **extra):  # type: ignore[no-untyped-def]
    created = qm.post("/api/v1/equipment", json={"identifier": identifier, "kind": "3d_scanner",
                                                 "calibration_interval_months": 12, **extra})
    assert created.status_code == 201, created.json
    return created.json


def test_the_register_derives_status_and_an_out_of_service_device_is_refused_for_an_upload(
        app, db_session, staff: Staff) -> None:
    qm = _client(app, db_session, staff.qm, staff.unit, Role.QUALITY_MANAGER)
    examiner = _client(app, db_session, staff.examiner, staff.unit, Role.EXAMINER)
    scanner = _scanner(qm)
    assert scanner["status"] == "out_of_service" and scanner["why"] == "never_calibrated"
    assert examiner.post("/api/v1/equipment", json={"identifier": "X", "kind": "camera"}).status_code == 403
    assert qm.post("/api/v1/equipment", json={"identifier": "SCAN-9", "kind": "camera"}).status_code == 409

    case = custody.register_case(unit_id=staff.unit.id, actor=staff.examiner, case_number="K-9",
                                 offence_type="Shooting", opened_on=TODAY)
    item = custody.register_item(case, actor=staff.examiner, exhibit_number="1", item_type="cartridge_case",
                                 description="A casing")
    db_session.commit()
    upload = examiner.post("/api/v1/comparisons/entries", data={
        "item_id": str(item.id), "device_id": str(scanner["id"]), "scan": (io.BytesIO(b"x"), "scan.x3p")},
        content_type="multipart/form-data")
    assert upload.status_code == 409 and "SCAN-9" in upload.json["message"]

    url = f"/api/v1/equipment/{scanner['id']}"
    calibrated = examiner.post(f"{url}/records", json={"kind": "calibration", "performed_on": TODAY.isoformat(),
                                                       "result": "pass", "performed_by": "Lab"})
    assert calibrated.status_code == 201, calibrated.json
    assert qm.get(url).json["status"] == "in_service"
    assert [r["kind"] for r in qm.get(f"{url}/records").json] == ["calibration"]
    assert qm.patch(url, json={"location": "Room 2"}).status_code == 422  # the reason is required
    moved = qm.patch(url, json={"location": "Room 2", "reason": "Moved to the new laboratory"})
    assert moved.status_code == 200 and moved.json["location"] == "Room 2" and moved.json["identifier"] == "SCAN-9"


def _entry_with(staff: Staff, device_id: int, n: int, days_ago: int) -> BallisticEntry:
    case = custody.register_case(unit_id=staff.unit.id, actor=staff.examiner, case_number=f"K-{n}",
                                 offence_type="Shooting", opened_on=TODAY)
    item = custody.register_item(case, actor=staff.examiner, exhibit_number="1", item_type="cartridge_case",
                                 description="A casing")
    entry = BallisticEntry(unit_id=staff.unit.id, item_id=item.id, device_id=device_id, device="SCAN-9", calibre="9mm",
                           acquired_by_id=staff.examiner.id, acquired_by_name="Examiner",
                           acquired_at=utcnow() - timedelta(days=days_ago), kind="topography", pixel_size_um=3.1,
                           original_sha256=hashlib.sha256(f"e{n}".encode()).hexdigest(), original_name=f"{n}.x3p",
                           original_type="x3p", original_size=1, index_entry_id=uuid.uuid4().hex)
    db.session.add(entry)
    db.session.flush()
    return entry


def test_an_impact_review_closes_only_when_every_piece_of_work_is_assessed(app, db_session, staff: Staff) -> None:
    qm = _client(app, db_session, staff.qm, staff.unit, Role.QUALITY_MANAGER)
    examiner = _client(app, db_session, staff.examiner, staff.unit, Role.EXAMINER)
    scanner = _scanner(qm)
    url = f"/api/v1/equipment/{scanner['id']}"
    assert qm.post(f"{url}/records", json={"kind": "calibration", "result": "pass",
                                           "performed_on": (TODAY - timedelta(days=10)).isoformat()}).status_code == 201
    before = _entry_with(staff, scanner["id"], 1, 20)  # before the last good calibration: not listed
    during = [_entry_with(staff, scanner["id"], n, 5) for n in (2, 3)]
    db_session.commit()
    failed = qm.post(f"{url}/records", json={"kind": "check", "result": "fail", "performed_on": TODAY.isoformat()})
    assert failed.status_code == 201
    assert qm.get(url).json["status"] == "out_of_service"

    reviews = qm.get("/api/v1/equipment/reviews").json
    assert len(reviews) == 1 and reviews[0]["closed_at"] is None
    review_url = f"/api/v1/equipment/reviews/{reviews[0]['id']}"
    lines = qm.get(review_url).json["lines"]
    assert [line["work_id"] for line in lines] == [e.id for e in during]
    assert before.id not in {line["work_id"] for line in lines}

    refused = qm.post(f"{review_url}/close", json={"conclusion": "No effect."})
    assert refused.status_code == 409 and "2" in refused.json["message"]
    assessed = examiner.post(f"{review_url}/assessments", json={
        "work_kind": "ballistic_entry", "work_id": during[0].id, "assessment": "no_effect"})
    assert assessed.status_code == 201
    assert examiner.post(f"{review_url}/assessments", json={
        "work_kind": "ballistic_entry", "work_id": during[1].id, "assessment": "re_examine"}).status_code == 400
    assert examiner.post(f"{review_url}/assessments", json={
        "work_kind": "ballistic_entry", "work_id": before.id, "assessment": "no_effect"}).status_code == 404
    assert qm.post(f"{review_url}/close", json={"conclusion": "Not yet."}).status_code == 409
    assert examiner.post(f"{review_url}/assessments", json={
        "work_kind": "ballistic_entry", "work_id": during[1].id, "assessment": "re_examine",
        "note": "Scan again after repair."}).status_code == 201
    assert examiner.post(f"{review_url}/close", json={"conclusion": "Done."}).status_code == 403
    closed = qm.post(f"{review_url}/close", json={"conclusion": "One entry re-examined."})
    assert closed.status_code == 200 and closed.json["closed_at"]
    assert all(line["assessment"] for line in closed.json["lines"])


def test_another_units_people_and_equipment_are_not_found(app, db_session, staff: Staff, make_unit,
                                                         make_user) -> None:
    other = make_unit(code="OTHER")
    stranger = make_user(other, Role.QUALITY_MANAGER, username="stranger")
    theirs = _client(app, db_session, stranger, other, Role.QUALITY_MANAGER)
    scanner = _scanner(theirs, "THEIRS")
    qm = _client(app, db_session, staff.qm, staff.unit, Role.QUALITY_MANAGER)
    assert qm.get(f"/api/v1/people/{stranger.id}").status_code == 404
    assert qm.get(f"/api/v1/equipment/{scanner['id']}").status_code == 404
    assert qm.get(f"/api/v1/equipment/{scanner['id']}/records").status_code == 404
    assert "THEIRS" not in qm.get("/api/v1/equipment").get_data(as_text=True)


def test_the_trail_names_people_and_equipment_records_and_their_fields(app, db_session, staff: Staff) -> None:
    qm = _client(app, db_session, staff.qm, staff.unit, Role.QUALITY_MANAGER)
    scope_id = _scope_id(qm, "calibration")
    assert qm.post(f"/api/v1/people/{staff.csi.id}/witnessing", json={
        "scope_id": scope_id, "observer_id": staff.examiner.id, "observed_on": TODAY.isoformat(),
        "reference": "Exercise 7", "outcome": "satisfactory"}).status_code == 201
    _scanner(qm, "SCAN-T")
    (witnessed,) = qm.get("/api/v1/trail?entity=Witnessing").json["items"]
    assert witnessed["record"].startswith("Witnessed examination")
    changes = {change["field"]: change for change in witnessed["changes"]}
    assert changes["observer_id"]["label"] == "Observer"
    assert changes["scope_id"]["after"] == "Equipment calibration"  # the scope by its name, not its number
    (instrument,) = qm.get("/api/v1/trail?entity=Equipment").json["items"]
    assert instrument["record"].startswith("Instrument")
    assert {c["label"] for c in instrument["changes"]} >= {"Identifier", "Calibration every (months)"}
