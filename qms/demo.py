"""The demo data set: two units and one account per role, with generated passwords.

Passwords are generated on the first run and kept in `instance/demo-accounts.json` (readable by
the owner only), so every later `qms demo` prints the same ones and no password is in the code.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from qms.auth import services
from qms.auth.models import Role, Unit
from qms.extensions import db
from qms.trail.audited import set_actor

UNITS = [
    ("FC-MOI", "Forensic Centre, Ministry of Interior", "MK"),
    ("CSI-NORTH", "Crime Scene Unit, Northern Police Directorate", "AL"),
]
ACCOUNTS = [
    ("admin", "Ana Administrator", "FC-MOI", (Role.ADMIN,), "administrator (users and settings)"),
    ("quality", "Besa Quality", "FC-MOI", (Role.QUALITY_MANAGER,), "quality manager"),
    ("auditor", "Dragan Auditor", "FC-MOI", (Role.AUDITOR,), "auditor"),
    ("examiner", "Elena Examiner", "FC-MOI", (Role.EXAMINER,), "ballistic examiner"),
    ("verifier", "Fatmir Verifier", "FC-MOI", (Role.EXAMINER,), "second examiner (verification)"),
    ("trainee", "Kiril Trainee", "FC-MOI", (Role.EXAMINER,), "examiner in training (not yet authorised to compare)"),
    ("csi", "Goran Scene", "FC-MOI", (Role.CSI_OFFICER,), "CSI officer / evidence custodian"),
    ("viewer", "Hana Viewer", "FC-MOI", (Role.VIEWER,), "read-only viewer"),
    ("north.qm", "Ilir North", "CSI-NORTH", (Role.QUALITY_MANAGER, Role.CSI_OFFICER),
     "quality manager and CSI officer of the second unit"),
]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    description: str


def _password() -> str:
    words = secrets.token_hex(3), secrets.token_hex(3), secrets.token_hex(3)
    return "demo-" + "-".join(words)


def _accounts_file() -> Path:
    return Path(current_app.config["INSTANCE_PATH"]) / "demo-accounts.json"


def seed_demo() -> list[DemoAccount]:
    """Create the demo units and accounts once; later runs only read back their passwords."""
    path = _accounts_file()
    if path.exists():
        accounts = [DemoAccount(**row) for row in json.loads(path.read_text())]
        _seed_domains(accounts)
        return accounts
    set_actor(db.session, user_id=None, username="demo-seed", unit_id=None)
    units = {code: _unit(code, name, country) for code, name, country in UNITS}
    accounts = []
    for username, full_name, unit_code, roles, description in ACCOUNTS:
        password = _password()
        services.create_user(username=username, full_name=full_name, password=password,
                             email=f"{username}@example.org", unit=units[unit_code], roles=roles)
        accounts.append(DemoAccount(username, password, description))
    db.session.commit()
    path.write_text(json.dumps([asdict(a) for a in accounts], indent=2))
    path.chmod(0o600)
    _seed_domains(accounts)
    return accounts


def _seed_domains(accounts: list[DemoAccount]) -> None:
    """Each domain's demo records; every seeder does its work once per database."""
    from qms.audits.demo import seed_audits
    from qms.comparisons.demo import seed_comparisons
    from qms.documents.demo import seed_documents
    from qms.equipment.demo import seed_equipment, seed_equipment_failure
    from qms.evidence.demo import seed_evidence
    from qms.firearms.demo import seed_firearms
    from qms.people.demo import seed_people
    from qms.quality.demo import seed_quality

    for seed in (seed_people, seed_equipment, seed_documents, seed_evidence, seed_audits, seed_comparisons,
                 seed_equipment_failure, seed_quality, seed_firearms):
        seed(accounts)
        db.session.commit()


def _unit(code: str, name: str, country: str) -> Unit:
    existing = db.session.scalar(select(Unit).where(Unit.code == code))
    return existing or services.create_unit(code=code, name=name, country=country)
