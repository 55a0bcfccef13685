"""The equipment register: instruments, their calibration/check/maintenance records, derived status,
and impact reviews when an instrument fails (ISO/IEC 17020 6.2).

Status is never set by hand: `status_of` derives it from the records (`qms.equipment.status`).
Other domains name the equipment their work used (ballistic entries, custody examinations) and
register a *work source* here, so an impact review can list that work without this package
importing theirs.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from qms.auth.models import Membership, Role, User
from qms.auth.services import roles_in
from qms.db import today, utcnow
from qms.equipment.models import (
    Assessment,
    Equipment,
    EquipmentRecord,
    ImpactAssessment,
    ImpactReview,
    RecordKind,
    Result,
)
from qms.equipment.status import DUE_SOON_DAYS, Derived, Status, Why, derive
from qms.errors import InvalidInput, NotFound, NotPermitted, StateConflict, TooLarge
from qms.extensions import db
from qms.quality import services as quality
from qms.quality.models import Source
from qms.fields import choice as _choice
from qms.fields import text as _text
from qms.trail.audited import audit_reason

MANAGERS = frozenset({Role.QUALITY_MANAGER})
RECORDERS = frozenset({Role.QUALITY_MANAGER, Role.EXAMINER, Role.CSI_OFFICER})  # enter records of their instruments
READERS = frozenset(Role) - {Role.ADMIN}
MAX_TEXT = 4000
MAX_CERTIFICATE_BYTES = 20 * 1024 * 1024

RECORD_KINDS = {RecordKind.CALIBRATION: _l("Calibration"), RecordKind.CHECK: _l("Intermediate check"),
                RecordKind.MAINTENANCE: _l("Maintenance"), RecordKind.REPAIR: _l("Repair"),
                RecordKind.FAULT: _l("Fault found"), RecordKind.RETIRED: _l("Retired")}
KINDS = {
    "comparison_microscope": _l("Comparison microscope"),
    "3d_scanner": _l("3D topography scanner"),
    "camera": _l("Camera"),
    "microscope": _l("Microscope"),
    "balance": _l("Balance"),
    "thermometer": _l("Thermometer"),
    "light_source": _l("Alternate light source"),
    "firearm_reference": _l("Reference firearm or bullet recovery tank"),
    "other": _l("Other"),
}
IMAGING_KINDS = frozenset({"comparison_microscope", "3d_scanner", "camera", "microscope"})
STATUS_LABELS = {Status.IN_SERVICE: _l("In service"), Status.DUE_SOON: _l("Calibration due soon"),
                 Status.OUT_OF_SERVICE: _l("Out of service"), Status.RETIRED: _l("Retired")}
WHY_LABELS = {Why.OK: "", Why.NEVER_CALIBRATED: _l("never calibrated"),
              Why.CALIBRATION_LAPSED: _l("calibration lapsed"), Why.FAILED: _l("last calibration or check failed"),
              Why.CALIBRATION_DUE: _l("calibration due within 30 days"), Why.RETIRED: _l("retired")}
ASSESSMENT_LABELS = {Assessment.NO_EFFECT: _l("No effect"), Assessment.RE_EXAMINE: _l("Re-examine"),
                     Assessment.INFORM_CUSTOMER: _l("Inform the customer")}


# --- work done with an instrument (registered by the other domains) ------------------------------

@dataclass(frozen=True)
class Work:
    """One piece of work done with an instrument: what it was, when, and where to see it."""

    kind: str  # e.g. "ballistic_entry", "custody_event"
    id: int
    on: date
    label: str
    url: str = ""


WorkSource = Callable[[Equipment, date | None, date], list[Work]]
_work_sources: dict[str, WorkSource] = {}


def register_work_source(kind: str, source: WorkSource) -> None:
    """A domain that records which instrument its work used lists that work for impact reviews."""
    _work_sources[kind] = source


def work_since(equipment: Equipment, since: date | None, until: date) -> list[Work]:
    """Every piece of work done with the instrument from `since` (inclusive; None: ever) to `until`."""
    found = [work for source in _work_sources.values() for work in source(equipment, since, until)]
    return sorted(found, key=lambda w: (w.on, w.kind, w.id))


# --- the register ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Details:
    identifier: str
    kind: str
    name: str = ""
    make: str = ""
    model: str = ""
    serial_number: str = ""
    location: str = ""
    responsible_id: int | None = None
    affects_results: bool = True
    calibration_interval_months: int | None = None
    calibration_provider: str = ""
    traceability: str = ""
    check_interval_days: int | None = None
    maintenance_interval_months: int | None = None


def register(unit_id: int) -> list[Equipment]:
    return list(db.session.scalars(select(Equipment).where(Equipment.unit_id == unit_id)
                                   .order_by(Equipment.identifier)))


def get(equipment_id: int | None, unit_id: int) -> Equipment:
    found = db.session.get(Equipment, equipment_id) if equipment_id is not None else None
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such instrument in this unit's equipment register."))
    return found


def add(unit_id: int, actor: User, details: Details) -> Equipment:
    _require(actor, unit_id, MANAGERS, _("Only a quality manager adds instruments to the register."))
    identifier = _text(details.identifier, _("The identifier"), required=True, limit=40)
    if db.session.scalar(select(Equipment.id).where(Equipment.unit_id == unit_id, Equipment.identifier == identifier)):
        raise StateConflict(_("The register already holds an instrument %(id)s.", id=identifier))
    found = Equipment(unit_id=unit_id, identifier=identifier)
    _apply(found, details, unit_id)
    db.session.add(found)
    db.session.flush()
    return found


def update(found: Equipment, actor: User, details: Details, *, reason: str) -> Equipment:
    _require(actor, found.unit_id, MANAGERS, _("Only a quality manager changes the register."))
    identifier = _text(details.identifier, _("The identifier"), required=True, limit=40)
    clash = db.session.scalar(select(Equipment.id).where(Equipment.unit_id == found.unit_id,
                                                         Equipment.identifier == identifier, Equipment.id != found.id))
    if clash:
        raise StateConflict(_("The register already holds an instrument %(id)s.", id=identifier))
    with audit_reason(db.session, _text(reason, _("A reason"), required=True, limit=500)):
        found.identifier = identifier
        _apply(found, details, found.unit_id)
        db.session.flush()
    return found


def _apply(found: Equipment, details: Details, unit_id: int) -> None:
    if details.kind not in KINDS:
        raise InvalidInput(_("Choose a kind of instrument: %(kinds)s.", kinds=", ".join(KINDS)))
    for value, what in ((details.calibration_interval_months, _("The calibration interval")),
                        (details.maintenance_interval_months, _("The maintenance interval"))):
        if value is not None and not 1 <= value <= 120:
            raise InvalidInput(_("%(what)s is 1 to 120 months.", what=what))
    if details.check_interval_days is not None and not 1 <= details.check_interval_days <= 3660:
        raise InvalidInput(_("The check interval is 1 to 3,660 days."))
    if details.responsible_id is not None:
        _member(details.responsible_id, unit_id)
    found.kind = details.kind
    found.name = _text(details.name, _("The name"), limit=200)
    found.make = _text(details.make, _("The make"), limit=100)
    found.model = _text(details.model, _("The model"), limit=100)
    found.serial_number = _text(details.serial_number, _("The serial number"), limit=100)
    found.location = _text(details.location, _("The location"), limit=200)
    found.responsible_id = details.responsible_id
    found.affects_results = bool(details.affects_results)
    found.calibration_interval_months = details.calibration_interval_months
    found.calibration_provider = _text(details.calibration_provider, _("The calibration provider"), limit=200)
    found.traceability = _text(details.traceability, _("The traceability statement"))
    found.check_interval_days = details.check_interval_days
    found.maintenance_interval_months = details.maintenance_interval_months


# --- records and the derived status ---------------------------------------------------------------

def records_of(found: Equipment) -> list[EquipmentRecord]:
    stmt = (select(EquipmentRecord).where(EquipmentRecord.equipment_id == found.id)
            .order_by(EquipmentRecord.performed_on, EquipmentRecord.id))
    return list(db.session.scalars(stmt))


def status_of(found: Equipment, *, on: date | None = None) -> Derived:
    return derive(found, records_of(found), on or today())


def statuses(unit_id: int, *, on: date | None = None) -> dict[int, Derived]:
    """Every instrument's status in two queries (for the register and the dashboard)."""
    on = on or today()
    records: dict[int, list[EquipmentRecord]] = defaultdict(list)
    for record in db.session.scalars(select(EquipmentRecord).where(EquipmentRecord.unit_id == unit_id)):
        records[record.equipment_id].append(record)
    return {found.id: derive(found, records[found.id], on) for found in register(unit_id)}


