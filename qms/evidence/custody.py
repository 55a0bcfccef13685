"""Custody actions: register cases and items, and append custody events through the state machine.

Every action locks the item row (SELECT ... FOR UPDATE on PostgreSQL), checks that the event is
possible in the item's current state, appends one hash-chained event with the next sequence number
and sets the item's cached custody from `qms.evidence.state.apply` (the one rule; nothing else
writes those columns). UNIQUE(item_id, seq) stops a second writer that got past the
lock (SQLite has no row locks): it gets CustodyConflict. Services add and flush; callers commit.
"""
from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.exc import IntegrityError

from qms import errors
from qms.auth.models import Role, User
from qms.auth.services import check_password, roles_in
from qms.db import utcnow
from qms.equipment import services as equipment
from qms.errors import Refused, StateConflict
from qms.evidence.chain import HASH_VERSION, event_hash
from qms.evidence.models import (ITEM_STATE_LABELS, LOCATION_KIND_LABELS, Case, CustodyEvent, EventKind, Item,
                                 ItemState, ItemType, LocationKind, StorageLocation)
from qms.evidence.state import CACHED_COLUMNS, Custody, apply, cached
from qms.extensions import db
from qms.people import services as people
from qms.people.models import Gate

CUSTODIANS = frozenset({Role.CSI_OFFICER, Role.EXAMINER})  # who may hold, receive or witness evidence
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_OFFSET_MINUTES = 14 * 60


class CustodyError(Refused):
    """An action the chain of custody refuses; the message says why and is safe to show."""

    status = 400


class CustodyConflict(StateConflict, CustodyError):
    """Someone else recorded an event on the same item at the same moment."""


class AuthenticationFailed(errors.AuthenticationFailed, CustodyError):
    """A party's password was wrong: the attempt is kept, like a failed login, for the throttle.

    Answered 400, not 403: the signed-in person may act; the second party's confirmation in the form failed.
    """

    status = 400


class Throttled(errors.Throttled, CustodyError):
    """Too many wrong passwords for the party; the refusal is kept too."""


class NotHolder(StateConflict, CustodyError):
    """The person does not hold the item for what they are doing (imaging)."""


CONFLICT = _l("Someone else recorded a custody event on this item at the same moment; nothing was recorded. "
              "Reload the item and try again.")


@dataclass(frozen=True)
class When:
    """When an event happened: a UTC time and the local UTC offset (minutes) where it was recorded."""

    at: datetime | None = None
    offset_minutes: int = 0


def _label_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(5)).decode()
    return f"{raw[:4]}-{raw[4:]}"


def _name(user: User | None) -> str:
    return "" if user is None else f"{user.username} ({user.full_name})"


def is_custodian(user: User, unit_id: int) -> bool:
    return bool(roles_in(user, unit_id) & CUSTODIANS)


def exhibit(item: Item) -> str:
    """The item as named inside a sentence, in the reader's language."""
    return _("exhibit %(number)s of case %(case)s", number=item.exhibit_number, case=item.case.case_number)


def exhibit_first(item: Item) -> str:
    """The item as named at the start of a sentence (capitalize() would lower-case the exhibit number)."""
    return _("Exhibit %(number)s of case %(case)s", number=item.exhibit_number, case=item.case.case_number)


def _state(item: Item) -> str:
    return str(ITEM_STATE_LABELS[ItemState(item.state)]).lower()


# --- cases, locations, items -----------------------------------------------------------------------------

def register_case(*, unit_id: int, actor: User, case_number: str, offence_type: str, opened_on: date,
                  offence_date: date | None = None, summary: str = "") -> Case:
    case_number = case_number.strip()
    if not case_number or not offence_type.strip():
        raise CustodyError(_("A case needs a case number and an offence type."))
    if offence_date and offence_date > utcnow().date() + timedelta(days=1):
        raise CustodyError(_("The offence date is in the future."))
    taken = select(Case.id).where(Case.unit_id == unit_id, Case.case_number == case_number)
    if db.session.scalar(taken) is not None:
        raise CustodyError(_("Case number %(number)s already exists in this unit.", number=case_number))
    case = Case(unit_id=unit_id, case_number=case_number, offence_type=offence_type.strip(), opened_on=opened_on,
                offence_date=offence_date, summary=summary.strip(), created_by_id=actor.id)
    db.session.add(case)
    db.session.flush()
    return case


