"""The firearm register over the API: records with their first event, events, leads and signed decisions."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from qms.auth import services as auth
from qms.auth.models import Role
from tests.conftest import PASSWORD


@pytest.fixture()
def api(unit, examiner, db_session, client):  # type: ignore[no-untyped-def]
    _, clear = auth.issue_token(examiner, unit_id=unit.id, role=Role.EXAMINER, name="api")
    db_session.commit()
    headers = {"Authorization": f"Bearer {clear}"}

    def call(method: str, url: str, body: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
        return client.open(f"/api/v1/firearms{url}", method=method, headers=headers, json=body)

    return call


def _stolen() -> dict:  # type: ignore[type-arg]
    return {"firearm_type": "pistol", "make": "Zastava", "model": "M57", "calibre": "7.62x25",
            "serial_number": "I2345B", "event": {"kind": "reported_stolen", "place": "Tetovo", "reporter": "Owner",
                                                 "police_reference": "SVR-TE 1/2026",
                                                 "occurred_on": (date.today() - timedelta(days=9)).isoformat()}}


def test_records_events_leads_and_a_signed_decision(api):
    created = api("POST", "", _stolen())
    assert created.status_code == 201, created.get_json()
    stolen = created.get_json()
    assert (stolen["serial_key"], stolen["status"]) == ("123458", "reported_stolen")
    seized = api("POST", "", {"firearm_type": "pistol", "make": "Zastava", "serial_number": "12?45B"}).get_json()
    assert seized["serial_partial"] is True and seized["status"] is None
    event = api("POST", f"/{seized['id']}/events", {"kind": "seized", "occurred_on": date.today().isoformat()})
    assert event.status_code == 201
    assert api("GET", f"/{seized['id']}").get_json()["status"] == "seized"
    [lead] = api("GET", "/leads?open=true").get_json()
    assert {lead["firearm_low_id"], lead["firearm_high_id"]} == {stolen["id"], seized["id"]}
    assert lead["basis"] == "partial_serial" and lead["decision"] is None
    assert api("GET", f"/{stolen['id']}/leads").get_json()[0]["id"] == lead["id"]
    wrong = api("POST", f"/leads/{lead['id']}/decision", {"outcome": "confirmed", "password": "wrong password"})
    assert wrong.status_code == 403
    signed = api("POST", f"/leads/{lead['id']}/decision", {"outcome": "confirmed", "password": PASSWORD})
    assert signed.status_code == 201 and "password" not in signed.get_json()
    assert api("GET", f"/leads/{lead['id']}").get_json()["decision"]["outcome"] == "confirmed"
    assert api("GET", "/leads?open=true").get_json() == []
    page = api("GET", "?serial=12345B").get_json()  # the search matches as the cross-matching does
    assert {item["id"] for item in page["items"]} == {stolen["id"], seized["id"]} and page["total"] == 2
    assert [item["id"] for item in api("GET", "?status=reported_stolen").get_json()["items"]] == [stolen["id"]]


def test_refusals_say_why(api):
    no_reporter = _stolen() | {"event": _stolen()["event"] | {"reporter": ""}}
    answer = api("POST", "", no_reporter)
    assert answer.status_code == 400 and "reporter is required" in answer.get_json()["message"]
    record = api("POST", "", {"firearm_type": "rifle", "make": "Zastava", "model": "M70"}).get_json()
    assert api("PATCH", f"/{record['id']}", {"serial_number": "B-4471"}).status_code == 422  # no reason
    changed = api("PATCH", f"/{record['id']}", {"serial_number": "B-4471", "reason": "serial found on the bolt"})
    assert changed.status_code == 200 and changed.get_json()["serial_key"] == "84471"
    assert api("GET", "/999999").status_code == 404
    assert api("POST", "", {"firearm_type": "cannon"}).status_code == 422


def test_the_statistics_csv_is_served(api):
    api("POST", "", _stolen())
    answer = api("GET", "/statistics.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.get_data(as_text=True).splitlines()[0].startswith("unit,month,event,firearm_type")
