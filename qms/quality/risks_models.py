"""The impartiality risk register (ISO/IEC 17020 4.1.3, 4.1.4): risks, their scores, controls and owner.

A risk's reviews are append-only `RiskReview` rows; a review also sets the risk's current scores,
controls and next review date (an `Audited` change, so the trail keeps the earlier values).
"""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.db import utcnow
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


def _check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class RiskSource(enum.StrEnum):
    COMMERCIAL_PRESSURE = "commercial_pressure"
    FINANCIAL_PRESSURE = "financial_pressure"
    RELATIONSHIPS = "relationships"
    CHAIN_OF_COMMAND = "chain_of_command"  # police chain of command over the unit's staff
    SHARED_RESOURCES = "shared_resources"
    OTHER = "other"


class Risk(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A risk to impartiality: where it comes from, how likely and grave (1-5 each), its controls and owner."""

    __tablename__ = "impartiality_risk"
    __table_args__ = (CheckConstraint(_check("source", RiskSource), name="source_known"),
                      CheckConstraint("likelihood BETWEEN 1 AND 5", name="likelihood_range"),
                      CheckConstraint("impact BETWEEN 1 AND 5", name="impact_range"))

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text, default="")
    likelihood: Mapped[int]
    impact: Mapped[int]
    controls: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    review_on: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner = relationship("User", foreign_keys=[owner_id])
    reviews: Mapped[list[RiskReview]] = relationship(order_by="RiskReview.id", viewonly=True)

    @property
    def score(self) -> int:
        return self.likelihood * self.impact


@append_only_model
class RiskReview(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A review of a risk: the scores and controls found, and the next review date."""

    __tablename__ = "impartiality_risk_review"
    __table_args__ = (CheckConstraint("likelihood BETWEEN 1 AND 5", name="likelihood_range"),
                      CheckConstraint("impact BETWEEN 1 AND 5", name="impact_range"))

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(ForeignKey("impartiality_risk.id"), index=True)
    likelihood: Mapped[int]
    impact: Mapped[int]
    controls: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    next_review_on: Mapped[date]
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewer_name: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


APPEND_ONLY = ("impartiality_risk_review",)
