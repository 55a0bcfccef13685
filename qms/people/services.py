"""People: scopes of authorisation, personnel files, competence records, signed authorisations and the gates.

Services add and flush; the request (or CLI command) commits. Refusals are the `qms.errors` family.
The gate (`require`) is what the other domains call before a technical act: a person needs a
current authorisation for the act's scope, unless the unit has set its gate to "warn" for a
transition, in which case the act goes ahead and a `GateWarning` is logged.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select, union

from qms.auth import services as auth_services
from qms.auth.models import Membership, Role, Unit, User
from qms.auth.services import check_password, roles_in
from qms.db import today, utcnow
from qms.errors import InvalidInput, NotFound, NotPermitted, StateConflict
from qms.extensions import db
from qms.fields import choice as _choice
from qms.fields import text as _text
from qms.people.models import (
    AuthorisationEvent,
    AuthorisationKind,
    Declaration,
    DeclarationKind,
    Gate,
    GateMode,
    GateWarning,
    PersonnelFile,
    Scope,
    SupervisedWork,
    TrainingOutcome,
    TrainingRecord,
    UnitGate,
    Witnessing,
    WitnessOutcome,
)
from qms.people.state import Authorisation, Standing, fold
from qms.trail.audited import audit_reason

MANAGERS = frozenset({Role.QUALITY_MANAGER})
READERS = frozenset(Role) - {Role.ADMIN}
MAX_TEXT = 4000


def N_(text: str) -> str:  # noqa: N802 - the extractor's keyword for "mark, do not translate here"
    """Marks a seeded name for translation; it is translated where it is shown."""
    return text


# Stored as the signer's declaration: English for API callers, the form offers it in the signer's language.
DEFAULT_MEANING = N_("Authorised: I have assessed this person's competence for the scope and authorise them.")


@dataclass(frozen=True)
class ScopeSeed:
    code: str
    name: str
    requirements: str
    education: str = ""
    hours: float = 0
    supervised: int = 0
    witnessed: int = 0
    witness_every_months: int = 12


SEEDED_SCOPES: tuple[ScopeSeed, ...] = (
    ScopeSeed(Gate.SCENE_EXAMINATION, N_("Scene examination"),
              N_("Scene examination course; 10 scenes examined under supervision; 2 witnessed scene examinations."),
              N_("Secondary education and police or forensic training"), 40, 10, 2),
    ScopeSeed(Gate.EVIDENCE_CUSTODY, N_("Evidence custody"),
              N_("Training in the unit's evidence-handling and custody SOPs; 5 hand-overs under supervision."),
              "", 8, 5, 1),
    ScopeSeed(Gate.IMAGING, N_("Cartridge-case imaging"),
              N_("Instrument training (3D scanner or comparison microscope); 20 scans under supervision; "
                 "1 witnessed acquisition."), "", 16, 20, 1),
    ScopeSeed(Gate.COMPARISON, N_("Cartridge-case comparison"),
              N_("Firearms examination training programme; 50 comparisons under supervision; 2 witnessed "
                 "examinations; a passed competency test."),
              N_("University degree in natural sciences or equivalent experience"), 120, 50, 2),
    ScopeSeed(Gate.VERIFICATION, N_("Verification of comparisons"),
              N_("Authorised for cartridge-case comparison; 20 verifications under supervision."), "", 8, 20, 1),
    ScopeSeed(Gate.SOP_APPROVAL, N_("SOP approval"),
              N_("Training in document control; knowledge of the procedures of the discipline."), "", 4, 0, 0, 0),
    ScopeSeed(Gate.INTERNAL_AUDIT, N_("Internal audit"),
              N_("ISO/IEC 17020 internal auditor course; 1 audit as an observer."), "", 16, 1, 0, 0),
    ScopeSeed(Gate.AUDIT_LEAD, N_("Audit lead"),
              N_("Authorised for internal audit; 3 audits as a team member; 1 audit led under supervision."),
              "", 24, 3, 1, 0),
    ScopeSeed(Gate.CALIBRATION, N_("Equipment calibration"),
              N_("Training in the instrument's calibration and intermediate-check procedures."), "", 8, 3, 1),
)


# --- scopes and the gate setting -------------------------------------------------------------------

def seed_scopes(unit: Unit) -> list[Scope]:
    """The seeded scopes of authorisation, for a new unit (idempotent)."""
    have = set(db.session.scalars(select(Scope.code).where(Scope.unit_id == unit.id)))
    added = [Scope(unit_id=unit.id, code=seed.code, name=seed.name, requirements=seed.requirements,
                   education=seed.education, min_training_hours=seed.hours, min_supervised=seed.supervised,
                   min_witnessed=seed.witnessed, witness_interval_months=seed.witness_every_months)
             for seed in SEEDED_SCOPES if seed.code not in have]
    db.session.add_all(added)
    db.session.flush()
    return added


auth_services.UNIT_CREATED.append(seed_scopes)


def scopes(unit_id: int) -> list[Scope]:
    return list(db.session.scalars(select(Scope).where(Scope.unit_id == unit_id).order_by(Scope.id)))


def scope(scope_id: int, unit_id: int) -> Scope:
    found = db.session.get(Scope, scope_id)
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such scope of authorisation in this unit."))
    return found


def scope_by_code(unit_id: int, code: str) -> Scope | None:
    return db.session.scalar(select(Scope).where(Scope.unit_id == unit_id, Scope.code == code))


def scope_name(found: Scope | None, code: str = "") -> str:
    return _(found.name) if found is not None else code.replace("_", " ")


def add_scope(unit_id: int, actor: User, *, code: str, name: str, requirements: str = "", education: str = "",
              min_training_hours: float = 0, min_supervised: int = 0, min_witnessed: int = 0,
              witness_interval_months: int = 12) -> Scope:
    _require_manager(actor, unit_id)
    code = (code or "").strip().lower().replace(" ", "_")
    if not code or len(code) > 40 or not code.replace("_", "").isalnum():
        raise InvalidInput(_("A scope code of 1 to 40 letters, digits or underscores is required."))
    if scope_by_code(unit_id, code) is not None:
        raise StateConflict(_("The unit already has a scope with the code %(code)s.", code=code))
    found = Scope(unit_id=unit_id, code=code, name=_text(name, _("A name"), required=True, limit=200))
    _set_requirements(found, requirements=requirements, education=education, min_training_hours=min_training_hours,
                      min_supervised=min_supervised, min_witnessed=min_witnessed,
                      witness_interval_months=witness_interval_months)
    db.session.add(found)
    db.session.flush()
    return found


def update_scope(found: Scope, actor: User, *, reason: str, **requirements: object) -> Scope:
    _require_manager(actor, found.unit_id)
    with audit_reason(db.session, _text(reason, _("A reason"), required=True, limit=500)):
        _set_requirements(found, **requirements)  # type: ignore[arg-type]
        db.session.flush()
    return found


def _set_requirements(found: Scope, *, requirements: str = "", education: str = "", min_training_hours: float = 0,
                      min_supervised: int = 0, min_witnessed: int = 0, witness_interval_months: int = 12) -> None:
    if not (0 <= float(min_training_hours) <= 10000 and 0 <= min_supervised <= 10000 and 0 <= min_witnessed <= 1000
            and 0 <= witness_interval_months <= 120):
        raise InvalidInput(_("The required counts must be between 0 and 10,000 (witnessing every 0 to 120 months)."))
    found.requirements = _text(requirements, _("The requirements"))
    found.education = _text(education, _("The education"), limit=300)
    found.min_training_hours = float(min_training_hours)
    found.min_supervised, found.min_witnessed = int(min_supervised), int(min_witnessed)
    found.witness_interval_months = int(witness_interval_months)


def gate_mode(unit_id: int) -> GateMode:
    mode = db.session.scalar(select(UnitGate.mode).where(UnitGate.unit_id == unit_id))
    return GateMode(mode) if mode else GateMode.ENFORCE


def set_gate_mode(unit_id: int, actor: User, *, mode: str, reason: str) -> UnitGate:
    """Switch the unit's gate between enforce and warn: the choice and its reason go on the trail."""
    _require_manager(actor, unit_id)
    try:
        chosen = GateMode(mode)
    except ValueError:
        raise InvalidInput(_("Choose enforce or warn.")) from None
    setting = db.session.scalar(select(UnitGate).where(UnitGate.unit_id == unit_id))
    with audit_reason(db.session, _text(reason, _("A reason"), required=True, limit=500)):
        if setting is None:
            setting = UnitGate(unit_id=unit_id, mode=chosen.value)
            db.session.add(setting)
        else:
            setting.mode, setting.changed_at = chosen.value, utcnow()
        db.session.flush()
    return setting


