"""Scopes of authorisation, personnel files and the append-only records of competence.

An authorisation is never a row that changes: it is the fold of its signed events (granted,
suspended, reinstated, withdrawn) for one person and one scope (`qms.people.state`).
"""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import User
from qms.db import utcnow
from qms.extensions import db
from qms.scoping import ScopedByUnit, UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


class Gate(enum.StrEnum):
    """The scopes the system itself checks before a technical act (their codes are fixed)."""

    SCENE_EXAMINATION = "scene_examination"
    EVIDENCE_CUSTODY = "evidence_custody"
    IMAGING = "imaging"
    COMPARISON = "comparison"
    VERIFICATION = "verification"
    SOP_APPROVAL = "sop_approval"
    INTERNAL_AUDIT = "internal_audit"
    AUDIT_LEAD = "audit_lead"
    CALIBRATION = "calibration"


class GateMode(enum.StrEnum):
    ENFORCE = "enforce"  # a missing authorisation refuses the act
    WARN = "warn"  # during a transition: the act goes ahead and the warning is logged


class AuthorisationKind(enum.StrEnum):
    GRANTED = "granted"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    WITHDRAWN = "withdrawn"


class TrainingOutcome(enum.StrEnum):
    PASSED = "passed"
    COMPLETED = "completed"  # attended, no assessment
    FAILED = "failed"


class WitnessOutcome(enum.StrEnum):
    SATISFACTORY = "satisfactory"
    NEEDS_IMPROVEMENT = "needs_improvement"
    UNSATISFACTORY = "unsatisfactory"


class DeclarationKind(enum.StrEnum):
    CONFLICT_OF_INTEREST = "conflict_of_interest"  # 17020 6.1.13 / 4.1
    CONFIDENTIALITY = "confidentiality"  # 17020 6.1.12 / 4.2


def _check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


class Scope(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """An activity that needs a formal authorisation, with its competence requirements.

    The requirements are stated in words (for people) and as counts (for the system to check).
    """

    __tablename__ = "authorisation_scope"
    __table_args__ = (UniqueConstraint("unit_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    requirements: Mapped[str] = mapped_column(Text, default="")
    education: Mapped[str] = mapped_column(String(300), default="")
    min_training_hours: Mapped[float] = mapped_column(Float, default=0)
    min_supervised: Mapped[int] = mapped_column(default=0)
    min_witnessed: Mapped[int] = mapped_column(default=0)
    witness_interval_months: Mapped[int] = mapped_column(default=12)  # 0: no periodic witnessing
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonnelFile(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A member's job title, education and qualifications in one unit (changes are on the trail)."""

    __tablename__ = "personnel_file"
    __table_args__ = (UniqueConstraint("unit_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    job_title: Mapped[str] = mapped_column(String(200), default="")
    education: Mapped[str] = mapped_column(Text, default="")
    qualifications: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class _Recorded:
    """Who entered a record and when (the person it is about is `user_id`)."""

    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


@append_only_model
class TrainingRecord(_Recorded, UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    __tablename__ = "training_record"
    __table_args__ = (CheckConstraint(_check("outcome", TrainingOutcome), name="outcome_known"),
                      Index("ix_training_record_person", "unit_id", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    scope_id: Mapped[int | None] = mapped_column(ForeignKey("authorisation_scope.id"), index=True)
    course: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(200), default="")
    started_on: Mapped[date]
    completed_on: Mapped[date]
    hours: Mapped[float] = mapped_column(Float, default=0)
    outcome: Mapped[str] = mapped_column(String(16))
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    certificate_name: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    scope: Mapped[Scope | None] = relationship()


@append_only_model
class SupervisedWork(_Recorded, UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A case or exercise done under supervision while in training for a scope."""

    __tablename__ = "supervised_work"
    __table_args__ = (Index("ix_supervised_work_person", "unit_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    scope_id: Mapped[int] = mapped_column(ForeignKey("authorisation_scope.id"), index=True)
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    performed_on: Mapped[date]
    reference: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")

    scope: Mapped[Scope] = relationship()
    supervisor: Mapped[User] = relationship(foreign_keys=[supervisor_id])


@append_only_model
class Witnessing(_Recorded, UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """An observation of a person's technical work by a competent observer (17020 6.1.9)."""

    __tablename__ = "witnessing"
    __table_args__ = (CheckConstraint(_check("outcome", WitnessOutcome), name="outcome_known"),
                      Index("ix_witnessing_person", "unit_id", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    scope_id: Mapped[int] = mapped_column(ForeignKey("authorisation_scope.id"), index=True)
    observer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    observed_on: Mapped[date]
    reference: Mapped[str] = mapped_column(String(200))  # the case or exercise observed
    outcome: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str] = mapped_column(Text, default="")

    scope: Mapped[Scope] = relationship()
    observer: Mapped[User] = relationship(foreign_keys=[observer_id])


@append_only_model
class Declaration(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A person's yearly conflict-of-interest or confidentiality declaration, signed by themselves.

    A later declaration of the same year and kind supersedes the earlier one (both are kept).
    """

    __tablename__ = "declaration"
    __table_args__ = (CheckConstraint(_check("kind", DeclarationKind), name="kind_known"),
                      Index("ix_declaration_person", "unit_id", "user_id", "year"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    year: Mapped[int]
    kind: Mapped[str] = mapped_column(String(24))
    interests: Mapped[str] = mapped_column(Text, default="")  # declared interests; empty: none
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)


@append_only_model
class AuthorisationEvent(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One signed step in a person's authorisation for a scope; the current state is their fold."""

    __tablename__ = "authorisation_event"
    __table_args__ = (CheckConstraint(_check("kind", AuthorisationKind), name="kind_known"),
                      Index("ix_authorisation_event_person", "unit_id", "user_id", "scope_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    scope_id: Mapped[int] = mapped_column(ForeignKey("authorisation_scope.id"))
    kind: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date | None]
    valid_until: Mapped[date | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    justification: Mapped[str] = mapped_column(Text, default="")  # why granted although requirements are unmet
    unmet: Mapped[list[str]] = mapped_column(JSON, default=list)  # the requirements unmet when granted
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    signed_by_name: Mapped[str] = mapped_column(String(200), default="")
    signature_meaning: Mapped[str] = mapped_column(String(200), default="")
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)

    scope: Mapped[Scope] = relationship()


@append_only_model
class GateWarning(ScopedByUnit, db.Model):  # type: ignore[name-defined]
    """An act done without the authorisation while the unit's gate was set to "warn"."""

    __tablename__ = "gate_warning"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None]
    username: Mapped[str] = mapped_column(String(64), default="")
    scope_code: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class UnitGate(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """The unit's gate setting: absent means "enforce"; every change is on the trail with its reason."""

    __tablename__ = "unit_gate"
    __table_args__ = (UniqueConstraint("unit_id"), CheckConstraint(_check("mode", GateMode), name="mode_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[str] = mapped_column(String(8), default=GateMode.ENFORCE.value)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