def status_label(derived: Derived) -> str:
    why = WHY_LABELS[derived.why]
    return f"{STATUS_LABELS[derived.status]} ({why})" if why and derived.status is not Status.IN_SERVICE else \
        str(STATUS_LABELS[derived.status])


@dataclass(frozen=True)
class RecordInput:
    kind: str
    performed_on: date
    result: str = ""
    next_due: date | None = None
    performed_by: str = ""
    certificate_number: str = ""
    notes: str = ""
    certificate: bytes | None = None
    certificate_name: str = ""


def add_record(found: Equipment, actor: User, entry: RecordInput) -> EquipmentRecord:
    """A calibration, check, maintenance, repair, fault or retirement; a failure opens an impact review."""
    _require(actor, found.unit_id, RECORDERS, _("Only quality managers, examiners and CSI officers record "
                                                "calibrations, checks and maintenance."))
    kind = _choice(RecordKind, entry.kind, _("record"))
    result = _result_for(kind, entry.result)
    if entry.performed_on > today():
        raise InvalidInput(_("The date is in the future: record work once it is done."))
    if entry.next_due is not None and entry.next_due <= entry.performed_on:
        raise InvalidInput(_("The next due date must be after the calibration date."))
    if kind is not RecordKind.CALIBRATION and entry.next_due is not None:
        raise InvalidInput(_("Only a calibration sets the next due date."))
    before = status_of(found)
    if before.status is Status.RETIRED:
        raise StateConflict(_("%(id)s is retired: nothing more is recorded for it.", id=found.identifier))
    digest, name = _certificate(entry.certificate, entry.certificate_name)
    record = EquipmentRecord(unit_id=found.unit_id, equipment_id=found.id, kind=kind.value, result=result,
                             performed_on=entry.performed_on, next_due=entry.next_due,
                             performed_by=_text(entry.performed_by, _("Performed by"), limit=200),
                             certificate_number=_text(entry.certificate_number, _("The certificate number"),
                                                      limit=100),
                             certificate_sha256=digest, certificate_name=name,
                             notes=_text(entry.notes, _("The notes")), recorded_by_id=actor.id)
    db.session.add(record)
    db.session.flush()
    if record.failed and found.affects_results and not _open_review(found):
        _open_impact_review(found, record, before)
    return record


