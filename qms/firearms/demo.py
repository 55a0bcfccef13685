"""Demo firearm register of unit FC-MOI: a pistol reported stolen and later seized with its serial partly
ground off (the cross-matching makes a lead to confirm), a 3D-printed pistol, a converted alarm pistol,
and the demo homicide case's pistol, registered with its custody item."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from qms.auth.models import Unit, User
from qms.db import today
from qms.evidence.models import Case, Item
from qms.extensions import db
from qms.firearms import services
from qms.firearms.models import Firearm
from qms.firearms.services import Details, EventInput
from qms.trail.audited import set_actor

HOMICIDE_CASE = "FC-2026/0147"  # the evidence demo's case (qms.evidence.demo)


def seed_firearms(accounts: list[Any]) -> None:
    """Once per database (after the evidence demo, whose pistol it registers)."""
    unit = db.session.scalar(select(Unit).where(Unit.code == "FC-MOI"))
    if unit is None or db.session.scalar(select(Firearm.id).where(Firearm.unit_id == unit.id).limit(1)) is not None:
        return
    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(["csi", "examiner"])))}
    if len(users) < 2:
        return
    csi, examiner = users["csi"], users["examiner"]
    set_actor(db.session, user_id=csi.id, username=csi.username, unit_id=unit.id)
    _stolen_then_seized(unit.id, csi, examiner)
    _categories(unit.id, csi)
    _homicide_pistol(unit.id, examiner)
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
