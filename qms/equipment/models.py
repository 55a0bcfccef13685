"""The equipment register and its append-only records; status is derived from them (`qms.equipment.status`)."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import User
from qms.db import utcnow
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


class RecordKind(enum.StrEnum):
    CALIBRATION = "calibration"  # by a provider with traceability, sets the next due date
    CHECK = "check"  # intermediate check between calibrations (6.2.10)
    MAINTENANCE = "maintenance"
    REPAIR = "repair"
    FAULT = "fault"  # found defective or suspect: out of service until a passing calibration or check
    RETIRED = "retired"


class Result(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NONE = ""  # maintenance, repairs, faults and retirement have no pass/fail


class Assessment(enum.StrEnum):
    NO_EFFECT = "no_effect"
    RE_EXAMINE = "re_examine"
    INFORM_CUSTOMER = "inform_customer"


def _check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class Equipment(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """An instrument of the unit. Its status is never stored: it follows from its records."""

    __tablename__ = "equipment"
    __table_args__ = (UniqueConstraint("unit_id", "identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200), default="")
    make: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    serial_number: Mapped[str] = mapped_column(String(100), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    affects_results: Mapped[bool] = mapped_column(default=True)
    calibration_interval_months: Mapped[int | None]  # None: no calibration programme
    calibration_provider: Mapped[str] = mapped_column(String(200), default="")
    traceability: Mapped[str] = mapped_column(Text, default="")
    check_interval_days: Mapped[int | None]
    maintenance_interval_months: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    responsible: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        return f"{self.identifier} {self.name or ' '.join(p for p in (self.make, self.model) if p)}".strip()


@append_only_model
class EquipmentRecord(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "equipment_record"
    __table_args__ = (CheckConstraint(_check("kind", RecordKind), name="kind_known"),
                      CheckConstraint(_check("result", Result), name="result_known"),
                      Index("ix_equipment_record_equipment_on", "equipment_id", "performed_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"))
    kind: Mapped[str] = mapped_column(String(16))
    performed_on: Mapped[date]
    result: Mapped[str] = mapped_column(String(8), default="")
    next_due: Mapped[date | None]
    performed_by: Mapped[str] = mapped_column(String(200), default="")  # provider or person
    certificate_number: Mapped[str] = mapped_column(String(100), default="")
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    certificate_name: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    equipment: Mapped[Equipment] = relationship()

    @property
    def failed(self) -> bool:
        return self.kind == RecordKind.FAULT.value or self.result == Result.FAIL.value

    @property
    def passed(self) -> bool:
        return self.kind in (RecordKind.CALIBRATION.value, RecordKind.CHECK.value) and self.result == Result.PASS.value


class ImpactReview(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """What a failure of the equipment may have affected (17020 6.2.14), opened by the failing record.

    Its work list is computed from the other domains' records (`qms.equipment.services.work_since`);
    it closes once every piece of work has an assessment; closing is on the trail.
    """

    __tablename__ = "impact_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), index=True)
    failed_record_id: Mapped[int] = mapped_column(ForeignKey("equipment_record.id"), unique=True)
    since: Mapped[date | None]  # the last passing calibration or check before the failure
    until: Mapped[date]  # the failure's date
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    conclusion: Mapped[str] = mapped_column(Text, default="")

    equipment: Mapped[Equipment] = relationship()
    failed_record: Mapped[EquipmentRecord] = relationship()


@append_only_model
class ImpactAssessment(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """The assessment of one piece of work in an impact review; a later one for the same work supersedes it."""

    __tablename__ = "impact_assessment"
    __table_args__ = (CheckConstraint(_check("assessment", Assessment), name="assessment_known"),
                      Index("ix_impact_assessment_review_work", "review_id", "work_kind", "work_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("impact_review.id"))
    work_kind: Mapped[str] = mapped_column(String(32))
    work_id: Mapped[int]
    assessment: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    assessed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    assessed_at: Mapped[datetime] = mapped_column(default=utcnow)