def _result_for(kind: RecordKind, result: str) -> str:
    if kind in (RecordKind.CALIBRATION, RecordKind.CHECK):
        if result not in (Result.PASS.value, Result.FAIL.value):
            raise InvalidInput(_("A calibration or check passes or fails: choose pass or fail."))
        return result
    if result:
        raise InvalidInput(_("Only calibrations and checks have a pass or fail result."))
    return ""


def _certificate(data: bytes | None, filename: str) -> tuple[str | None, str]:
    if not data:
        return None, ""
    from qms.storage import object_store
    from qms.uploads import display_name

    if len(data) > MAX_CERTIFICATE_BYTES:
        raise TooLarge(_("The certificate file is larger than 20 MB. Nothing was stored."))
    if not data.startswith(b"%PDF-"):
        raise InvalidInput(_("The certificate must be a PDF file. Nothing was stored."))
    return object_store().put(data), display_name(filename)


def require_in_service(equipment_id: int | None, unit_id: int, *, on: date | None = None) -> Equipment:
    """The instrument, if it is registered in the unit and usable today; else a refusal naming why."""
    found = get(equipment_id, unit_id)
    derived = status_of(found, on=on)
    if not derived.status.usable:
        raise StateConflict(_("%(id)s is out of service (%(why)s): nothing was recorded with it. Record a passing "
                              "calibration or check first, or choose another instrument.",
                              id=found.identifier, why=WHY_LABELS[derived.why]))
    return found


