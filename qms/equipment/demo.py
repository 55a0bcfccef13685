"""Demo equipment: a comparison microscope and two 3D scanners with their calibrations; after the
comparisons are seeded, the older scanner fails its intermediate check, so an impact review waits."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from qms.auth.models import Unit, User
from qms.db import today
from qms.equipment import services
from qms.equipment.models import Equipment, EquipmentRecord
from qms.extensions import db
from qms.trail.audited import set_actor

TRACEABILITY = "Calibrated with a NIST SRM 2461 standard casing and a step-height standard traceable to the SI metre."


def _unit_and_quality() -> tuple[Unit | None, User | None]:
    unit = db.session.scalar(select(Unit).where(Unit.code == "FC-MOI"))
    quality = db.session.scalar(select(User).where(User.username == "quality"))
    return unit, quality


def seed_equipment(accounts: list[Any]) -> None:
    """Once per database: the register of unit FC-MOI."""
    unit, quality = _unit_and_quality()
    if unit is None or quality is None or db.session.scalar(select(Equipment.id).limit(1)) is not None:
        return
    set_actor(db.session, user_id=quality.id, username=quality.username, unit_id=unit.id)
    examiner = db.session.scalar(select(User).where(User.username == "examiner"))
    instruments = [
        services.Details("CM-01", "comparison_microscope", "Comparison microscope", "Leica", "FSC",
                         "LFS-20417", "Firearms laboratory, room 1.12", examiner.id if examiner else None, True, 12,
                         "Leica Microsystems service", TRACEABILITY, 90),
        services.Details("SCAN-01", "3d_scanner", "Confocal 3D scanner", "NanoFocus", "µsurf expert", "NF-88120",
                         "Firearms laboratory, room 1.14", examiner.id if examiner else None, True, 12,
                         "NanoFocus AG", TRACEABILITY, 30),
        services.Details("SCAN-02", "3d_scanner", "Confocal 3D scanner (older unit)", "NanoFocus", "µsurf custom",
                         "NF-61007", "Firearms laboratory, room 1.14", examiner.id if examiner else None, True, 12,
                         "NanoFocus AG", TRACEABILITY, 30),
    ]
    for details in instruments:
        found = services.add(unit.id, quality, details)
        services.add_record(found, quality, services.RecordInput(
            kind="calibration", result="pass", performed_on=today() - timedelta(days=200),
            performed_by=details.calibration_provider, certificate_number=f"CAL-2026-{found.identifier}"))
        services.add_record(found, quality, services.RecordInput(
            kind="check", result="pass", performed_on=today() - timedelta(days=20),
            performed_by="Elena Examiner", notes="Step-height standard within tolerance"))
    db.session.flush()


def seed_equipment_failure(accounts: list[Any]) -> None:
    """Once: SCAN-02 fails today's intermediate check after scanning a demo casing: an impact review to do."""
    unit, quality = _unit_and_quality()
    scanner = db.session.scalar(select(Equipment).where(Equipment.identifier == "SCAN-02"))
    if unit is None or quality is None or scanner is None:
        return
    if db.session.scalar(select(EquipmentRecord.id).where(EquipmentRecord.equipment_id == scanner.id,
                                                         EquipmentRecord.result == "fail")) is not None:
        return
    set_actor(db.session, user_id=quality.id, username=quality.username, unit_id=unit.id)
    services.add_record(scanner, quality, services.RecordInput(
        kind="check", result="fail", performed_on=today(), performed_by="Elena Examiner",
        notes="Step height 12 % above the certified value; lateral scale off by 0.4 %."))
    db.session.flush()
