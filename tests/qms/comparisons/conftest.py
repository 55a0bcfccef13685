"""Fixtures for the comparison tests: a unit with two examiners, two cases with cartridge cases, scans.

Scans are small synthetic surfaces (ballistics.synth, 128 x 128 px at 6.25 µm) written as X3P, so a
whole correlation job takes well under a second; the Fadul scans are used where realism matters.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from ballistics.io import write_x3p
from ballistics.synth import synthetic_set
from qms.auth.models import Role, Unit, User
from qms.equipment import services as equipment
from qms.equipment.models import Equipment
from qms.evidence import custody
from tests.conftest import PASSWORD
from qms.evidence.models import Case, Item

FADUL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "fadul"


@pytest.fixture()
def app_config(app_config):  # type: ignore[no-untyped-def]
    # Searches in-process use threads: a process pool per test would cost seconds to start.
    return {**app_config, "SEARCH_PROCESSES": 0}


@dataclass
class Bench:
    unit: Unit
    examiner: User
    verifier: User
    qm: User
    csi: User
    cases: list[Case]
    casings: list[Item]
    device: Equipment


def calibrated_scanner(unit: Unit, qm: User, identifier: str = "SCAN-01") -> Equipment:
    """A 3D scanner in the unit's register with a passing calibration a month old, due in eleven months."""
    found = equipment.add(unit.id, qm, equipment.Details(identifier=identifier, kind="3d_scanner", make="NanoFocus",
                                                         model="muSurf", calibration_interval_months=12))
    equipment.add_record(found, qm, equipment.RecordInput(kind="calibration", result="pass",
                                                          performed_on=date.today() - timedelta(days=30)))
    return found


@pytest.fixture()
def scene_bench(app, db_session, make_unit, make_user) -> Bench:
    """A firearms unit whose casings are as registered at the scene: the CSI officer holds them."""
    unit = make_unit(code="FIRE")
    examiner = make_user(unit, Role.EXAMINER, username="exam1")
    verifier = make_user(unit, Role.EXAMINER, username="exam2")
    qm = make_user(unit, Role.QUALITY_MANAGER, username="qm1")
    csi = make_user(unit, Role.CSI_OFFICER, username="csi1")
    cases, casings = [], []
    for n in range(3):
        case = custody.register_case(unit_id=unit.id, actor=csi, case_number=f"2026/10{n}", offence_type="Shooting",
                                     opened_on=date(2026, 11, 1))
        casings.append(custody.register_item(case, actor=csi, exhibit_number="1", item_type="cartridge_case",
                                             description=f"Casing of case {n}", calibre="9x19 mm"))
        cases.append(case)
    device = calibrated_scanner(unit, qm)
    db_session.commit()
    return Bench(unit, examiner, verifier, qm, csi, cases, casings, device)


@pytest.fixture()
def bench(scene_bench, db_session) -> Bench:  # type: ignore[no-untyped-def]
    """The casings handed over to the examiner who images them: only the holder of an item images it."""
    for casing in scene_bench.casings:
        custody.transfer_custody(casing, actor=scene_bench.csi, receiver_username=scene_bench.examiner.username,
                                 receiver_password=PASSWORD)
    db_session.commit()
    return scene_bench


def _x3p_bytes(surface) -> bytes:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as folder:
        return write_x3p(surface, Path(folder) / "scan.x3p").read_bytes()


@pytest.fixture(scope="session")
def scans() -> dict[str, bytes]:
    """X3P bytes of synthetic shots: F0000-S00/S01 share a firearm, F0001-S00 and F0002-S00 do not."""
    shots = {name: surface for name, _firearm, surface in synthetic_set(3, 2, seed=7, shape=(128, 128))}
    return {name: _x3p_bytes(surface) for name, surface in shots.items()}


def fadul(name: str) -> bytes:
    path = FADUL / f"Fadul {name}.x3p"
    if not path.exists():
        pytest.skip(f"the Fadul scans are not at {FADUL}")
    return path.read_bytes()
