"""Cross-matching: every new or changed record against the unit's register; leads, and their signed decisions."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from qms.auth.models import LoginAttempt, Role
from qms.extensions import db
from qms.firearms import leads
from qms.firearms import services as firearms
from qms.firearms.models import FirearmLead, FirearmLeadDecision
from qms.trail.models import AuditEvent
from tests.conftest import PASSWORD


def _pairs(found) -> dict[int, str]:  # type: ignore[no-untyped-def]
    return {leads.other_side(row.lead, found).id: row.lead.basis for row in leads.leads_of(found)}


def test_a_seized_serial_12_45B_matches_the_stolen_I2345B_and_not_12345C(record):
    """Acceptance 1 of issue 18, through the cross-matching of the register."""
    stolen = record("I2345B", event="reported_stolen", days_ago=60)
    other = record("12345C", event="reported_stolen", days_ago=60)
    seized = record("12?45B", event="seized")
    assert _pairs(seized) == {stolen.id: "partial_serial"}
    assert _pairs(other) == {}


@pytest.mark.parametrize(("first", "second", "basis"), [
    (("O12345", "Zastava"), ("012345", "Zastava"), "serial"),  # O/0
    (("A-1234-5", "Zastava"), ("a12345", "ZASTAVA"), "serial"),  # separators, case
    (("A12345", "Zastava"), ("A12345", ""), "serial"),  # an unknown make does not rule it out
    (("A12345", "Zastava"), ("A12345", "Glock"), None),  # serials are unique only within a make
    (("A12?45", "Zastava"), ("A12845", "Zastava"), "partial_serial"),
    (("A12345", "Zastava"), ("A12346", "Zastava"), None),
])
def test_serials_and_makes_decide_a_serial_lead(record, first, second, basis):
    a = record(first[0], make=first[1])
    b = record(second[0], make=second[1])
    assert _pairs(b) == ({a.id: basis} if basis else {})


def test_a_firearm_without_serial_is_led_by_make_model_and_calibre_within_the_period(record):
    stolen = record("A123458", event="reported_stolen", days_ago=100)
    old = record("Z77", event="reported_lost", days_ago=1000)  # too short a serial to match by; too long ago
    other_model = record("B7777", model="M70", event="reported_stolen", days_ago=100)
    seized = record("", calibre="7.62x25 mm Tokarev", event="seized")
    assert _pairs(seized) == {stolen.id: "profile"}
    assert old.id not in _pairs(seized) and other_model.id not in _pairs(seized)
    also_seized = record("", event="seized", days_ago=3)  # two recoveries: no report between them
    assert seized.id not in _pairs(also_seized)


def test_too_common_a_profile_makes_no_lead(record):
    for n in range(6):
        record("", event="reported_stolen", days_ago=50 + n)
    seized = record("", event="seized")
    assert _pairs(seized) == {}


def test_a_changed_record_and_a_new_event_are_matched_again_without_repeating_leads(unit, examiner, record):
    stolen = record("A123458", event="reported_stolen", days_ago=30)
    typo = record("A123459", event="seized")
    assert _pairs(typo) == {}
    firearms.update(typo, examiner, firearms.Details(firearm_type="pistol", make="Zastava", model="M57",
                                                     calibre="7.62x25", serial_number="A12345?"),
                    reason="last digit cannot be read after all")
    assert _pairs(typo) == {stolen.id: "partial_serial"}
    firearms.add_event(typo, examiner, firearms.EventInput(kind="destroyed", occurred_on=date.today()))
    assert len(leads.leads_of(typo)) == 1


def _decide(client, lead_id: int, **fields):  # type: ignore[no-untyped-def]
    data = {"decide-outcome": "confirmed", "decide-note": "", "decide-password": PASSWORD, **fields}
    return client.post(f"/firearms/leads/{lead_id}/decide", data=data)


def test_a_lead_is_confirmed_with_a_signature_once_and_on_the_trail(unit, examiner, make_user, login_as, record, app):
    stolen = record("I2345B", event="reported_stolen", days_ago=60)
    seized = record("12?45B", event="seized")
    [row] = leads.leads_of(seized)
    client = login_as(examiner)
    page = client.get(f"/firearms/leads/{row.lead.id}").get_data(as_text=True)
    assert "I2345B" in page and "12?45B" in page and "decision-form" in page
    assert f"/firearms/leads/{row.lead.id}" in client.get(f"/firearms/{stolen.id}").get_data(as_text=True)

    app.config["THROTTLE_BASE_DELAY_SECONDS"] = 0
    before = db.session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt))
    wrong = _decide(client, row.lead.id, **{"decide-password": "not the password"})
    assert wrong.status_code == 403 and "password is not correct" in wrong.get_data(as_text=True)
    attempts = db.session.scalars(sa.select(LoginAttempt).order_by(LoginAttempt.id)).all()
    assert len(attempts) == before + 1 and attempts[-1].purpose == "firearm lead signature"
    assert not attempts[-1].succeeded
    assert leads.decision_of(row.lead) is None

    dismissed = _decide(client, row.lead.id, **{"decide-outcome": "dismissed"})
    assert dismissed.status_code == 400 and "The note is required" in dismissed.get_data(as_text=True)
    viewer = make_user(unit, Role.VIEWER, username="view1")
    assert _decide(login_as(viewer), row.lead.id).status_code == 403

    assert _decide(client, row.lead.id, **{"decide-note": "Same grips scratch as on the owner's photo"}
                   ).status_code == 302
    db.session.expire_all()
    decision = leads.decision_of(row.lead)
    assert decision is not None and (decision.outcome, decision.decided_by_id) == ("confirmed", examiner.id)
    assert "Confirmed: the same firearm" in client.get(f"/firearms/leads/{row.lead.id}").get_data(as_text=True)
    again = _decide(client, row.lead.id, **{"decide-outcome": "dismissed", "decide-note": "second thoughts"})
    assert again.status_code == 409 and "decision is final" in again.get_data(as_text=True)
    trail = [(e.entity, e.action) for e in db.session.scalars(sa.select(AuditEvent))]
    assert ("FirearmLead", "insert") in trail and ("FirearmLeadDecision", "insert") in trail
    assert leads.leads(unit.id, open_only=True) == []


def test_leads_and_decisions_are_append_only_in_the_database(unit, examiner, record):
    record("I2345B")
    seized = record("12?45B")
    [row] = leads.leads_of(seized)
    leads.decide(row.lead, examiner, outcome="dismissed", note="Different frame colour", password=PASSWORD)
    db.session.commit()
    with db.engine.connect() as connection:
        for table in (FirearmLead.__tablename__, FirearmLeadDecision.__tablename__):
            for statement in (f"UPDATE {table} SET unit_id = unit_id", f"DELETE FROM {table}"):
                with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                    connection.execute(sa.text(statement))
                connection.rollback()


def test_the_dashboard_lists_the_leads_to_decide(unit, examiner, login_as, record):
    record("I2345B")
    record("12?45B")
    page = login_as(examiner).get("/").get_data(as_text=True)
    assert "Firearm register leads to decide" in page and "1 register lead to decide" in page