def add_location(*, unit_id: int, kind: str, name: str, parent: StorageLocation | None = None) -> StorageLocation:
    if kind not in LocationKind.__members__.values():
        raise CustodyError(_("Unknown kind of location %(kind)s.", kind=repr(kind)))
    order = list(LocationKind)
    if parent is None and kind != LocationKind.BUILDING:
        raise CustodyError(_("Only a building stands on its own; put a room, cabinet, shelf or box inside a place."))
    if parent is not None and order.index(LocationKind(kind)) <= order.index(LocationKind(parent.kind)):
        raise CustodyError(_("A location of the kind %(kind)s cannot be inside one of the kind %(parent)s.",
                             kind=LOCATION_KIND_LABELS[LocationKind(kind)],
                             parent=LOCATION_KIND_LABELS[LocationKind(parent.kind)]))
    name = name.strip()
    if not name:
        raise CustodyError(_("Give the location a name."))
    siblings = select(StorageLocation.id).where(StorageLocation.unit_id == unit_id, StorageLocation.name == name,
                                                StorageLocation.parent_id == (parent.id if parent else None))
    if parent is None:
        siblings = siblings.where(StorageLocation.parent_id.is_(None))
    if db.session.scalar(siblings) is not None:
        raise CustodyError(_("There is already a location called %(name)s there.", name=repr(name)))
    location = StorageLocation(unit_id=unit_id, kind=kind, name=name, parent_id=parent.id if parent else None)
    db.session.add(location)
    db.session.flush()
    return location


def register_item(case: Case, *, actor: User, exhibit_number: str, item_type: str, description: str,
                  collected_place: str = "", when: When = When(), seal_number: str = "", packaging: str = "",
                  make: str = "", model: str = "", serial_number: str = "", calibre: str = "",
                  parent: Item | None = None) -> Item:
    """A new item, with its first event (collected) and, when a seal number is given, a second (sealed)."""
    exhibit_number = exhibit_number.strip()
    if not exhibit_number or not description.strip():
        raise CustodyError(_("An item needs an exhibit number and a description."))
    if item_type not in ItemType.__members__.values():
        raise CustodyError(_("Unknown item type %(type)s.", type=repr(item_type)))
    if not is_custodian(actor, case.unit_id):
        raise CustodyError(_("Only a CSI officer or an examiner of the unit can take items into custody."))
    taken = select(Item.id).where(Item.case_id == case.id, Item.exhibit_number == exhibit_number)
    if db.session.scalar(taken) is not None:
        raise CustodyError(_("Exhibit number %(number)s is already used in case %(case)s.", number=exhibit_number,
                             case=case.case_number))
    at = _check_time(when, previous=None)
    item = Item(unit_id=case.unit_id, case=case, exhibit_number=exhibit_number, item_type=item_type,
                description=description.strip(), make=make.strip(), model=model.strip(),
                serial_number=serial_number.strip(), calibre=calibre.strip(), packaging=packaging.strip(),
                collected_by_id=actor.id, collected_at=at, collected_place=collected_place.strip(),
                parent_item_id=parent.id if parent else None, label_code=_label_code())
    db.session.add(item)
    db.session.flush()
    details = {"case_number": case.case_number, "exhibit_number": item.exhibit_number, "item_type": item_type,
               "description": item.description, "collected_place": item.collected_place,
               "packaging": item.packaging, "serial_number": item.serial_number, "make": item.make,
               "model": item.model, "calibre": item.calibre}
    if parent is not None:
        details |= {"parent_item_id": parent.id, "parent_exhibit_number": parent.exhibit_number}
    _append(item, EventKind.COLLECTED, actor, When(at, when.offset_minutes), details=details)
    if seal_number.strip():
        seal(item, actor=actor, seal_number=seal_number, when=When(at, when.offset_minutes))
    return item


