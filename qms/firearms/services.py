"""The firearm register: records, their status events, and the register page's query.

Every new or changed record, and every new status event, is matched against the unit's register
(`qms.firearms.leads.match`); each possible match becomes a lead to confirm or dismiss.
A seized firearm names its custody item (`qms.evidence`), which keeps its chain of custody.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from qms.auth.models import Role, User
from qms.db import today
from qms.errors import InvalidInput, NotFound, StateConflict
from qms.evidence.models import Item, ItemType
from qms.extensions import db
from qms.fields import choice as _choice
from qms.fields import text as _text
from qms.firearms import leads, matching, serials
from qms.firearms.models import Conversion, EventKind, Firearm, FirearmEvent, FirearmType, Printed
from qms.firearms.roles import RECORDERS, require
from qms.firearms.status import Standing, fold
from qms.trail.audited import audit_reason

MAX_TEXT = 4000
REGISTER_PAGE = 200  # rows on one page of the register; the filters narrow it

TYPE_LABELS = {FirearmType.PISTOL: _l("Pistol"), FirearmType.REVOLVER: _l("Revolver"), FirearmType.RIFLE: _l("Rifle"),
               FirearmType.SHOTGUN: _l("Shotgun"), FirearmType.MACHINE_GUN: _l("Machine gun"),
               FirearmType.OTHER: _l("Other")}
PRINTED_LABELS = {Printed.NO: _l("Not printed"), Printed.PARTLY: _l("Partly 3D-printed"),
                  Printed.FULLY: _l("3D-printed")}
CONVERSION_LABELS = {Conversion.NONE: _l("Not converted"),
                     Conversion.ALARM_BLANK: _l("Converted alarm or blank-firing weapon"),
                     Conversion.DEACTIVATED: _l("Reactivated deactivated firearm"),
                     Conversion.GAS: _l("Converted gas weapon")}
EVENT_LABELS = {EventKind.REPORTED_STOLEN: _l("Reported stolen"), EventKind.REPORTED_LOST: _l("Reported lost"),
                EventKind.FOUND: _l("Found"), EventKind.SEIZED: _l("Seized"), EventKind.SURRENDERED: _l("Surrendered"),
                EventKind.DESTROYED: _l("Destroyed"), EventKind.RETURNED: _l("Returned to the owner")}
CATEGORY_LABELS = {"printed": _l("3D-printed (fully or partly)"), "converted": _l("Converted"),
                   "home_made": _l("Home-made"), "modified": _l("Modified")}


# --- records ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Details:
    firearm_type: str
    make: str = ""
    model: str = ""
    calibre: str = ""
    serial_number: str = ""
    other_markings: str = ""
    country_of_manufacture: str = ""
    printed: str = ""
    conversion: str = ""
    home_made: bool = False
    modified: bool = False
    description: str = ""
    item_id: int | None = None


@dataclass(frozen=True)
class EventInput:
    kind: str
    occurred_on: date
    place: str = ""
    reporter: str = ""
    police_reference: str = ""
    notes: str = ""


def get(firearm_id: int | None, unit_id: int) -> Firearm:
    found = db.session.get(Firearm, firearm_id) if firearm_id is not None else None
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such firearm in this unit's register."))
    return found


def add(unit_id: int, actor: User, details: Details, first: EventInput | None = None) -> Firearm:
    """A new record (with its first event, usually the report or the seizure), matched against the register."""
    require(actor, unit_id, RECORDERS, _("Only examiners and CSI officers add firearms to the register."))
    found = Firearm(unit_id=unit_id, created_by_id=actor.id)
    _apply(found, details, unit_id)
    db.session.add(found)
    db.session.flush()
    if first is not None:
        _record_event(found, actor, first)
    leads.match(found)
    return found


def update(found: Firearm, actor: User, details: Details, *, reason: str) -> Firearm:
    """Correct or complete the record, with the reason (on the trail); the changed record is matched again."""
    require(actor, found.unit_id, RECORDERS, _("Only examiners and CSI officers change the register."))
    with audit_reason(db.session, _text(reason, _("A reason"), required=True, limit=500)):
        _apply(found, details, found.unit_id)
        db.session.flush()
    leads.match(found)
    return found


def _apply(found: Firearm, details: Details, unit_id: int) -> None:
    kind = _choice(FirearmType, details.firearm_type, _("type of firearm"))
    printed = _choice(Printed, details.printed, _("3D-printing"))
    conversion = _choice(Conversion, details.conversion, _("conversion"))
    make, model = _text(details.make, _("The make"), limit=100), _text(details.model, _("The model"), limit=100)
    calibre = _text(details.calibre, _("The calibre"), limit=60)
    serial = _text(details.serial_number, _("The serial number"), limit=60)
    description = _text(details.description, _("The description"), limit=MAX_TEXT)
    if not (make or model or serial or description):
        raise InvalidInput(_("Describe the firearm: its make, model, serial number or a description."))
    try:
        keys = matching.keys_of(serial_number=serial, make=make, model=model, calibre=calibre)
    except ValueError:
        raise InvalidInput(_("The serial number holds letters, digits and separators only; write ? or * for each "
                             "character that cannot be read.")) from None
    if keys.serial_length > serials.MAX_SERIAL:
        raise InvalidInput(_("The serial number is longer than %(n)d characters.", n=serials.MAX_SERIAL))
    found.item_id = _custody_item(details.item_id, unit_id, found.id)
    found.firearm_type, found.printed, found.conversion = kind.value, printed.value, conversion.value
    found.make, found.model, found.calibre, found.serial_number, found.description = (make, model, calibre, serial,
                                                                                      description)
    found.other_markings = _text(details.other_markings, _("The other markings"), limit=MAX_TEXT)
    found.country_of_manufacture = _text(details.country_of_manufacture, _("The country of manufacture"), limit=100)
    found.home_made, found.modified = bool(details.home_made), bool(details.modified)
    for name, value in vars(keys).items():
        setattr(found, name, value)


def _custody_item(item_id: int | None, unit_id: int, firearm_id: int | None) -> int | None:
    if item_id is None:
        return None
    item = db.session.get(Item, item_id)
    if item is None or item.unit_id != unit_id:
        raise InvalidInput(_("The custody item must be an item of this unit."))
    if item.item_type != ItemType.FIREARM.value:
        raise InvalidInput(_("The custody item must be a firearm (the item's type)."))
    other = db.session.scalar(select(Firearm.id).where(Firearm.item_id == item_id))
    if other is not None and other != firearm_id:
        raise StateConflict(_("That custody item already has its firearm record (number %(id)d).", id=other))
    return item_id


def firearm_items(unit_id: int) -> list[Item]:
    """The unit's firearm items in custody that have no firearm record yet (for the form's choice)."""
    taken = select(Firearm.item_id).where(Firearm.item_id.is_not(None))
    stmt = (select(Item).where(Item.unit_id == unit_id, Item.item_type == ItemType.FIREARM.value,
                               Item.id.not_in(taken)).order_by(Item.id.desc()).limit(500))
    return list(db.session.scalars(stmt))


# --- status events ------------------------------------------------------------------------------------

def events_of(found: Firearm) -> list[FirearmEvent]:
    stmt = (select(FirearmEvent).where(FirearmEvent.firearm_id == found.id)
            .order_by(FirearmEvent.occurred_on, FirearmEvent.id))
    return list(db.session.scalars(stmt))


def standing_of(found: Firearm) -> Standing:
    return fold(events_of(found))


def add_event(found: Firearm, actor: User, entry: EventInput) -> FirearmEvent:
    """A step of the firearm's history; a report or a recovery may make a new lead by make, model and calibre."""
    require(actor, found.unit_id, RECORDERS, _("Only examiners and CSI officers record a firearm's status."))
    event = _record_event(found, actor, entry)
    leads.match(found)
    return event


