"""Writes the audit trail for every insert, update and delete of an `Audited` record.

A single `after_flush` hook sees every change the session is about to commit, whichever
service made it, so no service can forget to record one. The rows go in through the same
connection and transaction as the change: both commit, or neither does; and the commit logs them
in the transparency log (`qms.ledger`) with the change's other covered rows.
"""
from __future__ import annotations

import enum
import uuid
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from collections.abc import Callable, Iterator
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import event, inspect, insert
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import get_history

from qms.db import utcnow
from qms.trail.models import AuditEvent

REDACTED = "[redacted]"


class Audited:
    """Mixin: changes to this model are written to the audit trail."""

    __audit_redact__: frozenset[str] = frozenset()


@contextmanager
def audit_reason(session: Session, reason: str) -> Iterator[None]:
    """Attach a reason to every trail row written while the block runs."""
    previous = session.info.get("audit_reason")
    session.info["audit_reason"] = reason
    try:
        yield
    finally:
        session.info["audit_reason"] = previous


def set_actor(session: Session, *, user_id: int | None, username: str, unit_id: int | None) -> None:
    """Name who acts, for work outside a request (CLI commands, jobs)."""
    session.info["audit_actor"] = (user_id, username, unit_id)


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _column_values(obj: Audited, *, old: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attr in inspect(obj).mapper.column_attrs:
        key = attr.key
        if old:
            history = get_history(obj, key)
            value = history.deleted[0] if history.deleted else (history.unchanged or [None])[0]
        else:
            value = getattr(obj, key)
        values[key] = REDACTED if key in obj.__audit_redact__ and value is not None else _json_value(value)
    return values


def _changed_before_after(obj: Audited) -> tuple[dict[str, Any], dict[str, Any]] | None:
    state = inspect(obj)
    touched = state.committed_state
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        # Only attributes set since the last flush are in committed_state: the history of the others
        # is unchanged, and asking it of every column of a wide record cost more than the update.
        if key not in touched:
            continue
        history = get_history(obj, key)
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        redact = key in obj.__audit_redact__
        before[key] = REDACTED if redact else _json_value(old)
        after[key] = REDACTED if redact else _json_value(new)
    return (before, after) if after else None


def _actor(session: Session) -> tuple[int | None, str, int | None]:
    if "audit_actor" in session.info:
        return session.info["audit_actor"]
    if has_request_context() and g.get("qms_user") is not None:
        user = g.qms_user
        return user.id, user.username, g.get("qms_unit_id")
    return None, "system", None


def _request_fields() -> tuple[str, str]:
    if not has_request_context():
        return "", ""
    return g.get("request_id", ""), request.remote_addr or ""


def _entity_id(obj: Audited) -> str:
    return ",".join(str(v) for v in inspect(obj).mapper.primary_key_from_instance(obj))


def _trail_rows(session: Session) -> list[dict[str, Any]]:
    rows = []
    for obj in session.new:
        if isinstance(obj, Audited):
            rows.append(("insert", obj, None, _column_values(obj, old=False)))
    for obj in session.dirty:
        if isinstance(obj, Audited):  # an object with no changed column gives no row
            changed = _changed_before_after(obj)
            if changed:
                rows.append(("update", obj, *changed))
    for obj in session.deleted:
        if isinstance(obj, Audited):
            rows.append(("delete", obj, _column_values(obj, old=True), None))
    user_id, username, unit_id = _actor(session)
    request_id, ip = _request_fields()
    reason = session.info.get("audit_reason") or ""
    return [
        {
            "user_id": user_id, "username": username,
            "unit_id": getattr(obj, "unit_id", None) or unit_id,
            "action": action, "entity": type(obj).__name__, "entity_id": _entity_id(obj),
            "before": before, "after": after, "reason": reason, "request_id": request_id, "ip": ip,
        }
        for action, obj, before, after in rows
    ]


RowsListener = Callable[[Session, str, list[dict[str, Any]]], None]
_rows_listeners: list[RowsListener] = []


def on_trail_rows(listener: RowsListener) -> None:
    """Call `listener(session, "audit_event", rows)` with every batch of trail rows written (the ledger logs them)."""
    if listener not in _rows_listeners:
        _rows_listeners.append(listener)


@event.listens_for(Session, "after_flush")
def _write_trail(session: Session, flush_context: UOWTransaction) -> None:
    rows = _trail_rows(session)
    if rows:
        now = utcnow()
        rows = [dict(row, at=now) for row in rows]
        # One statement still (insertmanyvalues); the ids it returns let the transparency log name each row.
        statement = insert(AuditEvent).returning(AuditEvent.__table__.c.id, sort_by_parameter_order=True)
        ids = session.connection().execute(statement, rows).scalars().all()
        written = [dict(row, id=row_id) for row, row_id in zip(rows, ids, strict=True)]
        for listener in _rows_listeners:
            listener(session, "audit_event", written)


def _keep_old_value(target: object, value: Any, oldvalue: Any, initiator: object) -> None:
    """No-op `set` listener; registering it with active_history makes the ORM load the old
    value before a change even when the row was expired, so the trail's "before" is never lost."""


@event.listens_for(Audited, "mapper_configured", propagate=True)
def _track_old_values(mapper: Any, class_: type) -> None:
    for attr in mapper.column_attrs:
        event.listen(getattr(class_, attr.key), "set", _keep_old_value, active_history=True)
