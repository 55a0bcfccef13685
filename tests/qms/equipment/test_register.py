"""The equipment register through its pages and services: derived status, append-only records, the trail."""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from qms.auth.models import Role
from qms.equipment import services as equipment
from qms.equipment.models import Equipment, EquipmentRecord
from qms.equipment.status import Status
from qms.extensions import db
from qms.trail.models import AppendOnlyError, AuditEvent

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture()
def unit(make_unit):  # type: ignore[no-untyped-def]
    return make_unit(code="LAB")


@pytest.fixture()
def qm(unit, make_user):  # type: ignore[no-untyped-def]
    return make_user(unit, Role.QUALITY_MANAGER, username="qm1")


def _add(client, **fields):  # type: ignore[no-untyped-def]
    data = {"add-identifier": "MIC-01", "add-kind": "comparison_microscope", "add-make": "Leica",
            "add-model": "FSC", "add-location": "Lab 2", "add-affects_results": "y",
            "add-calibration_interval_months": "12", **fields}
    return client.post("/equipment", data=data)


def _record(client, found_id: int, **fields):  # type: ignore[no-untyped-def]
    data = {"record-kind": "calibration", "record-performed_on": (date.today() - timedelta(days=2)).isoformat(),
            "record-result": "pass", **fields}
    return client.post(f"/equipment/{found_id}/records", data=data, content_type="multipart/form-data")


def _only(unit) -> Equipment:  # type: ignore[no-untyped-def]
    [found] = equipment.register(unit.id)
    return found


def test_the_register_page_shows_the_status_derived_from_the_records(unit, qm, login_as):
    client = login_as(qm)
    assert _add(client).status_code == 302
    found = _only(unit)
    page = client.get("/equipment").get_data(as_text=True)
    assert "MIC-01" in page and "Out of service (never calibrated)" in page
    next_due = date.today() + timedelta(days=300)
    answer = _record(client, found.id, **{"record-next_due": next_due.isoformat(), "record-certificate_number": "C-7",
                                          "record-certificate": (io.BytesIO(PDF), "cert 7.pdf")})
    assert answer.status_code == 302
    page = client.get("/equipment").get_data(as_text=True)
    assert "In service" in page and next_due.isoformat() in page
    detail = client.get(f"/equipment/{found.id}").get_data(as_text=True)
    assert "C-7" in detail
    [record] = equipment.records_of(found)
    download = client.get(f"/equipment/records/{record.id}/certificate")
    assert download.status_code == 200 and download.data == PDF
    assert "cert_7.pdf" in download.headers["Content-Disposition"]


def test_a_failed_check_takes_it_out_of_service_and_a_passing_one_puts_it_back(unit, qm, login_as):
    client = login_as(qm)
    _add(client)
    found = _only(unit)
    _record(client, found.id)
    assert equipment.status_of(found).status is Status.IN_SERVICE
    _record(client, found.id, **{"record-kind": "check", "record-result": "fail",
                                 "record-performed_on": (date.today() - timedelta(days=1)).isoformat()})
    assert equipment.status_of(found).status is Status.OUT_OF_SERVICE
    assert "last calibration or check failed" in client.get(f"/equipment/{found.id}").get_data(as_text=True)
    assert len(equipment.reviews(unit.id, open_only=True)) == 1
    _record(client, found.id, **{"record-kind": "check", "record-result": "pass",
                                 "record-performed_on": date.today().isoformat()})
    assert equipment.status_of(found).status is Status.IN_SERVICE
    assert not hasattr(Equipment, "status")  # nothing to set by hand: the status is derived


def test_a_calibration_falling_due_within_30_days_shows_as_due_soon(unit, qm, login_as):
    client = login_as(qm)
    _add(client)
    found = _only(unit)
    _record(client, found.id, **{"record-next_due": (date.today() + timedelta(days=10)).isoformat()})
    assert equipment.status_of(found).status is Status.DUE_SOON
    assert "Calibration due soon" in client.get("/equipment").get_data(as_text=True)


