"""The audit trail: one append-only row per change of a domain record."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from qms.db import utcnow
from qms.extensions import db
from qms.scoping import ScopedByUnit


class AppendOnlyError(RuntimeError):
    """A history row was about to be changed or removed."""


def refuse_change(mapper: object, connection: object, target: object) -> None:
    raise AppendOnlyError(f"{type(target).__name__} rows are append-only: history is never changed or deleted")


# Tables whose rows are history; later domains add theirs (custody events, revisions).
APPEND_ONLY_TABLES: set[str] = set()


def append_only_model(model: type) -> type:
    """Class decorator: the ORM refuses to update or delete rows of this model."""
    event.listen(model, "before_update", refuse_change)
    event.listen(model, "before_delete", refuse_change)
    APPEND_ONLY_TABLES.add(model.__tablename__)  # type: ignore[attr-defined]
    return model


@append_only_model
class AuditEvent(ScopedByUnit, db.Model):  # type: ignore[name-defined]
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_entity", "entity", "entity_id"),
        Index("ix_audit_event_unit_id_id", "unit_id", "id"),
        Index("ix_audit_event_user_id_id", "user_id", "id"),
        Index("ix_audit_event_username_id", "username", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # No foreign keys: the trail must outlive anything it describes.
    user_id: Mapped[int | None]
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(16))  # insert | update | delete
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    reason: Mapped[str] = mapped_column(Text, default="")
    request_id: Mapped[str] = mapped_column(String(36), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state: ORMExecuteState) -> None:
    """Bulk UPDATE and DELETE bypass mapper events, so they are checked here."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) in APPEND_ONLY_TABLES:
        raise AppendOnlyError(f"{table.name} rows are append-only: history is never changed or deleted")
