"""Exchange between units and servers: export entries as a signed package, import one, trust partners.

The package format is in `exchange_format` (bytes in, bytes out, no web app). This module ties it
to the records: what an entry exports (its processed surface as X3P, its original as uploaded and
its metadata, with the custody item named in words, never by another unit's ids), who signs (this
server's exchange key, a file under instance/keys/ like the custody checkpoint key), whom a unit
trusts, and what an accepted import stores (the objects, an imported `BallisticEntry` with its
origin, the package and entry records, and the entry in the unit's index, which makes it
searchable). Everything is checked before anything is stored; services add and flush, the request
commits.

Trust rule: a unit accepts packages signed by this server's own key (units on one server share
it) and by the partner keys its quality manager or administrator added, shown with their
fingerprint to compare with the partner's out of band. A revoked key is no longer trusted.
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid as uuid_module
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ballistics.io import SurfaceFormatError, decode_image, read_surface_bytes, sniff_format
from ballistics.surface import Surface
from qms.auth.models import Role, Unit, User
from qms.comparisons import services, unit_index
from qms.comparisons.exchange_format import (
    EntryFiles,
    Limits,
    OpenedPackage,
    PackageRefused,
    build_package,
    fingerprint,
    open_package,
    public_key_from_text,
    public_key_pem,
    raw_public_key,
)
from qms.comparisons.exchange_models import Direction, ExchangedEntry, ExchangePackage, PartnerKey
from qms.comparisons.models import BallisticEntry, DerivedKind, DerivedObject, Origin, SurfaceKind
from qms.db import utcnow
from qms.errors import Refused, StateConflict
from qms.extensions import db
from qms.i18n import moment_text
from qms.keys import load_or_create_key
from qms.storage import object_store
from qms.uploads import MAX_IMAGE_PIXELS

READ = frozenset({Role.EXAMINER, Role.QUALITY_MANAGER, Role.AUDITOR})
EXCHANGERS = frozenset({Role.EXAMINER, Role.QUALITY_MANAGER})  # export and import entries
KEY_READERS = frozenset({Role.QUALITY_MANAGER, Role.ADMIN, Role.AUDITOR, Role.EXAMINER})
KEY_KEEPERS = frozenset({Role.QUALITY_MANAGER, Role.ADMIN})  # decide whom the unit trusts
ORIGINAL_TYPES = ("x3p", "png", "tiff", "jpeg")
MAX_SETTINGS_CHARS = 16_000
_TEXT_LIMITS = {"calibre": 40, "firearm_make": 80, "firearm_model": 80, "device": 120, "acquired_by": 120,
                "custody_reference": 200}


class ExchangeError(Refused):
    """An exchange action refused; the message is safe to show. Nothing was stored."""


class ImportRefused(ExchangeError, PackageRefused):
    """A signed, intact package whose content cannot be imported (already imported, inconsistent entry)."""


class KeyRevoked(ExchangeError, StateConflict):
    """The partner key was revoked already."""


@dataclass
class ImportOutcome:
    package: ExchangePackage
    imported: list[BallisticEntry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # uuids already in the unit


# --- this server's key and identity ---------------------------------------------------------------------

def key_path() -> Path:
    configured = current_app.config.get("EXCHANGE_KEY")
    if configured:
        return Path(configured)
    return Path(current_app.config["INSTANCE_PATH"]) / "keys" / "exchange-ed25519.pem"


def signing_key() -> Ed25519PrivateKey:
    """This server's exchange key (QMS_EXCHANGE_KEY, default instance/keys/exchange-ed25519.pem, 0600)."""
    return load_or_create_key(key_path())


def own_fingerprint() -> str:
    return fingerprint(signing_key().public_key())


def own_public_key() -> dict[str, str]:
    """What a partner needs to trust this server: the key (PEM and hex) and its fingerprint."""
    public_key = signing_key().public_key()
    return {"pem": public_key_pem(public_key), "hex": raw_public_key(public_key).hex(),
            "fingerprint": fingerprint(public_key)}