# --- the state machine ---------------------------------------------------------------------------------

# Built once: composing the statement cost as much as running it, on every custody action.
_LOCK_WITH_HEAD_TIME = (
    select(Item, CustodyEvent.occurred_at)
    .outerjoin(CustodyEvent, (CustodyEvent.item_id == Item.id) & (CustodyEvent.seq == Item.head_seq))
    .where(Item.id == bindparam("item_id")).with_for_update(of=Item).execution_options(populate_existing=True))


def _lock(item: Item) -> Item:
    """Re-read the item FOR UPDATE (PostgreSQL row lock; SQLite ignores it) with fresh values.

    The same round trip reads the time of the item's last event, which every action checks the new
    event's time against (`_previous_time`); the id comes from the identity key, since `item.id` on an
    item expired by the last commit would load the whole row once more just to learn it.
    """
    identity = inspect(item).identity
    row = db.session.execute(_LOCK_WITH_HEAD_TIME, {"item_id": identity[0] if identity else item.id}).first()
    if row is None:
        raise CustodyError(_("This item does not exist (any more)."))
    locked, head_at = row
    if head_at is not None:
        _remember_head(locked, locked.head_hash, head_at)
    return locked


def _refuse_final(item: Item, kind: EventKind) -> None:
    if item.final:
        if item.state == ItemState.RETURNED:
            raise CustodyError(_("Cannot record '%(event)s': %(item)s was returned to its owner; only corrections "
                                 "can still be recorded.", event=kind.label.lower(), item=exhibit(item)))
        raise CustodyError(_("Cannot record '%(event)s': %(item)s was destroyed or disposed of; only corrections "
                             "can still be recorded.", event=kind.label.lower(), item=exhibit(item)))


def _require_holder(item: Item, actor: User, kind: EventKind) -> None:
    _refuse_final(item, kind)
    doing = kind.label.lower()
    if item.state == ItemState.IN_STORAGE:
        raise CustodyError(_("Cannot record '%(event)s': %(item)s is in storage (%(place)s); take it out first.",
                             event=doing, item=exhibit(item),
                             place=item.location.path if item.location else _("an unknown place")))
    if item.state == ItemState.IN_TRANSIT and kind != EventKind.TRANSFER_OFFERED:
        raise CustodyError(_("Cannot record '%(event)s': %(item)s is in transit to %(person)s; it must be accepted "
                             "or the offer cancelled first.", event=doing, item=exhibit(item),
                             person=_name(item.pending_to)))
    if item.holder_id != actor.id:
        if item.holder is None:
            raise CustodyError(_("Cannot record '%(event)s': you do not hold %(item)s; nobody does.",
                                 event=doing, item=exhibit(item)))
        raise CustodyError(_("Cannot record '%(event)s': you do not hold %(item)s; %(person)s does.",
                             event=doing, item=exhibit(item), person=_name(item.holder)))


def _check_time(when: When, *, previous: datetime | None) -> datetime:
    if not -MAX_OFFSET_MINUTES <= when.offset_minutes <= MAX_OFFSET_MINUTES:
        raise CustodyError(_("The local UTC offset must be between -14:00 and +14:00."))
    now = utcnow()
    at = when.at or now
    if at.tzinfo is None:
        raise CustodyError(_("The time of the event must say its time zone."))
    if at > now + FUTURE_TOLERANCE:
        raise CustodyError(_("The event's time is in the future."))
    if previous is not None and at < previous:
        raise CustodyError(_("Out of order: the event's time is before the item's previous event (%(previous)s UTC). "
                             "Record events in the order they happened, or record a correction.",
                             previous=f"{previous:%Y-%m-%d %H:%M}"))
    return at


