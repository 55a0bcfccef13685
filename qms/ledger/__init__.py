"""The transparency log: every custody event, SOP approval record and audit-trail row is a leaf of an
RFC 9162 Merkle tree kept in a file outside the database, signed at every commit that adds one.

The unit of work (request or CLI command) stays the one commit: a session hook collects the new
rows at flush (ORM objects; the trail, inserted in bulk, hands its rows over with `log_rows`), and
at commit, after the last flush and BEFORE the database commits, appends their
leaves with a signed tree head and fsyncs; after the database answers it records the outcome.
So an acknowledged event (the response is only sent after the commit) is always in the log, and
a leaf whose commit failed is marked aborted (or, if the process died, settled by the next writer
from the database). `qms.ledger.verify` compares the database with the log.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from qms.ledger.store import Ledger, Transaction
from qms.trail.audited import on_trail_rows

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from qms.ledger.verify import LedgerReport

_LEDGERS: dict[tuple[str, str], Ledger] = {}
PENDING, ROWS, OPEN = "ledger_pending", "ledger_rows", "ledger_open"


def ledger_path() -> Path:
    configured = current_app.config.get("LEDGER_DIR")
    folder = Path(configured) if configured else Path(current_app.config["INSTANCE_PATH"]) / "ledger"
    from qms.ledger.store import LOG_NAME

    return folder / LOG_NAME


def current_ledger() -> Ledger:
    """This process's handle on the instance's log (one per log file and key)."""
    from qms.evidence.checkpoints import key_id, key_path, load_private_key

    path = ledger_path()
    cache_key = (str(path), str(key_path()))
    ledger = _LEDGERS.get(cache_key)
    if ledger is None:
        key = load_private_key()
        ledger = _LEDGERS[cache_key] = Ledger(path, key, key_id(key.public_key()))
    return ledger


def _enabled() -> bool:
    return has_app_context() and bool(current_app.config.get("LEDGER_ENABLED", True))


# --- session hooks ------------------------------------------------------------------------------------

def _collect(session: Session, flush_context: UOWTransaction) -> None:
    from qms.ledger.leaves import BY_MODEL

    new = [obj for obj in session.new if type(obj) in BY_MODEL]
    if new:
        session.info.setdefault(PENDING, []).extend(new)


def log_rows(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """Rows of a covered table inserted without ORM objects (with their ids): logged at the commit.

    Each batch remembers the savepoint it was written in, so a rolled-back savepoint drops it.
    """
    session.info.setdefault(ROWS, []).append((session.get_nested_transaction(), table, rows))


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    batches = session.info.get(ROWS)
    if batches and previous.nested:
        session.info[ROWS] = [batch for batch in batches if not _within(batch[0], previous)]


def _is_outermost(session: Session) -> bool:
    """A savepoint's release or rollback fires the commit and rollback hooks too: only the outermost counts."""
    return session.get_nested_transaction() is None


def _prepare(session: Session) -> None:
    if not _is_outermost(session) or not _enabled():
        return
    # The last flush happens now (commit flushes only after this hook), so the trail rows it writes
    # are logged too and nothing reaches the database unlogged; on a clean session it does nothing.
    session.flush()
    if not session.info.get(PENDING) and not session.info.get(ROWS):
        return
    from sqlalchemy import inspect

    from qms.ledger.leaves import COVERED, leaf_of

    # Rows of a rolled-back savepoint are no longer persistent: they will not be committed.
    objects = [obj for obj in session.info.pop(PENDING, ()) if inspect(obj).persistent]
    leaves = [leaf for leaf in map(leaf_of, objects) if leaf]
    for _savepoint, table, rows in session.info.pop(ROWS, ()):
        leaves.extend(map(COVERED[table].leaf, rows))
    if not leaves:
        return
    ledger = current_ledger()
    ledger.acquire()
    try:
        transaction = ledger.prepare(leaves, committed=_rows_committed, adopt=lambda: _existing_leaves(session))
    except BaseException:
        ledger.release()
        raise
    session.info[OPEN] = (ledger, transaction)


def _end(session: Session, outcome: str) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(ROWS, None)
    held: tuple[Ledger, Transaction] | None = session.info.pop(OPEN, None)
    if held is None:
        return
    ledger, transaction = held
    try:
        ledger.finish(transaction, outcome)
    finally:
        ledger.release()


def _after_commit(session: Session) -> None:
    if _is_outermost(session):
        _end(session, "c")


def _after_rollback(session: Session) -> None:
    if _is_outermost(session):
        _end(session, "a")


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without commit or rollback hook
        _end(session, "a")


# --- the database's view, for settling and adopting ----------------------------------------------------

def _rows_committed(leaves: list[str]) -> bool:
    """Is a dead process's transaction in the database? Asked on a connection of its own (committed data)."""
    from qms.extensions import db
    from qms.ledger.leaves import COVERED, parse

    if not leaves:
        return False
    table, row_id, _ = parse(leaves[-1])  # one transaction commits all its rows or none
    covered = COVERED[table]
    with db.engine.connect() as connection:
        found = connection.execute(select(covered.table.c.id).where(covered.table.c.id == row_id)).first()
    return found is not None


def _existing_leaves(session: Session) -> list[str]:
    """Rows recorded before this log existed (an installation upgraded to the ledger)."""
    from qms.ledger.leaves import COVERED

    existing: list[str] = []
    connection = session.connection()
    for covered in COVERED.values():
        columns = [covered.table.c[name] for name in covered.columns]
        for row in connection.execute(select(*columns).order_by(covered.table.c.id)):
            existing.append(covered.leaf(dict(zip(covered.columns, row, strict=True))))
    return existing


_registered = False


def init_app(app: Flask) -> None:
    """Register the session hooks (once per process; they act only where LEDGER_ENABLED is not False)."""
    global _registered
    app.config.setdefault("LEDGER_ENABLED", True)
    if _registered:
        return
    on_trail_rows(log_rows)  # the trail tells the ledger what it wrote; it does not know the ledger
    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "before_commit", _prepare)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _after_rollback)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    event.listen(Session, "after_transaction_end", _after_transaction_end)
    _registered = True


__all__ = ["current_ledger", "init_app", "ledger_path", "log_rows", "verify_instance"]


def verify_instance(connection: "Connection") -> "LedgerReport":
    """This instance's database (as the connection sees it) against this instance's log and key."""
    from qms.evidence.checkpoints import load_private_key
    from qms.ledger.verify import verify_ledger

    return verify_ledger(connection, ledger_path(), load_private_key().public_key())