def server_id() -> str:
    """This server's name in packages: QMS_EXCHANGE_SERVER_ID, else a random id kept in the instance folder."""
    configured = current_app.config.get("EXCHANGE_SERVER_ID")
    if configured:
        return str(configured)[:200]
    path = Path(current_app.config["INSTANCE_PATH"]) / "server-id"
    if not path.exists():
        path.write_text(f"qms-{uuid_module.uuid4()}\n")
    return path.read_text().strip()[:200]


def limits() -> Limits:
    return Limits(max_bytes=int(current_app.config.get("EXCHANGE_MAX_BYTES", Limits.max_bytes)))


# --- partner keys ---------------------------------------------------------------------------------------

def partner_keys() -> list[PartnerKey]:
    return list(db.session.scalars(select(PartnerKey).order_by(PartnerKey.added_at.desc(), PartnerKey.id.desc())))


def active_partner_keys(unit_id: int) -> list[PartnerKey]:
    """The keys whose packages the unit accepts now (not revoked), by name."""
    return list(db.session.scalars(select(PartnerKey).where(PartnerKey.unit_id == unit_id,
                                                            PartnerKey.revoked_at.is_(None)).order_by(PartnerKey.name)))


def add_partner_key(*, unit_id: int, name: str, key_text: str, actor: User) -> PartnerKey:
    name = " ".join(name.split())
    if not name:
        raise ExchangeError(_("Name the partner (unit and server) whose key this is."))
    try:
        public_key = public_key_from_text(key_text)
    except ValueError as error:
        raise ExchangeError(str(error)[:1].upper() + str(error)[1:] + ".") from error
    key_fingerprint = fingerprint(public_key)
    if key_fingerprint == own_fingerprint():
        raise ExchangeError(_("This is this server's own key: it is trusted already."))
    existing = db.session.scalar(select(PartnerKey).where(PartnerKey.unit_id == unit_id,
                                                          PartnerKey.fingerprint == key_fingerprint))
    if existing is not None:
        raise ExchangeError(_("This key is already listed, as %(name)r.", name=existing.name) if existing.active
                            else _("This key is already listed, as %(name)r (revoked).", name=existing.name))
    key = PartnerKey(unit_id=unit_id, name=name[:200], public_key=raw_public_key(public_key).hex(),
                     fingerprint=key_fingerprint, added_by_id=actor.id)
    db.session.add(key)
    db.session.flush()
    return key


def revoke_partner_key(key: PartnerKey, *, actor: User) -> PartnerKey:
    if not key.active:
        raise KeyRevoked(_("The key of %(name)s was already revoked.", name=key.name))
    key.revoked_at, key.revoked_by_id = utcnow(), actor.id
    db.session.flush()
    return key


def is_trusted(unit_id: int, signer: str) -> bool:
    """This server's own key, or an active partner key of the unit."""
    if signer == own_fingerprint():
        return True
    stmt = select(PartnerKey.id).where(PartnerKey.unit_id == unit_id, PartnerKey.fingerprint == signer,
                                       PartnerKey.revoked_at.is_(None))
    return db.session.scalar(stmt) is not None


# --- export ---------------------------------------------------------------------------------------------

def _of_unit(stmt: Any, unit_id: int | None) -> Any:
    """In a request the scope already confines the query; outside one (the CLI) the caller names the unit."""
    return stmt if unit_id is None else stmt.where(BallisticEntry.unit_id == unit_id)


def exportable_entries(unit_id: int | None = None) -> list[BallisticEntry]:
    """The unit's entries that have a processed surface (the request scope, or `unit_id`, decides the unit)."""
    stmt = (select(BallisticEntry).where(BallisticEntry.processed_sha256.is_not(None))
            .order_by(BallisticEntry.created_at.desc(), BallisticEntry.id.desc()))
    return list(db.session.scalars(_of_unit(stmt, unit_id)))