HEAD_TIMES = "custody_head_times"


def _remember_head(item: Item, head_hash: str, at: datetime) -> None:
    """Keep the time of the item's head event for this session, keyed by its hash.

    The hash covers occurred_at, so a remembered time is right whenever the item's head hash is the one
    remembered, whatever was rolled back or committed by others in between. One entry per item.
    """
    db.session.info.setdefault(HEAD_TIMES, {})[item.id] = (head_hash, at)


def _previous_time(item: Item) -> datetime | None:
    if item.head_seq == 0:
        return None
    remembered = db.session.info.get(HEAD_TIMES, {}).get(item.id)
    if remembered is not None and remembered[0] == item.head_hash:
        return remembered[1]
    return db.session.scalar(select(CustodyEvent.occurred_at).where(
        CustodyEvent.item_id == item.id, CustodyEvent.seq == item.head_seq))


def _append(item: Item, kind: EventKind, actor: User, when: When, *, details: dict[str, Any] | None = None,
            **fields: Any) -> CustodyEvent:
    if kind is not EventKind.IMAGED:  # the upload checked the imaging authorisation instead
        people.require(actor, item.unit_id, Gate.EVIDENCE_CUSTODY)
    at = _check_time(when, previous=_previous_time(item))
    parties = {"actor": _name(actor)}
    for role in ("from_user", "to_user", "witness"):
        user = fields.pop(role, None)
        if user is not None:
            fields[f"{role}_id"] = user.id
            parties[role.removesuffix("_user")] = _name(user)
    row: dict[str, Any] = {
        "hash_version": HASH_VERSION, "unit_id": item.unit_id, "item_id": item.id, "seq": item.head_seq + 1,
        "kind": kind.value, "occurred_at": at, "utc_offset_minutes": when.offset_minutes,
        "recorded_at": utcnow(), "actor_id": actor.id, "from_user_id": None, "to_user_id": None,
        "witness_id": None, "location_id": None, "seal_number": "", "refers_to_seq": None, "notes": "",
        "details": {"parties": parties, **(details or {})}, "prev_hash": item.head_hash,
    }
    row.update(fields)
    row["notes"] = (row["notes"] or "").strip()
    row["hash"] = event_hash(row)
    event = CustodyEvent(**row)
    db.session.add(event)
    item.head_seq, item.head_hash = row["seq"], row["hash"]
    _cache(item, apply(cached(item), row))
    try:
        db.session.flush()
    except IntegrityError as error:
        raise CustodyConflict(str(CONFLICT)) from error
    _remember_head(item, row["hash"], at)
    return event


def _cache(item: Item, custody: Custody) -> None:
    """Set the item's cached columns to the fold: the only place they are written."""
    for name in CACHED_COLUMNS:
        value = getattr(custody, name)
        if getattr(item, name) != value:  # most events leave custody as it was: no attribute event, no history
            setattr(item, name, value)


# Whole sentences per part (a translation may need to inflect the noun); `what` is also the throttle's purpose.
_PARTY_REFUSALS = {
    "receiver": _l("%(person)s is not a CSI officer or examiner of this unit and cannot act as receiver."),
    "witness": _l("%(person)s is not a CSI officer or examiner of this unit and cannot act as witness."),
}


def authenticate_party(username: str, password: str, *, unit_id: int, what: str) -> User:
    """A second person confirms with their password (receiver, witness), through the one throttle."""
    user = check_password(username, password, purpose=f"custody {what}", unit_id=unit_id)
    if not is_custodian(user, unit_id):
        raise CustodyError(str(_PARTY_REFUSALS[what]) % {"person": _name(user)})
    return user


# --- actions ---------------------------------------------------------------------------------------------

