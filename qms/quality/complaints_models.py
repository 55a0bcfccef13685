"""Complaints and appeals (ISO/IEC 17020 7.5, 7.6).

A complaint's story (acknowledged, validated or rejected, investigated, decided, closed) is its
append-only `ComplaintEvent` rows: its current state is the fold of those events, never a column.
"""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.db import utcnow
from qms.evidence import models as _evidence_models  # noqa: F401  (registers Case before any mapper configures)
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


class ComplaintKind(enum.StrEnum):
    COMPLAINT = "complaint"
    APPEAL = "appeal"


class Channel(enum.StrEnum):
    LETTER = "letter"
    EMAIL = "email"
    PHONE = "phone"
    IN_PERSON = "in_person"


class Step(enum.StrEnum):
    """What a complaint event records; the state after it is the step's own name."""

    ACKNOWLEDGED = "acknowledged"
    VALIDATED = "validated"
    REJECTED = "rejected"  # not a complaint (or appeal) at all: the reason is its text
    INVESTIGATED = "investigated"  # findings (there may be several)
    DECIDED = "decided"
    CLOSED = "closed"  # the notice sent to the complainant


def _check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class Complaint(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A complaint or appeal as received: from whom, how, when, about which case or report, and what."""

    __tablename__ = "complaint"
    __table_args__ = (CheckConstraint(_check("kind", ComplaintKind), name="kind_known"),
                      CheckConstraint(_check("channel", Channel), name="channel_known"),
                      UniqueConstraint("unit_id", "number"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20))  # CMP-2026-0001 (APL- for appeals), per unit and year
    kind: Mapped[str] = mapped_column(String(12), default=ComplaintKind.COMPLAINT.value)
    complainant: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(300), default="")
    channel: Mapped[str] = mapped_column(String(12))
    received_on: Mapped[date]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_case.id"), index=True)
    audit_id: Mapped[int | None] = mapped_column(ForeignKey("audit.id"), index=True)
    report_ref: Mapped[str] = mapped_column(String(200), default="")  # a report named by its reference
    description: Mapped[str] = mapped_column(Text)
    acknowledge_by: Mapped[date]
    decide_by: Mapped[date]
    nonconformity_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformity.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case = relationship("Case")
    audit = relationship("Audit")
    # View-only: appending an event never changes the complaint's row.
    events: Mapped[list[ComplaintEvent]] = relationship(order_by="ComplaintEvent.id", viewonly=True)


@append_only_model
class ComplaintEvent(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One step of a complaint: who did it, when, and what they wrote."""

    __tablename__ = "complaint_event"
    __table_args__ = (CheckConstraint(_check("step", Step), name="step_known"),
                      CheckConstraint("length(trim(text)) > 0", name="text_present"))

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


APPEND_ONLY = ("complaint_event",)
