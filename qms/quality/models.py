"""Nonconformities from any source. Corrective actions (`qms.audits.models.CorrectiveAction`) hang off
a nonconformity or, as before, off an audit finding; their steps and independence rules are the same."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qms.db import utcnow
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited


class Source(enum.StrEnum):
    AUDIT_FINDING = "audit_finding"
    COMPLAINT = "complaint"
    CUSTODY_DISCREPANCY = "custody_discrepancy"  # a failed custody verification, an unexpected broken seal
    EQUIPMENT_IMPACT = "equipment_impact"  # an instrument failed: its impact review
    PROFICIENCY_TEST = "proficiency_test"  # a questionable or unsatisfactory result
    MANAGEMENT_REVIEW = "management_review"  # a decision of the review
    OTHER = "other"


class RiskGrade(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


def _check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class Nonconformity(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """What went wrong, where and when, who found it, how grave, and the immediate correction.

    `source` says where it came from and `source_key` names that record ("impact_review:7",
    "custody_verification:2026-12-07T10:00Z"...), so a source opens at most one nonconformity.
    """

    __tablename__ = "nonconformity"
    __table_args__ = (CheckConstraint(_check("source", Source), name="source_known"),
                      CheckConstraint(_check("risk_grade", RiskGrade), name="risk_grade_known"),
                      UniqueConstraint("unit_id", "number"),
                      Index("uq_nonconformity_source_key", "unit_id", "source_key", unique=True,
                            sqlite_where=db.text("source_key <> ''"), postgresql_where=db.text("source_key <> ''")))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20))  # NC-2026-0001, per unit and year
    source: Mapped[str] = mapped_column(String(24))
    source_key: Mapped[str] = mapped_column(String(120), default="")
    source_url: Mapped[str] = mapped_column(String(300), default="")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")  # where: process, room, case
    found_on: Mapped[date]
    found_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    found_by_name: Mapped[str] = mapped_column(String(200), default="")
    risk_grade: Mapped[str] = mapped_column(String(8), default=RiskGrade.MEDIUM.value)
    immediate_correction: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


from qms.quality import manual_models  # noqa: E402,F401
from qms.quality import proficiency_models  # noqa: E402,F401
from qms.quality import review_models  # noqa: E402,F401
from qms.quality import complaints_models  # noqa: E402,F401
from qms.quality import risks_models  # noqa: E402,F401
