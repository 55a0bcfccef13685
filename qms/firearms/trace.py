"""Trace requests: a unit asks a partner "do you hold a record of this firearm?", and the partner answers.

Both travel as signed exchange packages (`qms.comparisons.exchange_format`, kinds
"firearm-trace-request" and "firearm-trace-answer"), signed with this server's exchange key and
accepted only from this server's own key or the unit's partner keys, as ballistic packages are.

1. The requester names the firearm (serial as marked, "?" for each unreadable character; make,
   model, calibre) and the partner (one of the unit's partner keys, or units on this server), and
   downloads the signed request to send (log: request sent).
2. The partner imports it (log: request received). A person of the partner unit reviews what the
   register's matching finds (`qms.firearms.matching`: the same serial key with look-alike characters
   read alike, or a partly obliterated serial that agrees at every readable position, with a
   compatible make) and signs the answer, which lists those records or says "no record" (log:
   answer sent). Nothing leaves the unit without that person's decision: an answer discloses the
   register.
3. The requester imports the answer (log: answer received). It must name a request this unit sent,
   be signed by the partner it was sent to, and come once; its records are kept as partner records,
   shown on the request and matched against the unit's own register.

Every refusal happens before anything is stored; services add and flush, the request commits.
"""
from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from qms.auth.models import Unit, User
from qms.comparisons import exchange
from qms.comparisons.exchange_format import (
    TRACE_ANSWER,
    TRACE_REQUEST,
    EntryFiles,
    OpenedPackage,
    build_package,
    open_package,
)
from qms.db import utcnow
from qms.errors import InvalidInput, NotFound, StateConflict
from qms.extensions import db
from qms.fields import text as _text
from qms.firearms import matching, serials
from qms.firearms.models import Conversion, EventKind, Firearm, FirearmEvent, FirearmType, LeadBasis, Printed
from qms.firearms.roles import RECORDERS, require
from qms.firearms.status import fold
from qms.firearms.trace_models import TraceDirection, TraceLogEntry, TracePartnerRecord, TraceRequest, TraceStep
from qms.i18n import moment_text
from qms.storage import object_store

OWN_SERVER = "own-server"  # the partner choice "a unit on this server" (this server's own key)
MAX_ANSWER_RECORDS = 200  # a serial that finds more is too vague to disclose: the answer says so, by refusing
_RECORD_TEXT = {"firearm_type": 16, "make": 100, "model": 100, "calibre": 60, "serial_number": 60,
                "holder_unit": 240, "holder_reference": 200}


class TraceRefused(exchange.ImportRefused):
    """A signed, intact trace package that cannot be taken (unknown request, wrong partner, answered already)."""


@dataclass(frozen=True)
class Query:
    """The firearm asked about, and why."""

    serial_number: str
    make: str = ""
    model: str = ""
    calibre: str = ""
    reason: str = ""
    reference: str = ""


@dataclass(frozen=True)
class Partner:
    fingerprint: str
    name: str


@dataclass(frozen=True)
class Match:
    firearm: Firearm
    basis: LeadBasis


@dataclass(frozen=True)
class Imported:
    """What an import did: a request received (to answer) or an answer received (with its records)."""

    request: TraceRequest
    step: TraceStep
    records: list[TracePartnerRecord]


# --- partners -------------------------------------------------------------------------------------------

def partners(unit_id: int) -> list[Partner]:
    """Whom the unit can ask: units on this server, and every active partner key of the unit."""
    return [Partner(OWN_SERVER, _("A unit on this server")),
            *(Partner(k.fingerprint, k.name) for k in exchange.active_partner_keys(unit_id))]


def _partner(unit_id: int, fingerprint: str) -> Partner:
    """The partner asked; units on this server are named by the server (shown as such in the reader's language)."""
    if fingerprint in (OWN_SERVER, exchange.own_fingerprint()):
        return Partner(exchange.own_fingerprint(), "")
    found = next((p for p in partners(unit_id) if p.fingerprint == fingerprint), None)
    if found is None:
        raise InvalidInput(_("Choose a partner among the unit's partner keys (a quality manager adds them on the "
                             "exchange page)."))
    return found


# --- 1. the request -------------------------------------------------------------------------------------