def _record_event(found: Firearm, actor: User, entry: EventInput) -> FirearmEvent:
    kind = _choice(EventKind, entry.kind, _("event"))
    if entry.occurred_on > today():
        raise InvalidInput(_("The date is in the future: record what has happened."))
    standing = standing_of(found)
    if standing.destroyed_on is not None and entry.occurred_on >= standing.destroyed_on:
        raise StateConflict(_("This firearm was destroyed on %(day)s: nothing happens to it after that.",
                              day=format_date(standing.destroyed_on)))
    place = _text(entry.place, _("The place"), limit=200, required=kind.is_report)
    reporter = _text(entry.reporter, _("The reporter"), limit=200, required=kind.is_report)
    reference = _text(entry.police_reference, _("The police reference"), limit=100, required=kind.is_report)
    event = FirearmEvent(unit_id=found.unit_id, firearm_id=found.id, kind=kind.value, occurred_on=entry.occurred_on,
                         place=place, reporter=reporter, police_reference=reference,
                         notes=_text(entry.notes, _("The notes")), recorded_by_id=actor.id)
    db.session.add(event)
    db.session.flush()
    return event


# --- the register page --------------------------------------------------------------------------------

CATEGORIES = {"printed": Firearm.printed != Printed.NO.value, "converted": Firearm.conversion != Conversion.NONE.value,
              "home_made": Firearm.home_made.is_(True), "modified": Firearm.modified.is_(True)}


@dataclass(frozen=True)
class Filters:
    serial: str = ""  # matched as the cross-matching does: look-alike characters, ? and * for unknown ones
    text: str = ""  # in the make, model or description
    firearm_type: str = ""
    status: str = ""  # an event kind, or "none" for records without events
    category: str = ""  # printed, converted, home_made, modified
    page: int = 1


