"""The demo register: seeded once; the stolen pistol seized with a ground-off serial waits as a lead."""
from __future__ import annotations

import sqlalchemy as sa

from qms.auth.models import Unit
from qms.firearms import leads
from qms.firearms import services as firearms
from qms.firearms.models import Firearm


def test_the_demo_firearms_are_seeded_once_with_an_open_lead(app, db_session) -> None:
    from qms.demo import seed_demo
    from qms.firearms.demo import seed_firearms

    accounts = seed_demo()
    seed_firearms(accounts)  # a second `qms demo` changes nothing
    db_session.commit()
    unit = db_session.scalar(sa.select(Unit).where(Unit.code == "FC-MOI"))
    records = db_session.scalars(sa.select(Firearm).order_by(Firearm.id)).all()
    assert [(f.make, f.model) for f in records] == [("Zastava", "M57"), ("Zastava", "M57"), ("", "FGC-9 Mk II"),
                                                   ("Zoraki", "914"), ("Zastava", "CZ 99")]
    by_model = {f.model: f for f in records}
    assert by_model["FGC-9 Mk II"].printed == "fully" and by_model["914"].conversion == "alarm_blank"
    assert by_model["CZ 99"].item is not None and by_model["CZ 99"].item.exhibit_number == "1"
    [row] = leads.leads(unit.id, open_only=True)
    pair = {row.lead.firearm_low.serial_number, row.lead.firearm_high.serial_number}
    assert pair == {"A-123458", "A12?4S8"} and row.lead.basis == "partial_serial"
    stolen = next(f for f in records if f.serial_number == "A-123458")
    assert firearms.standing_of(stolen).wanted


def test_the_demo_pages_show_the_register_the_lead_and_the_statistics(app, db_session) -> None:
    from qms.demo import seed_demo

    passwords = {account.username: account.password for account in seed_demo()}
    client = app.test_client()
    assert client.post("/login", data={"username": "examiner", "password": passwords["examiner"]}).status_code == 302
    register = client.get("/firearms").get_data(as_text=True)
    assert ">Firearms<" in register and "A12?4S8" in register and "FGC-9 Mk II" in register
    assert "Converted alarm or blank-firing weapon" in register and "3D-printed" in register
    [row] = leads.leads(db_session.scalar(sa.select(Unit.id).where(Unit.code == "FC-MOI")), open_only=True)
    lead_page = client.get(f"/firearms/leads/{row.lead.id}").get_data(as_text=True)
    assert "A-123458" in lead_page and "SVR-TE 2026/0834" in lead_page and "decision-form" in lead_page
    pistol = db_session.scalar(sa.select(Firearm).where(Firearm.model == "CZ 99"))
    assert "FC-2026/0147 / 1" in client.get(f"/firearms/{pistol.id}").get_data(as_text=True)
    assert client.get("/firearms/statistics").status_code == 200