# --- the gate --------------------------------------------------------------------------------------

def require(user: User, unit_id: int, gate: Gate | str, *, on: date | None = None) -> None:
    """Refuse a technical act unless the person holds a current authorisation for its scope.

    In "warn" mode the act goes ahead and the missing authorisation is logged for the quality manager.
    """
    code = Gate(gate).value if isinstance(gate, Gate) else str(gate)
    found = scope_by_code(unit_id, code)
    if found is not None and standing(user.id, found, on=on or today()).current:
        return
    if gate_mode(unit_id) is GateMode.WARN:
        db.session.add(GateWarning(unit_id=unit_id, user_id=user.id, username=user.username, scope_code=code))
        db.session.flush()
        return
    raise NotPermitted(_("%(name)s holds no current authorisation for \"%(scope)s\": a quality manager grants it "
                         "under People once the competence requirements are met.",
                         name=user.full_name, scope=scope_name(found, code)))


def authorised(user: User, unit_id: int, gate: Gate | str, *, on: date | None = None) -> bool:
    """Whether the gate would let the person act (for pages that show why a button is missing)."""
    found = scope_by_code(unit_id, Gate(gate).value if isinstance(gate, Gate) else str(gate))
    return found is not None and standing(user.id, found, on=on or today()).current


def gate_warnings(unit_id: int, *, limit: int = 200) -> list[GateWarning]:
    stmt = select(GateWarning).where(GateWarning.unit_id == unit_id).order_by(GateWarning.id.desc()).limit(limit)
    return list(db.session.scalars(stmt))