def imaging_devices(unit_id: int) -> list[tuple[Equipment, Derived]]:
    """The unit's imaging instruments with their status, usable ones first (for the upload form)."""
    current = statuses(unit_id)
    rows = [(found, current[found.id]) for found in register(unit_id) if found.kind in IMAGING_KINDS]
    return sorted(rows, key=lambda row: (not row[1].status.usable, row[0].identifier))


# --- impact reviews --------------------------------------------------------------------------------

def _open_review(found: Equipment) -> ImpactReview | None:
    return db.session.scalar(select(ImpactReview).where(ImpactReview.equipment_id == found.id,
                                                        ImpactReview.closed_at.is_(None)))


def _open_impact_review(found: Equipment, failure: EquipmentRecord, before: Derived) -> ImpactReview:
    review = ImpactReview(unit_id=found.unit_id, equipment_id=found.id, failed_record_id=failure.id,
                          since=before.last_good, until=failure.performed_on)
    db.session.add(review)
    db.session.flush()
    kind = str(RECORD_KINDS[RecordKind(failure.kind)]).lower()  # the reader's word, not the stored code
    what = _("%(id)s failed its %(kind)s", id=found.identifier, kind=kind) if failure.kind != "fault" \
        else _("%(id)s reported faulty", id=found.identifier)
    quality.open_nonconformity(found.unit_id, Source.EQUIPMENT_IMPACT, quality.Found(
        title=what[:200], description=failure.notes, location=found.location, found_on=failure.performed_on,
        immediate_correction=_("Taken out of service; impact review opened.")),
        source_key=f"impact_review:{review.id}", source_url=f"/equipment/reviews/{review.id}")
    return review


def reviews(unit_id: int, *, open_only: bool = False) -> list[ImpactReview]:
    stmt = select(ImpactReview).where(ImpactReview.unit_id == unit_id).order_by(ImpactReview.id.desc())
    if open_only:
        stmt = stmt.where(ImpactReview.closed_at.is_(None))
    return list(db.session.scalars(stmt))


def review(review_id: int, unit_id: int) -> ImpactReview:
    found = db.session.get(ImpactReview, review_id)
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such impact review in this unit."))
    return found


@dataclass(frozen=True)
class ReviewLine:
    work: Work
    assessment: ImpactAssessment | None


def review_lines(found: ImpactReview) -> list[ReviewLine]:
    """The work done with the instrument since its last good record, each with its latest assessment."""
    latest: dict[tuple[str, int], ImpactAssessment] = {}
    for row in db.session.scalars(select(ImpactAssessment).where(ImpactAssessment.review_id == found.id)
                                  .order_by(ImpactAssessment.id)):
        latest[(row.work_kind, row.work_id)] = row
    return [ReviewLine(work, latest.get((work.kind, work.id)))
            for work in work_since(found.equipment, found.since, found.until)]