def offer_transfer(item: Item, *, actor: User, receiver: User, when: When = When(), notes: str = "") -> CustodyEvent:
    item = _lock(item)
    _require_holder(item, actor, EventKind.TRANSFER_OFFERED)
    if item.state == ItemState.IN_TRANSIT:
        raise CustodyError(_("%(item)s is already offered to %(person)s; cancel that offer first.",
                             item=exhibit_first(item), person=_name(item.pending_to)))
    if receiver.id == actor.id:
        raise CustodyError(_("You cannot transfer an item to yourself."))
    if not is_custodian(receiver, item.unit_id):
        raise CustodyError(_("%(person)s is not a CSI officer or examiner of this unit and cannot receive evidence.",
                             person=_name(receiver)))
    return _append(item, EventKind.TRANSFER_OFFERED, actor, when, from_user=actor, to_user=receiver, notes=notes)


def accept_transfer(item: Item, *, username: str, password: str, recorded_by: User | None = None,
                    when: When = When(), notes: str = "") -> CustodyEvent:
    """The receiver accepts with their password, on the sender's device or later from their own account."""
    receiver = authenticate_party(username, password, unit_id=item.unit_id, what="receiver")
    item = _lock(item)
    _refuse_final(item, EventKind.TRANSFER_ACCEPTED)
    if item.state != ItemState.IN_TRANSIT or item.pending_to_id is None:
        raise CustodyError(_("There is no pending transfer of %(item)s to accept.", item=exhibit(item)))
    if item.pending_to_id != receiver.id:
        raise CustodyError(_("%(item)s is offered to %(person)s; only they can accept it.", item=exhibit_first(item),
                             person=_name(item.pending_to)))
    offer_seq = db.session.scalar(select(CustodyEvent.seq).where(
        CustodyEvent.item_id == item.id, CustodyEvent.kind == EventKind.TRANSFER_OFFERED.value)
        .order_by(CustodyEvent.seq.desc()).limit(1))
    sender = item.holder
    signature = {"receiver": "password re-entered", "recorded_in_session_of": _name(recorded_by or receiver)}
    return _append(item, EventKind.TRANSFER_ACCEPTED, receiver, when, from_user=sender, to_user=receiver,
                   refers_to_seq=offer_seq, notes=notes, details={"signatures": signature})


def cancel_transfer(item: Item, *, actor: User, when: When = When(), notes: str = "") -> CustodyEvent:
    item = _lock(item)
    _refuse_final(item, EventKind.TRANSFER_CANCELLED)
    if item.state != ItemState.IN_TRANSIT:
        raise CustodyError(_("There is no pending transfer of %(item)s to cancel.", item=exhibit(item)))
    if actor.id not in (item.holder_id, item.pending_to_id):
        raise CustodyError(_("Only the sender or the intended receiver can cancel a transfer."))
    declined = actor.id == item.pending_to_id
    return _append(item, EventKind.TRANSFER_CANCELLED, actor, when, from_user=item.holder, to_user=item.pending_to,
                   notes=notes, details={"declined_by_receiver": declined})


def transfer_custody(item: Item, *, actor: User, receiver_username: str, receiver_password: str,
                     when: When = When(), notes: str = "") -> CustodyEvent:
    """Hand over on one device: the offer and the receiver's acceptance in one step."""
    receiver = authenticate_party(receiver_username, receiver_password, unit_id=item.unit_id, what="receiver")
    offer_transfer(item, actor=actor, receiver=receiver, when=when, notes=notes)
    item = _lock(item)
    offer_seq = item.head_seq
    signature = {"receiver": "password re-entered", "recorded_in_session_of": _name(actor)}
    return _append(item, EventKind.TRANSFER_ACCEPTED, receiver, when, from_user=actor, to_user=receiver,
                   refers_to_seq=offer_seq, details={"signatures": signature})


def store(item: Item, *, actor: User, location: StorageLocation, when: When = When(), notes: str = "") -> CustodyEvent:
    item = _lock(item)
    _require_holder(item, actor, EventKind.STORED)
    if location.unit_id != item.unit_id:
        raise CustodyError(_("That storage location belongs to another unit."))
    return _append(item, EventKind.STORED, actor, when, location_id=location.id, notes=notes,
                   details={"location": location.path})


