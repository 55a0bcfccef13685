"""Demo ballistics: scans of the demo case's casings in the unit's index, and one correlation job.

The two casings of case FC-2026/0147 get Fadul 2-1 and 3-1 (indexed at once); the test fire of the
pistol gets Fadul 2-2, fired by the same slide as 2-1, and its job runs when `qms demo` starts its
worker, so the examiner finds casing 2 ranked first, with a likelihood ratio from the Fadul calibration
fitted beforehand.

The converted pistol seized in case FC-2026/0098 (qms.evidence.demo) was test-fired: its test fire gets
Fadul 5-1, the casings of the two earlier shootings Fadul 5-2 and Fadul H (the same slide, 5, which no
other demo entry uses). The test fire's job runs here, and the examiner's identification leads, verified
blind by the second examiner, link both shootings to the pistol (qms.firearms.ballistics shows them).

Skipped when the scans are not on this machine.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select, tuple_

from ballistics.scoring import Calibration
from qms.auth.models import Unit, User
from qms.comparisons import calibration, demo_calibration, jobs, services, unit_index
from qms.comparisons.models import BallisticEntry, Conclusion, CorrelationJob, JobState
from qms.equipment import services as equipment
from qms.evidence.demo import CASE_NUMBER, RAID_CASE, SHOOTING_CASES
from qms.evidence.models import Case, Item
from qms.extensions import db
from qms.trail.audited import set_actor

DEFAULT_SCANS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fadul"
# exhibit: (Fadul scan, run a job, the scanner): exhibit 3 was scanned on SCAN-02, which later fails a check
SCANS = {"2": ("2-1", False, "SCAN-01"), "3": ("3-1", False, "SCAN-02"), "1-TF1": ("2-2", True, "SCAN-01")}
# (case, exhibit): Fadul scan, for the converted pistol's test fire and the two shootings' casings (slide 5)
TEST_FIRE = (RAID_CASE, "1-TF1")
WEDDING, CAFE = SHOOTING_CASES
LINKED_SCANS = {TEST_FIRE: "5-1", (WEDDING, "1"): "5-2", (CAFE, "1"): "H"}
SETTINGS = {"lateral resolution": "3.125 µm, processed to 6.25 µm"}
# The first examiner's identification lead, then the second examiner's blind verification (a link needs both).
DECISIONS = {"examiner": "Breech-face marks agree over most cells; the firing-pin aperture shear agrees too.",
             "verifier": "Agreed independently, blind to the first decision."}


def seed_comparisons(accounts: list[Any]) -> None:
    """Once per database (each group of entries once), when the Fadul scans are present."""
    folder = Path(current_app.config.get("DEMO_SCANS") or DEFAULT_SCANS)
    unit = db.session.scalar(select(Unit).where(Unit.code == "FC-MOI"))
    examiner = db.session.scalar(select(User).where(User.username == "examiner"))
    if unit is None or examiner is None or not folder.is_dir():
        return
    set_actor(db.session, user_id=examiner.id, username=examiner.username, unit_id=unit.id)
    scanners = {found.identifier: found.id for found in equipment.register(unit.id)}
    _install_calibration(unit.id)
    # The pistol's test fire is searched here, so first: while the index holds only the two casings, the
    # search and its review images cost two comparisons (the homicide's test fire waits for the worker).
    if "SCAN-01" in scanners:
        _converted_pistol_links(folder, unit, examiner, scanners["SCAN-01"], accounts)
    case = db.session.scalar(select(Case).where(Case.unit_id == unit.id, Case.case_number == CASE_NUMBER))
    if case is not None and not _imaged(case.items):
        set_actor(db.session, user_id=examiner.id, username=examiner.username, unit_id=unit.id)
        _homicide_entries(folder, case, examiner, scanners)
    db.session.commit()


def _imaged(items: list[Item]) -> bool:
    ids = [item.id for item in items]
    return db.session.scalar(select(BallisticEntry.id).where(BallisticEntry.item_id.in_(ids)).limit(1)) is not None


def _homicide_entries(folder: Path, case: Case, examiner: User, scanners: dict[str, int]) -> None:
    items = {i.exhibit_number: i for i in case.items}
    for exhibit, (scan, search, scanner) in SCANS.items():
        path = folder / f"Fadul {scan}.x3p"
        if exhibit not in items or not path.exists():
            continue
        entry = services.add_entry(items[exhibit], actor=examiner, data=path.read_bytes(), filename=path.name,
                                   device_id=scanners.get(scanner), calibre="9x19 mm", settings=SETTINGS,
                                   search=search)
        if not search:
            unit_index.index_entry(entry, unit_index.processed_surface(entry))


def _converted_pistol_links(folder: Path, unit: Unit, examiner: User, scanner: int, accounts: list[Any]) -> None:
    """Image the shootings' casings and the pistol's test fire, search the test fire now (not in the worker:
    the decisions need its candidates), and record both examiners' signed identification leads."""
    items = {(i.case.case_number, i.exhibit_number): i for i in db.session.scalars(
        select(Item).join(Case, Case.id == Item.case_id).where(
            Case.unit_id == unit.id, tuple_(Case.case_number, Item.exhibit_number).in_(list(LINKED_SCANS))))}
    paths = {key: folder / f"Fadul {scan}.x3p" for key, scan in LINKED_SCANS.items()}
    if len(items) < len(LINKED_SCANS) or not all(path.exists() for path in paths.values()) or _imaged(
            list(items.values())):
        return
    casings = [services.add_entry(items[key], actor=examiner, data=paths[key].read_bytes(), filename=paths[key].name,
                                  device_id=scanner, settings=SETTINGS, search=False)
               for key in LINKED_SCANS if key != TEST_FIRE]
    for entry in casings:
        unit_index.index_entry(entry, unit_index.processed_surface(entry))
    test_fire = services.add_entry(items[TEST_FIRE], actor=examiner, data=paths[TEST_FIRE].read_bytes(),
                                   filename=paths[TEST_FIRE].name, device_id=scanner, settings=SETTINGS)
    job = services.latest_job(test_fire)
    db.session.commit()
    if job is None:
        return
    with _searching_in_threads():
        done = jobs.run_job(job.id)
    if done is not None and done.state == JobState.DONE.value:
        _link(unit, done, casings, {account.username: account.password for account in accounts})
        db.session.commit()


