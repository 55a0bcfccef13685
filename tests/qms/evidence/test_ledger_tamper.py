"""Tampering after the most recent signed head is caught, and the item and the kind of tamper are named.

The history is recorded through the custody services, one commit per action, so every event is in
the log with a signed head, as in production. The attacker then plays a database administrator who
drops the append-only triggers and edits rows with recomputed hashes (the chain alone cannot see
that). Each hypothesis example works inside one transaction that is rolled back, and verification
reads through the same connection, so 1,000 attacks cost one history.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import asdict
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qms.evidence import custody
from qms.evidence.chain import event_hash, verify_chains
from qms.evidence.models import CustodyEvent, Item
from qms.evidence.state import CACHED_COLUMNS, fold
from qms.extensions import db
from qms.ledger import ledger_path, verify_instance
from tests.conftest import PASSWORD
from tests.qms.evidence.test_tamper import attacker

EVENTS, ITEMS = CustodyEvent.__table__, Item.__table__
EXAMPLES = int(os.environ.get("TAMPER_EXAMPLES", "1000"))  # the acceptance floor is 1,000


def _record_history(lab, db_session, actions: int) -> Item:  # type: ignore[no-untyped-def]
    item = custody.register_item(lab.case, actor=lab.csi, exhibit_number=uuid.uuid4().hex[:6], item_type="bullet",
                                 description="Bullet", seal_number=f"S-{uuid.uuid4().hex[:6]}")
    db_session.commit()
    steps = [lambda: custody.transfer_custody(item, actor=lab.csi, receiver_username="keeper",
                                              receiver_password=PASSWORD),
             lambda: custody.store(item, actor=lab.custodian, location=lab.shelf),
             lambda: custody.remove_from_storage(item, actor=lab.examiner),
             lambda: custody.examine(item, actor=lab.examiner, notes="Measured"),
             lambda: custody.examine(item, actor=lab.examiner, notes="Photographed the base")]
    for step in steps[:actions]:
        step()
        db_session.commit()  # one signed head per commit, as in production
    return item


@pytest.fixture()
def history(lab, db_session):  # type: ignore[no-untyped-def]
    items = [_record_history(lab, db_session, actions) for actions in (1, 3, 5, 2, 4)]
    return [item.id for item in items]


def _rows(connection: sa.Connection, item_id: int) -> list[dict]:
    return [dict(r._mapping) for r in connection.execute(
        sa.select(EVENTS).where(EVENTS.c.item_id == item_id).order_by(EVENTS.c.seq))]


def _set_head(connection: sa.Connection, item_id: int, rows: list[dict]) -> None:
    """Make the item agree with the events left: head and cached custody (the attacker recomputes the fold)."""
    custody = asdict(fold(rows))
    connection.execute(sa.update(ITEMS).where(ITEMS.c.id == item_id).values(
        head_seq=len(rows), head_hash=rows[-1]["hash"], **{name: custody[name] for name in CACHED_COLUMNS}))


def _rechain(connection: sa.Connection, item_id: int, rows: list[dict], start: int) -> None:
    """Write rows[start:] back as seq start+1.. with recomputed links and hashes; update the item's head."""
    prev = rows[start - 1]["hash"] if start else "0" * 64
    ids = [row["id"] for row in rows[start:]]
    connection.execute(sa.update(EVENTS).where(EVENTS.c.id.in_(ids)).values(seq=EVENTS.c.seq + 1_000_000))
    for position, row in enumerate(rows[start:], start=start + 1):
        row = dict(row, seq=position, prev_hash=prev)
        row["hash"] = prev = event_hash(row)
        connection.execute(sa.update(EVENTS).where(EVENTS.c.id == row["id"]).values(
            {k: v for k, v in row.items() if k != "id"}))
        rows[position - 1] = row
    _set_head(connection, item_id, rows)


REWRITES = {
    "notes": lambda row, lab: {"notes": row["notes"] + " (amended)"},
    "occurred_at": lambda row, lab: {"occurred_at": row["occurred_at"] - timedelta(minutes=7)},
    "actor_id": lambda row, lab: {"actor_id": lab.qm.id if row["actor_id"] != lab.qm.id else lab.csi.id},
    "details": lambda row, lab: {"details": {**row["details"], "parties": {"actor": "someone else"}}},
    "seal_number": lambda row, lab: {"seal_number": row["seal_number"] + "X"},
}

