"""Demo ballistics: scans of the demo case's casings in the unit's index, and one correlation job.

The two casings of case FC-2026/0147 get Fadul 2-1 and 3-1 (indexed at once); the test fire of the
pistol gets Fadul 2-2, fired by the same slide as 2-1, and its job runs when `qms demo` starts its
worker, so the examiner finds casing 2 ranked first, with a likelihood ratio from the Fadul calibration
fitted beforehand. Skipped when the scans are not on this machine.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from ballistics.scoring import Calibration
from qms.auth.models import Unit, User
from qms.comparisons import calibration, demo_calibration, services, unit_index
from qms.comparisons.models import BallisticEntry
from qms.equipment import services as equipment
from qms.evidence.demo import CASE_NUMBER
from qms.evidence.models import Case, Item
from qms.extensions import db
from qms.trail.audited import set_actor

DEFAULT_SCANS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fadul"
# exhibit: (Fadul scan, run a job, the scanner): exhibit 3 was scanned on SCAN-02, which later fails a check
SCANS = {"2": ("2-1", False, "SCAN-01"), "3": ("3-1", False, "SCAN-02"), "1-TF1": ("2-2", True, "SCAN-01")}


def seed_comparisons(accounts: list[Any]) -> None:
    """Once per database, when the Fadul scans are present."""
    folder = Path(current_app.config.get("DEMO_SCANS") or DEFAULT_SCANS)
    unit = db.session.scalar(select(Unit).where(Unit.code == "FC-MOI"))
    case = db.session.scalar(select(Case).where(Case.case_number == CASE_NUMBER))
    if unit is None or case is None or not folder.is_dir() or db.session.scalar(select(BallisticEntry.id).limit(1)):
        return
    examiner = db.session.scalar(select(User).where(User.username == "examiner"))
    set_actor(db.session, user_id=examiner.id, username=examiner.username, unit_id=unit.id)
    items = {i.exhibit_number: i for i in db.session.scalars(select(Item).where(Item.case_id == case.id))}
    scanners = {found.identifier: found.id for found in equipment.register(unit.id)}
    for exhibit, (scan, search, scanner) in SCANS.items():
        path = folder / f"Fadul {scan}.x3p"
        if exhibit not in items or not path.exists():
            continue
        entry = services.add_entry(items[exhibit], actor=examiner, data=path.read_bytes(), filename=path.name,
                                   device_id=scanners.get(scanner), calibre="9x19 mm",
                                   settings={"lateral resolution": "3.125 µm, processed to 6.25 µm"}, search=search)
        if not search:
            unit_index.index_entry(entry, unit_index.processed_surface(entry))
    _install_calibration(unit.id)
    db.session.commit()


def _install_calibration(unit_id: int) -> None:
    """The Fadul calibration fitted beforehand (see demo_calibration), if the index settings still match."""
    index = unit_index.open_unit_index(unit_id)
    if index.calibration is not None or calibration.settings_of(index) != demo_calibration.INDEX_SETTINGS:
        return
    fitted = calibration.CalibrationSet(**{**demo_calibration.SET,
                                           "name": demo_calibration.SET["name"] + " (fitted beforehand)"})
    calibration.install(index, Calibration.from_json(json.dumps(demo_calibration.CALIBRATION)), fitted)
