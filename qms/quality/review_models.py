"""Management review (ISO/IEC 17020 8.5): a review of one period, its decisions (append-only) and its
signed minutes."""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.db import utcnow
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


class DecisionKind(enum.StrEnum):
    DECISION = "decision"  # recorded only
    NONCONFORMITY = "nonconformity"  # opens a nonconformity (source management_review)
    CORRECTIVE_ACTION = "corrective_action"  # opens a nonconformity and a corrective action on it


class ManagementReview(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One review of a period. Its inputs are gathered from the records each time; once signed, the
    minutes (PDF) are kept as signed and no decision is added."""

    __tablename__ = "management_review"
    __table_args__ = (CheckConstraint("period_start <= period_end", name="period_ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    period_start: Mapped[date]
    period_end: Mapped[date]
    held_on: Mapped[date]
    attendees: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    signed_by_name: Mapped[str] = mapped_column(String(200), default="")
    signature_meaning: Mapped[str] = mapped_column(String(200), default="")
    signed_at: Mapped[datetime | None]
    minutes_sha256: Mapped[str] = mapped_column(String(64), default="")
    minutes_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    decisions: Mapped[list[ReviewDecision]] = relationship(back_populates="review", order_by="ReviewDecision.number")

    @property
    def signed(self) -> bool:
        return self.signed_at is not None


@append_only_model
class ReviewDecision(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A decision of the review, numbered within it, with what it opened; never changed."""

    __tablename__ = "management_review_decision"
    __table_args__ = (UniqueConstraint("review_id", "number"),
                      CheckConstraint("kind IN ('decision', 'nonconformity', 'corrective_action')",
                                      name="kind_known"),
                      CheckConstraint("length(trim(text)) > 0", name="text_present"))

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("management_review.id"), index=True)
    number: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    nonconformity_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformity.id"))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("audit_corrective_action.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_by_name: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    review: Mapped[ManagementReview] = relationship(back_populates="decisions")