# --- authorisations ---------------------------------------------------------------------------------

def events_of(user_id: int, scope_id: int) -> list[AuthorisationEvent]:
    stmt = (select(AuthorisationEvent).where(AuthorisationEvent.user_id == user_id,
                                              AuthorisationEvent.scope_id == scope_id)
            .order_by(AuthorisationEvent.id))
    return list(db.session.scalars(stmt))


def authorisation(user_id: int, scope_id: int) -> Authorisation:
    return fold(events_of(user_id, scope_id))


def standing(user_id: int, found: Scope, *, on: date | None = None) -> Standing:
    return authorisation(user_id, found.id).standing(on or today(), in_training=_in_training(user_id, found))


def _in_training(user_id: int, found: Scope) -> bool:
    for model in (TrainingRecord, SupervisedWork, Witnessing):
        stmt = select(model.id).where(model.user_id == user_id, model.scope_id == found.id).limit(1)
        if db.session.scalar(stmt) is not None:
            return True
    return False


@dataclass(frozen=True)
class Competence:
    """What the records show against a scope's requirements (counts the system can check)."""

    training_hours: float
    supervised: int
    witnessed: int
    unmet: tuple[str, ...]


def competence(user_id: int, found: Scope) -> Competence:
    hours = db.session.scalar(select(func.coalesce(func.sum(TrainingRecord.hours), 0)).where(
        TrainingRecord.user_id == user_id, TrainingRecord.scope_id == found.id,
        TrainingRecord.outcome != TrainingOutcome.FAILED.value)) or 0
    supervised = db.session.scalar(select(func.count(SupervisedWork.id)).where(
        SupervisedWork.user_id == user_id, SupervisedWork.scope_id == found.id)) or 0
    witnessed = db.session.scalar(select(func.count(Witnessing.id)).where(
        Witnessing.user_id == user_id, Witnessing.scope_id == found.id,
        Witnessing.outcome == WitnessOutcome.SATISFACTORY.value)) or 0
    unmet = []
    if hours < found.min_training_hours:
        unmet.append(_("training: %(have)s of %(need)s hours", have=_number(hours),
                       need=_number(found.min_training_hours)))
    if supervised < found.min_supervised:
        unmet.append(_("supervised work: %(have)d of %(need)d", have=supervised, need=found.min_supervised))
    if witnessed < found.min_witnessed:
        unmet.append(_("satisfactory witnessed examinations: %(have)d of %(need)d", have=witnessed,
                       need=found.min_witnessed))
    return Competence(float(hours), int(supervised), int(witnessed), tuple(unmet))


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Signature:
    """An electronic signature: the signer's password (and MFA code), re-entered for this act."""

    password: str
    otp: str = ""
    meaning: str = DEFAULT_MEANING


