"""Reading the audit trail: who may see which record types, filters, readable pages, CSV export.

`readable_types` is the one rule for what a reader sees; the page, the CSV export and the API
all pass its answer to `list_events` and `export_csv`, which require it.
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from flask import current_app, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import Select, func, select
from werkzeug.routing import BuildError

from qms.auth.models import Role, User
from qms.auth.permissions import access_of
from qms.errors import InvalidInput
from qms.extensions import db
from qms.trail.audited import REDACTED, Audited
from qms.trail.catalogue import names_of_kind, record_type
from qms.trail.models import AuditEvent
from qms.trail.records import Kind, is_machine_text

ACTIONS = ("insert", "update", "delete")
ACTION_LABELS = {"insert": _l("created"), "update": _l("changed"), "delete": _l("removed")}
CSV_COLUMNS = ("id", "at", "username", "full_name", "user_id", "unit_id", "action", "entity", "entity_id",
               "reason", "before", "after", "request_id", "ip")
READERS = frozenset({Role.ADMIN, Role.QUALITY_MANAGER, Role.AUDITOR})
# Administrators keep the accounts and settings but have no rights over the unit's work: the
# history of evidence, ballistic and quality records would show them its content.
_KINDS_FOR_ROLE: Mapping[Role, frozenset[Kind]] = {
    Role.ADMIN: frozenset({Kind.ACCOUNT}),
    Role.QUALITY_MANAGER: frozenset(Kind),
    Role.AUDITOR: frozenset(Kind),
}


class TrailFilterError(InvalidInput):
    """A filter value that cannot be understood; the message says which."""


@dataclass(frozen=True)
class Readable:
    """The record types a reader may see in the trail: every one, or only those named."""

    every: bool
    names: frozenset[str] = frozenset()

    def allows(self, entity: str) -> bool:
        return self.every or entity in self.names

    def restrict(self, stmt: Select[tuple[AuditEvent]]) -> Select[tuple[AuditEvent]]:
        return stmt if self.every else stmt.where(AuditEvent.entity.in_(sorted(self.names)))


def readable_types(roles: Iterable[Role]) -> Readable:
    """Which record types' history a reader with these roles (in the active unit) may see."""
    kinds = frozenset().union(*(_KINDS_FOR_ROLE.get(role, frozenset()) for role in roles))
    if kinds >= frozenset(Kind):
        # Every kind, including types nobody registered and types that no longer exist.
        return Readable(every=True)
    return Readable(every=False, names=names_of_kind(*kinds))


@dataclass(frozen=True)
class TrailFilter:
    entity: str = ""
    entity_id: str = ""
    username: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> TrailFilter:
        """The filter the arguments ask for; refused with the reasons when one cannot be understood."""
        flt, problems = cls.read(args)
        if problems:
            raise TrailFilterError(" ".join(problems.values()), errors={k: [v] for k, v in problems.items()})
        return flt

    @classmethod
    def read(cls, args: Mapping[str, Any]) -> tuple[TrailFilter, dict[str, str]]:
        """The filter from the arguments that can be understood, and a reason for each that cannot."""
        problems: dict[str, str] = {}
        action = _text(args, "action")
        if action and action not in ACTIONS:
            problems["action"] = _("Unknown action %(action)s: use one of %(actions)s.",
                                   action=repr(action), actions=", ".join(ACTIONS))
            action = ""
        days = {name: _parse_day(args, name, problems) for name in ("since", "until")}
        return cls(entity=_text(args, "entity"), entity_id=_text(args, "entity_id"),
                   username=_text(args, "username"), action=action, **days), problems

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


def _text(args: Mapping[str, Any], name: str) -> str:
    return str(args.get(name) or "").strip()[:64]