def entries_by_id(entry_ids: list[int], unit_id: int | None = None) -> list[BallisticEntry]:
    """The chosen entries, all of which must be exportable entries of the unit."""
    wanted = sorted(set(entry_ids))
    if not wanted:
        raise ExchangeError(_("Choose at least one entry to export."))
    found = list(db.session.scalars(_of_unit(select(BallisticEntry).where(BallisticEntry.id.in_(wanted)), unit_id)
                                    .order_by(BallisticEntry.id)))
    if len(found) != len(wanted):
        raise ExchangeError(_("Some of the chosen entries do not exist in this unit."))
    unprocessed = [e for e in found if e.processed_sha256 is None]
    if unprocessed:
        raise ExchangeError(_("Entry %(label)s is not processed yet: wait for its job to finish.",
                              label=unprocessed[0].label))
    return found


def entry_metadata(entry: BallisticEntry) -> dict[str, Any]:
    """What the receiving unit learns about an entry: facts in words, no database ids of ours."""
    item = entry.item
    custody = None
    if item is not None:
        custody = {"case_number": item.case.case_number, "exhibit_number": item.exhibit_number,
                   "item_type": item.item_type, "description": item.description}
    acquired_by = entry.acquired_by.full_name if entry.acquired_by is not None else entry.acquired_by_name
    return {
        "uuid": entry.index_entry_id, "calibre": entry.calibre, "firearm_make": entry.firearm_make,
        "firearm_model": entry.firearm_model, "device": entry.device, "settings": dict(entry.settings or {}),
        "acquired_by": acquired_by, "acquired_at": entry.acquired_at.isoformat(), "kind": entry.kind,
        "pixel_size_um": entry.pixel_size_um,
        "original": {"name": entry.original_name, "sha256": entry.original_sha256, "size": entry.original_size,
                     "type": entry.original_type},
        "processed_sha256": entry.processed_sha256,
        "custody": custody, "custody_reference": entry.label,
        "origin": {"origin": entry.origin, "source_unit": entry.source_unit, "source_server": entry.source_server,
                   "package_sha256": entry.package_sha256},
    }


def _entry_files(entry: BallisticEntry) -> EntryFiles:
    store = object_store()
    assert entry.processed_sha256 is not None  # entries_by_id refused unprocessed entries
    files = {"surface.x3p": store.get(entry.processed_sha256),
             f"original.{entry.original_type}": store.get(entry.original_sha256)}
    return EntryFiles(entry.index_entry_id, entry_metadata(entry), files)


def export_entries(entries: list[BallisticEntry], *, unit: Unit, actor: User) -> tuple[ExchangePackage, bytes]:
    """Sign a package of `entries` and record the export (the trail sees the new rows)."""
    source = {"unit": {"code": unit.code, "name": unit.name}, "server_id": server_id(),
              "created_at": utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
              "exporter": {"username": actor.username, "full_name": actor.full_name}}
    data = build_package([_entry_files(entry) for entry in entries], source=source, key=signing_key())
    if len(data) > limits().max_bytes:  # a receiving server with the same limits would refuse it
        raise ExchangeError(_("The package would be %(size)s MB, above the %(limit)s MB a server accepts: export "
                              "the entries in several packages.", size=format(len(data) / 1e6, ".0f"),
                              limit=format(limits().max_bytes / 1e6, ".0f")))
    opened = open_package(data, is_trusted=lambda signer: True)  # read back what was signed, to record it
    package = _record_package(opened, direction=Direction.EXPORT, unit_id=unit.id, actor=actor, size=len(data))
    for entry in entries:
        db.session.add(ExchangedEntry(unit_id=unit.id, package_id=package.id, entry_id=entry.id,
                                      source_uuid=entry.index_entry_id))
    db.session.flush()
    return package, data