def _checked_query(query: Query) -> Query:
    serial = _text(query.serial_number, _("The serial number"), required=True, limit=60)
    try:
        key = serials.serial_key(serial)
    except ValueError:
        raise InvalidInput(_("The serial number holds letters, digits and separators only; write ? or * for each "
                             "character that cannot be read.")) from None
    if len(key) > serials.MAX_SERIAL:
        raise InvalidInput(_("The serial number is longer than %(n)d characters.", n=serials.MAX_SERIAL))
    if not matching.matchable_serial(key):
        raise InvalidInput(_("A serial needs at least %(n)d readable characters to be traced: with fewer, a partner's "
                             "register would answer with unrelated firearms.", n=matching.MIN_KNOWN_CHARACTERS))
    return Query(serial, _text(query.make, _("The make"), limit=100), _text(query.model, _("The model"), limit=100),
                 _text(query.calibre, _("The calibre"), limit=60),
                 _text(query.reason, _("The reason"), required=True, limit=2000),
                 _text(query.reference, _("The reference"), limit=100))


def _source(unit: Unit, actor: User) -> dict[str, Any]:
    return {"unit": {"code": unit.code, "name": unit.name}, "server_id": exchange.server_id(),
            "created_at": utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "exporter": {"username": actor.username, "full_name": actor.full_name}}


def _unit_label(name: Any, code: Any) -> str:
    return f"{str(name)[:200]} ({str(code)[:32]})"


def create_request(unit: Unit, actor: User, query: Query, *, partner: str) -> tuple[TraceRequest, bytes]:
    """A signed trace request to send to `partner` (a fingerprint, or OWN_SERVER); logged as sent."""
    require(actor, unit.id, RECORDERS, _("Only examiners and CSI officers send trace requests."))
    query, to = _checked_query(query), _partner(unit.id, partner)
    request_uuid = uuid_module.uuid4().hex
    message = {"request_uuid": request_uuid, "reason": query.reason, "reference": query.reference,
               "firearm": {"serial_number": query.serial_number, "make": query.make, "model": query.model,
                           "calibre": query.calibre},
               "to": {"name": to.name or exchange.server_id(), "fingerprint": to.fingerprint}}
    data = build_package([], source=_source(unit, actor), key=exchange.signing_key(), kind=TRACE_REQUEST,
                         message=message)
    opened = open_package(data, is_trusted=lambda signer: True, kinds=(TRACE_REQUEST,))  # what was signed
    request = TraceRequest(unit_id=unit.id, direction=TraceDirection.OUTGOING.value, request_uuid=request_uuid,
                           serial_number=query.serial_number, make=query.make, model=query.model,
                           calibre=query.calibre, reason=query.reason, reference=query.reference,
                           requested_by_name=actor.full_name, requesting_unit=_unit_label(unit.name, unit.code),
                           partner_name=to.name[:240], partner_server="" if to.name else exchange.server_id(),
                           partner_fingerprint=to.fingerprint, request_sha256=opened.sha256,
                           created_by_id=actor.id)
    db.session.add(request)
    db.session.flush()
    _log(request, TraceStep.REQUEST_SENT, opened, data, actor)
    return request, data


def _log(request: TraceRequest, step: TraceStep, opened: OpenedPackage, data: bytes, actor: User) -> TraceLogEntry:
    """One step on this side's log; packages this side signed are kept, so that they can be sent again."""
    if step in (TraceStep.REQUEST_SENT, TraceStep.ANSWER_SENT):
        object_store().put(data)
    entry = TraceLogEntry(unit_id=request.unit_id, request_id=request.id, step=step.value,
                          package_sha256=opened.sha256, package_size=len(data),
                          signer_fingerprint=opened.fingerprint, record_count=len(opened.entries),
                          manifest=dict(opened.manifest), recorded_by_id=actor.id)
    db.session.add(entry)
    _flush_once()
    return entry


def _flush_once() -> None:
    """Flush; the unique request and step refuse a second import or answer made at the same moment."""
    try:
        db.session.flush()
    except IntegrityError as error:
        raise StateConflict(_("Someone took this step of the request at the same time. Reload the page.")) from error


# --- 2. and 3. importing a request or an answer ---------------------------------------------------------

def import_package(data: bytes, *, unit: Unit, actor: User) -> Imported:
    """Check a trace package completely, then take it: a partner's request, or the answer to one of ours.

    Raises `PackageRefused` (damaged, altered, untrusted, not a trace package) or `TraceRefused`
    (addressed elsewhere, unknown request, wrong partner, imported before); nothing is stored.
    """
    require(actor, unit.id, RECORDERS, _("Only examiners and CSI officers import trace packages."))
    opened = open_package(data, is_trusted=lambda signer: exchange.is_trusted(unit.id, signer),
                          limits=exchange.limits(), kinds=(TRACE_REQUEST, TRACE_ANSWER))
    if opened.kind == TRACE_REQUEST:
        return Imported(_receive_request(opened, data, unit, actor), TraceStep.REQUEST_RECEIVED, [])
    request, records = _receive_answer(opened, data, unit, actor)
    return Imported(request, TraceStep.ANSWER_RECEIVED, records)


