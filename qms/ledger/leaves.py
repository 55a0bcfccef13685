"""Which rows the ledger covers, and the leaf that stands for each.

A leaf is ASCII text: the table, the row id, and what must never change. A custody event's leaf
holds its item, its seq, its chain hash and the hash of its content without its place in the
chain (so a verifier can tell an event moved to another position from an event rewritten).
An SOP approval record's and an audit-trail row's leaf holds the SHA-256 of all its other columns.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table

from qms.documents.models import RevisionEvent
from qms.evidence.chain import EVENT_COLUMNS, canonical_content
from qms.evidence.models import CustodyEvent
from qms.trail.models import AuditEvent


def custody_body(row: Mapping[str, Any]) -> str:
    """SHA-256 of an event's content without seq, prev_hash and hash: the same wherever it stands."""
    content = canonical_content({**row, "seq": 0, "prev_hash": ""})
    return hashlib.sha256(content).hexdigest()


def custody_leaf(row: Mapping[str, Any]) -> str:
    return f"custody_event {row['id']} {row['item_id']} {row['seq']} {row['hash']} {custody_body(row)}"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def row_digest(row: Mapping[str, Any], columns: tuple[str, ...]) -> str:
    content = {name: _plain(row[name]) for name in columns if name != "id"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


REVISION_EVENT_COLUMNS = tuple(column.name for column in RevisionEvent.__table__.columns)


def revision_event_leaf(row: Mapping[str, Any]) -> str:
    return f"sop_revision_event {row['id']} {row_digest(row, REVISION_EVENT_COLUMNS)}"


AUDIT_EVENT_COLUMNS = tuple(column.name for column in AuditEvent.__table__.columns)


def audit_event_leaf(row: Mapping[str, Any]) -> str:
    return f"audit_event {row['id']} {row_digest(row, AUDIT_EVENT_COLUMNS)}"


@dataclass(frozen=True)
class Covered:
    """A table whose every row is a leaf."""

    model: type
    columns: tuple[str, ...]
    leaf: Callable[[Mapping[str, Any]], str]

    @property
    def table(self) -> Table:
        return self.model.__table__  # type: ignore[attr-defined]


COVERED = {
    "custody_event": Covered(CustodyEvent, EVENT_COLUMNS, custody_leaf),
    "sop_revision_event": Covered(RevisionEvent, REVISION_EVENT_COLUMNS, revision_event_leaf),
    "audit_event": Covered(AuditEvent, AUDIT_EVENT_COLUMNS, audit_event_leaf),
}
BY_MODEL = {covered.model: covered for covered in COVERED.values()}


def leaf_of(obj: object) -> str | None:
    covered = BY_MODEL.get(type(obj))
    if covered is None:
        return None
    return covered.leaf({name: getattr(obj, name) for name in covered.columns})


def parse(leaf: str) -> tuple[str, int, list[str]]:
    table, row_id, *rest = leaf.split(" ")
    return table, int(row_id), rest