def _parse_day(args: Mapping[str, Any], name: str, problems: dict[str, str]) -> date | None:
    value = _text(args, name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems[name] = _("The '%(name)s' date must look like 2026-11-23.", name=name)
        return None


def _trail(readable: Readable, flt: TrailFilter) -> Select[tuple[AuditEvent]]:
    # The request scope confines this to the reader's unit; rows written outside any unit
    # (system set-up from the CLI) are seen by no unit, only by the operator's database tools.
    return flt.apply(readable.restrict(select(AuditEvent)))


@dataclass(frozen=True)
class Page:
    items: list[AuditEvent]
    page: int
    pages: int
    total: int


def list_events(flt: TrailFilter, *, readable: Readable, page: int, per_page: int) -> Page:
    stmt = _trail(readable, flt)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    items = db.session.scalars(stmt.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return Page(list(items), page, pages, total)


def entities(readable: Readable) -> list[tuple[str, str]]:
    """The record types the reader may filter by, (name, label), from every audited model."""
    names = {mapper.class_.__name__ for mapper in db.Model.registry.mappers if issubclass(mapper.class_, Audited)}
    described = [(name, str(record_type(name).label)) for name in names if readable.allows(name)]
    return sorted(described, key=lambda pair: pair[1].casefold())


@dataclass(frozen=True)
class TrailPage:
    flt: TrailFilter
    page: Page
    rows: list[ReadableEvent]
    entities: list[tuple[str, str]]
    problems: dict[str, str]  # filter fields that could not be understood, with the reason


def read_page(args: Mapping[str, Any], *, roles: Iterable[Role], page: int, per_page: int) -> TrailPage:
    """One page of the trail as this reader may see it, newest first, in readable form.

    A filter that cannot be understood finds nothing (rather than more than was asked for);
    the page shows why next to the filters.
    """
    readable = readable_types(roles)
    flt, problems = TrailFilter.read(args)
    found = Page([], 1, 1, 0) if problems else list_events(flt, readable=readable, page=page, per_page=per_page)
    return TrailPage(flt, found, describe(found.items, readable=readable, roles=roles), entities(readable), problems)


def read_events(args: Mapping[str, Any], *, roles: Iterable[Role], page: int, per_page: int) -> TrailPage:
    """As `read_page`, but a filter that cannot be understood is refused (the API)."""
    TrailFilter.from_args(args)
    return read_page(args, roles=roles, page=page, per_page=per_page)


def read_csv(args: Mapping[str, Any], *, roles: Iterable[Role]) -> Iterator[str]:
    """The trail as this reader may see it, as CSV; the filter is checked before anything streams."""
    return export_csv(TrailFilter.from_args(args), readable=readable_types(roles))


# --- readable rows -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    field: str
    label: str
    before: str | None  # None: the field had no value before (a created record)
    after: str | None  # None: the field has no value after (a removed record)
    machine: bool = False  # fingerprints, keys, JSON: shown as code


@dataclass(frozen=True)
class ReadableEvent:
    """One trail row as people read it: names instead of ids, labels instead of columns."""

    event: AuditEvent
    actor: str
    action: str
    record: str
    url: str | None
    changes: list[Change]

    def as_json(self) -> dict[str, Any]:
        e = self.event
        return {"id": e.id, "at": e.at.isoformat(), "user_id": e.user_id, "username": e.username,
                "actor": self.actor, "action": e.action, "action_label": self.action, "entity": e.entity,
                "entity_id": e.entity_id, "record": self.record, "url": self.url, "reason": e.reason,
                "changes": [{"field": c.field, "label": c.label, "before": c.before, "after": c.after}
                            for c in self.changes],
                "before": e.before, "after": e.after}


def describe(events: list[AuditEvent], *, readable: Readable, roles: Iterable[Role]) -> list[ReadableEvent]:
    """The events as people read them, resolving every referenced id in one query per record type."""
    names = _ReferenceNames(readable)
    for event in events:
        names.want_user(event.user_id)
        for column, value in _changed_values(event):
            names.want(event.entity, column, value)
    names.resolve()
    reader_roles = frozenset(roles)
    return [ReadableEvent(event=event, actor=names.actor(event), action=_action_label(event.action),
                          record=_record_title(event), url=_record_url(event, reader_roles),
                          changes=_changes(event, names))
            for event in events]


def summary(event: AuditEvent) -> str:
    """One line for lists such as the dashboard's: "Audit 12: changed", in the reader's language."""
    return _("%(record)s: %(action)s", record=_record_title(event), action=_action_label(event.action))


def _action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def _changed_values(event: AuditEvent) -> Iterator[tuple[str, Any]]:
    for values in (event.before, event.after):
        yield from (values or {}).items()


def _changes(event: AuditEvent, names: _ReferenceNames) -> list[Change]:
    described = record_type(event.entity)
    before, after = event.before or {}, event.after or {}
    if event.action == "update":
        columns = list(after) or list(before)
    else:
        # A created or removed record: every field that held something, without its own number.
        columns = [c for c, v in (after or before).items() if c != "id" and v not in (None, "", [], {})]
    def shown(values: dict[str, Any], column: str) -> str | None:
        if column not in values:
            return None
        if (moment := _stored_moment(values[column])) is not None:
            return moment
        label = described.code_label(column, values[column])
        return label if label is not None else names.show(event.entity, column, values[column])

    return [Change(field=column, label=described.field_label(column), before=shown(before, column),
                   after=shown(after, column),
                   machine=any(described.code_label(column, v) is None and is_machine_text(column, v)
                               for v in (before.get(column), after.get(column)) if v not in (None, "", REDACTED)))
            for column in columns]


def _stored_moment(value: Any) -> str | None:
    """A date or time the trail kept as ISO text, in the reader's format and the unit's zone."""
    from qms.i18n import local_date, local_datetime

    if not isinstance(value, str) or len(value) < 10 or not value[:4].isdigit() or value[4:5] != "-":
        return None
    try:
        if len(value) == 10:
            return local_date(date.fromisoformat(value))
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return local_datetime(moment)


def _record_title(event: AuditEvent) -> str:
    return _("%(record)s %(number)s", record=record_type(event.entity).label, number=event.entity_id)


def _record_url(event: AuditEvent, roles: frozenset[Role]) -> str | None:
    """The page that shows the record, when it has one and the reader may open it."""
    link = record_type(event.entity).link
    if link is None or (link.field == "id" and event.action == "delete"):
        return None  # no page, or the record itself is gone
    value = event.entity_id if link.field == "id" else (event.after or event.before or {}).get(link.field)
    access = access_of(current_app.view_functions.get(link.endpoint))
    if value in (None, "") or access is None or not access.allows("GET", roles):
        return None
    try:
        return url_for(link.endpoint, **{link.arg: value})
    except BuildError:
        return None  # a value the route does not take (a composite key, a domain not installed)


class _ReferenceNames:
    """Names for the ids a page of events refers to (users, units, items...), looked up in bulk.

    Only record types the reader may see are looked up, and through the request's unit scope,
    so a name never shows what the reader could not open.
    """

    def __init__(self, readable: Readable) -> None:
        self._readable = readable
        self._wanted: dict[type, set[int]] = defaultdict(set)
        self._names: dict[tuple[type, int], str] = {}
        self._targets = _ForeignKeys()

    def want_user(self, user_id: int | None) -> None:
        if user_id is not None:
            self._wanted[User].add(user_id)

    def want(self, entity: str, column: str, value: Any) -> None:
        target = self._targets.of(entity, column)
        if target is not None and isinstance(value, int) and self._readable.allows(target.__name__):
            self._wanted[target].add(value)

    def resolve(self) -> None:
        for model, ids in self._wanted.items():
            shown_as = _shown_as(model)
            if not shown_as:
                continue
            column = getattr(model, shown_as)
            for record_id, name in db.session.execute(select(model.id, column).where(model.id.in_(sorted(ids)))):
                self._names[(model, record_id)] = str(name)

    def actor(self, event: AuditEvent) -> str:
        if event.user_id is None:
            return _("System") if event.username in ("", "system") else event.username
        return self._names.get((User, event.user_id)) or event.username

    def show(self, entity: str, column: str, value: Any) -> str:
        target = self._targets.of(entity, column)
        if target is not None and isinstance(value, int):
            return self._names.get((target, value)) or f"#{value}"
        return _show_value(value)


def _shown_as(model: type) -> str:
    shown_as = record_type(model.__name__).shown_as
    return shown_as if shown_as and hasattr(model, shown_as) else ""


class _ForeignKeys:
    """For a record type's column, the model it refers to (from the table's foreign keys)."""

    def __init__(self) -> None:
        mappers = list(db.Model.registry.mappers)
        self._by_name = {m.class_.__name__: m for m in mappers}
        self._by_table = {m.local_table.name: m.class_ for m in mappers}
        self._cache: dict[tuple[str, str], type | None] = {}

    def of(self, entity: str, column: str) -> type | None:
        key = (entity, column)
        if key not in self._cache:
            self._cache[key] = self._find(entity, column)
        return self._cache[key]

    def _find(self, entity: str, column: str) -> type | None:
        mapper = self._by_name.get(entity)
        if mapper is None or column == "id" or column not in mapper.columns:
            return None
        for foreign_key in mapper.columns[column].foreign_keys:
            return self._by_table.get(foreign_key.column.table.name)
        return None


def _show_value(value: Any) -> str:
    if value is None:
        return ""
    if value == REDACTED:
        return _("[hidden]")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


# --- CSV ---------------------------------------------------------------------------------------

def export_csv(flt: TrailFilter, *, readable: Readable) -> Iterator[str]:
    """The filtered trail as CSV, streamed in batches so a large trail does not fill memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    # The unit's people (the request scope), so each row names its actor without a query per row.
    full_names = {user_id: name for user_id, name in db.session.execute(select(User.id, User.full_name))}
    stmt = _trail(readable, flt).order_by(AuditEvent.id).execution_options(yield_per=1000)
    for event in db.session.scalars(stmt):
        writer.writerow(_csv_row(event, full_names.get(event.user_id or 0, "")))
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_row(event: AuditEvent, full_name: str) -> list[str]:
    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        # Spreadsheet formula injection: a leading =, +, - or @ is neutralised.
        return "'" + text if text[:1] in ("=", "+", "-", "@") else text

    return [cell(v) for v in (event.id, event.at.isoformat(), event.username, full_name, event.user_id,
                              event.unit_id, event.action, event.entity, event.entity_id, event.reason,
                              json.dumps(event.before, sort_keys=True) if event.before is not None else "",
                              json.dumps(event.after, sort_keys=True) if event.after is not None else "",
                              event.request_id, event.ip)]