def _message_text(message: dict[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = message.get(key, "")
    if not isinstance(value, str) or len(value) > limit or "\x00" in value or (required and not value.strip()):
        raise TraceRefused(_("The trace package's %(key)s is not a text of at most %(limit)d characters.", key=key,
                             limit=limit))
    return value.strip()


def _request_uuid(message: dict[str, Any]) -> str:
    value = message.get("request_uuid")
    if not isinstance(value, str) or len(value) != 32 or not all(c in "0123456789abcdef" for c in value):
        raise TraceRefused(_("The trace package does not name its request."))
    return value


def _receive_request(opened: OpenedPackage, data: bytes, unit: Unit, actor: User) -> TraceRequest:
    message, source = dict(opened.message), opened.source
    request_uuid = _request_uuid(message)
    to = message.get("to") if isinstance(message.get("to"), dict) else {}
    if to.get("fingerprint") != exchange.own_fingerprint():
        raise TraceRefused(_("This trace request is addressed to another server (%(name)s); it was not imported.",
                             name=str(to.get("name", ""))[:200]))
    firearm = message.get("firearm") if isinstance(message.get("firearm"), dict) else {}
    try:
        query = _checked_query(Query(*(_message_text(firearm, k, limit) for k, limit in (
            ("serial_number", 60), ("make", 100), ("model", 100), ("calibre", 60))),
            reason=_message_text(message, "reason", 2000, required=True),
            reference=_message_text(message, "reference", 100)))
    except InvalidInput as refusal:
        raise TraceRefused(_("The trace request cannot be answered: %(reason)s", reason=refusal.message)) from None
    _refuse_known(unit.id, request_uuid)
    sender = source.get("unit") if isinstance(source.get("unit"), dict) else {}
    exporter = source.get("exporter") if isinstance(source.get("exporter"), dict) else {}
    request = TraceRequest(unit_id=unit.id, direction=TraceDirection.INCOMING.value, request_uuid=request_uuid,
                           serial_number=query.serial_number, make=query.make, model=query.model,
                           calibre=query.calibre, reason=query.reason, reference=query.reference,
                           requested_by_name=str(exporter.get("full_name", ""))[:200],
                           requesting_unit=_unit_label(sender.get("name", ""), sender.get("code", "")),
                           partner_name=_unit_label(sender.get("name", ""), sender.get("code", "")),
                           partner_server=str(source.get("server_id", ""))[:200],
                           partner_fingerprint=opened.fingerprint, request_sha256=opened.sha256, created_by_id=actor.id)
    db.session.add(request)
    _flush_once()
    _log(request, TraceStep.REQUEST_RECEIVED, opened, data, actor)
    return request


def _refuse_known(unit_id: int, request_uuid: str) -> None:
    known = db.session.scalar(select(TraceRequest).where(TraceRequest.unit_id == unit_id,
                                                         TraceRequest.request_uuid == request_uuid))
    if known is None:
        return
    if known.direction == TraceDirection.OUTGOING.value:
        raise TraceRefused(_("This is a trace request this unit sent: send it to the partner, who imports it."))
    raise TraceRefused(_("This trace request was already imported on %(when)s; nothing was imported again.",
                         when=moment_text(known.created_at)))


def _receive_answer(opened: OpenedPackage, data: bytes, unit: Unit,
                    actor: User) -> tuple[TraceRequest, list[TracePartnerRecord]]:
    message = dict(opened.message)
    request = db.session.scalar(select(TraceRequest).where(
        TraceRequest.unit_id == unit.id, TraceRequest.direction == TraceDirection.OUTGOING.value,
        TraceRequest.request_uuid == _request_uuid(message)))
    if request is None:
        raise TraceRefused(_("This answer is to a trace request this unit did not send; it was not imported."))
    if opened.fingerprint != request.partner_fingerprint:
        raise TraceRefused(_("This answer is signed by another key (fingerprint %(signer)s) than the partner the "
                             "request was sent to (%(partner)s); it was not imported.", signer=opened.fingerprint,
                             partner=partner_label(request)))
    if message.get("request_sha256") != request.request_sha256:
        raise TraceRefused(_("This answer names another request package than the one this unit sent."))
    if step_of(request, TraceStep.ANSWER_RECEIVED) is not None:
        raise StateConflict(_("The answer to this request was imported already; nothing was imported again."))
    outcome = message.get("outcome")
    if outcome not in ("records", "no_record") or (outcome == "no_record") != (not opened.entries):
        raise TraceRefused(_("The answer's outcome does not agree with the records it carries."))
    checked = [_checked_record(entry) for entry in opened.entries]
    log = _log(request, TraceStep.ANSWER_RECEIVED, opened, data, actor)
    records = [TracePartnerRecord(unit_id=unit.id, request_id=request.id, log_id=log.id, **fields)
               for fields in checked]
    db.session.add_all(records)
    db.session.flush()
    return request, records


def _checked_record(entry: EntryFiles) -> dict[str, Any]:
    """The fields of a partner record, checked as any imported text is; its matching keys derived here."""
    meta, uuid = dict(entry.metadata), entry.uuid
    if meta.get("uuid") != uuid or meta.get("kind") != "firearm":
        raise TraceRefused(_("Record %(uuid)s of the answer is not a firearm record.", uuid=uuid[:40]))
    fields: dict[str, Any] = {name: _message_text(meta, name, limit) for name, limit in _RECORD_TEXT.items()}
    basis, status = meta.get("basis"), meta.get("status") or ""
    if basis not in (LeadBasis.SERIAL.value, LeadBasis.PARTIAL_SERIAL.value) or status not in {
            "", *(k.value for k in EventKind)} or fields["firearm_type"] not in {"", *(t.value for t in FirearmType)}:
        raise TraceRefused(_("Record %(uuid)s of the answer has an unknown type, status or basis.", uuid=uuid[:40]))
    try:
        status_on = date.fromisoformat(meta["status_on"]) if meta.get("status_on") else None
        keys = matching.keys_of(serial_number=fields["serial_number"], make=fields["make"], model=fields["model"],
                                calibre=fields["calibre"])
    except (TypeError, ValueError):
        raise TraceRefused(_("Record %(uuid)s of the answer has an unreadable date or serial.",
                             uuid=uuid[:40])) from None
    return {**fields, "source_uuid": uuid, "basis": basis, "status": status, "status_on": status_on,
            "categories": _categories(meta.get("categories"), uuid), "serial_key": keys.serial_key,
            "serial_length": keys.serial_length, "make_key": keys.make_key}


def _categories(value: Any, uuid: str) -> dict[str, Any]:
    value = value if isinstance(value, dict) else {}
    printed, conversion = value.get("printed", ""), value.get("conversion", "")
    if printed not in {p.value for p in Printed} or conversion not in {c.value for c in Conversion}:
        raise TraceRefused(_("Record %(uuid)s of the answer has an unknown category.", uuid=uuid[:40]))
    return {"printed": printed, "conversion": conversion, "home_made": value.get("home_made") is True,
            "modified": value.get("modified") is True}


# --- 2. answering ---------------------------------------------------------------------------------------

def matches(request: TraceRequest) -> list[Match]:
    """The unit's records the register's matching finds for the firearm asked about (what an answer lists)."""
    keys = matching.keys_of(serial_number=request.serial_number, make=request.make, model=request.model,
                            calibre=request.calibre)
    partial = serials.is_partial(keys.serial_key)
    return [Match(found, LeadBasis.PARTIAL_SERIAL if partial or found.serial_partial else LeadBasis.SERIAL)
            for found in matching.serial_matches(request.unit_id, keys.serial_key, make_key=keys.make_key)]


def _holder_reference(unit: Unit, found: Firearm) -> str:
    reference = f"{unit.code} firearm {found.id}"
    if found.item is not None:
        reference += f", {found.item.case.case_number} / {found.item.exhibit_number}"
    return reference[:200]


def record_metadata(found: Firearm, basis: LeadBasis, unit: Unit) -> dict[str, Any]:
    """What a partner learns of one record: the firearm, its status and date, categories, our reference."""
    standing = fold(db.session.scalars(select(FirearmEvent).where(FirearmEvent.firearm_id == found.id)))
    return {"uuid": uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"{exchange.server_id()}/firearm/{found.id}").hex,
            "kind": "firearm", "basis": basis.value, "firearm_type": found.firearm_type, "make": found.make,
            "model": found.model, "calibre": found.calibre, "serial_number": found.serial_number,
            "status": standing.status.value if standing.status else "",
            "status_on": standing.since.isoformat() if standing.since else None,
            "categories": {"printed": found.printed, "conversion": found.conversion, "home_made": found.home_made,
                           "modified": found.modified},
            "holder_unit": _unit_label(unit.name, unit.code), "holder_reference": _holder_reference(unit, found)}


def answer(request: TraceRequest, unit: Unit, actor: User) -> tuple[TraceLogEntry, bytes]:
    """Sign the answer to a received request: the matching records, or "no record"; logged as sent."""
    require(actor, request.unit_id, RECORDERS, _("Only examiners and CSI officers answer trace requests."))
    if request.direction != TraceDirection.INCOMING.value:
        raise StateConflict(_("This is a request this unit sent: its answer comes from the partner."))
    if step_of(request, TraceStep.ANSWER_SENT) is not None:
        raise StateConflict(_("This request was answered already; download the answer again from its page."))
    found = matches(request)
    if len(found) > MAX_ANSWER_RECORDS:
        raise StateConflict(_("The serial matches more than %(n)d records: ask the requester for more readable "
                              "characters.", n=MAX_ANSWER_RECORDS))
    entries = [EntryFiles(meta["uuid"], meta, {}) for meta in (record_metadata(m.firearm, m.basis, unit)
                                                                for m in found)]
    message = {"request_uuid": request.request_uuid, "request_sha256": request.request_sha256,
               "outcome": "records" if entries else "no_record"}
    data = build_package(entries, source=_source(unit, actor), key=exchange.signing_key(), kind=TRACE_ANSWER,
                         message=message)
    opened = open_package(data, is_trusted=lambda signer: True, kinds=(TRACE_ANSWER,))
    return _log(request, TraceStep.ANSWER_SENT, opened, data, actor), data


# --- reading --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RequestRow:
    request: TraceRequest
    steps: dict[str, TraceLogEntry]

    @property
    def answered(self) -> bool:
        return bool({TraceStep.ANSWER_SENT.value, TraceStep.ANSWER_RECEIVED.value} & self.steps.keys())


def requests(unit_id: int) -> list[RequestRow]:
    """The unit's trace requests, newest first, each with its log (waiting ones first)."""
    found = list(db.session.scalars(select(TraceRequest).where(TraceRequest.unit_id == unit_id)
                                    .order_by(TraceRequest.id.desc()).limit(500)))
    logs: dict[int, dict[str, TraceLogEntry]] = {r.id: {} for r in found}
    if found:
        for entry in db.session.scalars(select(TraceLogEntry).where(TraceLogEntry.request_id.in_(list(logs)))):
            logs[entry.request_id][entry.step] = entry
    return sorted((RequestRow(r, logs[r.id]) for r in found), key=lambda row: row.answered)


def partner_label(request: TraceRequest) -> str:
    """Who the other side is: the partner key's name, or a unit on this server (a request sent within it)."""
    return request.partner_name or _("A unit on this server")


def get(trace_id: int | None, unit_id: int) -> TraceRequest:
    found = db.session.get(TraceRequest, trace_id) if trace_id is not None else None
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such trace request in this unit."))
    return found


def log_of(request: TraceRequest) -> list[TraceLogEntry]:
    return list(db.session.scalars(select(TraceLogEntry).where(TraceLogEntry.request_id == request.id)
                                   .order_by(TraceLogEntry.id)))


def step_of(request: TraceRequest, step: TraceStep) -> TraceLogEntry | None:
    return db.session.scalar(select(TraceLogEntry).where(TraceLogEntry.request_id == request.id,
                                                         TraceLogEntry.step == step.value))


def partner_records(request: TraceRequest) -> list[TracePartnerRecord]:
    return list(db.session.scalars(select(TracePartnerRecord).where(TracePartnerRecord.request_id == request.id)
                                   .order_by(TracePartnerRecord.id)))


def register_matches(record: TracePartnerRecord) -> list[Firearm]:
    """The unit's own records a partner record matches, as the register matches its records with each other."""
    return matching.serial_matches(record.unit_id, record.serial_key, make_key=record.make_key)


def sent_package(request: TraceRequest) -> tuple[TraceLogEntry, bytes]:
    """The package this side signed for the request (the request, or the answer), to send again."""
    step = TraceStep.REQUEST_SENT if request.direction == TraceDirection.OUTGOING.value else TraceStep.ANSWER_SENT
    entry = step_of(request, step)
    if entry is None:
        raise NotFound(_("This request has no answer yet: review it and sign the answer first."))
    return entry, object_store().get(entry.package_sha256)
