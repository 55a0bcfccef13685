"""The firearm register through its pages and services: records, status folded from events, the trail."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from qms.auth.models import Role
from qms.errors import InvalidInput, StateConflict
from qms.evidence import custody
from qms.extensions import db
from qms.firearms import services as firearms
from qms.firearms.models import EventKind, Firearm, FirearmEvent
from qms.trail.models import AppendOnlyError, AuditEvent


def _add(client, **fields):  # type: ignore[no-untyped-def]
    data = {"add-firearm_type": "pistol", "add-make": "Zastava", "add-model": "M57", "add-calibre": "7.62x25 mm",
            "add-serial_number": "A-123458", "add-event_kind": "reported_stolen",
            "add-event_on": (date.today() - timedelta(days=10)).isoformat(), "add-event_place": "Tetovo",
            "add-event_reporter": "Petar Petrovski", "add-event_police_reference": "SVR-TE 2026/0834", **fields}
    return client.post("/firearms", data=data)


def _only(unit) -> Firearm:  # type: ignore[no-untyped-def]
    [row] = firearms.register(unit.id).rows
    return row.firearm


def test_a_stolen_report_is_added_with_its_reporter_and_shown_as_wanted(unit, examiner, login_as):
    client = login_as(examiner)
    assert _add(client).status_code == 302
    found = _only(unit)
    assert (found.serial_number, found.serial_key) == ("A-123458", "A123458")
    [event] = firearms.events_of(found)
    assert (event.kind, event.reporter, event.police_reference) == ("reported_stolen", "Petar Petrovski",
                                                                    "SVR-TE 2026/0834")
    page = client.get(f"/firearms/{found.id}").get_data(as_text=True)
    assert "Reported stolen" in page and "wanted" in page and "SVR-TE 2026/0834" in page
    listing = client.get("/firearms").get_data(as_text=True)
    assert "A-123458" in listing and "Reported stolen" in listing


@pytest.mark.parametrize(("missing", "field"), [("add-event_reporter", "reporter"),
                                                ("add-event_police_reference", "police reference"),
                                                ("add-event_place", "place")])
def test_a_stolen_or_lost_report_needs_reporter_place_and_police_reference(unit, examiner, login_as, missing, field):
    answer = _add(login_as(examiner), **{missing: ""})
    assert answer.status_code == 400 and f"The {field} is required" in answer.get_data(as_text=True)
    assert firearms.register(unit.id).total == 0


@pytest.mark.parametrize(("fields", "message"), [
    ({"add-serial_number": "12€45"}, "letters, digits and separators only"),
    ({"add-make": "", "add-model": "", "add-serial_number": "", "add-event_kind": ""}, "Describe the firearm"),
    ({"add-event_on": (date.today() + timedelta(days=2)).isoformat()}, "in the future"),
])
def test_bad_records_are_refused_with_the_reason(unit, examiner, login_as, fields, message):
    answer = _add(login_as(examiner), **fields)
    assert answer.status_code == 400 and message in answer.get_data(as_text=True)
    assert firearms.register(unit.id).total == 0


def test_the_status_is_the_latest_event_by_date_not_by_entry(unit, examiner, login_as, record):
    found = record("Z99-041177", event="seized", days_ago=5)
    client = login_as(examiner)
    late_report = {"event-kind": "reported_stolen",
                   "event-occurred_on": (date.today() - timedelta(days=40)).isoformat(), "event-place": "Bitola",
                   "event-reporter": "Owner", "event-police_reference": "SVR-BT 9/2026"}
    assert client.post(f"/firearms/{found.id}/events", data=late_report).status_code == 302
    standing = firearms.standing_of(found)
    assert standing.status is EventKind.SEIZED and not standing.wanted  # the report is dated before the seizure
    assert standing.reported_on == date.today() - timedelta(days=40)
    destroyed = {"event-kind": "destroyed", "event-occurred_on": date.today().isoformat()}
    assert client.post(f"/firearms/{found.id}/events", data=destroyed).status_code == 302
    after = client.post(f"/firearms/{found.id}/events", data={"event-kind": "returned",
                                                              "event-occurred_on": date.today().isoformat()})
    assert after.status_code == 409 and "destroyed" in after.get_data(as_text=True)
    assert firearms.standing_of(found).status is EventKind.DESTROYED


def test_the_register_filters_by_serial_type_status_and_category(unit, examiner, login_as, record):
    stolen = record("I2345B", event="reported_stolen", days_ago=30)
    printed = record("", model="FGC-9", printed="fully", home_made=True, event="seized")
    rifle = record("12345C", firearm_type="rifle", model="M70", calibre="7.62x39", conversion="deactivated")
    client = login_as(examiner)

    def numbers(query: str) -> set[int]:
        page = firearms.register(unit.id, firearms.Filters(**query))  # type: ignore[arg-type]
        assert client.get("/firearms", query_string=_as_args(query)).status_code == 200
        return {row.firearm.id for row in page.rows}

    assert numbers({"serial": "12?45B"}) == {stolen.id}  # acceptance 1 through the register search
    assert numbers({"serial": "12-345-c"}) == {rifle.id}
    assert numbers({"firearm_type": "rifle"}) == {rifle.id}
    assert numbers({"status": "seized"}) == {printed.id}
    assert numbers({"status": "none"}) == {rifle.id}
    assert numbers({"category": "printed"}) == {printed.id}
    assert numbers({"category": "converted"}) == {rifle.id}
    assert numbers({"text": "fgc"}) == {printed.id}
    assert "at least 4 readable characters" in client.get("/firearms?serial=1??").get_data(as_text=True)
    assert client.get("/firearms?type=cannon").status_code == 400


def _as_args(query: dict[str, str]) -> dict[str, str]:
    names = {"text": "q", "firearm_type": "type"}
    return {names.get(k, k): v for k, v in query.items()}


def test_only_examiners_and_csi_officers_add_and_change_records(unit, examiner, make_user, login_as, record):
    viewer = make_user(unit, Role.VIEWER, username="view1")
    manager = make_user(unit, Role.QUALITY_MANAGER, username="qm1")
    assert _add(login_as(viewer)).status_code == 403
    assert _add(login_as(manager)).status_code == 403
    found = record("A123458")
    assert "add-firearm" not in login_as(viewer).get("/firearms").get_data(as_text=True)
    assert login_as(viewer).get(f"/firearms/{found.id}").status_code == 200
    assert login_as(manager).post(f"/firearms/{found.id}/events", data={
        "event-kind": "found", "event-occurred_on": date.today().isoformat()}).status_code == 403


def test_a_seized_firearm_names_its_custody_item_once(unit, examiner, make_user, login_as, record):
    csi = make_user(unit, Role.CSI_OFFICER, username="csi1")
    case = custody.register_case(unit_id=unit.id, actor=csi, case_number="K-7", offence_type="Robbery",
                                 opened_on=date.today())
    pistol = custody.register_item(case, actor=csi, exhibit_number="1", item_type="firearm", description="Pistol")
    casing = custody.register_item(case, actor=csi, exhibit_number="2", item_type="cartridge_case",
                                   description="Casing")
    db.session.commit()
    client = login_as(examiner)
    assert str(pistol.id) in client.get("/firearms").get_data(as_text=True)  # offered in the form
    assert _add(client, **{"add-item_id": str(pistol.id)}).status_code == 302
    found = _only(unit)
    assert found.item_id == pistol.id and "K-7 / 1" in client.get(f"/firearms/{found.id}").get_data(as_text=True)
    with pytest.raises(StateConflict):
        firearms.add(unit.id, examiner, firearms.Details(firearm_type="pistol", make="CZ", item_id=pistol.id))
    db.session.rollback()
    with pytest.raises(InvalidInput, match="must be a firearm"):
        firearms.add(unit.id, examiner, firearms.Details(firearm_type="pistol", make="CZ", item_id=casing.id))


def test_events_are_append_only_in_the_orm_and_the_database(unit, record):
    record("A123458", event="seized")
    event = db.session.scalars(sa.select(FirearmEvent)).one()
    event.place = "changed"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(AppendOnlyError):
        db.session.execute(sa.delete(FirearmEvent))
    db.session.rollback()
    with db.engine.connect() as connection:
        for statement in ("UPDATE firearm_event SET place = 'x'", "DELETE FROM firearm_event"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                connection.execute(sa.text(statement))
            connection.rollback()


def test_every_change_is_on_the_audit_trail_with_its_reason(unit, examiner, login_as, record):
    found = record("A123458", event="seized")
    client = login_as(examiner)
    answer = client.post(f"/firearms/{found.id}/edit", data={
        "edit-firearm_type": "pistol", "edit-make": "Zastava", "edit-model": "M57", "edit-calibre": "7.62x25",
        "edit-serial_number": "A123459", "edit-reason": "serial re-read under magnification"})
    assert answer.status_code == 302
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    mine = [(e.entity, e.action) for e in events if e.entity.startswith("Firearm")]
    assert ("Firearm", "insert") in mine and ("FirearmEvent", "insert") in mine
    [update] = [e for e in events if e.entity == "Firearm" and e.action == "update"]
    assert update.reason == "serial re-read under magnification"
    assert (update.before["serial_number"], update.after["serial_number"]) == ("A123458", "A123459")
    assert update.after["serial_key"] == "A123459"
    no_reason = client.post(f"/firearms/{found.id}/edit", data={"edit-firearm_type": "pistol", "edit-make": "CZ"})
    assert no_reason.status_code == 400
    trail = client.get(f"/trail?entity=Firearm&entity_id={found.id}")
    assert trail.status_code in (200, 403)


def test_another_units_record_is_not_found(unit, record, make_unit, make_user, login_as):
    found = record("A123458")
    stranger = login_as(make_user(make_unit(code="OTHER"), Role.EXAMINER, username="exam2"))
    assert stranger.get(f"/firearms/{found.id}").status_code == 404
    assert stranger.post(f"/firearms/{found.id}/events", data={
        "event-kind": "found", "event-occurred_on": date.today().isoformat()}).status_code == 404
    assert "No firearm matches" in stranger.get("/firearms?serial=A123458").get_data(as_text=True)
