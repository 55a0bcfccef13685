"""Exchange records: partner keys a unit trusts, every package exported or imported, and its entries.

A package row is written once per export and once per accepted import (append-only): it is the
auditable event, with the package's SHA-256, the signer's fingerprint and where it came from.
`ExchangedEntry` names which entries travelled in it, so an imported entry keeps its origin (the
source's entry uuid) and a second import of the same entry is noticed. Refused imports store
nothing at all; their refusal is in the application log and the importer's screen.
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from flask_babel import lazy_pgettext
from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import User
from qms.comparisons.models import BallisticEntry, label_of
from qms.db import utcnow
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


class Direction(enum.StrEnum):
    EXPORT = "export"
    IMPORT = "import"


DIRECTION_LABELS = {Direction.EXPORT: lazy_pgettext("exchange package", "Exported"),
                    Direction.IMPORT: lazy_pgettext("exchange package", "Imported")}


class PartnerKey(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A public key whose packages this unit accepts; added (and revoked) by a quality manager or admin."""

    __tablename__ = "exchange_partner_key"
    __table_args__ = (UniqueConstraint("unit_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # the partner, as the unit knows it
    public_key: Mapped[str] = mapped_column(String(64))  # raw Ed25519 key, hex
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the raw key, hex
    added_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoked_at: Mapped[datetime | None]

    added_by: Mapped[User] = relationship(foreign_keys=[added_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@append_only_model
class ExchangePackage(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One package this unit exported or accepted; `manifest` is the package's signed manifest."""

    __tablename__ = "exchange_package"
    __table_args__ = (UniqueConstraint("unit_id", "direction", "sha256"),
                      CheckConstraint("direction IN ('export', 'import')", name="direction_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    signer_fingerprint: Mapped[str] = mapped_column(String(64))
    source_unit_code: Mapped[str] = mapped_column(String(32))
    source_unit_name: Mapped[str] = mapped_column(String(200))
    source_server: Mapped[str] = mapped_column(String(200))
    packaged_at: Mapped[str] = mapped_column(String(40))  # as the manifest states it (ISO 8601, UTC)
    entry_count: Mapped[int]
    skipped_count: Mapped[int] = mapped_column(default=0)  # entries already in this unit (imports)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    recorded_by: Mapped[User] = relationship()

    @property
    def direction_label(self) -> str:
        return label_of(DIRECTION_LABELS, self.direction)


@append_only_model
class ExchangedEntry(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """An entry that travelled in a package: `source_uuid` is its uuid in the package."""

    __tablename__ = "exchange_entry"
    __table_args__ = (UniqueConstraint("package_id", "source_uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("exchange_package.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ballistic_entry.id"), index=True)
    source_uuid: Mapped[str] = mapped_column(String(36), index=True)

    package: Mapped[ExchangePackage] = relationship()
    entry: Mapped[BallisticEntry] = relationship()
