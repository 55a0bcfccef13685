"""The hash chain of custody events: canonical content, hashes, and the check of every chain.

Hash version 1. An event's hash is SHA-256 over the canonical JSON of HASHED_FIELDS: keys sorted,
no spaces, UTF-8, times as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, microseconds), absent values null.
`prev_hash` is one of the fields, so each event seals the whole history before it; the first event
of an item has prev_hash = 64 zeros. `id` (a surrogate key) and `hash` itself are not hashed.

The chain alone does not stop someone who can write to the database and recompute every hash after
an edit: signed checkpoints (qms.evidence.checkpoints) do. The check also folds each item's events
(qms.evidence.state) and reports an item whose cached custody (holder, state, location, seal)
disagrees with them, since those columns are not hashed.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, select

from qms.evidence.models import GENESIS_HASH, CustodyEvent, Item
from qms.evidence.state import CACHED_COLUMNS, START, Custody, apply, cached, differences

HASH_VERSION = 1
HASHED_FIELDS = ("hash_version", "unit_id", "item_id", "seq", "kind", "occurred_at", "utc_offset_minutes",
                 "recorded_at", "actor_id", "from_user_id", "to_user_id", "witness_id", "location_id",
                 "seal_number", "refers_to_seq", "notes", "details", "prev_hash")


def _time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("custody times must be timezone-aware")
    if value.utcoffset():
        value = value.astimezone(timezone.utc)
    # Same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), several times faster (verification speed).
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
            f"{value.second:02d}.{value.microsecond:06d}Z")


def canonical_content(event: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed: the documented fields of one event as canonical JSON."""
    content = {name: event.get(name) for name in HASHED_FIELDS}
    content["occurred_at"] = _time(event["occurred_at"])
    content["recorded_at"] = _time(event["recorded_at"])
    content["details"] = event.get("details") or {}
    content["notes"] = event.get("notes") or ""
    content["seal_number"] = event.get("seal_number") or ""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(event: Mapping[str, Any]) -> str:
    if event.get("hash_version", HASH_VERSION) != HASH_VERSION:
        raise ValueError(f"unknown hash version {event.get('hash_version')!r}")
    return hashlib.sha256(canonical_content(event)).hexdigest()


def chain_rows(rows: Iterable[dict[str, Any]], *, prev_hash: str = GENESIS_HASH) -> list[dict[str, Any]]:
    """Fill prev_hash and hash of consecutive events of one item (for bulk loads and tests)."""
    out = []
    for row in rows:
        row = dict(row, prev_hash=prev_hash, hash_version=HASH_VERSION)
        row["hash"] = prev_hash = event_hash(row)
        out.append(row)
    return out


# --- verification ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Break:
    """The first event of an item at which its recorded history stops being trustworthy."""

    item_id: int
    seq: int | None  # None: the item itself (its cached head or custody) disagrees
    event_id: int | None
    reason: str
    where: str = ""  # what of the item disagrees, when not an event: "chain head", "current custody"

    def __str__(self) -> str:
        where = f"event #{self.seq}" if self.seq is not None else (self.where or "chain head")
        return f"item {self.item_id}, {where}: {self.reason}"


@dataclass
class ChainReport:
    items_checked: int = 0
    events_checked: int = 0
    breaks: dict[int, Break] = field(default_factory=dict)  # the first break per item
    heads: dict[int, dict[int, str]] = field(default_factory=dict)  # item -> {seq: hash} asked for by checkpoints

    @property
    def ok(self) -> bool:
        return not self.breaks


