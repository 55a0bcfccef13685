"""The quality manual's policy statements: one text per unit and clause, versioned (append-only)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qms.db import utcnow
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


@append_only_model
class PolicyStatement(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """The unit's policy for one clause, in its own words; a later version of the same clause supersedes it."""

    __tablename__ = "policy_statement"
    __table_args__ = (Index("ix_policy_statement_clause", "unit_id", "requirement_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requirement_id: Mapped[str] = mapped_column(String(64))  # e.g. "17020:6.1" (a clause group or item)
    text: Mapped[str] = mapped_column(Text)
    written_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