def _record_package(opened: OpenedPackage, *, direction: Direction, unit_id: int, actor: User, size: int,
                    entry_count: int | None = None, skipped: int = 0) -> ExchangePackage:
    source = opened.source
    unit = source.get("unit") if isinstance(source.get("unit"), dict) else {}
    package = ExchangePackage(
        unit_id=unit_id, direction=direction.value, sha256=opened.sha256, size=size,
        signer_fingerprint=opened.fingerprint, source_unit_code=str(unit.get("code", ""))[:32],
        source_unit_name=str(unit.get("name", ""))[:200], source_server=str(source.get("server_id", ""))[:200],
        packaged_at=str(source.get("created_at", ""))[:40],
        entry_count=len(opened.entries) if entry_count is None else entry_count, skipped_count=skipped,
        manifest=dict(opened.manifest), recorded_by_id=actor.id)
    db.session.add(package)
    db.session.flush()
    return package


# --- import ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Checked:
    """One packaged entry after its metadata and surface were checked; nothing stored yet."""

    uuid: str
    metadata: dict[str, Any]
    surface_x3p: bytes
    pixel_size_um: float
    kind: str
    original: bytes | None
    original_type: str
    acquired_at: datetime
    surface: Surface


def import_package(data: bytes, *, unit: Unit, actor: User) -> ImportOutcome:
    """Check a package completely, then store its new entries and make them searchable in `unit`.

    Raises `PackageRefused` (damaged, altered, untrusted, too large; or `ImportRefused`: already
    imported, nothing new, inconsistent content); nothing is stored.
    """
    opened = open_package(data, is_trusted=lambda signer: is_trusted(unit.id, signer), limits=limits())
    _refuse_repeat(opened, unit.id)
    checked = [_check_entry(entry) for entry in opened.entries]
    present = _already_present(unit.id, [c.uuid for c in checked])
    fresh = [c for c in checked if c.uuid not in present]
    if not fresh:
        raise ImportRefused(_("Every entry of this package is already in this unit; nothing was imported."))
    package = _record_package(opened, direction=Direction.IMPORT, unit_id=unit.id, actor=actor, size=len(data),
                              entry_count=len(fresh), skipped=len(checked) - len(fresh))
    entries = [_store_entry(c, package=package, unit_id=unit.id) for c in fresh]
    _make_searchable(entries, [c.surface for c in fresh], actor=actor)
    return ImportOutcome(package, entries, sorted(present))


def _refuse_repeat(opened: OpenedPackage, unit_id: int) -> None:
    earlier = db.session.scalar(select(ExchangePackage).where(
        ExchangePackage.unit_id == unit_id, ExchangePackage.direction == Direction.IMPORT.value,
        ExchangePackage.sha256 == opened.sha256))
    if earlier is not None:
        raise ImportRefused(_("This package was already imported on %(when)s by %(who)s; nothing was imported "
                              "again.", when=moment_text(earlier.recorded_at), who=earlier.recorded_by.full_name))


def _already_present(unit_id: int, uuids: list[str]) -> set[str]:
    """Uuids the unit holds already: its own entries, and entries it imported before."""
    own = set(db.session.scalars(select(BallisticEntry.index_entry_id).where(
        BallisticEntry.unit_id == unit_id, BallisticEntry.index_entry_id.in_(uuids))))
    imported = set(db.session.scalars(select(ExchangedEntry.source_uuid).join(ExchangePackage).where(
        ExchangedEntry.unit_id == unit_id, ExchangePackage.direction == Direction.IMPORT.value,
        ExchangedEntry.source_uuid.in_(uuids))))
    return own | imported


def _text(metadata: dict[str, Any], key: str, uuid: str) -> str:
    value = metadata.get(key) or ""
    if not isinstance(value, str) or len(value) > _TEXT_LIMITS[key] or "\x00" in value:
        raise ImportRefused(_("Entry %(uuid)s: %(key)s is not a text of at most %(limit)d characters.", uuid=uuid,
                              key=key, limit=_TEXT_LIMITS[key]))
    return value


