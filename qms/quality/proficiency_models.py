"""Proficiency tests and interlaboratory comparisons (ISO/IEC 17020 7.1.6 / 17025 7.7.2): one row per
participant's result in one round of a scheme, with the scope of authorisation it covers."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import User
from qms.db import utcnow
from qms.extensions import db
from qms.people.models import Scope
from qms.scoping import UnitScoped
from qms.trail.audited import Audited


class Outcome(enum.StrEnum):
    SATISFACTORY = "satisfactory"
    QUESTIONABLE = "questionable"
    UNSATISFACTORY = "unsatisfactory"


class ReferenceKind(enum.StrEnum):
    """What the result is compared with: the provider's assigned value or the participants' consensus."""

    ASSIGNED = "assigned"
    CONSENSUS = "consensus"


def _check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class ProficiencyTest(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A participant's result in one round: what was sent, what they reported, the reference, the outcome.

    The outcome is the provider's verdict, or follows from the z-score (|z| <= 2 satisfactory,
    2 < |z| < 3 questionable, |z| >= 3 unsatisfactory). A questionable or unsatisfactory outcome
    opens a nonconformity (`nonconformity_id`).
    """

    __tablename__ = "proficiency_test"
    __table_args__ = (CheckConstraint(_check("outcome", Outcome), name="outcome_known"),
                      CheckConstraint(_check("reference_kind", ReferenceKind), name="reference_kind_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(200))
    scheme: Mapped[str] = mapped_column(String(200))
    round: Mapped[str] = mapped_column(String(100))
    items: Mapped[str] = mapped_column(Text, default="")  # the test items received (ids, description)
    participant_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    scope_id: Mapped[int] = mapped_column(ForeignKey("authorisation_scope.id"), index=True)
    performed_on: Mapped[date] = mapped_column(index=True)
    reported_result: Mapped[str] = mapped_column(Text)
    reference_kind: Mapped[str] = mapped_column(String(12), default=ReferenceKind.ASSIGNED.value)
    reference_value: Mapped[str] = mapped_column(Text, default="")
    z_score: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")
    nonconformity_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformity.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    participant: Mapped[User] = relationship(foreign_keys=[participant_id])
    scope: Mapped[Scope] = relationship()