def grant(unit_id: int, actor: User, *, user_id: int, scope_id: int, signature: Signature,
          valid_from: date | None = None, valid_until: date | None = None,
          justification: str = "") -> AuthorisationEvent:
    """A quality manager's signed grant; unmet requirements need a written justification."""
    _require_manager(actor, unit_id)
    person, found = member(user_id, unit_id), scope(scope_id, unit_id)
    if person.id == actor.id:
        raise NotPermitted(_("Nobody authorises themselves: another quality manager (or the operator's set-up "
                             "command) grants a quality manager's authorisations."))
    valid_from = valid_from or today()
    if valid_until is not None and valid_until < valid_from:
        raise InvalidInput(_("The end date is before the start date."))
    if authorisation(person.id, found.id).suspended:
        raise StateConflict(_("This authorisation is suspended: reinstate or withdraw it first."))
    unmet = competence(person.id, found).unmet
    justification = _text(justification, _("The justification"))
    if unmet and not justification:
        raise InvalidInput(_("The competence requirements are not met (%(unmet)s). Give a justification to grant "
                             "the authorisation anyway.", unmet="; ".join(unmet)))
    _sign(actor, signature, purpose="authorisation signature")
    return _add_event(person, found, actor, AuthorisationKind.GRANTED, signature, valid_from=valid_from,
                      valid_until=valid_until, justification=justification, unmet=list(unmet))


def suspend(unit_id: int, actor: User, *, user_id: int, scope_id: int, reason: str,
            signature: Signature) -> AuthorisationEvent:
    return _change(unit_id, actor, user_id, scope_id, AuthorisationKind.SUSPENDED, reason, signature)


def reinstate(unit_id: int, actor: User, *, user_id: int, scope_id: int, reason: str,
              signature: Signature) -> AuthorisationEvent:
    return _change(unit_id, actor, user_id, scope_id, AuthorisationKind.REINSTATED, reason, signature)


def withdraw(unit_id: int, actor: User, *, user_id: int, scope_id: int, reason: str,
             signature: Signature) -> AuthorisationEvent:
    return _change(unit_id, actor, user_id, scope_id, AuthorisationKind.WITHDRAWN, reason, signature)


def _change(unit_id: int, actor: User, user_id: int, scope_id: int, kind: AuthorisationKind, reason: str,
            signature: Signature) -> AuthorisationEvent:
    _require_manager(actor, unit_id)
    person, found = member(user_id, unit_id), scope(scope_id, unit_id)
    state = authorisation(person.id, found.id)
    allowed = {AuthorisationKind.SUSPENDED: state.granted and not state.suspended,
               AuthorisationKind.REINSTATED: state.granted and state.suspended,
               AuthorisationKind.WITHDRAWN: state.granted}[kind]
    if not allowed:
        raise StateConflict({AuthorisationKind.SUSPENDED: _("Only a granted, unsuspended authorisation is suspended."),
                             AuthorisationKind.REINSTATED: _("Only a suspended authorisation is reinstated."),
                             AuthorisationKind.WITHDRAWN: _("There is no authorisation to withdraw.")}[kind])
    reason = _text(reason, _("A reason"), required=True)
    _sign(actor, signature, purpose="authorisation signature")
    return _add_event(person, found, actor, kind, signature, reason=reason,
                      valid_from=state.valid_from, valid_until=state.valid_until)


def _sign(actor: User, signature: Signature, *, purpose: str) -> None:
    if not (signature.meaning or "").strip():
        raise InvalidInput(_("State the meaning of the signature."))
    check_password(actor, signature.password, otp=signature.otp or "", purpose=purpose)  # throttled, recorded


def _add_event(person: User, found: Scope, actor: User | None, kind: AuthorisationKind, signature: Signature | None,
               **fields: object) -> AuthorisationEvent:
    meaning = (signature.meaning.strip() if signature else "")[:200]
    event = AuthorisationEvent(unit_id=found.unit_id, user_id=person.id, scope_id=found.id, kind=kind.value,
                               signed_by_id=actor.id if actor else None,
                               signed_by_name=actor.full_name if actor else "operator (qms authorise)",
                               signature_meaning=meaning, **fields)
    reason = f"electronic signature: {meaning}" if signature else str(fields.get("reason") or kind.value)
    with audit_reason(db.session, reason):
        db.session.add(event)
        db.session.flush()
    return event