def _check_entry(entry: EntryFiles) -> _Checked:
    """Metadata types and lengths, the surface decodes as a processed topography or image, hashes agree."""
    meta, uuid = dict(entry.metadata), entry.uuid
    if meta.get("uuid") != uuid:
        raise ImportRefused(_("Entry %(uuid)s: its metadata names another entry.", uuid=uuid))
    for key in _TEXT_LIMITS:
        _text(meta, key, uuid)
    settings = meta.get("settings", {})
    if not isinstance(settings, dict) or len(json.dumps(settings)) > MAX_SETTINGS_CHARS:
        raise ImportRefused(_("Entry %(uuid)s: settings must be a JSON object of at most %(limit)s characters.",
                              uuid=uuid, limit=format(MAX_SETTINGS_CHARS, ",")))
    try:
        acquired_at = datetime.fromisoformat(str(meta.get("acquired_at", "")))
    except ValueError as error:
        raise ImportRefused(_("Entry %(uuid)s: acquired_at is not an ISO 8601 time.", uuid=uuid)) from error
    if acquired_at.tzinfo is None:
        raise ImportRefused(_("Entry %(uuid)s: acquired_at has no UTC offset.", uuid=uuid))
    surface_x3p = entry.files["surface.x3p"]
    if meta.get("processed_sha256") != hashlib.sha256(surface_x3p).hexdigest():
        raise ImportRefused(_("Entry %(uuid)s: the surface does not match the processed SHA-256 in its metadata.",
                              uuid=uuid))
    surface = _decode(surface_x3p, uuid)
    original, original_type = _original(entry, meta)
    return _Checked(uuid, meta, surface_x3p, surface.pixel_size_um, surface.kind, original, original_type,
                    acquired_at, surface)


def _decode(x3p: bytes, uuid: str) -> Surface:
    try:  # read from memory under its package name: no message shows a server path
        surface = read_surface_bytes(x3p, name="surface.x3p")
    except SurfaceFormatError as error:
        raise ImportRefused(_("Entry %(uuid)s: the surface is not a readable X3P file (%(reason)s).", uuid=uuid,
                              reason=str(error))) from error
    if not surface.processed:
        raise ImportRefused(_("Entry %(uuid)s: the surface is not marked as processed.", uuid=uuid))
    return surface


def _check_original(data: bytes, kind: str, uuid: str) -> None:
    """The original decodes as the type it declares, under the limits of every upload (bombs, zip-slip...)."""
    name = f"original.{kind}"
    try:
        if sniff_format(data, name=name) != kind:
            raise SurfaceFormatError(f"{name}: its content is not {kind}")
        if kind == "x3p":
            read_surface_bytes(data, name=name)
        else:
            decode_image(data, name=name, max_pixels=MAX_IMAGE_PIXELS)
    except SurfaceFormatError as error:
        raise ImportRefused(_("Entry %(uuid)s: the original file cannot be read (%(reason)s).", uuid=uuid,
                              reason=str(error))) from error


def _original(entry: EntryFiles, meta: dict[str, Any]) -> tuple[bytes | None, str]:
    facts = meta.get("original") if isinstance(meta.get("original"), dict) else {}
    kind = str(facts.get("type", ""))
    if kind not in ORIGINAL_TYPES:
        raise ImportRefused(_("Entry %(uuid)s: the original's type %(kind)r is not one of %(types)s.",
                              uuid=entry.uuid, kind=kind[:20], types=", ".join(ORIGINAL_TYPES)))
    originals = [name for name in entry.files if name.startswith("original.")]
    if not originals:
        return None, kind
    if originals != [f"original.{kind}"]:
        raise ImportRefused(_("Entry %(uuid)s: the original file does not match its declared type.",
                              uuid=entry.uuid))
    data = entry.files[originals[0]]
    if hashlib.sha256(data).hexdigest() != facts.get("sha256") or len(data) != facts.get("size"):
        raise ImportRefused(_("Entry %(uuid)s: the original file does not match the SHA-256 in its metadata.",
                              uuid=entry.uuid))
    _check_original(data, kind, entry.uuid)
    return data, kind


