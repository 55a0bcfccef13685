"""Reading the audit trail: filters, pages and CSV export."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Select, func, select

from qms.extensions import db
from qms.trail.models import AuditEvent

ACTIONS = ("insert", "update", "delete")
CSV_COLUMNS = ("id", "at", "username", "user_id", "unit_id", "action", "entity", "entity_id",
               "reason", "before", "after", "request_id", "ip")


class TrailFilterError(ValueError):
    """A filter value that cannot be understood; the message says which."""


@dataclass(frozen=True)
class TrailFilter:
    entity: str = ""
    entity_id: str = ""
    username: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def from_args(cls, args: dict[str, str]) -> TrailFilter:
        action = args.get("action", "").strip()
        if action and action not in ACTIONS:
            raise TrailFilterError(f"Unknown action {action!r}: use one of {', '.join(ACTIONS)}.")
        return cls(entity=args.get("entity", "").strip()[:64], entity_id=args.get("entity_id", "").strip()[:64],
                   username=args.get("username", "").strip()[:64], action=action,
                   since=_parse_day(args.get("since", ""), "since"), until=_parse_day(args.get("until", ""), "until"))

    def apply(self, stmt: Select[tuple[AuditEvent]]) -> Select[tuple[AuditEvent]]:
        if self.entity:
            stmt = stmt.where(AuditEvent.entity == self.entity)
        if self.entity_id:
            stmt = stmt.where(AuditEvent.entity_id == self.entity_id)
        if self.username:
            stmt = stmt.where(AuditEvent.username == self.username)
        if self.action:
            stmt = stmt.where(AuditEvent.action == self.action)
        if self.since:
            stmt = stmt.where(AuditEvent.at >= datetime.combine(self.since, time(), timezone.utc))
        if self.until:
            stmt = stmt.where(AuditEvent.at < datetime.combine(self.until + timedelta(days=1), time(), timezone.utc))
        return stmt


def _parse_day(value: str, name: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise TrailFilterError(f"The '{name}' date must look like 2026-11-23.") from None


def _trail() -> Select[tuple[AuditEvent]]:
    # The request scope confines this to the reader's unit; rows written outside any unit
    # (system set-up from the CLI) are seen by no unit, only by the operator's database tools.
    return select(AuditEvent)


@dataclass(frozen=True)
class Page:
    items: list[AuditEvent]
    page: int
    pages: int
    total: int


def list_events(flt: TrailFilter, *, page: int, per_page: int) -> Page:
    stmt = flt.apply(_trail())
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    items = db.session.scalars(stmt.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return Page(list(items), page, pages, total)


def entities() -> list[str]:
    """The record types the trail can hold: every audited model (no scan of the trail itself)."""
    from qms.trail.audited import Audited

    return sorted({mapper.class_.__name__ for mapper in db.Model.registry.mappers
                   if issubclass(mapper.class_, Audited)})


def export_csv(flt: TrailFilter) -> Iterator[str]:
    """The filtered trail as CSV, streamed in batches so a large trail does not fill memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    stmt = flt.apply(_trail()).order_by(AuditEvent.id).execution_options(yield_per=1000)
    for event in db.session.scalars(stmt):
        writer.writerow(_csv_row(event))
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_row(event: AuditEvent) -> list[str]:
    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        # Spreadsheet formula injection: a leading =, +, - or @ is neutralised.
        return "'" + text if text[:1] in ("=", "+", "-", "@") else text

    return [cell(v) for v in (event.id, event.at.isoformat(), event.username, event.user_id, event.unit_id,
                              event.action, event.entity, event.entity_id, event.reason,
                              json.dumps(event.before, sort_keys=True) if event.before is not None else "",
                              json.dumps(event.after, sort_keys=True) if event.after is not None else "",
                              event.request_id, event.ip)]