@pytest.mark.parametrize("fields, message", [
    ({"record-result": ""}, "passes or fails"),
    ({"record-performed_on": (date.today() + timedelta(days=3)).isoformat()}, "in the future"),
    ({"record-certificate": (io.BytesIO(b"not a pdf"), "c.pdf")}, "must be a PDF"),
])
def test_bad_records_are_refused_with_the_reason(unit, qm, login_as, fields, message):
    client = login_as(qm)
    _add(client)
    found = _only(unit)
    answer = _record(client, found.id, **fields)
    assert answer.status_code == 400 and message in answer.get_data(as_text=True)
    assert equipment.records_of(found) == []


def test_only_a_quality_manager_adds_or_changes_instruments(unit, qm, make_user, login_as):
    examiner = make_user(unit, Role.EXAMINER, username="exam1")
    assert _add(login_as(examiner)).status_code == 403
    client = login_as(qm)
    _add(client)
    found = _only(unit)
    assert "add-instrument" not in login_as(examiner).get("/equipment").get_data(as_text=True)
    assert login_as(examiner).post(f"/equipment/{found.id}/edit", data={
        "edit-identifier": "X", "edit-kind": "camera", "edit-reason": "r"}).status_code == 403
    duplicate = _add(client)
    assert duplicate.status_code == 409 and "already holds an instrument MIC-01" in duplicate.get_data(as_text=True)


def test_records_are_append_only_in_the_orm_and_the_database(unit, qm, login_as):
    client = login_as(qm)
    _add(client)
    _record(client, _only(unit).id)
    record = db.session.scalars(sa.select(EquipmentRecord)).one()
    record.notes = "changed"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AppendOnlyError):
        db.session.execute(sa.delete(EquipmentRecord))
    db.session.rollback()
    with db.engine.connect() as connection:
        for statement in ("UPDATE equipment_record SET notes = 'x'", "DELETE FROM equipment_record"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                connection.execute(sa.text(statement))
            connection.rollback()


def test_every_change_is_on_the_audit_trail_with_its_reason(unit, qm, login_as):
    client = login_as(qm)
    _add(client)
    found = _only(unit)
    _record(client, found.id)
    answer = client.post(f"/equipment/{found.id}/edit", data={
        "edit-identifier": "MIC-01", "edit-kind": "comparison_microscope", "edit-location": "Lab 3",
        "edit-affects_results": "y", "edit-calibration_interval_months": "12", "edit-reason": "moved to lab 3"})
    assert answer.status_code == 302
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    mine = [(e.entity, e.action) for e in events if e.entity in ("Equipment", "EquipmentRecord")]
    assert ("Equipment", "insert") in mine and ("EquipmentRecord", "insert") in mine
    [update] = [e for e in events if e.entity == "Equipment" and e.action == "update"]
    assert update.reason == "moved to lab 3" and update.after["location"] == "Lab 3"
    assert update.username == "qm1"


def test_an_edit_without_a_reason_is_refused(unit, qm, login_as):
    client = login_as(qm)
    _add(client)
    found = _only(unit)
    answer = client.post(f"/equipment/{found.id}/edit", data={
        "edit-identifier": "MIC-01", "edit-kind": "comparison_microscope", "edit-location": "Lab 9"})
    assert answer.status_code == 400
    db.session.expire_all()
    assert _only(unit).location == "Lab 2"


def test_another_units_instrument_and_certificate_are_not_found(unit, qm, make_unit, make_user, login_as):
    _add(login_as(qm))
    found = _only(unit)
    _record(login_as(qm), found.id, **{"record-certificate": (io.BytesIO(PDF), "c.pdf")})
    [record] = equipment.records_of(found)
    other = make_user(make_unit(code="OTHER"), Role.QUALITY_MANAGER, username="qm2")
    stranger = login_as(other)
    assert stranger.get(f"/equipment/{found.id}").status_code == 404
    assert stranger.get(f"/equipment/records/{record.id}/certificate").status_code == 404