def remove_from_storage(item: Item, *, actor: User, when: When = When(), notes: str = "") -> CustodyEvent:
    item = _lock(item)
    _refuse_final(item, EventKind.REMOVED_FROM_STORAGE)
    if item.state != ItemState.IN_STORAGE:
        raise CustodyError(_("Cannot take %(item)s out of storage: it is not in storage (%(state)s).",
                             item=exhibit(item), state=_state(item)))
    if not is_custodian(actor, item.unit_id):
        raise CustodyError(_("Only a CSI officer or an examiner of the unit can take evidence out of storage."))
    location = item.location
    return _append(item, EventKind.REMOVED_FROM_STORAGE, actor, when, location_id=item.location_id, notes=notes,
                   to_user=actor, details={"location": location.path if location else ""})


def examine(item: Item, *, actor: User, notes: str, when: When = When(),
            equipment_ids: Sequence[int] = ()) -> CustodyEvent:
    """An examination of the item; the instruments it used must be in service and are named in the event."""
    item = _lock(item)
    _require_holder(item, actor, EventKind.EXAMINED)
    if not notes.strip():
        raise CustodyError(_("Say what was examined (or which examination was done)."))
    used = [equipment.require_in_service(equipment_id, item.unit_id) for equipment_id in dict.fromkeys(equipment_ids)]
    details = {"equipment_ids": [found.id for found in used],
               "equipment": [found.label for found in used]} if used else None
    return _append(item, EventKind.EXAMINED, actor, when, notes=notes, details=details)


def _examinations_with(found: Any, since: date | None, until: date) -> list[equipment.Work]:
    """Examinations that named the instrument, for its impact review (dates in UTC)."""
    stmt = select(CustodyEvent).where(CustodyEvent.unit_id == found.unit_id,
                                      CustodyEvent.kind == EventKind.EXAMINED.value).order_by(CustodyEvent.id)
    work = []
    for event in db.session.scalars(stmt):
        day = event.occurred_at.date()
        named = found.id in (event.details or {}).get("equipment_ids", ())
        if named and (since is None or since <= day) and day <= until:
            item = db.session.get(Item, event.item_id)
            work.append(equipment.Work("custody_event", event.id, day,
                                       _("Examination of %(item)s", item=exhibit(item) if item else event.item_id),
                                       f"/evidence/items/{event.item_id}"))
    return work


equipment.register_work_source("custody_event", _examinations_with)


def _seals_used(item: Item) -> set[str]:
    return set(db.session.scalars(select(CustodyEvent.seal_number).where(
        CustodyEvent.item_id == item.id, CustodyEvent.seal_number != "")))


def seal(item: Item, *, actor: User, seal_number: str, when: When = When(), notes: str = "",
         kind: EventKind = EventKind.SEALED) -> CustodyEvent:
    item = _lock(item)
    _require_holder(item, actor, kind)
    seal_number = seal_number.strip()
    if not seal_number:
        raise CustodyError(_("Give the number of the seal."))
    if item.sealed:
        raise CustodyError(_("%(item)s is already sealed (seal %(seal)s); break the seal first.",
                             item=exhibit_first(item), seal=item.seal_number))
    if seal_number in _seals_used(item):
        raise CustodyError(_("Seal number %(seal)s was already used on this item; a new seal needs a new number.",
                             seal=seal_number))
    return _append(item, kind, actor, when, seal_number=seal_number, notes=notes)


def reseal(item: Item, *, actor: User, seal_number: str, when: When = When(), notes: str = "") -> CustodyEvent:
    if not _lock(item).seal_number:
        raise CustodyError(_("This item was never sealed: record '%(sealed)s', not '%(resealed)s'.",
                             sealed=EventKind.SEALED.label.lower(), resealed=EventKind.RESEALED.label.lower()))
    return seal(item, actor=actor, seal_number=seal_number, when=when, notes=notes, kind=EventKind.RESEALED)