def assess(found: ImpactReview, actor: User, *, work_kind: str, work_id: int, assessment: str,
           note: str = "") -> ImpactAssessment:
    _require(actor, found.unit_id, MANAGERS | {Role.EXAMINER}, _("Only quality managers and examiners assess "
                                                                 "the impact of a failed instrument."))
    if found.closed_at is not None:
        raise StateConflict(_("This impact review is closed."))
    listed = {(line.work.kind, line.work.id) for line in review_lines(found)}
    if (work_kind, work_id) not in listed:
        raise NotFound(_("That work is not in this impact review."))
    chosen = _choice(Assessment, assessment, _("assessment"))
    note = _text(note, _("The note"), required=chosen is not Assessment.NO_EFFECT)
    row = ImpactAssessment(unit_id=found.unit_id, review_id=found.id, work_kind=work_kind, work_id=work_id,
                           assessment=chosen.value, note=note, assessed_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    return row


def close_review(found: ImpactReview, actor: User, *, conclusion: str) -> ImpactReview:
    """Close once every piece of work has an assessment."""
    _require(actor, found.unit_id, MANAGERS, _("Only a quality manager closes an impact review."))
    if found.closed_at is not None:
        raise StateConflict(_("This impact review is already closed."))
    missing = [line.work.label for line in review_lines(found) if line.assessment is None]
    if missing:
        raise StateConflict(_("%(count)d piece(s) of work still need an assessment: %(first)s.",
                              count=len(missing), first=", ".join(missing[:5])))
    with audit_reason(db.session, _("impact review closed")):
        found.conclusion = _text(conclusion, _("The conclusion"), required=True)
        found.closed_at, found.closed_by_id = utcnow(), actor.id
        db.session.flush()
    return found


# --- dashboard -------------------------------------------------------------------------------------

def due_within(unit_id: int, *, days: int = DUE_SOON_DAYS) -> list[tuple[Equipment, Derived]]:
    """Instruments whose calibration falls due within the days, or is already lapsed or failed."""
    current, horizon = statuses(unit_id), today() + timedelta(days=days)
    rows = []
    for found in register(unit_id):
        derived = current[found.id]
        if derived.status is Status.RETIRED or not found.affects_results:
            continue
        lapsing = derived.calibrated_until is not None and derived.calibrated_until <= horizon
        if derived.status is Status.OUT_OF_SERVICE or lapsing:
            rows.append((found, derived))
    return rows


def dashboard_panels(user: User, unit_id: int | None, roles: frozenset[Role]) -> list:  # type: ignore[type-arg]
    from qms.main.services import Panel

    if unit_id is None or not roles & READERS:
        return []
    due = due_within(unit_id)
    open_reviews = reviews(unit_id, open_only=True)
    if not due and not open_reviews:
        return []
    return [Panel(_("Calibrations due and instruments out of service"), "equipment/_panel_due.html",
                  {"due": due, "reviews": open_reviews, "labels": STATUS_LABELS, "why": WHY_LABELS}, order=17)]


# --- helpers ---------------------------------------------------------------------------------------

def _member(user_id: int, unit_id: int) -> User:
    stmt = select(User).join(Membership, Membership.user_id == User.id).where(
        User.id == user_id, Membership.unit_id == unit_id).limit(1)
    person = db.session.scalar(stmt)
    if person is None:
        raise InvalidInput(_("The responsible person must be a member of this unit."))
    return person


def _require(actor: User, unit_id: int, roles: Iterable[Role], message: str) -> None:
    if not roles_in(actor, unit_id) & frozenset(roles):
        raise NotPermitted(message)




# --- read functions for the gap analysis's indicators (qms.audits.gap) -----------------------------

def without_current_calibration(unit_id: int, *, on: date | None = None) -> list[tuple[Equipment, Derived]]:
    """Instruments that affect results, not retired, and out of service: never calibrated, lapsed or failed."""
    current = statuses(unit_id, on=on)
    return [(found, current[found.id]) for found in register(unit_id)
            if found.affects_results and current[found.id].status is Status.OUT_OF_SERVICE]