def authorise_by_operator(unit_id: int, user: User, codes: Iterable[str], *, reason: str,
                          valid_until: date | None = None) -> list[AuthorisationEvent]:
    """The server operator's initial authorisations (`qms authorise`), before a quality manager signs any.

    For setting up a unit from its existing paper records: no signature, so the event names the
    operator and carries the reason; the competence matrix shows them like any other grant.
    """
    if not reason.strip():
        raise InvalidInput(_("A reason is required."))
    member(user.id, unit_id)
    events = []
    for code in codes:
        found = scope_by_code(unit_id, code)
        if found is None:
            raise NotFound(_("No scope %(code)s in this unit.", code=code))
        events.append(_add_event(user, found, None, AuthorisationKind.GRANTED, None, valid_from=None,
                                 valid_until=valid_until, reason=reason.strip()[:MAX_TEXT], unmet=[]))
    return events


# --- personnel files and competence records --------------------------------------------------------

def member(user_id: int | None, unit_id: int) -> User:
    stmt = select(User).join(Membership, Membership.user_id == User.id).where(
        User.id == user_id, Membership.unit_id == unit_id).limit(1)
    person = db.session.scalar(stmt) if user_id is not None else None
    if person is None:
        raise NotFound(_("No such member of this unit."))
    return person


def members(unit_id: int) -> list[User]:
    """The unit's people (everyone with a role other than administrator), by name."""
    stmt = (select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.unit_id == unit_id, Membership.role != Role.ADMIN.value)
            .distinct().order_by(User.full_name, User.id))
    return list(db.session.scalars(stmt))


def personnel_file(user_id: int, unit_id: int) -> PersonnelFile | None:
    return db.session.scalar(select(PersonnelFile).where(PersonnelFile.unit_id == unit_id,
                                                         PersonnelFile.user_id == user_id))


def update_file(unit_id: int, actor: User, *, user_id: int, job_title: str, education: str,
                qualifications: str) -> PersonnelFile:
    _require_manager(actor, unit_id)
    person = member(user_id, unit_id)
    found = personnel_file(person.id, unit_id) or PersonnelFile(unit_id=unit_id, user_id=person.id)
    found.job_title = _text(job_title, _("The job title"), limit=200)
    found.education = _text(education, _("The education"))
    found.qualifications = _text(qualifications, _("The qualifications"))
    found.updated_at = utcnow()
    db.session.add(found)
    db.session.flush()
    return found


@dataclass(frozen=True)
class TrainingInput:
    course: str
    started_on: date
    completed_on: date
    outcome: str
    provider: str = ""
    hours: float = 0
    scope_id: int | None = None
    notes: str = ""
    certificate: bytes | None = None
    certificate_name: str = ""


def record_training(unit_id: int, actor: User, *, user_id: int, training: TrainingInput) -> TrainingRecord:
    _require_manager(actor, unit_id)
    person = member(user_id, unit_id)
    if training.completed_on < training.started_on:
        raise InvalidInput(_("The training ends before it starts."))
    if training.completed_on > today():
        raise InvalidInput(_("Record a training once it is completed (the completion date is in the future)."))
    if not 0 <= training.hours <= 10000:
        raise InvalidInput(_("The hours must be between 0 and 10,000."))
    digest, name = _certificate(training.certificate, training.certificate_name)
    outcome = _choice(TrainingOutcome, training.outcome, _("outcome")).value
    record = TrainingRecord(
        unit_id=unit_id, user_id=person.id, recorded_by_id=actor.id,
        course=_text(training.course, _("The course"), required=True, limit=200),
        provider=_text(training.provider, _("The provider"), limit=200), started_on=training.started_on,
        completed_on=training.completed_on, hours=float(training.hours), outcome=outcome,
        scope_id=scope(training.scope_id, unit_id).id if training.scope_id else None,
        certificate_sha256=digest, certificate_name=name, notes=_text(training.notes, _("The notes")))
    db.session.add(record)
    db.session.flush()
    return record


def _certificate(data: bytes | None, filename: str) -> tuple[str | None, str]:
    if not data:
        return None, ""
    from qms.storage import object_store
    from qms.uploads import display_name

    if len(data) > MAX_CERTIFICATE_BYTES:
        from qms.errors import TooLarge

        raise TooLarge(_("The certificate file is larger than 20 MB. Nothing was stored."))
    if not (data.startswith(b"%PDF-") or data.startswith(b"\x89PNG") or data.startswith(b"\xff\xd8\xff")):
        raise InvalidInput(_("The certificate must be a PDF, PNG or JPEG file. Nothing was stored."))
    return object_store().put(data), display_name(filename)


