"""Fixtures for the evidence tests: a unit with a CSI officer, a custodian, an examiner, a case and a store."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from qms.auth.models import Role, Unit, User
from qms.evidence import custody
from qms.evidence.models import Case, StorageLocation


@dataclass
class Lab:
    unit: Unit
    csi: User
    custodian: User
    examiner: User
    qm: User
    case: Case
    shelf: StorageLocation


@pytest.fixture()
def lab(app, db_session, make_unit, make_user) -> Lab:
    unit = make_unit(code="LAB")
    csi = make_user(unit, Role.CSI_OFFICER, username="csi1")
    custodian = make_user(unit, Role.CSI_OFFICER, username="keeper")
    examiner = make_user(unit, Role.EXAMINER, username="exam1")
    qm = make_user(unit, Role.QUALITY_MANAGER, username="qm1")
    case = custody.register_case(unit_id=unit.id, actor=csi, case_number="2026/001", offence_type="Homicide",
                                 opened_on=date(2026, 11, 1))
    building = custody.add_location(unit_id=unit.id, kind="building", name="HQ")
    room = custody.add_location(unit_id=unit.id, kind="room", name="Evidence room", parent=building)
    shelf = custody.add_location(unit_id=unit.id, kind="shelf", name="Shelf A", parent=room)
    db_session.commit()
    return Lab(unit, csi, custodian, examiner, qm, case, shelf)


@pytest.fixture()
def pistol(lab, db_session):  # type: ignore[no-untyped-def]
    item = custody.register_item(lab.case, actor=lab.csi, exhibit_number="1", item_type="firearm",
                                 description="Pistol, black", make="Zastava", model="M57", serial_number="A123",
                                 calibre="7.62x25", seal_number="S-0001", collected_place="Street 1")
    db_session.commit()
    return item
