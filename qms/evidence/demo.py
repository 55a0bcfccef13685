"""Demo evidence: a store, one homicide case with a pistol, cartridge cases and a bullet, and their custody."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from qms.auth.models import Unit, User
from qms.db import utcnow
from qms.evidence import custody
from qms.evidence.checkpoints import write_checkpoint
from qms.evidence.custody import When
from qms.evidence.models import Case
from qms.extensions import db
from qms.trail.audited import set_actor

CASE_NUMBER = "FC-2026/0147"


def seed_evidence(accounts: list[Any]) -> None:
    """Once per database: the demo case of unit FC-MOI (accounts: the DemoAccount list of qms.demo)."""
    unit = db.session.scalar(select(Unit).where(Unit.code == "FC-MOI"))
    if unit is None or db.session.scalar(select(Case.id).where(Case.case_number == CASE_NUMBER)) is not None:
        return
    passwords = {account.username: account.password for account in accounts}
    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(["csi", "examiner"])))}
    csi, examiner = users["csi"], users["examiner"]
    set_actor(db.session, user_id=csi.id, username=csi.username, unit_id=unit.id)
    building = custody.add_location(unit_id=unit.id, kind="building", name="Forensic Centre")
    room = custody.add_location(unit_id=unit.id, kind="room", name="Evidence store 0.14", parent=building)
    cabinet = custody.add_location(unit_id=unit.id, kind="cabinet", name="Firearms cabinet C1", parent=room)
    shelf = custody.add_location(unit_id=unit.id, kind="shelf", name="Shelf 2", parent=cabinet)
    start = utcnow() - timedelta(days=3)
    case = custody.register_case(unit_id=unit.id, actor=csi, case_number=CASE_NUMBER, offence_type="Homicide",
                                 offence_date=start.date(), opened_on=start.date(),
                                 summary="Shooting in a car park; one pistol and casings recovered.")
    on = When(start, 60)
    pistol = custody.register_item(case, actor=csi, exhibit_number="1", item_type="firearm", when=on,
                                   description="Semi-automatic pistol, black polymer frame", make="Zastava",
                                   model="CZ 99", serial_number="Z99-041177", calibre="9x19 mm",
                                   packaging="Firearm box, tamper-evident tape", seal_number="MK-0041201",
                                   collected_place="Car park, Partizanska 12")
    casings = [custody.register_item(case, actor=csi, exhibit_number=str(n), item_type="cartridge_case", when=on,
                                     description=f"Fired cartridge case 9x19 mm, marked casing {n - 1}",
                                     calibre="9x19 mm", packaging="Paper envelope",
                                     seal_number=f"MK-004120{n}", collected_place="Car park, Partizanska 12")
               for n in (2, 3)]
    bullet = custody.register_item(case, actor=csi, exhibit_number="4", item_type="bullet", when=on,
                                   description="Deformed bullet from the victim's vehicle", packaging="Plastic tube",
                                   seal_number="MK-0041205", collected_place="Car park, Partizanska 12")
    later = When(start + timedelta(hours=5), 60)
    for item in [*casings, bullet]:
        custody.store(item, actor=csi, location=shelf, when=later)
    for item in casings:  # the examiner holds the casings to image them (only the holder may)
        custody.remove_from_storage(item, actor=examiner, notes="For imaging",
                                    when=When(start + timedelta(days=1, hours=4), 60))
    custody.transfer_custody(pistol, actor=csi, receiver_username="examiner",
                             receiver_password=passwords["examiner"], when=When(start + timedelta(days=1), 60))
    custody.break_seal(pistol, actor=examiner, notes="Opened for test-firing",
                       when=When(start + timedelta(days=1, hours=1), 60))
    custody.examine(pistol, actor=examiner, notes="Test-fired 3 rounds into the water tank",
                    when=When(start + timedelta(days=1, hours=2), 60))
    custody.sample(pistol, actor=examiner, exhibit_number="1-TF1", item_type="cartridge_case",
                   description="Test-fire cartridge cases (3) from exhibit 1",
                   when=When(start + timedelta(days=1, hours=2, minutes=30), 60))
    custody.reseal(pistol, actor=examiner, seal_number="MK-0041290",
                   when=When(start + timedelta(days=1, hours=3), 60))
    write_checkpoint(db.session, reason="demo data")
    db.session.commit()