def break_seal(item: Item, *, actor: User, notes: str, when: When = When()) -> CustodyEvent:
    item = _lock(item)
    _require_holder(item, actor, EventKind.SEAL_BROKEN)
    if not item.sealed:
        raise CustodyError(_("%(item)s is not sealed.", item=exhibit_first(item)))
    if not notes.strip():
        raise CustodyError(_("Say why the seal is broken."))
    return _append(item, EventKind.SEAL_BROKEN, actor, when, seal_number=item.seal_number, notes=notes)


def sample(item: Item, *, actor: User, exhibit_number: str, item_type: str, description: str,
           when: When = When(), notes: str = "") -> Item:
    """Take a sub-item (a sample, a test-fire): a new item with its own chain that records its parent."""
    item = _lock(item)
    _require_holder(item, actor, EventKind.SAMPLED)
    when = When(_check_time(when, previous=_previous_time(item)), when.offset_minutes)
    child = register_item(item.case, actor=actor, exhibit_number=exhibit_number, item_type=item_type,
                          description=description, when=when, parent=item,
                          collected_place=f"sampled from exhibit {item.exhibit_number}")
    _append(item, EventKind.SAMPLED, actor, when, notes=notes,
            details={"sub_item_id": child.id, "sub_exhibit_number": child.exhibit_number})
    return child


def return_to_owner(item: Item, *, actor: User, recipient: str, when: When = When(), notes: str = "") -> CustodyEvent:
    item = _lock(item)
    _require_holder(item, actor, EventKind.RETURNED_TO_OWNER)
    if not recipient.strip():
        raise CustodyError(_("Name the person the item was returned to (and their document)."))
    return _append(item, EventKind.RETURNED_TO_OWNER, actor, when, notes=notes,
                   details={"recipient": recipient.strip()[:200]})


def destroy(item: Item, *, actor: User, witness_username: str, witness_password: str, method: str,
            disposed: bool = False, when: When = When(), notes: str = "") -> CustodyEvent:
    """Destroy or dispose of an item: a second authorised person witnesses it with their password."""
    kind = EventKind.DISPOSED if disposed else EventKind.DESTROYED
    item = _lock(item)
    _require_holder(item, actor, kind)
    if not method.strip():
        raise CustodyError(_("Say how the item was destroyed or disposed of, and on whose authority."))
    witness = authenticate_party(witness_username, witness_password, unit_id=item.unit_id, what="witness")
    if witness.id == actor.id:
        raise CustodyError(_("The witness must be a second person, not the one destroying the item."))
    return _append(item, kind, actor, when, witness=witness, notes=notes,
                   details={"method": method.strip()[:500], "signatures": {"witness": "password re-entered"}})


def correct(item: Item, *, actor: User, wrong_seq: int, correction: str, when: When = When()) -> CustodyEvent:
    """A correction refers to the wrong event and says what is right; the wrong event stays as it was."""
    item = _lock(item)
    if not is_custodian(actor, item.unit_id):
        raise CustodyError(_("Only a CSI officer or an examiner of the unit can record a correction."))
    if not 1 <= wrong_seq <= item.head_seq:
        raise CustodyError(_("There is no event #%(number)s on this item to correct.", number=wrong_seq))
    if not correction.strip():
        raise CustodyError(_("Say what was wrong and what is right."))
    return _append(item, EventKind.CORRECTION, actor, when, refers_to_seq=wrong_seq, notes=correction)


def record_photograph(item: Item, *, actor: User, sha256: str, caption: str) -> CustodyEvent:
    """A photograph of the packaging or seal enters the chain by its hash."""
    item = _lock(item)
    _refuse_final(item, EventKind.PHOTOGRAPHED)
    return _append(item, EventKind.PHOTOGRAPHED, actor, When(), notes=caption,
                   details={"photo_sha256": sha256})