@contextmanager
def _searching_in_threads() -> Iterator[None]:
    """One search over two entries: the worker's process pool would cost more to start than it saves."""
    config, before = current_app.config, current_app.config.get("SEARCH_PROCESSES")
    jobs.shutdown_executor()
    config["SEARCH_PROCESSES"] = 0
    try:
        yield
    finally:
        jobs.shutdown_executor()
        if before is None:
            config.pop("SEARCH_PROCESSES", None)
        else:
            config["SEARCH_PROCESSES"] = before


def _link(unit: Unit, job: CorrelationJob, casings: list[BallisticEntry], passwords: dict[str, str]) -> None:
    """Both examiners' signed conclusions on each casing the test fire's search ranked: identification leads."""
    ranked = {c.entry_id: c for c in services.candidates_of(job)}
    signers = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(list(DECISIONS))))}
    for casing in casings:
        candidate = ranked.get(casing.id)
        for username, note in DECISIONS.items():
            if candidate is None or username not in signers:
                continue
            examiner = signers[username]
            set_actor(db.session, user_id=examiner.id, username=username, unit_id=unit.id)
            services.record_decision(candidate, examiner=examiner, unit_id=unit.id,
                                     conclusion=Conclusion.IDENTIFICATION_LEAD.value, note=note,
                                     password=passwords[username])


def _install_calibration(unit_id: int) -> None:
    """The Fadul calibration fitted beforehand (see demo_calibration), if the index settings still match."""
    index = unit_index.open_unit_index(unit_id)
    if index.calibration is not None or calibration.settings_of(index) != demo_calibration.INDEX_SETTINGS:
        return
    fitted = calibration.CalibrationSet(**{**demo_calibration.SET,
                                           "name": demo_calibration.SET["name"] + " (fitted beforehand)"})
    calibration.install(index, Calibration.from_json(json.dumps(demo_calibration.CALIBRATION)), fitted)
