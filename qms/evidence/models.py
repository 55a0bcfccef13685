"""Cases, items, storage locations, custody events (append-only, hash-chained), checkpoints, photographs.

An item's "current" custody (state, holder, location, seal, chain head) is a cache derived from its
events by `qms.evidence.state`: the events are the record, `qms.evidence.chain` proves they were not
altered and that the cache agrees with them.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import User
from qms.db import utcnow
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model

GENESIS_HASH = "0" * 64


class ItemType(enum.StrEnum):
    FIREARM = "firearm"
    CARTRIDGE_CASE = "cartridge_case"
    BULLET = "bullet"
    FRAGMENT = "fragment"
    OTHER = "other"


ITEM_TYPE_LABELS = {ItemType.FIREARM: _l("Firearm"), ItemType.CARTRIDGE_CASE: _l("Cartridge case"),
                    ItemType.BULLET: _l("Bullet"), ItemType.FRAGMENT: _l("Fragment"), ItemType.OTHER: _l("Other")}


class ItemState(enum.StrEnum):
    IN_CUSTODY = "in_custody"  # a person holds it
    IN_TRANSIT = "in_transit"  # offered to a receiver who has not accepted yet; the sender still holds it
    IN_STORAGE = "in_storage"  # in a storage location, nobody holds it
    RETURNED = "returned"  # returned to its owner: final
    DESTROYED = "destroyed"  # destroyed or disposed of: final

    @property
    def label(self) -> str:
        return str(ITEM_STATE_LABELS[self])


ITEM_STATE_LABELS = {ItemState.IN_CUSTODY: _l("In custody"), ItemState.IN_TRANSIT: _l("In transit"),
                     ItemState.IN_STORAGE: _l("In storage"), ItemState.RETURNED: _l("Returned"),
                     ItemState.DESTROYED: _l("Destroyed")}


class EventKind(enum.StrEnum):
    COLLECTED = "collected"
    SEALED = "sealed"
    TRANSFER_OFFERED = "transfer_offered"
    TRANSFER_ACCEPTED = "transfer_accepted"
    TRANSFER_CANCELLED = "transfer_cancelled"
    STORED = "stored"
    REMOVED_FROM_STORAGE = "removed_from_storage"
    EXAMINED = "examined"
    SEAL_BROKEN = "seal_broken"
    RESEALED = "resealed"
    SAMPLED = "sampled"
    PHOTOGRAPHED = "photographed"
    IMAGED = "imaged"  # scanned or photographed for ballistic comparison (who, device, when)
    RETURNED_TO_OWNER = "returned_to_owner"
    DESTROYED = "destroyed"
    DISPOSED = "disposed"
    CORRECTION = "correction"

    @property
    def label(self) -> str:
        return str(EVENT_LABELS[self])


EVENT_LABELS = {
    EventKind.COLLECTED: _l("Collected"),
    EventKind.SEALED: _l("Sealed"),
    EventKind.TRANSFER_OFFERED: _l("Transfer offered"),
    EventKind.TRANSFER_ACCEPTED: _l("Transfer accepted"),
    EventKind.TRANSFER_CANCELLED: _l("Transfer cancelled"),
    EventKind.STORED: _l("Stored"),
    EventKind.REMOVED_FROM_STORAGE: _l("Removed from storage"),
    EventKind.EXAMINED: _l("Examined"),
    EventKind.SEAL_BROKEN: _l("Seal broken"),
    EventKind.RESEALED: _l("Resealed"),
    EventKind.SAMPLED: _l("Sampled"),
    EventKind.PHOTOGRAPHED: _l("Photographed"),
    EventKind.IMAGED: _l("Imaged"),
    EventKind.RETURNED_TO_OWNER: _l("Returned to owner"),
    EventKind.DESTROYED: _l("Destroyed"),
    EventKind.DISPOSED: _l("Disposed"),
    EventKind.CORRECTION: _l("Correction"),
}


class LocationKind(enum.StrEnum):
    BUILDING = "building"
    ROOM = "room"
    CABINET = "cabinet"
    SHELF = "shelf"
    BOX = "box"


LOCATION_ORDER = list(LocationKind)
LOCATION_KIND_LABELS = {LocationKind.BUILDING: _l("Building"), LocationKind.ROOM: _l("Room"),
                        LocationKind.CABINET: _l("Cabinet"), LocationKind.SHELF: _l("Shelf"),
                        LocationKind.BOX: _l("Box")}


def _check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class Case(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "evidence_case"
    __table_args__ = (UniqueConstraint("unit_id", "case_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(64))
    offence_type: Mapped[str] = mapped_column(String(120))
    offence_date: Mapped[date | None]
    opened_on: Mapped[date]
    summary: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[Item]] = relationship(back_populates="case", order_by="Item.id")


class StorageLocation(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A place in the store: building > room > cabinet > shelf > box."""

    __tablename__ = "storage_location"
    __table_args__ = (UniqueConstraint("unit_id", "parent_id", "name"),
                      CheckConstraint(_check("kind", LocationKind), name="kind_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("storage_location.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[StorageLocation | None] = relationship(remote_side="StorageLocation.id")

    @property
    def path(self) -> str:
        names, node, depth = [], self, 0
        while node is not None and depth < len(LOCATION_ORDER):
            names.append(node.name)
            node, depth = node.parent, depth + 1
        return " › ".join(reversed(names))


class Item(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "evidence_item"
    __table_args__ = (
        UniqueConstraint("case_id", "exhibit_number"),
        CheckConstraint(_check("item_type", ItemType), name="type_known"),
        CheckConstraint(_check("state", ItemState), name="state_known"),
        CheckConstraint("head_seq >= 0", name="head_seq_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("evidence_case.id"), index=True)
    parent_item_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_item.id"), index=True)
    exhibit_number: Mapped[str] = mapped_column(String(32))
    item_type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    make: Mapped[str] = mapped_column(String(80), default="")
    model: Mapped[str] = mapped_column(String(80), default="")
    serial_number: Mapped[str] = mapped_column(String(80), default="")
    calibre: Mapped[str] = mapped_column(String(40), default="")
    packaging: Mapped[str] = mapped_column(String(200), default="")
    collected_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    collected_at: Mapped[datetime]
    collected_place: Mapped[str] = mapped_column(String(200), default="")
    label_code: Mapped[str] = mapped_column(String(16), unique=True)  # printed on the label beside the QR code
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # --- cache derived from the custody events (rebuilt and checked by qms.evidence.chain) ---
    head_seq: Mapped[int] = mapped_column(default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    state: Mapped[str] = mapped_column(String(16), default=ItemState.IN_CUSTODY.value)
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    pending_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("storage_location.id"))
    seal_number: Mapped[str] = mapped_column(String(64), default="")
    sealed: Mapped[bool] = mapped_column(default=False)

    case: Mapped[Case] = relationship(back_populates="items")
    parent_item: Mapped[Item | None] = relationship(remote_side="Item.id")
    holder: Mapped[User | None] = relationship(foreign_keys=[holder_id])
    pending_to: Mapped[User | None] = relationship(foreign_keys=[pending_to_id])
    collected_by: Mapped[User] = relationship(foreign_keys=[collected_by_id])
    location: Mapped[StorageLocation | None] = relationship()

    @property
    def final(self) -> bool:
        return self.state in (ItemState.RETURNED, ItemState.DESTROYED)

    @property
    def state_label(self) -> str:
        return ItemState(self.state).label


@append_only_model
class CustodyEvent(UnitScoped, db.Model):  # type: ignore[name-defined]
    """One step of an item's custody. Never updated or deleted; a mistake is fixed by a correction.

    `hash` = SHA-256 of the canonical JSON of every other column but `id` (see chain.HASHED_FIELDS),
    which includes `prev_hash`, the hash of the item's previous event.
    """

    __tablename__ = "custody_event"
    __table_args__ = (
        UniqueConstraint("item_id", "seq"),  # gap-free sequence per item; the backstop against races
        CheckConstraint(_check("kind", EventKind), name="kind_known"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    utc_offset_minutes: Mapped[int] = mapped_column(default=0)  # local offset where it was recorded
    recorded_at: Mapped[datetime]
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("storage_location.id"))
    seal_number: Mapped[str] = mapped_column(String(64), default="")
    refers_to_seq: Mapped[int | None]  # a correction's wrong event; an acceptance's offer
    notes: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    hash_version: Mapped[int] = mapped_column(default=1)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    actor: Mapped[User] = relationship(foreign_keys=[actor_id])
    location: Mapped[StorageLocation | None] = relationship()

    @property
    def kind_label(self) -> str:
        return EventKind(self.kind).label

    @property
    def offset_label(self) -> str:
        """The local offset as recorded, e.g. "UTC+01:00"."""
        sign = "+" if self.utc_offset_minutes >= 0 else "-"
        hours, minutes = divmod(abs(self.utc_offset_minutes), 60)
        return f"UTC{sign}{hours:02d}:{minutes:02d}"


@append_only_model
class Checkpoint(db.Model):  # type: ignore[name-defined]
    """A signed Merkle root over the chain heads of every item of every unit at one moment.

    Not unit-scoped: it covers all units, so no unit (and no DBA) can rewrite a chain unseen.
    """

    __tablename__ = "custody_checkpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    tree_size: Mapped[int]
    root_hash: Mapped[str] = mapped_column(String(64))
    leaves: Mapped[list[list[Any]]] = mapped_column(JSON)  # [[item_id, head_seq, head_hash], ...] by item id
    reason: Mapped[str] = mapped_column(String(200), default="")
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


@append_only_model
class ItemPhoto(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A photograph of an item's packaging or seal: the original bytes in the object store."""

    __tablename__ = "evidence_photo"
    __table_args__ = (Index("ix_evidence_photo_item", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    media_type: Mapped[str] = mapped_column(String(32))
    original_name: Mapped[str] = mapped_column(String(200), default="")
    caption: Mapped[str] = mapped_column(String(200), default="")
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
