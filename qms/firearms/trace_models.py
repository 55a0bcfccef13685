"""Trace requests between units and servers: the requests a unit sent or received, their log, and the
partner records that answers brought.

Every row is inserted once and never changed (append-only). A request's state is derived from its
log: an outgoing request is "sent" until its answer is imported, an incoming one is "waiting for an
answer" until a person signs the answer. The log has one row per step and request (request sent,
request received, answer sent, answer received), with who and when, the package's SHA-256, its
signer and its manifest; the unique step per request is what makes a second answer impossible.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.auth.models import User
from qms.db import utcnow
from qms.extensions import db
from qms.scoping import UnitScoped
from qms.trail.audited import Audited
from qms.trail.models import append_only_model


class TraceDirection(enum.StrEnum):
    OUTGOING = "outgoing"  # this unit asks a partner
    INCOMING = "incoming"  # a partner asks this unit


class TraceStep(enum.StrEnum):
    REQUEST_SENT = "request_sent"
    REQUEST_RECEIVED = "request_received"
    ANSWER_SENT = "answer_sent"
    ANSWER_RECEIVED = "answer_received"



DIRECTION_LABELS = {TraceDirection.OUTGOING: _l("We asked"), TraceDirection.INCOMING: _l("They asked")}
STEP_LABELS = {TraceStep.REQUEST_SENT: _l("Request sent"), TraceStep.REQUEST_RECEIVED: _l("Request received"),
               TraceStep.ANSWER_SENT: _l("Answer sent"), TraceStep.ANSWER_RECEIVED: _l("Answer received")}

def _check(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")"


@append_only_model
class TraceRequest(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One trace request as this unit knows it: the firearm asked about, who asks whom, and why.

    `request_uuid` is the request's name in both databases (the answer names it); `partner_*` is the
    other side: whom an outgoing request was sent to (its key), or who sent an incoming one.
    """

    __tablename__ = "firearm_trace_request"
    __table_args__ = (UniqueConstraint("unit_id", "direction", "request_uuid"),
                      CheckConstraint(_check("direction", TraceDirection), name="direction_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    request_uuid: Mapped[str] = mapped_column(String(32))
    serial_number: Mapped[str] = mapped_column(String(60))  # as marked, "?" for unreadable characters
    make: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    calibre: Mapped[str] = mapped_column(String(60), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    reference: Mapped[str] = mapped_column(String(100), default="")  # the requester's case or file reference
    requested_by_name: Mapped[str] = mapped_column(String(200), default="")
    requesting_unit: Mapped[str] = mapped_column(String(240), default="")  # "name (code)"
    partner_name: Mapped[str] = mapped_column(String(240), default="")
    partner_server: Mapped[str] = mapped_column(String(200), default="")
    partner_fingerprint: Mapped[str] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User] = relationship()

    @property
    def firearm_label(self) -> str:
        return " ".join(part for part in (self.make, self.model, self.calibre, self.serial_number) if part)


@append_only_model
class TraceLogEntry(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """One step of a trace request on this side, with the package that travelled (its signed manifest)."""

    __tablename__ = "firearm_trace_log"
    __table_args__ = (UniqueConstraint("request_id", "step"),
                      CheckConstraint(_check("step", TraceStep), name="step_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("firearm_trace_request.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    package_sha256: Mapped[str] = mapped_column(String(64))
    package_size: Mapped[int]
    signer_fingerprint: Mapped[str] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(default=0)  # firearm records in the package (answers)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[TraceRequest] = relationship()
    recorded_by: Mapped[User] = relationship()


@append_only_model
class TracePartnerRecord(UnitScoped, Audited, db.Model):  # type: ignore[name-defined]
    """A firearm record of a partner's register, as its answer described it (kept as received).

    The serial and make keys are derived from the marking and make as the register derives its own,
    so the unit's register can be matched against partner records as against its own records.
    """

    __tablename__ = "firearm_trace_record"
    __table_args__ = (UniqueConstraint("request_id", "source_uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("firearm_trace_request.id"), index=True)
    log_id: Mapped[int] = mapped_column(ForeignKey("firearm_trace_log.id"))
    source_uuid: Mapped[str] = mapped_column(String(32))
    basis: Mapped[str] = mapped_column(String(16))  # how the partner matched it: serial or partial_serial
    firearm_type: Mapped[str] = mapped_column(String(16), default="")
    make: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    calibre: Mapped[str] = mapped_column(String(60), default="")
    serial_number: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(16), default="")  # the partner's latest event kind; "" for none
    status_on: Mapped[date | None]
    categories: Mapped[dict[str, Any]] = mapped_column(JSON)  # printed, conversion, home_made, modified
    holder_unit: Mapped[str] = mapped_column(String(240), default="")
    holder_reference: Mapped[str] = mapped_column(String(200), default="")
    serial_key: Mapped[str] = mapped_column(String(60), default="")
    serial_length: Mapped[int] = mapped_column(default=0)
    make_key: Mapped[str] = mapped_column(String(100), default="")

    request: Mapped[TraceRequest] = relationship()
    log: Mapped[TraceLogEntry] = relationship()
