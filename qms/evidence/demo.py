"""Demo evidence: a store, one homicide case with a pistol, cartridge cases and a bullet, and their custody;
and a converted alarm pistol seized in a raid, test-fired, with the casings of two earlier shootings."""
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
# The converted Zoraki 914 (see qms.firearms.demo) seized in a raid, and two earlier shootings whose casings
# its test fire matches (qms.comparisons.demo): exhibit "1" is the pistol, "1-TF1" its test fire.
RAID_CASE = "FC-2026/0098"
SHOOTING_CASES = {"FC-2026/0061": ("Shots fired at a wedding party", "Struga, Goce Delčev 7", 150),
                  "FC-2026/0083": ("Shots fired at a café front", "Ohrid, Kej Makedonija 3", 110)}
MK = 60  # the unit's UTC offset in minutes (CET), recorded with each event


def seed_evidence(accounts: list[Any]) -> None:
    """Once per database: the demo cases of unit FC-MOI (accounts: the DemoAccount list of qms.demo).

    Each group of cases is seeded once, by its own case number, so a database seeded before a group
    existed gets it on the next `qms demo`.
    """
    unit = db.session.scalar(select(Unit).where(Unit.code == "FC-MOI"))
    if unit is None:
        return
    passwords = {account.username: account.password for account in accounts}
    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(["csi", "examiner"])))}
    csi, examiner = users["csi"], users["examiner"]
    set_actor(db.session, user_id=csi.id, username=csi.username, unit_id=unit.id)
    seeded = set(db.session.scalars(select(Case.case_number).where(Case.unit_id == unit.id)))
    if CASE_NUMBER not in seeded:
        _homicide(unit, csi, examiner, passwords)
    if RAID_CASE not in seeded:
        _converted_pistol_and_shootings(unit, csi, examiner, passwords)
    if not {CASE_NUMBER, RAID_CASE} <= seeded:
        write_checkpoint(db.session, reason="demo data")
    db.session.commit()


def _homicide(unit: Unit, csi: User, examiner: User, passwords: dict[str, str]) -> None:
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


def _converted_pistol_and_shootings(unit: Unit, csi: User, examiner: User, passwords: dict[str, str]) -> None:
    """Two shootings months apart, each with one casing; then the raid that seized the converted pistol, which
    the examiner test-fires. The casings go to the examiner, who images them with the test fire."""
    now = utcnow()
    casings = []
    for number, (offence, place, days_ago) in SHOOTING_CASES.items():
        at = now - timedelta(days=days_ago)
        case = custody.register_case(unit_id=unit.id, actor=csi, case_number=number, offence_type=offence,
                                     offence_date=at.date(), opened_on=at.date(),
                                     summary="No one hurt; one fired cartridge case recovered, no firearm.")
        casings.append(custody.register_item(case, actor=csi, exhibit_number="1", item_type="cartridge_case",
                                             when=When(at, MK), description="Fired cartridge case 9 mm Kurz",
                                             calibre="9 mm Kurz", packaging="Paper envelope",
                                             seal_number=f"MK-00{number[-4:]}01", collected_place=place))
    seized = now - timedelta(days=70)
    raid = custody.register_case(unit_id=unit.id, actor=csi, case_number=RAID_CASE,
                                 offence_type="Illegal possession of a firearm", offence_date=seized.date(),
                                 opened_on=seized.date(), summary="Raid on a café in Struga; one pistol seized.")
    pistol = custody.register_item(raid, actor=csi, exhibit_number="1", item_type="firearm", when=When(seized, MK),
                                   description="Alarm pistol converted to fire live rounds", make="Zoraki",
                                   model="914", serial_number="2212-00871", calibre="9 mm Kurz",
                                   packaging="Firearm box, tamper-evident tape", seal_number="MK-0009801",
                                   collected_place="Struga, café on Marshal Tito street")
    handed = When(seized + timedelta(days=1), MK)
    for item in [pistol, *casings]:  # the examiner compares the pistol's test fires with the open shootings
        custody.transfer_custody(item, actor=csi, receiver_username="examiner",
                                 receiver_password=passwords["examiner"], when=handed)
    fired = seized + timedelta(days=2)
    custody.break_seal(pistol, actor=examiner, notes="Opened for test-firing", when=When(fired, MK))
    custody.examine(pistol, actor=examiner, notes="Converted: barrel obstruction drilled out. Test-fired 2 rounds "
                    "of 9 mm Kurz into the water tank", when=When(fired + timedelta(hours=1), MK))
    custody.sample(pistol, actor=examiner, exhibit_number="1-TF1", item_type="cartridge_case",
                   description="Test-fire cartridge cases (2) from exhibit 1",
                   when=When(fired + timedelta(hours=1, minutes=30), MK))
    custody.reseal(pistol, actor=examiner, seal_number="MK-0009890", when=When(fired + timedelta(hours=2), MK))
