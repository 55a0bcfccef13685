"""The firearm register: one record per firearm, its append-only status events, and register leads.

A firearm's status is never stored: it is the fold of its events (`qms.firearms.status`). The serial
is kept as marked and as keys for matching (`qms.firearms.serials`); the keys are derived from the
marking whenever it is written, so they can always be rebuilt from it.
"""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import User
from qms.db import utcnow
from qms.evidence.models import Item
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


class FirearmType(enum.StrEnum):
    PISTOL = "pistol"
    REVOLVER = "revolver"
    RIFLE = "rifle"
    SHOTGUN = "shotgun"
    MACHINE_GUN = "machine_gun"
    OTHER = "other"


class Printed(enum.StrEnum):
    NO = ""
    PARTLY = "partly"  # printed frame or receiver with factory-made barrel, slide or parts
    FULLY = "fully"


class Conversion(enum.StrEnum):
    NONE = ""
    ALARM_BLANK = "alarm_blank"  # alarm or blank-firing weapon converted to fire live ammunition
    DEACTIVATED = "deactivated"  # deactivated firearm reactivated
    GAS = "gas"  # gas or irritant weapon converted


class EventKind(enum.StrEnum):
    REPORTED_STOLEN = "reported_stolen"
    REPORTED_LOST = "reported_lost"
    FOUND = "found"
    SEIZED = "seized"
    SURRENDERED = "surrendered"
    DESTROYED = "destroyed"
    RETURNED = "returned"

    @property
    def is_report(self) -> bool:
        """Stolen and lost reports: the owner's word, with reporter, place and police reference."""
        return self in (EventKind.REPORTED_STOLEN, EventKind.REPORTED_LOST)

    @property
    def is_recovery(self) -> bool:
        """The firearm is in the authorities' hands."""
        return self in (EventKind.FOUND, EventKind.SEIZED, EventKind.SURRENDERED)


class LeadBasis(enum.StrEnum):
    SERIAL = "serial"  # the same serial key (look-alike characters read alike) and a compatible make
    PARTIAL_SERIAL = "partial_serial"  # a partly obliterated serial agrees at every readable position
    PROFILE = "profile"  # no serial on one side: the same make, model and calibre within the period


class LeadOutcome(enum.StrEnum):
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


def _check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class Firearm(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A firearm known to the unit: seized, found, surrendered, or reported stolen or lost."""

    __tablename__ = "firearm"
    __table_args__ = (
        CheckConstraint(_check("firearm_type", FirearmType), name="type_known"),
        CheckConstraint(_check("printed", Printed), name="printed_known"),
        CheckConstraint(_check("conversion", Conversion), name="conversion_known"),
        # Exact keys, and partial keys by their known prefix: one range scan of the index within a length.
        Index("ix_firearm_serial_key", "unit_id", "serial_length", "serial_key"),
        # Partial keys by their known suffix: the reversed key, scanned by prefix as above.
        Index("ix_firearm_serial_reversed", "unit_id", "serial_length", "serial_key_reversed"),
        # Partial records by their anchor, looked up by equality from a full key (see qms.firearms.leads).
        Index("ix_firearm_serial_anchor", "unit_id", "serial_length", "serial_anchor"),
        # Make, model and calibre, then the readable characters: "no usable serial" is a range of this index.
        Index("ix_firearm_profile", "unit_id", "make_key", "model_key", "calibre_key", "serial_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    make: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    firearm_type: Mapped[str] = mapped_column(String(16))
    calibre: Mapped[str] = mapped_column(String(60), default="")
    serial_number: Mapped[str] = mapped_column(String(60), default="")  # as marked, "?" for unreadable characters
    other_markings: Mapped[str] = mapped_column(Text, default="")  # import, proof, essential components' markings
    country_of_manufacture: Mapped[str] = mapped_column(String(100), default="")
    printed: Mapped[str] = mapped_column(String(8), default="")
    conversion: Mapped[str] = mapped_column(String(16), default="")
    home_made: Mapped[bool] = mapped_column(default=False)
    modified: Mapped[bool] = mapped_column(default=False)  # e.g. shortened barrel, automatic fire, altered markings
    description: Mapped[str] = mapped_column(Text, default="")
    item_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_item.id"), unique=True)  # when in custody
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # --- matching keys, derived from the columns above whenever they are written ---
    serial_key: Mapped[str] = mapped_column(String(60), default="")
    serial_key_reversed: Mapped[str] = mapped_column(String(60), default="")
    serial_length: Mapped[int] = mapped_column(default=0)
    serial_known: Mapped[int] = mapped_column(default=0)  # readable characters (the length less the "?")
    serial_anchor: Mapped[str | None] = mapped_column(String(62))  # partial serials only: "P:" prefix or "S:" suffix
    make_key: Mapped[str] = mapped_column(String(100), default="")
    model_key: Mapped[str] = mapped_column(String(100), default="")
    calibre_key: Mapped[str] = mapped_column(String(60), default="")

    item: Mapped[Item | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        name = " ".join(part for part in (self.make, self.model) if part) or self.firearm_type
        return f"{name} {self.serial_number}".strip() if self.serial_number else name

    @property
    def serial_partial(self) -> bool:
        return self.serial_anchor is not None


@append_only_model
class FirearmEvent(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One step of a firearm's history; the latest by date (then by entry) is its status."""

    __tablename__ = "firearm_event"
    __table_args__ = (CheckConstraint(_check("kind", EventKind), name="kind_known"),
                      Index("ix_firearm_event_firearm_on", "firearm_id", "occurred_on", "id"),
                      Index("ix_firearm_event_unit_on", "unit_id", "occurred_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    firearm_id: Mapped[int] = mapped_column(ForeignKey("firearm.id"))
    kind: Mapped[str] = mapped_column(String(16))
    occurred_on: Mapped[date]
    place: Mapped[str] = mapped_column(String(200), default="")
    reporter: Mapped[str] = mapped_column(String(200), default="")  # stolen and lost reports: who reported it
    police_reference: Mapped[str] = mapped_column(String(100), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    firearm: Mapped[Firearm] = relationship()
    recorded_by: Mapped[User | None] = relationship()


@append_only_model
class FirearmLead(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """Two records of the register that may be the same firearm, found by the cross-matching."""

    __tablename__ = "firearm_lead"
    __table_args__ = (UniqueConstraint("firearm_low_id", "firearm_high_id"),
                      CheckConstraint("firearm_low_id < firearm_high_id", name="pair_ordered"),
                      CheckConstraint(_check("basis", LeadBasis), name="basis_known"),
                      Index("ix_firearm_lead_high", "firearm_high_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    firearm_low_id: Mapped[int] = mapped_column(ForeignKey("firearm.id"))
    firearm_high_id: Mapped[int] = mapped_column(ForeignKey("firearm.id"))
    basis: Mapped[str] = mapped_column(String(16))
    found_at: Mapped[datetime] = mapped_column(default=utcnow)

    firearm_low: Mapped[Firearm] = relationship(foreign_keys=[firearm_low_id])
    firearm_high: Mapped[Firearm] = relationship(foreign_keys=[firearm_high_id])


@append_only_model
class FirearmLeadDecision(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """The signed decision on a register lead: the same firearm (confirmed) or not (dismissed). One per lead."""

    __tablename__ = "firearm_lead_decision"
    __table_args__ = (CheckConstraint(_check("outcome", LeadOutcome), name="outcome_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("firearm_lead.id"), unique=True)
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)

    lead: Mapped[FirearmLead] = relationship()
    decided_by: Mapped[User] = relationship()