@dataclass(frozen=True)
class Row:
    firearm: Firearm
    status: EventKind | None
    since: date | None


@dataclass(frozen=True)
class RegisterPage:
    rows: list[Row]
    total: int
    page: int
    pages: int
    notes: list[str] = field(default_factory=list)


def latest_events(unit_id: int):  # type: ignore[no-untyped-def]
    """Each firearm's latest event (its status) as a subquery: one row per firearm with events."""
    ranked = select(FirearmEvent.firearm_id, FirearmEvent.kind, FirearmEvent.occurred_on,
                    func.row_number().over(partition_by=FirearmEvent.firearm_id,
                                           order_by=(FirearmEvent.occurred_on.desc(), FirearmEvent.id.desc()))
                    .label("n")).where(FirearmEvent.unit_id == unit_id).subquery()
    return select(ranked.c.firearm_id, ranked.c.kind, ranked.c.occurred_on).where(ranked.c.n == 1).subquery()


def register(unit_id: int, filters: Filters = Filters()) -> RegisterPage:
    """The unit's register, newest first, with each record's status folded in the same query."""
    latest = latest_events(unit_id)
    stmt = (select(Firearm, latest.c.kind, latest.c.occurred_on)
            .outerjoin(latest, latest.c.firearm_id == Firearm.id).where(Firearm.unit_id == unit_id))
    stmt, notes = _filtered(stmt, unit_id, filters, latest)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // REGISTER_PAGE))
    page = min(max(filters.page, 1), pages)
    rows = db.session.execute(stmt.order_by(Firearm.id.desc()).offset((page - 1) * REGISTER_PAGE)
                              .limit(REGISTER_PAGE)).all()
    return RegisterPage([Row(f, EventKind(kind) if kind else None, on) for f, kind, on in rows], total, page, pages,
                        notes)


def _filtered(stmt, unit_id: int, filters: Filters, latest):  # type: ignore[no-untyped-def]
    notes: list[str] = []
    if filters.firearm_type:
        stmt = stmt.where(Firearm.firearm_type == _choice(FirearmType, filters.firearm_type, _("type")).value)
    if filters.category:
        if filters.category not in CATEGORIES:
            raise InvalidInput(_("Unknown category: choose one of %(c)s.", c=", ".join(CATEGORIES)))
        stmt = stmt.where(CATEGORIES[filters.category])
    if filters.status == "none":
        stmt = stmt.where(latest.c.kind.is_(None))
    elif filters.status:
        stmt = stmt.where(latest.c.kind == _choice(EventKind, filters.status, _("status")).value)
    if filters.text.strip():
        needle = f"%{_text(filters.text, _('The search'), limit=100).lower()}%"
        stmt = stmt.where(or_(func.lower(Firearm.make).like(needle), func.lower(Firearm.model).like(needle),
                              func.lower(Firearm.description).like(needle)))
    if filters.serial.strip():
        stmt = stmt.where(Firearm.id.in_(_serial_search(unit_id, filters.serial, notes)))
    return stmt, notes


def _serial_search(unit_id: int, serial: str, notes: list[str]) -> list[int]:
    """The records whose serial matches a searched one; a serial that cannot match finds none, and says why."""
    try:
        key = serials.serial_key(_text(serial, _("The serial number"), limit=60))
    except ValueError:
        notes.append(_("A serial holds letters, digits and separators only, with ? or * for each character that "
                       "cannot be read."))
        return []
    if not matching.matchable_serial(key):
        notes.append(_("A serial needs at least %(n)d readable characters to be searched.",
                       n=matching.MIN_KNOWN_CHARACTERS))
    return [f.id for f in matching.serial_matches(unit_id, key)]


def status_label(status: EventKind | None) -> str:
    return str(EVENT_LABELS[status]) if status is not None else _("Recorded (no event yet)")


def categories_of(found: Firearm) -> list[str]:
    """The category flags of a record, as labels."""
    labels = []
    if found.printed:
        labels.append(str(PRINTED_LABELS[Printed(found.printed)]))
    if found.conversion:
        labels.append(str(CONVERSION_LABELS[Conversion(found.conversion)]))
    if found.home_made:
        labels.append(str(CATEGORY_LABELS["home_made"]))
    if found.modified:
        labels.append(str(CATEGORY_LABELS["modified"]))
    return labels


# --- dashboard ----------------------------------------------------------------------------------------

def dashboard_panels(user: User, unit_id: int | None, roles: frozenset[Role]) -> list:  # type: ignore[type-arg]
    """Register leads waiting for a decision, for those who decide them."""
    from qms.main.services import Panel

    if unit_id is None or not roles & RECORDERS:
        return []
    waiting = leads.leads(unit_id, open_only=True)
    if not waiting:
        return []
    return [Panel(_("Firearm register leads to decide"), "firearms/_panel_leads.html", {"leads": waiting[:10],
                                                                                         "count": len(waiting)},
                  order=18)]