RECORDABLE = (EventKind.STORED, EventKind.REMOVED_FROM_STORAGE, EventKind.EXAMINED, EventKind.SEALED,
              EventKind.SEAL_BROKEN, EventKind.RESEALED, EventKind.RETURNED_TO_OWNER, EventKind.CORRECTION)


def record(item: Item, *, actor: User, kind: str, when: When = When(), notes: str = "", location_id: int | None = None,
           seal_number: str = "", recipient: str = "", wrong_seq: int | None = None,
           equipment_ids: Sequence[int] = ()) -> CustodyEvent:
    """One of the events the generic form and the API record (stored, taken out, examined, sealed, ...)."""
    if kind not in {k.value for k in RECORDABLE}:
        raise errors.InvalidInput(_("Choose one of the events that can be recorded here."))
    event_kind = EventKind(kind)
    if event_kind == EventKind.STORED:
        location = db.session.get(StorageLocation, location_id) if location_id else None
        if location is None:
            raise errors.InvalidInput(_("Choose the storage location (a storage location of this unit)."))
        return store(item, actor=actor, location=location, when=when, notes=notes)
    if event_kind == EventKind.REMOVED_FROM_STORAGE:
        return remove_from_storage(item, actor=actor, when=when, notes=notes)
    if event_kind == EventKind.EXAMINED:
        return examine(item, actor=actor, notes=notes, when=when, equipment_ids=equipment_ids)
    if event_kind in (EventKind.SEALED, EventKind.RESEALED):
        act = seal if event_kind == EventKind.SEALED else reseal
        return act(item, actor=actor, seal_number=seal_number, when=when, notes=notes)
    if event_kind == EventKind.SEAL_BROKEN:
        return break_seal(item, actor=actor, notes=notes, when=when)
    if event_kind == EventKind.RETURNED_TO_OWNER:
        return return_to_owner(item, actor=actor, recipient=recipient, when=when, notes=notes)
    if wrong_seq is None:
        raise errors.InvalidInput(_("Give the number of the event being corrected."))
    return correct(item, actor=actor, wrong_seq=wrong_seq, correction=notes, when=when)


# --- imaging for ballistic comparison ------------------------------------------------------------------

def holds_for_imaging(item: Item, user: User) -> bool:
    """Whether the user may image the item: they hold it, or it is a sub-item (a test fire) they made."""
    if item.final:
        return False
    if item.holder_id == user.id and item.state == ItemState.IN_CUSTODY:
        return True
    return item.parent_item_id is not None and item.collected_by_id == user.id


def check_imaging(item: Item, actor: User) -> None:
    """Refuse to image an item the person does not hold, naming who does (or where it is)."""
    if holds_for_imaging(item, actor):
        return
    what = exhibit_first(item)
    if item.final:
        raise NotHolder(_("%(item)s is no longer in custody (%(state)s); it cannot be imaged.",
                          item=what, state=_state(item)))
    if item.state == ItemState.IN_STORAGE:
        place = item.location.path if item.location else _("an unknown place")
        raise NotHolder(_("%(item)s is in storage (%(place)s): take it out of storage before imaging it.",
                          item=what, place=place))
    if item.state == ItemState.IN_TRANSIT:
        raise NotHolder(_("%(item)s is being handed over by %(holder)s to %(receiver)s: only the person who holds "
                          "it can image it, once the transfer is settled.", item=what,
                          holder=_name(item.holder), receiver=_name(item.pending_to)))
    raise NotHolder(_("%(item)s is held by %(holder)s: only the person who holds an item can image it. Ask "
                      "%(holder)s to hand it over first.", item=what,
                      holder=_name(item.holder) or _("nobody")))


def record_imaging(item: Item, *, actor: User, device: str, when: When = When(),
                   details: dict[str, Any] | None = None) -> CustodyEvent:
    """The item was imaged for comparison (who, with which device, when): one more event in its chain."""
    item = _lock(item)
    check_imaging(item, actor)
    return _append(item, EventKind.IMAGED, actor, when, notes="",
                   details={"device": (device or "").strip()[:120], **(details or {})})
