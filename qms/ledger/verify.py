"""Compare the database with the log: every acknowledged row must be there, unchanged, in its place.

The log is checked first on its own (each head's signature, size and Merkle root over the leaves
before it, and the outcome each head vouches for); then each logged custody event is looked up by
id. What is wrong is named per item, at the first event where it goes wrong:

  rewritten  the event's content differs from what was logged (hashes recomputed or not)
  reordered  the logged content stands at another seq of the item
  truncated  logged events after the item's last stored event are missing
  deleted    a logged event in the middle of the item's history is missing
  item deleted  the item and every one of its logged events are gone
  unlogged   a stored event that was never logged (inserted outside the application)

SOP approval records are compared the same way (rewritten, deleted, unlogged), and so are the rows
of the audit trail, per row:

  rewritten  the row's content differs from what was logged
  reordered  the row holds the logged content of another trail row
  truncated  logged rows after the last stored trail row are missing (one report for the run)
  deleted    a logged row before the last stored one is missing
  unlogged   a stored row that was never logged
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, select

from qms.evidence.models import Item
from qms.ledger.leaves import COVERED, custody_body, parse
from qms.ledger.merkle import CompactRange, leaf_hash
from qms.ledger.store import COMMITTED, head_message, public_key_matches, read_lines

KINDS = ("rewritten", "reordered", "truncated", "deleted", "item deleted", "unlogged")


@dataclass(frozen=True)
class Problem:
    table: str  # custody_event, sop_revision_event, or "log" for the file itself
    kind: str
    item_id: int | None = None  # custody events: the item; SOP approvals: the record id
    seq: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        if self.table == "log":
            return f"ledger: {self.detail}"
        if self.table == "custody_event":
            where = f"item {self.item_id}" + (f", event #{self.seq}" if self.seq is not None else "")
        elif self.table == "audit_event":
            where = f"audit trail row {self.item_id}"
        else:
            where = f"SOP approval record {self.item_id}"
        return f"{where}: {self.kind} ({self.detail})"


@dataclass
class LedgerReport:
    heads_checked: int = 0
    leaves_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_item(self) -> dict[int, str]:
        """Custody items named, with the kind of tamper found first."""
        named: dict[int, str] = {}
        for problem in self.problems:
            if problem.table == "custody_event" and problem.item_id is not None:
                named.setdefault(problem.item_id, problem.kind)
        return named

    def trail_rows(self) -> dict[int, str]:
        """Audit-trail rows named, with the kind of tamper."""
        return {problem.item_id: problem.kind for problem in self.problems
                if problem.table == "audit_event" and problem.item_id is not None}

    def lines(self) -> list[str]:
        return [str(problem) for problem in self.problems]


@dataclass
class Logged:
    leaf: str
    outcome: str | None  # c, a, r, x, or None (no outcome yet: in flight, or its process died)


# --- the log on its own -------------------------------------------------------------------------------

def read_log(path: Path, public_key: Ed25519PublicKey, report: LedgerReport) -> list[Logged]:
    """Every leaf with its outcome, after checking every head; problems of the file go to the report."""
    if not path.exists():
        return []
    try:
        lines, _end, _torn = read_lines(path)
    except (ValueError, UnicodeDecodeError) as error:
        report.problems.append(Problem("log", "unreadable", detail=f"{path.name} cannot be read: {error}"))
        return []
    tree, logged, outcomes = CompactRange(), [], {}
    by_tx: dict[int, list[Logged]] = {}
    last_tx = 0
    for line in lines:
        body = line.body
        if "end" in body:
            outcomes[body["end"]] = body["o"]
            continue
        for problem in _check_head(body, tree, public_key, last_tx, outcomes):
            report.problems.append(problem)
            return logged  # nothing after a bad head can be trusted
        report.heads_checked += 1
        last_tx = body["tx"]
        entries = [Logged(leaf, None) for leaf in body["leaves"]]
        by_tx[last_tx] = entries
        logged.extend(entries)
    for number, entries in by_tx.items():
        for entry in entries:
            entry.outcome = outcomes.get(number)
    return logged


def _check_head(body: dict[str, Any], tree: CompactRange, public_key: Ed25519PublicKey, last_tx: int,
                outcomes: dict[int, str]) -> Iterator[Problem]:
    number = body.get("tx")
    if number != last_tx + 1:
        yield Problem("log", "rewritten", detail=f"head {number} follows head {last_tx} (heads removed or reordered)")
        return
    if not public_key_matches(public_key, body.get("kid", "")):
        yield Problem("log", "rewritten", detail=f"head {number} is signed with a key other than this installation's")
        return
    prev = outcomes.get(last_tx) if last_tx else None
    for leaf in body["leaves"]:
        tree.append(leaf_hash(leaf.encode()))
    if tree.size != body["size"] or tree.root().hex() != body["root"]:
        yield Problem("log", "rewritten", detail=f"the leaves up to head {number} do not give its signed root "
                                                 "(log altered)")
        return
    try:
        public_key.verify(bytes.fromhex(body["sig"]), head_message(
            tx=number, size=body["size"], root=body["root"], at=body["at"], kid=body["kid"], prev=body["prev"]))
    except (InvalidSignature, ValueError):
        yield Problem("log", "rewritten", detail=f"the signature of head {number} does not match (log altered)")
        return
    if body["prev"] != prev:
        yield Problem("log", "rewritten", detail=f"head {number} vouches that transaction {last_tx} ended "
                                                 f"{body['prev']!r}, the log says {prev!r} (outcome altered)")


# --- the database against the log -------------------------------------------------------------------

def verify_ledger(connection: Connection, path: Path, public_key: Ed25519PublicKey) -> LedgerReport:
    """Check the log, then every covered table against it; works on the caller's connection."""
    report = LedgerReport()
    logged = read_log(path, public_key, report)
    report.leaves_checked = len(logged)
    if any(problem.table == "log" for problem in report.problems):
        return report
    grouped: dict[str, list[Logged]] = defaultdict(list)
    for entry in logged:
        grouped[parse(entry.leaf)[0]].append(entry)
    _check_custody(connection, grouped.pop("custody_event", []), report)
    _check_records(connection, grouped.pop("sop_revision_event", []), report)
    _check_trail(connection, grouped.pop("audit_event", []), report)
    for table in grouped:
        report.problems.append(Problem("log", "unknown", detail=f"leaves of an unknown table {table!r}"))
    return report