MAX_CERTIFICATE_BYTES = 20 * 1024 * 1024


def record_supervised(unit_id: int, actor: User, *, user_id: int, scope_id: int, supervisor_id: int,
                      performed_on: date, reference: str, notes: str = "") -> SupervisedWork:
    _require_manager_or_self_supervisor(actor, unit_id, supervisor_id)
    person, supervisor = member(user_id, unit_id), member(supervisor_id, unit_id)
    if person.id == supervisor.id:
        raise InvalidInput(_("A person cannot supervise their own work."))
    _not_future(performed_on)
    record = SupervisedWork(unit_id=unit_id, user_id=person.id, scope_id=scope(scope_id, unit_id).id,
                            supervisor_id=supervisor.id, performed_on=performed_on, recorded_by_id=actor.id,
                            reference=_text(reference, _("The case or exercise"), required=True, limit=200),
                            notes=_text(notes, _("The notes")))
    db.session.add(record)
    db.session.flush()
    return record


def record_witnessing(unit_id: int, actor: User, *, user_id: int, scope_id: int, observer_id: int,
                      observed_on: date, reference: str, outcome: str, notes: str = "") -> Witnessing:
    """A witnessed examination (6.1.9); the observer cannot be the person observed."""
    _require_manager_or_self_supervisor(actor, unit_id, observer_id)
    person, observer = member(user_id, unit_id), member(observer_id, unit_id)
    if person.id == observer.id:
        raise InvalidInput(_("A person cannot witness their own examination."))
    _not_future(observed_on)
    record = Witnessing(unit_id=unit_id, user_id=person.id, scope_id=scope(scope_id, unit_id).id,
                        observer_id=observer.id, observed_on=observed_on, recorded_by_id=actor.id,
                        reference=_text(reference, _("The case or exercise"), required=True, limit=200),
                        outcome=_choice(WitnessOutcome, outcome, _("outcome")).value,
                        notes=_text(notes, _("The notes")))
    db.session.add(record)
    db.session.flush()
    return record


def declare(unit_id: int, person: User, *, kind: str, year: int | None = None, interests: str = "") -> Declaration:
    """The person's own declaration for a year (only they sign it)."""
    member(person.id, unit_id)
    year = year or today().year
    if not today().year - 1 <= year <= today().year + 1:
        raise InvalidInput(_("Declare for last year, this year or next year."))
    chosen = _choice(DeclarationKind, kind, _("kind")).value
    record = Declaration(unit_id=unit_id, user_id=person.id, year=year, kind=chosen,
                         interests=_text(interests, _("The declared interests")))
    db.session.add(record)
    db.session.flush()
    return record


def declarations(user_id: int, unit_id: int) -> list[Declaration]:
    stmt = select(Declaration).where(Declaration.unit_id == unit_id, Declaration.user_id == user_id).order_by(
        Declaration.year.desc(), Declaration.id.desc())
    return list(db.session.scalars(stmt))


def declared_interests(user_id: int, unit_id: int, *, year: int | None = None) -> str:
    """The interests of the person's latest conflict-of-interest declaration for the year ("" if none)."""
    stmt = (select(Declaration.interests).where(
        Declaration.unit_id == unit_id, Declaration.user_id == user_id, Declaration.year == (year or today().year),
        Declaration.kind == DeclarationKind.CONFLICT_OF_INTEREST.value).order_by(Declaration.id.desc()).limit(1))
    return db.session.scalar(stmt) or ""


# --- the personnel file and the competence matrix -----------------------------------------------

@dataclass
class PersonFile:
    person: User
    file: PersonnelFile | None
    roles: frozenset[Role]
    training: list[TrainingRecord]
    supervised: list[SupervisedWork]
    witnessing: list[Witnessing]
    declarations: list[Declaration]
    authorisations: list[tuple[Scope, Standing, Authorisation, list[AuthorisationEvent]]]
    witnessing_due: list[Scope]


def person_file(user_id: int, unit_id: int, *, on: date | None = None) -> PersonFile:
    person, on = member(user_id, unit_id), on or today()
    by = (TrainingRecord, SupervisedWork, Witnessing)
    training, supervised, witnessing = (
        list(db.session.scalars(select(model).where(model.unit_id == unit_id, model.user_id == person.id)
                                .order_by(model.id.desc()))) for model in by)
    rows = []
    for found in scopes(unit_id):
        events = events_of(person.id, found.id)
        state = fold(events)
        in_training = any(r.scope_id == found.id for r in (*training, *supervised, *witnessing))
        rows.append((found, state.standing(on, in_training=in_training), state, events))
    due = _witnessing_due(person.id, [(f, s) for f, s, _state, _events in rows], witnessing, on)
    return PersonFile(person, personnel_file(person.id, unit_id), roles_in(person, unit_id), training, supervised,
                      witnessing, declarations(person.id, unit_id), rows, due)


