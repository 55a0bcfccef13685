"""The people pages: a quality manager records training and witnessing and grants with a signature."""
from __future__ import annotations

import io
from datetime import timedelta

from qms.auth.models import Role
from qms.db import today
from qms.people import services
from qms.people.models import Gate, GateWarning
from qms.people.state import Standing
from qms.trail.models import AuditEvent
from tests.conftest import PASSWORD


def _scope(staff, gate: Gate):  # type: ignore[no-untyped-def]
    return services.scope_by_code(staff.unit.id, gate.value)


def _grant_data(scope_id: int, password: str = PASSWORD, **extra: str) -> dict[str, str]:
    return {"g-scope_id": str(scope_id), "g-valid_from": today().isoformat(), "g-password": password,
            "g-meaning": services.DEFAULT_MEANING, **extra}


def test_the_quality_manager_records_training_and_witnessing_and_grants_with_a_signature(
        staff, make_user, login_as, db_session) -> None:
    trainee = make_user(staff.unit, Role.EXAMINER, username="trainee", authorised=False)
    scope = _scope(staff, Gate.COMPARISON)
    client = login_as(staff.qm)
    page = client.get(f"/people/{trainee.id}")
    assert page.status_code == 200 and "Cartridge-case comparison" in page.get_data(as_text=True)

    day = (today() - timedelta(days=3)).isoformat()
    response = client.post(f"/people/{trainee.id}/training", content_type="multipart/form-data", data={
        "t-course": "Firearms examination", "t-provider": "Academy", "t-started_on": day, "t-completed_on": day,
        "t-hours": "120", "t-outcome": "passed", "t-scope_id": str(scope.id),
        "t-certificate": (io.BytesIO(b"%PDF-1.4 certificate"), "certificate.pdf")})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    response = client.post(f"/people/{trainee.id}/witnessing", data={
        "w-scope_id": str(scope.id), "w-observer_id": str(staff.examiner.id), "w-observed_on": day,
        "w-reference": "Exercise 7", "w-outcome": "satisfactory"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get(f"/people/{trainee.id}").get_data(as_text=True)
    assert "Firearms examination" in page and "Exercise 7" in page and "supervised work: 0 of 50" in page
    record = services.person_file(trainee.id, staff.unit.id).training[0]
    certificate = client.get(f"/people/{trainee.id}/training/{record.id}/certificate")
    assert certificate.status_code == 200 and certificate.data == b"%PDF-1.4 certificate"

    refused = client.post(f"/people/{trainee.id}/grant", data=_grant_data(
        scope.id, password="wrong password", **{"g-justification": "Long experience elsewhere"}))
    assert refused.status_code == 403
    db_session.expire_all()
    assert services.events_of(trainee.id, scope.id) == []

    granted = client.post(f"/people/{trainee.id}/grant",
                          data=_grant_data(scope.id, **{"g-justification": "Long experience elsewhere"}))
    assert granted.status_code == 302, granted.get_data(as_text=True)[:2000]
    db_session.expire_all()
    assert services.standing(trainee.id, scope).current
    matrix = client.get("/people/matrix").get_data(as_text=True)
    assert "state-authorised" in matrix


def test_nobody_grants_themselves(staff, login_as, db_session) -> None:
    scope = _scope(staff, Gate.INTERNAL_AUDIT)
    before = len(services.events_of(staff.qm.id, scope.id))
    response = login_as(staff.qm).post(f"/people/{staff.qm.id}/grant", data=_grant_data(scope.id))
    assert response.status_code == 403
    db_session.expire_all()
    assert len(services.events_of(staff.qm.id, scope.id)) == before


def test_suspend_and_reinstate_need_a_reason_and_the_signature(staff, make_user, login_as, db_session) -> None:
    person = make_user(staff.unit, Role.EXAMINER, username="person")
    scope = _scope(staff, Gate.IMAGING)
    client = login_as(staff.qm)
    url = f"/people/{person.id}/authorisations/{scope.id}"
    assert client.post(f"{url}/suspend", data={"c-reason": "", "c-password": PASSWORD}).status_code == 400
    assert client.post(f"{url}/suspend", data={"c-reason": "Complaint", "c-password": "nope"}).status_code == 403
    assert client.post(f"{url}/suspend", data={"c-reason": "Complaint", "c-password": PASSWORD}).status_code == 302
    db_session.expire_all()
    assert services.standing(person.id, scope) is Standing.SUSPENDED
    assert client.post(f"{url}/reinstate", data={"c-reason": "Cleared", "c-password": PASSWORD}).status_code == 302
    db_session.expire_all()
    assert services.standing(person.id, scope).current


def test_only_a_quality_manager_grants(staff, make_user, login_as) -> None:
    person = make_user(staff.unit, Role.EXAMINER, username="person", authorised=False)
    response = login_as(staff.examiner).post(f"/people/{person.id}/grant",
                                             data=_grant_data(_scope(staff, Gate.IMAGING).id))
    assert response.status_code == 403


def test_a_person_declares_for_themselves_and_the_pages_list_people(staff, login_as) -> None:
    client = login_as(staff.examiner)
    response = client.post("/people/declarations", data={"d-kind": "conflict_of_interest",
                                                         "d-year": str(today().year), "d-interests": "Brother-in-law"})
    assert response.status_code == 302
    page = client.get(f"/people/{staff.examiner.id}").get_data(as_text=True)
    assert "Brother-in-law" in page
    index = client.get("/people").get_data(as_text=True)
    assert f"/people/{staff.qm.id}" in index and "Change the gate mode" not in index
    assert client.get("/people/scopes").status_code == 200


def test_the_gate_mode_change_is_on_the_trail_and_warn_mode_logs_the_act(staff, make_user, login_as,
                                                                           db_session) -> None:
    client = login_as(staff.qm)
    assert client.post("/people/gate", data={"mode": "warn", "reason": ""}).status_code == 400
    assert client.post("/people/gate", data={"mode": "warn", "reason": "Transition month"}).status_code == 302
    db_session.expire_all()
    trail = db_session.query(AuditEvent).filter(AuditEvent.entity.in_(("unit_gate", "UnitGate"))).all()
    assert trail and any("Transition month" in (row.reason or "") for row in trail)
    person = make_user(staff.unit, Role.EXAMINER, username="person", authorised=False)
    services.require(person, staff.unit.id, Gate.COMPARISON)  # goes ahead
    db_session.commit()
    warning = db_session.query(GateWarning).one()
    assert warning.username == "person" and warning.scope_code == "comparison"
    assert "person" in client.get("/people").get_data(as_text=True)


def test_scope_requirements_change_with_a_reason(staff, login_as, db_session) -> None:
    scope = _scope(staff, Gate.IMAGING)
    client = login_as(staff.qm)
    data = {f"s{scope.id}-requirements": "Scanner course", f"s{scope.id}-min_training_hours": "10",
            f"s{scope.id}-min_supervised": "5", f"s{scope.id}-min_witnessed": "1",
            f"s{scope.id}-witness_interval_months": "6"}
    assert client.post(f"/people/scopes/{scope.id}", data=data).status_code == 400  # no reason
    response = client.post(f"/people/scopes/{scope.id}", data={**data, f"s{scope.id}-reason": "Annual review"})
    assert response.status_code == 302
    db_session.expire_all()
    assert scope.min_supervised == 5 and scope.witness_interval_months == 6
    added = client.post("/people/scopes", data={"code": "gsr", "name": "Gunshot residue", "min_supervised": "3"})
    assert added.status_code == 302 and services.scope_by_code(staff.unit.id, "gsr") is not None