def _index_id(uuid: str) -> str:
    """The source's uuid when this database does not hold it yet (another server); else a new one.

    Within one server two units cannot share an index id (it is unique in the database): the
    entry then gets a fresh id and keeps the source's uuid in its exchange record.
    """
    taken = db.session.scalar(select(BallisticEntry.id).where(BallisticEntry.index_entry_id == uuid)
                              .execution_options(unscoped=True))
    return uuid if taken is None else uuid_module.uuid4().hex


def _store_entry(checked: _Checked, *, package: ExchangePackage, unit_id: int) -> BallisticEntry:
    meta, store = checked.metadata, object_store()
    processed = store.put(checked.surface_x3p)
    facts = meta["original"]
    original_sha = store.put(checked.original) if checked.original is not None else str(facts.get("sha256", ""))
    if not re.fullmatch(r"[0-9a-f]{64}", original_sha):
        raise ImportRefused(_("Entry %(uuid)s: the original's SHA-256 is not valid.", uuid=checked.uuid))
    entry = BallisticEntry(
        unit_id=unit_id, item_id=None, calibre=meta.get("calibre") or "", firearm_make=meta.get("firearm_make") or "",
        firearm_model=meta.get("firearm_model") or "", device=meta.get("device") or "",
        settings=meta.get("settings") or {}, acquired_by_id=None, acquired_by_name=meta.get("acquired_by") or "",
        acquired_at=checked.acquired_at, kind=checked.kind if checked.kind in SurfaceKind.__members__.values()
        else SurfaceKind.TOPOGRAPHY.value, pixel_size_um=checked.pixel_size_um,
        original_sha256=original_sha, original_name=services.printable_name(str(facts.get("name", ""))),
        original_type=checked.original_type, original_size=int(facts.get("size") or 0),
        processed_sha256=processed, index_entry_id=_index_id(checked.uuid), origin=Origin.IMPORTED.value,
        source_unit=f"{package.source_unit_name} ({package.source_unit_code})"[:120],
        source_server=package.source_server, source_label=meta.get("custody_reference") or "",
        package_sha256=package.sha256)
    db.session.add(entry)
    db.session.flush()
    db.session.add(DerivedObject(unit_id=unit_id, entry_id=entry.id, kind=DerivedKind.PROCESSED.value,
                                 sha256=processed, media_type=unit_index.MEDIA_TYPES["x3p"], source_sha256=original_sha,
                                 parameters={"imported_from_package": package.sha256}))
    db.session.add(ExchangedEntry(unit_id=unit_id, package_id=package.id, entry_id=entry.id,
                                  source_uuid=checked.uuid))
    db.session.flush()
    return entry


def _make_searchable(entries: list[BallisticEntry], surfaces: list[Surface], *, actor: User) -> None:
    """Add each new entry to the unit's index, last, once every row is in place; then queue its search.

    Indexing now makes the entries searchable at once for the unit's own queries; the queued job
    (after commit) searches each imported entry against the unit's index, so the examiner sees its
    candidates as for a local upload.
    """
    for entry, surface in zip(entries, surfaces, strict=True):
        unit_index.index_entry(entry, surface)
        entry.indexed_at = utcnow()
    for entry in entries:
        services.enqueue_correlation(entry, requested_by=actor)


def packages() -> list[ExchangePackage]:
    return list(db.session.scalars(select(ExchangePackage).order_by(ExchangePackage.recorded_at.desc(),
                                                                    ExchangePackage.id.desc()).limit(200)))


def origin_of(entry: BallisticEntry) -> ExchangedEntry | None:
    """The import record of an imported entry: package, signer, the source's uuid."""
    stmt = (select(ExchangedEntry).join(ExchangePackage).where(
        ExchangedEntry.entry_id == entry.id, ExchangePackage.direction == Direction.IMPORT.value))
    return db.session.scalar(stmt)


__all__ = ["ExchangeError", "ImportOutcome", "ImportRefused", "KeyRevoked", "PackageRefused", "add_partner_key",
           "export_entries", "import_package", "is_trusted", "own_public_key", "partner_keys", "revoke_partner_key"]
