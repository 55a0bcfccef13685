"""Demo firearm register of unit FC-MOI: a pistol reported stolen and later seized with its serial partly
ground off (the cross-matching makes a lead to confirm), a 3D-printed pistol, a converted alarm pistol,
and the demo homicide case's pistol, registered with its custody item.

The converted alarm pistol is then tied to its custody item (exhibit 1 of the raid case, qms.evidence.demo),
whose test fire the comparisons demo linked to the casings of two shootings: its page lists both cases."""
from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from qms.auth.models import Unit, User
from qms.db import today
from qms.evidence.demo import RAID_CASE
from qms.evidence.models import Case, Item
from qms.extensions import db
from qms.firearms import services
from qms.firearms.models import Firearm
from qms.firearms.services import Details, EventInput
from qms.trail.audited import set_actor

HOMICIDE_CASE = "FC-2026/0147"  # the evidence demo's case (qms.evidence.demo)
CONVERTED_SERIAL = "2212-00871"  # the Zoraki 914, seized in the raid case


def seed_firearms(accounts: list[Any]) -> None:
    """Once per database (after the evidence demo, whose pistols it registers)."""
    unit = db.session.scalar(select(Unit).where(Unit.code == "FC-MOI"))
    if unit is None:
        return
    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(["csi", "examiner"])))}
    if len(users) < 2:
        return
    csi, examiner = users["csi"], users["examiner"]
    set_actor(db.session, user_id=csi.id, username=csi.username, unit_id=unit.id)
    if db.session.scalar(select(Firearm.id).where(Firearm.unit_id == unit.id).limit(1)) is None:
        _stolen_then_seized(unit.id, csi, examiner)
        _categories(unit.id, csi)
        _homicide_pistol(unit.id, examiner)
    _converted_pistol_in_custody(unit.id, csi)
    db.session.flush()


def _stolen_then_seized(unit_id: int, csi: User, examiner: User) -> None:
    services.add(unit_id, csi, Details(
        firearm_type="pistol", make="Zastava", model="M57", calibre="7.62x25 mm Tokarev", serial_number="A-123458",
        country_of_manufacture="Serbia (Yugoslavia)", other_markings="Kragujevac proof mark on the slide and barrel",
        description="Black pistol, brown plastic grips; registered hunting and sport licence"),
        EventInput(kind="reported_stolen", occurred_on=today() - timedelta(days=300),
                   place="Tetovo, Ilindenska 41 (house burglary)", reporter="Petar Petrovski (owner)",
                   police_reference="SVR-TE 2026/0834", notes="Taken with a hunting rifle and ammunition."))
    services.add(unit_id, examiner, Details(
        firearm_type="pistol", make="Zastava", model="M57", calibre="7.62x25", serial_number="A12?4S8",
        other_markings="Serial ground off on the frame; the fourth character could not be restored by etching",
        description="Black pistol, grips replaced with wooden ones"),
        EventInput(kind="seized", occurred_on=today() - timedelta(days=20), place="Vehicle check, road A2 near Kičevo",
                   notes="Under the driver's seat, loaded."))


def _categories(unit_id: int, csi: User) -> None:
    services.add(unit_id, csi, Details(
        firearm_type="pistol", model="FGC-9 Mk II", calibre="9x19 mm", printed="fully", home_made=True,
        description="3D-printed frame (PLA+), home-made barrel with electrochemical rifling; no serial number"),
        EventInput(kind="seized", occurred_on=today() - timedelta(days=45), place="Flat search, Skopje, Karpoš",
                   notes="With a second, unfinished printed frame and the printer."))
    services.add(unit_id, csi, Details(
        firearm_type="pistol", make="Zoraki", model="914", calibre="9 mm Kurz", serial_number="2212-00871",
        conversion="alarm_blank", country_of_manufacture="Turkey",
        other_markings="Original markings: ZORAKI MOD 914, 9 mm P.A.K., Made in Turkey",
        description="Alarm pistol converted to fire live rounds: barrel obstruction drilled out"),
        EventInput(kind="seized", occurred_on=today() - timedelta(days=70), place="Struga, raid on a café"))


def _homicide_pistol(unit_id: int, examiner: User) -> None:
    item = db.session.scalar(select(Item).join(Case, Case.id == Item.case_id).where(
        Case.unit_id == unit_id, Case.case_number == HOMICIDE_CASE, Item.exhibit_number == "1"))
    if item is None:
        return
    services.add(unit_id, examiner, Details(
        firearm_type="pistol", make=item.make, model=item.model, calibre=item.calibre,
        serial_number=item.serial_number, country_of_manufacture="Serbia", item_id=item.id,
        description=item.description),
        EventInput(kind="seized", occurred_on=item.collected_at.date(), place=item.collected_place))


def _converted_pistol_in_custody(unit_id: int, csi: User) -> None:
    """Tie the converted alarm pistol's record to its custody item, once (a database seeded before the raid case
    existed gets the tie on its next `qms demo`)."""
    found = db.session.scalar(select(Firearm).where(Firearm.unit_id == unit_id,
                                                    Firearm.serial_number == CONVERTED_SERIAL))
    item = db.session.scalar(select(Item).join(Case, Case.id == Item.case_id).where(
        Case.unit_id == unit_id, Case.case_number == RAID_CASE, Item.exhibit_number == "1"))
    if found is None or item is None or found.item_id is not None or \
            db.session.scalar(select(Firearm.id).where(Firearm.item_id == item.id)) is not None:
        return
    details = Details(**{f.name: getattr(found, f.name) for f in fields(Details)} | {"item_id": item.id})
    services.update(found, csi, details, reason=f"Entered into custody as exhibit 1 of case {RAID_CASE}")