attacks = st.one_of(
    st.tuples(st.just("rewritten"), st.integers(0, 99), st.sampled_from(sorted(REWRITES))),
    st.tuples(st.just("truncated"), st.integers(0, 99)),
    st.tuples(st.just("item deleted")),
    st.tuples(st.just("reordered"), st.integers(0, 99), st.integers(1, 99)),
)


def _attack(connection: sa.Connection, lab, item_id: int, attack: tuple) -> None:  # type: ignore[no-untyped-def]
    rows, kind = _rows(connection, item_id), attack[0]
    n = len(rows)
    if kind == "rewritten":
        at = attack[1] % n
        rows[at] = dict(rows[at], **REWRITES[attack[2]](rows[at], lab))
        _rechain(connection, item_id, rows, at)
    elif kind == "truncated":
        keep = 1 + attack[1] % (n - 1)  # cut at least one event, keep at least one
        connection.execute(sa.delete(EVENTS).where(EVENTS.c.item_id == item_id, EVENTS.c.seq > keep))
        _set_head(connection, item_id, rows[:keep])
    elif kind == "item deleted":
        connection.execute(sa.delete(EVENTS).where(EVENTS.c.item_id == item_id))
        connection.execute(sa.delete(ITEMS).where(ITEMS.c.id == item_id))
    elif kind == "reordered":
        a = attack[1] % n
        b = (a + 1 + attack[2] % (n - 1)) % n
        a, b = min(a, b), max(a, b)
        rows[a], rows[b] = rows[b], rows[a]
        _rechain(connection, item_id, rows, a)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def _examples(data, lab, items, connection):  # type: ignore[no-untyped-def]
    victim = data.draw(st.sampled_from(items), label="victim")
    attack = data.draw(attacks, label="attack")
    try:
        _attack(connection, lab, victim, attack)
        assert verify_chains(connection, item_ids=[victim]).ok or attack[0] == "item deleted", \
            "the attack should fool the hash chain on its own"
        report = verify_instance(connection)
        assert report.by_item() == {victim: attack[0]}, (attack, report.lines())
    finally:
        connection.rollback()


def test_every_tamper_after_the_latest_signed_head_is_detected_and_named(lab, history):
    with db.engine.connect() as connection:
        assert verify_instance(connection).ok  # untouched, the database and the log agree
    with db.engine.connect() as connection, attacker(connection):
        _examples(lab, history, connection)


def test_custody_verify_names_the_item_and_the_tamper(lab, history, app):
    victim = history[2]
    with db.engine.connect() as connection, attacker(connection):
        _attack(connection, lab, victim, ("rewritten", 2, "notes"))
        connection.commit()
    result = app.test_cli_runner().invoke(args=["custody", "verify"])
    assert result.exit_code == 1
    assert f"item {victim}, event #3: rewritten" in result.output
    assert "Ledger:" in result.output and "1 problem(s)" in result.output


def test_the_log_itself_cannot_be_edited_or_cut_without_notice(lab, history):
    path = ledger_path()
    original = path.read_bytes()
    lines = original.splitlines(keepends=True)
    heads = [i for i, line in enumerate(lines) if line.startswith(b'{"tx"')]
    with db.engine.connect() as connection:
        # A leaf changed to match a forged row: the signed root no longer matches.
        path.write_bytes(original.replace(b"custody_event ", b"custody_event 9", 1))
        assert any("do not give its signed root" in line for line in verify_instance(connection).lines())
        # The log cut before the last head: the database holds events the log never saw.
        path.write_bytes(b"".join(lines[:heads[-1]]))
        assert "unlogged" in verify_instance(connection).by_item().values()
        # An outcome flipped from committed to aborted, to hide a deletion: the next head vouches otherwise.
        path.write_bytes(original.replace(b'"o":"c"', b'"o":"a"', 1))
        assert any("outcome altered" in line for line in verify_instance(connection).lines())
    path.write_bytes(original)