class _ItemChecker:
    """Walks one item's events in seq order and remembers the first thing that is wrong."""

    def __init__(self, item_id: int, report: ChainReport, wanted_seqs: set[int]) -> None:
        self.item_id, self.report, self.wanted = item_id, report, wanted_seqs
        self.expected_seq, self.prev_hash = 1, GENESIS_HASH
        self.custody = START  # the fold of the events read so far
        self.broken = False
        self.hashes: dict[int, str] = {}

    def fail(self, seq: int | None, event_id: int | None, reason: str, where: str = "") -> None:
        if not self.broken:
            self.broken = True
            self.report.breaks[self.item_id] = Break(self.item_id, seq, event_id, reason, where)

    def feed(self, row: Mapping[str, Any]) -> None:
        self.report.events_checked += 1
        seq = row["seq"]
        if seq in self.wanted:
            self.hashes[seq] = row["hash"]  # checkpoints compare the stored hash, chain or not
        if self.broken:
            return
        if seq != self.expected_seq:
            what = "missing (deleted?)" if seq > self.expected_seq else "out of order"
            self.fail(self.expected_seq, row["id"], f"event #{self.expected_seq} is {what}; found #{seq} next")
            return
        if row["prev_hash"] != self.prev_hash:
            self.fail(seq, row["id"], "its link to the previous event is broken (events removed, inserted "
                                      "or reordered before it)")
            return
        try:
            recomputed = event_hash(row)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            self.fail(seq, row["id"], f"its content cannot be read: {error}")
            return
        if recomputed != row["hash"]:
            self.fail(seq, row["id"], "its content does not match its hash (changed after it was recorded)")
            return
        self.expected_seq, self.prev_hash = seq + 1, row["hash"]
        self.custody = apply(self.custody, row)

    def finish(self, head_seq: int, head_hash: str, recorded: Custody = START) -> None:
        self.report.items_checked += 1
        if self.wanted:
            self.report.heads[self.item_id] = self.hashes
        if self.broken:
            return
        last = self.expected_seq - 1
        if last != head_seq:
            self.fail(last + 1 if last < head_seq else head_seq + 1, None,
                      f"the item records {head_seq} events but {last} are stored "
                      f"({'events after #' + str(last) + ' are missing' if last < head_seq else 'extra events'})")
        elif self.prev_hash != head_hash:
            self.fail(None, None, "the item's recorded chain head does not match its last event")
        elif recorded != self.custody:
            self.fail(None, None, "the item's recorded custody does not match its events (changed outside the "
                                  "application?): " + "; ".join(differences(recorded, self.custody)),
                      "current custody")


EVENT_COLUMNS = ("id", *(name for name in HASHED_FIELDS), "hash")


def _event_rows(connection: Connection, item_ids: list[int] | None, batch: int) -> Iterator[dict[str, Any]]:
    table = CustodyEvent.__table__
    stmt = select(*(table.c[name] for name in EVENT_COLUMNS)).order_by(table.c.item_id, table.c.seq, table.c.id)
    if item_ids is not None:
        stmt = stmt.where(table.c.item_id.in_(item_ids))
    # Per statement: Connection.execution_options() would change the caller's connection for good.
    result = connection.execute(stmt.execution_options(yield_per=batch))
    for partition in result.partitions():
        for row in partition:  # plain dicts: much faster to read than RowMapping
            yield dict(zip(EVENT_COLUMNS, row, strict=True))


def verify_chains(connection: Connection, *, item_ids: list[int] | None = None,
                  wanted: Mapping[int, set[int]] | None = None, batch: int = 5000) -> ChainReport:
    """Check every event of the given items (all items when None) against its hash and its neighbours.

    Works on a plain connection (no ORM, no request scope), so callers decide what it sees.
    `wanted` asks for the stored hashes at given seqs (for the checkpoint check).
    """
    wanted = wanted or {}
    items_table = Item.__table__
    stmt = select(items_table.c.id, items_table.c.head_seq, items_table.c.head_hash,
                  *(items_table.c[name] for name in CACHED_COLUMNS)).order_by(items_table.c.id)
    if item_ids is not None:
        stmt = stmt.where(items_table.c.id.in_(item_ids))
    heads = {row.id: (row.head_seq, row.head_hash, cached(row)) for row in connection.execute(stmt)}
    report = ChainReport()
    checker: _ItemChecker | None = None
    for row in _event_rows(connection, item_ids, batch):
        if checker is None or checker.item_id != row["item_id"]:
            if checker is not None:
                checker.finish(*heads.pop(checker.item_id, (0, GENESIS_HASH, START)))
            checker = _ItemChecker(row["item_id"], report, wanted.get(row["item_id"], set()))
        checker.feed(row)
    if checker is not None:
        checker.finish(*heads.pop(checker.item_id, (0, GENESIS_HASH, START)))
    for item_id, (head_seq, head_hash, recorded) in heads.items():  # items without any stored event
        empty = _ItemChecker(item_id, report, wanted.get(item_id, set()))
        empty.finish(head_seq, head_hash, recorded)
    return report