def _stored(connection: Connection, table: str) -> dict[int, dict[str, Any]]:
    covered = COVERED[table]
    columns = [covered.table.c[name] for name in covered.columns]
    return {row[0]: dict(zip(covered.columns, row, strict=True))
            for row in connection.execute(select(*columns).order_by(covered.table.c.id))}


def _split_by_outcome(logged: list[Logged]) -> tuple[dict[int, str], dict[int, set[str]]]:
    """Committed leaves by row id, and the leaves of commits that failed or were cut short.

    A failed commit's row id may be used again by a later commit (SQLite reuses the highest id), so
    only committed leaves bind a row; a stored row equal to an unsettled leaf is accepted (a commit
    that completed in the server after its client process died).
    """
    committed: dict[int, str] = {}
    uncertain: dict[int, set[str]] = defaultdict(set)
    for entry in logged:
        row_id = parse(entry.leaf)[1]
        if entry.outcome in COMMITTED:
            committed[row_id] = entry.leaf
        else:
            uncertain[row_id].add(entry.leaf)
    return committed, uncertain


def _check_custody(connection: Connection, logged: list[Logged], report: LedgerReport) -> None:
    stored = _stored(connection, "custody_event")
    items = set(connection.execute(select(Item.__table__.c.id)).scalars())
    last_seq: dict[int, int] = defaultdict(int)
    for row in stored.values():
        last_seq[row["item_id"]] = max(last_seq[row["item_id"]], row["seq"])
    found: dict[int, list[tuple[int, str, str]]] = defaultdict(list)  # item -> (seq, kind, detail)
    committed, uncertain = _split_by_outcome(logged)
    entries = []
    bodies: dict[tuple[int, str], int] = {}  # (item, content) -> logged seq
    for row_id, leaf in committed.items():
        _table, _id, (item_id, seq, chain_hash, body) = parse(leaf)
        entries.append((row_id, int(item_id), int(seq), chain_hash, body))
        bodies[(int(item_id), body)] = int(seq)
    for row_id, item_id, seq, chain_hash, body in entries:
        row = stored.get(row_id)
        if row is None:
            if item_id not in items or last_seq[item_id] == 0:
                found[item_id].append((seq, "item deleted", "the item and its logged events are gone"))
            elif seq > last_seq[item_id]:
                found[item_id].append((seq, "truncated", f"logged events after #{last_seq[item_id]} are missing"))
            else:
                found[item_id].append((seq, "deleted", "a logged event is missing"))
            continue
        stored_body = custody_body(row)
        if (row["item_id"], row["seq"]) == (item_id, seq) and (row["hash"], stored_body) == (chain_hash, body):
            continue
        if row["item_id"] == item_id and stored_body != body and bodies.get((item_id, stored_body), seq) != row["seq"]:
            found[item_id].append((min(seq, row["seq"]), "reordered", "logged content stands at another seq"))
        elif row["item_id"] == item_id and row["seq"] != seq:
            found[item_id].append((min(seq, row["seq"]), "reordered", f"logged as #{seq}, stored as #{row['seq']}"))
        else:
            found[item_id].append((seq, "rewritten", "content differs from the logged event"))
            if row["item_id"] != item_id:
                found[row["item_id"]].append((row["seq"], "rewritten", f"holds event {row_id} of item {item_id}"))
    leaf = COVERED["custody_event"].leaf
    for row_id, row in stored.items():
        if row_id not in committed and leaf(row) not in uncertain.get(row_id, ()):
            found[row["item_id"]].append((row["seq"], "unlogged", "a stored event that was never logged"))
    for item_id in sorted(found):
        seq, kind, detail = min(found[item_id], key=lambda f: (f[0], KINDS.index(f[1])))
        report.problems.append(Problem("custody_event", kind, item_id, seq, detail))


