"""Demo people records: personnel files, training, supervised work, witnessing, declarations and
signed authorisations, so the gates let the demo's people do their work; one examiner in training."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from qms.auth.models import Unit, User
from qms.db import today
from qms.extensions import db
from qms.people import services
from qms.people.models import AuthorisationEvent, Gate
from qms.trail.audited import set_actor

G = Gate
SCOPES_BY_ACCOUNT = {
    "quality": (G.SOP_APPROVAL, G.INTERNAL_AUDIT, G.AUDIT_LEAD, G.EVIDENCE_CUSTODY),
    "auditor": (G.INTERNAL_AUDIT, G.AUDIT_LEAD),
    "examiner": (G.EVIDENCE_CUSTODY, G.IMAGING, G.COMPARISON, G.VERIFICATION, G.SOP_APPROVAL, G.CALIBRATION),
    "verifier": (G.EVIDENCE_CUSTODY, G.IMAGING, G.COMPARISON, G.VERIFICATION),
    "csi": (G.SCENE_EXAMINATION, G.EVIDENCE_CUSTODY),
    "trainee": (G.EVIDENCE_CUSTODY, G.IMAGING),  # comparison: in training, granted in the browser test
    "north.qm": (G.SCENE_EXAMINATION, G.EVIDENCE_CUSTODY, G.SOP_APPROVAL, G.INTERNAL_AUDIT, G.AUDIT_LEAD),
}
JOB_TITLES = {"quality": "Quality manager", "auditor": "Internal auditor", "examiner": "Senior firearms examiner",
              "verifier": "Firearms examiner", "csi": "Crime-scene officer", "trainee": "Trainee firearms examiner",
              "north.qm": "Quality manager and crime-scene officer"}
JUSTIFICATION = ("Authorised in 2024 on the unit's paper competence records (personnel archive, binder 3); "
                 "the individual training and supervision records are being entered.")


def seed_people(accounts: list[Any]) -> None:
    """Once per database: the records of both demo units, signed by each unit's quality manager."""
    if db.session.scalar(select(AuthorisationEvent.id).limit(1)) is not None:
        return
    passwords = {account.username: account.password for account in accounts}
    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(list(SCOPES_BY_ACCOUNT))))}
    for unit_code, signer in (("FC-MOI", "quality"), ("CSI-NORTH", "north.qm")):
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        if unit is None or signer not in users:
            continue
        set_actor(db.session, user_id=users[signer].id, username=signer, unit_id=unit.id)
        for username in SCOPES_BY_ACCOUNT:
            if username in users and services.personnel_file(users[username].id, unit.id) is None \
                    and _member(users[username], unit.id):
                _seed_person(unit, users[signer], users[username], username, passwords[signer])
    db.session.flush()


def _member(user: User, unit_id: int) -> bool:
    return any(m.unit_id == unit_id for m in user.memberships)


def _seed_person(unit: Unit, signer: User, person: User, username: str, password: str) -> None:
    services.update_file(unit.id, signer, user_id=person.id, job_title=JOB_TITLES[username],
                         education="MSc Forensic Science" if username != "csi" else "Police Academy, forensic module",
                         qualifications="ENFSI firearms proficiency test 2025 (satisfactory)"
                         if username in ("examiner", "verifier") else "")
    scopes = {found.code: found for found in services.scopes(unit.id)}
    started = today() - timedelta(days=400)
    for gate in SCOPES_BY_ACCOUNT[username]:
        found = scopes[gate.value]
        services.record_training(unit.id, signer, user_id=person.id, training=services.TrainingInput(
            course=f"{services.scope_name(found)}: initial training", provider="Forensic Centre training unit",
            started_on=started, completed_on=started + timedelta(days=5), outcome="passed",
            hours=max(found.min_training_hours, 8), scope_id=found.id))
        if person.id == signer.id:  # nobody authorises themselves: the operator set the quality manager up
            services.authorise_by_operator(unit.id, person, [gate.value], reason=JUSTIFICATION)
            continue
        services.grant(unit.id, signer, user_id=person.id, scope_id=found.id,
                       signature=services.Signature(password=password), valid_from=started + timedelta(days=30),
                       valid_until=_until(username, gate), justification=JUSTIFICATION)
        if found.witness_interval_months and username != "verifier":  # witnessed this year: nothing due
            services.record_witnessing(unit.id, signer, user_id=person.id, scope_id=found.id, observer_id=signer.id,
                                       observed_on=today() - timedelta(days=100), outcome="satisfactory",
                                       reference=f"Case review {found.code.upper()}-2026-1")
    services.declare(unit.id, person, kind="conflict_of_interest", interests="")
    services.declare(unit.id, person, kind="confidentiality")
    if username == "trainee":
        _seed_trainee(unit, signer, person, scopes[Gate.COMPARISON.value])
    if username == "verifier":  # one witnessed examination a year ago: the next is due
        services.record_witnessing(unit.id, signer, user_id=person.id, scope_id=scopes[Gate.COMPARISON.value].id,
                                   observer_id=signer.id, observed_on=today() - timedelta(days=380),
                                   reference="Proficiency exercise PT-2025-FA-2", outcome="satisfactory")


def _until(username: str, gate: Gate) -> date | None:
    """The verifier's verification authorisation ends within 60 days (the matrix shows it expiring)."""
    if username == "verifier" and gate is Gate.VERIFICATION:
        return today() + timedelta(days=45)
    return None


def _seed_trainee(unit: Unit, signer: User, person: User, comparison: Any) -> None:
    services.record_training(unit.id, signer, user_id=person.id, training=services.TrainingInput(
        course="Firearms examination: cartridge-case comparison module", provider="Forensic Centre training unit",
        started_on=today() - timedelta(days=120), completed_on=today() - timedelta(days=60), outcome="passed",
        hours=80, scope_id=comparison.id))
    for n in range(12):
        services.record_supervised(unit.id, signer, user_id=person.id, scope_id=comparison.id,
                                   supervisor_id=signer.id, performed_on=today() - timedelta(days=50 - 3 * n),
                                   reference=f"Training set TS-{n + 1:02d}")