def _witnessing_due(user_id: int, rows: Sequence[tuple[Scope, Standing]], witnessing: Sequence[Any],
                    on: date) -> list[Scope]:
    """Scopes the person is authorised for whose last witnessed examination is older than the scope asks."""
    last: dict[int, date] = {}
    for record in witnessing:
        if record.user_id == user_id:
            last[record.scope_id] = max(last.get(record.scope_id, record.observed_on), record.observed_on)
    return _due(rows, last, on)


def _due(rows: Sequence[tuple[Scope, Standing]], last: dict[int, date], on: date) -> list[Scope]:
    """Of the person's (scope, standing) rows, the current ones whose last witnessing (by scope id) is too old."""
    from qms.equipment.status import add_months

    due = []
    for found, state in rows:
        if not state.current or not found.witness_interval_months:
            continue
        seen = last.get(found.id)
        if seen is None or add_months(seen, found.witness_interval_months) < on:
            due.append(found)
    return due


@dataclass
class Matrix:
    """People × scopes: each cell the standing on a day, and per person the scopes whose witnessing is due."""

    on: date
    scopes: list[Scope]
    people: list[User]
    cells: dict[tuple[int, int], Standing] = field(default_factory=dict)
    until: dict[tuple[int, int], date | None] = field(default_factory=dict)
    witnessing_due: dict[int, list[Scope]] = field(default_factory=dict)

    def counts(self) -> dict[Standing, int]:
        totals: dict[Standing, int] = defaultdict(int)
        for value in self.cells.values():
            totals[value] += 1
        return dict(totals)


def matrix(unit_id: int, *, on: date | None = None) -> Matrix:
    """The whole unit's matrix in five queries (scopes, people, events, records, last witnessing), folded in memory.

    Each query returns a few columns per (person, scope) pair rather than every record: with 5 years of
    records for 200 people the rows fetched, and the objects a request leaves for the garbage collector,
    were most of the page's time (bench/bench_competence_matrix.py).
    """
    on = on or today()
    result = Matrix(on, scopes(unit_id), members(unit_id))
    events = _events_since_last_grant(unit_id)
    with_records = _pairs_with_records(unit_id)
    last_witnessed = _last_witnessed(unit_id)
    for person in result.people:
        rows = []
        for found in result.scopes:
            pair = (person.id, found.id)
            state = fold(events.get(pair, ()))
            value = state.standing(on, in_training=pair in with_records)
            result.cells[pair] = value
            result.until[pair] = state.valid_until
            rows.append((found, value))
        result.witnessing_due[person.id] = _due(rows, last_witnessed.get(person.id, {}), on)
    return result


def _events_since_last_grant(unit_id: int) -> dict[tuple[int, int], list[Any]]:
    """Per (person, scope), the events from the last grant or withdrawal on, in order.

    A grant or a withdrawal replaces everything before it (`qms.people.state.apply`), so the fold of
    these events is the fold of all of them; a pair with neither has no grant to show.
    """
    event = AuthorisationEvent
    resets = (AuthorisationKind.GRANTED.value, AuthorisationKind.WITHDRAWN.value)
    last = (select(event.user_id, event.scope_id, func.max(event.id).label("id"))
            .where(event.unit_id == unit_id, event.kind.in_(resets))
            .group_by(event.user_id, event.scope_id).subquery())
    stmt = (select(event.user_id, event.scope_id, event.kind, event.valid_from, event.valid_until)
            .join(last, (last.c.user_id == event.user_id) & (last.c.scope_id == event.scope_id)
                  & (event.id >= last.c.id))
            .where(event.unit_id == unit_id).order_by(event.id))
    events: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for row in db.session.execute(stmt):
        events[(row.user_id, row.scope_id)].append(row)
    return events


def _pairs_with_records(unit_id: int) -> set[tuple[int, int | None]]:
    """(person, scope) pairs with any training, supervised work or witnessing: one UNION, each pair once."""
    stmt = union(*(select(model.user_id, model.scope_id).where(model.unit_id == unit_id)
                   for model in (TrainingRecord, SupervisedWork, Witnessing)))
    return {(user_id, scope_id) for user_id, scope_id in db.session.execute(stmt)}