def _check_records(connection: Connection, logged: list[Logged], report: LedgerReport) -> None:
    leaf = COVERED["sop_revision_event"].leaf
    stored = _stored(connection, "sop_revision_event")
    committed, uncertain = _split_by_outcome(logged)
    for row_id, logged_leaf in committed.items():
        row = stored.get(row_id)
        if row is None:
            report.problems.append(Problem("sop_revision_event", "deleted", row_id, detail="a logged record is missing"))
        elif leaf(row) != logged_leaf:
            report.problems.append(Problem("sop_revision_event", "rewritten", row_id,
                                           detail="content differs from the logged record"))
    for row_id, row in stored.items():
        if row_id not in committed and leaf(row) not in uncertain.get(row_id, ()):
            report.problems.append(Problem("sop_revision_event", "unlogged", row_id, detail="never logged"))


def _check_trail(connection: Connection, logged: list[Logged], report: LedgerReport) -> None:
    leaf = COVERED["audit_event"].leaf
    stored = _stored(connection, "audit_event")
    committed, uncertain = _split_by_outcome(logged)
    logged_at = {parse(logged_leaf)[2][0]: row_id for row_id, logged_leaf in committed.items()}  # digest -> id
    last_stored = max(stored, default=0)
    missing_tail: list[int] = []
    for row_id, logged_leaf in committed.items():
        row = stored.get(row_id)
        if row is None:
            if row_id > last_stored:
                missing_tail.append(row_id)
            else:
                report.problems.append(Problem("audit_event", "deleted", row_id, detail="a logged row is missing"))
            continue
        stored_leaf = leaf(row)
        if stored_leaf == logged_leaf:
            continue
        other = logged_at.get(parse(stored_leaf)[2][0])
        if other is not None and other != row_id:
            report.problems.append(Problem("audit_event", "reordered", row_id,
                                           detail=f"holds the logged content of trail row {other}"))
        else:
            report.problems.append(Problem("audit_event", "rewritten", row_id,
                                           detail="content differs from the logged row"))
    if missing_tail:
        report.problems.append(Problem("audit_event", "truncated", min(missing_tail),
                                       detail=f"{len(missing_tail)} logged row(s) after row {last_stored} are missing"))
    for row_id, row in stored.items():
        if row_id not in committed and leaf(row) not in uncertain.get(row_id, ()):
            report.problems.append(Problem("audit_event", "unlogged", row_id, detail="never logged"))


def head_summary(path: Path) -> dict[str, Any] | None:
    """The latest signed head as JSON-able data (for a witness to keep)."""
    last = None
    for line in read_lines(path)[0]:
        if "tx" in line.body:
            last = {k: line.body[k] for k in ("tx", "size", "root", "at", "kid", "sig")}
    return json.loads(json.dumps(last)) if last else None
