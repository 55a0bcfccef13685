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