def _last_witnessed(unit_id: int) -> dict[int, dict[int, date]]:
    """Per person, per scope id, the day of the last witnessed examination (any outcome)."""
    stmt = (select(Witnessing.user_id, Witnessing.scope_id, func.max(Witnessing.observed_on))
            .where(Witnessing.unit_id == unit_id).group_by(Witnessing.user_id, Witnessing.scope_id))
    last: dict[int, dict[int, date]] = defaultdict(dict)
    for user_id, scope_id, day in db.session.execute(stmt):
        last[user_id][scope_id] = day
    return last


# --- dashboard -----------------------------------------------------------------------------------

def dashboard_panels(user: User, unit_id: int | None, roles: frozenset[Role]) -> list:  # type: ignore[type-arg]
    from qms.main.services import Panel

    if unit_id is None or not roles & READERS:
        return []
    on = today()
    mine = [(found, standing(user.id, found, on=on), authorisation(user.id, found.id)) for found in scopes(unit_id)]
    mine = [(found, value, state) for found, value, state in mine if value is not Standing.NONE]
    panels = [Panel(_("My authorisations"), "people/_panel_mine.html", {"rows": mine}, order=15)]
    if roles & MANAGERS:
        grid = matrix(unit_id, on=on)
        expiring = [(p, f, grid.until[(p.id, f.id)]) for p in grid.people for f in grid.scopes
                    if grid.cells[(p.id, f.id)] is Standing.EXPIRING]
        due = [(p, grid.witnessing_due[p.id]) for p in grid.people if grid.witnessing_due[p.id]]
        panels.append(Panel(_("Authorisations expiring and witnessing due"), "people/_panel_due.html",
                            {"expiring": expiring, "due": due}, order=16))
    return panels


# --- helpers -------------------------------------------------------------------------------------

def _require_manager(actor: User, unit_id: int) -> None:
    if not roles_in(actor, unit_id) & MANAGERS:
        raise NotPermitted(_("Only a quality manager of this unit keeps personnel records and authorisations."))


def _require_manager_or_self_supervisor(actor: User, unit_id: int, supervisor_id: int) -> None:
    """A quality manager records it, or the supervisor or observer records what they saw themselves."""
    if actor.id == supervisor_id and roles_in(actor, unit_id) - {Role.ADMIN, Role.VIEWER}:
        return
    _require_manager(actor, unit_id)


def _not_future(day: date) -> None:
    if day > today():
        raise InvalidInput(_("The date is in the future."))




# --- read functions for the gap analysis's indicators (qms.audits.gap) -----------------------------

TECHNICAL_ROLES = frozenset({Role.EXAMINER, Role.CSI_OFFICER})


def technical_staff_without_training(unit_id: int) -> list[User]:
    """Examiners and CSI officers of the unit with no training record in it at all."""
    trained = select(TrainingRecord.user_id).where(TrainingRecord.unit_id == unit_id)
    stmt = (select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.unit_id == unit_id, Membership.role.in_([r.value for r in TECHNICAL_ROLES]),
                   User.id.not_in(trained))
            .distinct().order_by(User.full_name, User.id))
    return list(db.session.scalars(stmt))


def witnessing_due_people(unit_id: int, *, on: date | None = None) -> list[tuple[User, list[Scope]]]:
    """People with a current authorisation whose witnessed examination for it is due, with those scopes."""
    grid = matrix(unit_id, on=on)
    return [(person, grid.witnessing_due[person.id]) for person in grid.people if grid.witnessing_due[person.id]]


def authorisations_expiring(unit_id: int, *, on: date | None = None) -> list[tuple[User, Scope, date | None]]:
    """Current authorisations that end within `qms.people.state.EXPIRING_DAYS` (60) days."""
    grid = matrix(unit_id, on=on)
    return [(person, found, grid.until[(person.id, found.id)]) for person in grid.people for found in grid.scopes
            if grid.cells[(person.id, found.id)] is Standing.EXPIRING]


def personnel_files(unit_id: int) -> list[PersonnelFile]:
    """Every personnel file of the unit (the people page shows job titles beside names)."""
    return list(db.session.scalars(select(PersonnelFile).where(PersonnelFile.unit_id == unit_id)))
