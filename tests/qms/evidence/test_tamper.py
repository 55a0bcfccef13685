"""Tamper evidence: raw-SQL attacks on stored custody events are detected and the right item is named.

The tests play a database administrator: the append-only triggers refuse UPDATE and DELETE, so the
attacker first DROPS them (a database owner can), as a DBA could, then edits rows directly. The
triggers are put back afterwards. Histories are built in memory with the same hash function the
application uses and bulk-inserted, so hypothesis can try 1,000+ attacks in a few seconds.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qms.db import append_only_ddl, drop_append_only_ddl
from qms.evidence import custody
from qms.evidence.chain import chain_rows, event_hash, verify_chains
from qms.evidence.checkpoints import verify_all, write_checkpoint
from qms.evidence.models import CustodyEvent, EventKind, Item
from qms.evidence.state import fold
from qms.extensions import db
from tests.conftest import PASSWORD

EVENTS = CustodyEvent.__table__
ITEMS = Item.__table__
BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)
KINDS = [k.value for k in EventKind]


@contextmanager
def attacker(connection: sa.Connection) -> Iterator[None]:
    """Drop the append-only triggers like a DBA with owner rights would; restore them afterwards."""
    dialect = connection.dialect.name
    db.session.rollback()  # the application's own session must hold no lock on the tables (PostgreSQL DDL)
    for table in ("custody_event", "custody_checkpoint"):
        for statement in drop_append_only_ddl(table, dialect):
            connection.execute(sa.text(statement))
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        db.session.rollback()
        for table in ("custody_event", "custody_checkpoint"):
            for statement in append_only_ddl(table, dialect):
                connection.execute(sa.text(statement))
        connection.commit()


# --- building histories in memory --------------------------------------------------------------------

event_specs = st.lists(st.fixed_dictionaries({
    "kind": st.sampled_from(KINDS),
    "gap_seconds": st.integers(min_value=0, max_value=86_400 * 30),
    "utc_offset_minutes": st.sampled_from([0, 60, 120, -300, 330]),
    "notes": st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20),
    "seal_number": st.sampled_from(["", "S-1", "S-2"]),
    "witness": st.booleans(),
}), min_size=1, max_size=8)


def _insert_item(connection: sa.Connection, lab, specs: list[dict]) -> tuple[int, list[dict]]:  # type: ignore[no-untyped-def]
    item_id = connection.execute(sa.insert(ITEMS).values(
        unit_id=lab.unit.id, case_id=lab.case.id, exhibit_number=uuid.uuid4().hex[:12], item_type="bullet",
        description="d", make="", model="", serial_number="", calibre="", packaging="", collected_place="",
        collected_by_id=lab.csi.id, collected_at=BASE, label_code=uuid.uuid4().hex[:16], created_at=BASE,
        head_seq=0, head_hash="0" * 64, state="in_custody", seal_number="", sealed=False,
    ).returning(ITEMS.c.id)).scalar_one()
    at, rows = BASE, []
    for seq, spec in enumerate(specs, start=1):
        at = at + timedelta(seconds=spec["gap_seconds"])
        rows.append({"unit_id": lab.unit.id, "item_id": item_id, "seq": seq, "kind": spec["kind"], "occurred_at": at,
                     "utc_offset_minutes": spec["utc_offset_minutes"], "recorded_at": at, "actor_id": lab.csi.id,
                     "from_user_id": None, "to_user_id": lab.custodian.id if seq % 2 else None,
                     "witness_id": lab.examiner.id if spec["witness"] else None, "location_id": None,
                     "seal_number": spec["seal_number"], "refers_to_seq": None, "notes": spec["notes"],
                     "details": {"parties": {"actor": "csi1"}}})
    rows = chain_rows(rows)
    connection.execute(sa.insert(EVENTS), rows)
    # The item's cached custody is what the application would have set: the fold of its events.
    connection.execute(sa.update(ITEMS).where(ITEMS.c.id == item_id).values(
        head_seq=rows[-1]["seq"], head_hash=rows[-1]["hash"], **asdict(fold(rows))))
    return item_id, rows


# --- the attacks --------------------------------------------------------------------------------------

FIELDS = ["kind", "occurred_at", "utc_offset_minutes", "recorded_at", "actor_id", "to_user_id", "witness_id",
          "seal_number", "refers_to_seq", "notes", "details", "hash_version", "prev_hash", "hash", "seq", "unit_id",
          "item_id"]
attacks = st.one_of(
    st.tuples(st.just("change"), st.integers(0, 99), st.sampled_from(FIELDS)),
    st.tuples(st.just("delete"), st.integers(0, 99)),
    st.tuples(st.just("insert"), st.integers(0, 99), st.booleans()),
    st.tuples(st.just("reorder"), st.integers(0, 99), st.integers(1, 99)),
    st.tuples(st.just("cut"), st.integers(1, 99)),
)


def _changed(field: str, row: dict, lab, other_item: int) -> object:  # type: ignore[no-untyped-def]
    value = row[field]
    changes = {
        "kind": lambda: KINDS[(KINDS.index(value) + 1) % len(KINDS)],
        "occurred_at": lambda: value + timedelta(seconds=1),
        "recorded_at": lambda: value - timedelta(microseconds=1),
        "utc_offset_minutes": lambda: value + 60,
        "actor_id": lambda: lab.examiner.id,
        "to_user_id": lambda: lab.qm.id,
        "witness_id": lambda: lab.qm.id,
        "seal_number": lambda: (value or "") + "X",
        "refers_to_seq": lambda: 1 if value is None else value + 1,
        "notes": lambda: (value or "") + ".",
        "details": lambda: {"parties": {"actor": "someone else"}},
        "hash_version": lambda: 2,
        "prev_hash": lambda: ("1" if value[0] != "1" else "2") + value[1:],
        "hash": lambda: ("1" if value[0] != "1" else "2") + value[1:],
        "seq": lambda: value + 1000,
        "unit_id": lambda: lab.other_unit_id,
        "item_id": lambda: other_item,
    }
    return changes[field]()


def _apply(connection: sa.Connection, attack: tuple, rows: list[dict], lab, other_item: int) -> set[int]:  # type: ignore[no-untyped-def]
    """Tamper with one item's events; returns the items whose verification may legitimately fail."""
    item_id, n = rows[0]["item_id"], len(rows)
    where = (EVENTS.c.item_id == item_id)
    kind = attack[0]
    if kind == "change":
        row = rows[attack[1] % n]
        field = attack[2]
        value = _changed(field, row, lab, other_item)
        column = EVENTS.c[field]
        values = {column: value}
        if field == "item_id":  # moved to the end of another item's chain (UNIQUE(item_id, seq) stays)
            values[EVENTS.c.seq] = row["seq"] + 5000
        connection.execute(sa.update(EVENTS).where(EVENTS.c.id == row["id"]).values(values))
        return {item_id, other_item} if field == "item_id" else {item_id}
    if kind == "delete":
        connection.execute(sa.delete(EVENTS).where(where, EVENTS.c.seq == rows[attack[1] % n]["seq"]))
    elif kind == "cut":
        keep = n - 1 - (attack[1] % n)  # remove at least the last event
        connection.execute(sa.delete(EVENTS).where(where, EVENTS.c.seq > keep))
    elif kind == "reorder":
        if n < 2:
            connection.execute(sa.update(EVENTS).where(where).values(seq=2))  # the only event becomes #2
        else:
            a = attack[1] % n + 1
            b = (a - 1 + attack[2] % (n - 1) + 1) % n + 1  # a different seq
            connection.execute(sa.update(EVENTS).where(where, EVENTS.c.seq == a).values(seq=10_000_000))
            connection.execute(sa.update(EVENTS).where(where, EVENTS.c.seq == b).values(seq=a))
            connection.execute(sa.update(EVENTS).where(where, EVENTS.c.seq == 10_000_000).values(seq=b))
    elif kind == "insert":
        # A forged event with a correct hash of its own, linked to the event before it; in the
        # middle, the later events are renumbered to make room (as an attacker would have to).
        position = attack[1] % (n + 1) if attack[2] else n  # 0..n: insert before rows[position]
        for row in reversed(rows[position:]):
            connection.execute(sa.update(EVENTS).where(EVENTS.c.id == row["id"]).values(seq=row["seq"] + 1))
        prev = rows[position - 1]["hash"] if position else "0" * 64
        forged = {k: v for k, v in rows[min(position, n - 1)].items() if k not in ("id", "hash")}
        forged.update(seq=position + 1, prev_hash=prev, notes="forged")
        forged["hash"] = event_hash(forged)
        connection.execute(sa.insert(EVENTS).values(forged))
    return {item_id}


@pytest.fixture()
def attack_lab(lab, db_session, make_unit):  # type: ignore[no-untyped-def]
    lab.other_unit_id = make_unit(code="OTHER").id
    db_session.commit()
    return lab


@pytest.fixture()
def dba_connection(attack_lab):  # type: ignore[no-untyped-def]
    """One connection without the triggers for the whole property test; each example rolls back."""
    with db.engine.connect() as connection, attacker(connection):
        yield connection


EXAMPLES = int(os.environ.get("TAMPER_EXAMPLES", "1000"))  # the acceptance floor is 1,000


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(histories=st.lists(event_specs, min_size=2, max_size=3), target=st.integers(0, 2), attack=attacks)
def test_every_raw_sql_tamper_is_detected_and_names_the_item(attack_lab, dba_connection, histories, target, attack):
    connection = dba_connection
    try:
        built = [_insert_item(connection, attack_lab, specs) for specs in histories]
        stored = {item_id: [dict(r._mapping) for r in connection.execute(
            sa.select(EVENTS).where(EVENTS.c.item_id == item_id).order_by(EVENTS.c.seq))] for item_id, _ in built}
        ids = [item_id for item_id, _ in built]
        before = verify_chains(connection, item_ids=ids)
        assert before.ok, before.breaks  # untouched histories verify clean
        victim = ids[target % len(ids)]
        other = next(i for i in ids if i != victim)
        suspects = _apply(connection, attack, stored[victim], attack_lab, other)
        report = verify_chains(connection, item_ids=ids)
        assert victim in report.breaks, f"{attack} on item {victim} went unnoticed"
        assert set(report.breaks) <= suspects, f"{attack}: innocent items reported {set(report.breaks) - suspects}"
    finally:
        connection.rollback()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(event_specs, min_size=1, max_size=4))
def test_untouched_histories_always_verify_clean(attack_lab, histories):
    with db.engine.connect() as connection:
        ids = [_insert_item(connection, attack_lab, specs)[0] for specs in histories]
        report = verify_chains(connection, item_ids=ids)
        assert report.ok and report.events_checked == sum(map(len, histories)), report.breaks
        connection.rollback()


# --- the recompute attack and the checkpoints ------------------------------------------------------------

def _history(lab, db_session):  # type: ignore[no-untyped-def]
    item = custody.register_item(lab.case, actor=lab.csi, exhibit_number=uuid.uuid4().hex[:6], item_type="firearm",
                                 description="Revolver", seal_number="S-9")
    custody.transfer_custody(item, actor=lab.csi, receiver_username="keeper", receiver_password=PASSWORD)
    custody.store(item, actor=lab.custodian, location=lab.shelf)
    custody.remove_from_storage(item, actor=lab.examiner)
    custody.examine(item, actor=lab.examiner, notes="Test-fired twice")
    db_session.commit()
    return item


def _recompute_from(connection: sa.Connection, item_id: int, seq: int, **changes: object) -> None:
    """Edit event #seq, then recompute every later hash and the item's head (a DBA's perfect forgery)."""
    rows = [dict(r._mapping) for r in connection.execute(
        sa.select(EVENTS).where(EVENTS.c.item_id == item_id).order_by(EVENTS.c.seq))]
    prev = rows[seq - 2]["hash"] if seq > 1 else "0" * 64
    for row in rows[seq - 1:]:
        if row["seq"] == seq:
            row.update(changes)
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(row)
        edited = {k: row[k] for k in changes} if row["seq"] == seq else {}
        connection.execute(sa.update(EVENTS).where(EVENTS.c.id == row["id"]).values(
            prev_hash=row["prev_hash"], hash=row["hash"], **edited))
    connection.execute(sa.update(ITEMS).where(ITEMS.c.id == item_id).values(head_hash=prev))


def test_the_recompute_attack_passes_the_chain_but_not_the_checkpoint(lab, db_session):
    victim, bystander = _history(lab, db_session).id, _history(lab, db_session).id
    write_checkpoint(db_session, reason="daily")
    db_session.commit()
    with db.engine.connect() as connection, attacker(connection):
        _recompute_from(connection, victim, 3, notes="handed over to someone else entirely")
        connection.commit()
        assert verify_chains(connection).ok  # the chain alone is fooled: that is the known gap
        report = verify_all(connection)
        assert not report.ok
        assert report.broken_items() == {victim}
        assert any("differs from the signed chain head" in line for line in report.lines())
        assert bystander not in report.broken_items()


def test_cutting_the_tail_and_the_head_after_a_checkpoint_is_caught(lab, db_session):
    victim = _history(lab, db_session).id
    write_checkpoint(db_session, reason="daily")
    db_session.commit()
    with db.engine.connect() as connection, attacker(connection):
        head = connection.execute(sa.select(ITEMS.c.head_seq).where(ITEMS.c.id == victim)).scalar_one()
        last = connection.execute(sa.select(EVENTS.c.hash).where(EVENTS.c.item_id == victim, EVENTS.c.seq == head - 1))
        last_hash = last.scalar()
        connection.execute(sa.delete(EVENTS).where(EVENTS.c.item_id == victim, EVENTS.c.seq == head))
        connection.execute(sa.update(ITEMS).where(ITEMS.c.id == victim).values(head_seq=head - 1, head_hash=last_hash))
        connection.commit()
        assert verify_chains(connection).ok
        report = verify_all(connection)
        assert report.broken_items() == {victim}
        assert any("signed at this checkpoint, is missing" in line for line in report.lines())


def test_altered_or_deleted_checkpoints_are_caught(lab, db_session):
    _history(lab, db_session)
    first = write_checkpoint(db_session, reason="one")
    write_checkpoint(db_session, reason="two")
    db_session.commit()
    table, first_id = first.__table__, first.id
    leaves = [[leaf[0], leaf[1], "f" * 64] for leaf in first.leaves]
    with db.engine.connect() as connection, attacker(connection):
        connection.execute(sa.update(table).where(table.c.id == first_id).values(leaves=leaves))
        connection.commit()
        assert any("does not match the signed Merkle root" in line for line in verify_all(connection).lines())
        connection.execute(sa.update(table).where(table.c.id == first_id).values(root_hash="0" * 64))
        connection.commit()
        assert any("signature does not match" in line for line in verify_all(connection).lines())
        connection.execute(sa.delete(table).where(table.c.id == first_id))
        connection.commit()
        assert any("missing from the database" in line for line in verify_all(connection).lines())


def test_a_checkpoint_signed_with_another_key_is_refused(lab, db_session, tmp_path, app):
    _history(lab, db_session)
    write_checkpoint(db_session, reason="mine")
    db_session.commit()
    app.config["CHECKPOINT_KEY"] = str(tmp_path / "other.pem")
    report = verify_all(db_session.connection())
    assert any("key other than this installation's" in line for line in report.lines())


def test_the_key_file_is_private_and_outside_the_database(lab, db_session, app):
    import os
    import stat
    from pathlib import Path

    write_checkpoint(db_session, reason="first use")
    path = Path(app.config["INSTANCE_PATH"]) / "keys" / "checkpoint-ed25519.pem"
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert b"PRIVATE KEY" in path.read_bytes()


def test_triggers_refuse_update_and_delete_of_events(lab, pistol):
    with db.engine.connect() as connection:
        for statement in ("UPDATE custody_event SET notes = 'x'", "DELETE FROM custody_event"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                connection.execute(sa.text(statement))
            connection.rollback()


def test_the_orm_refuses_to_change_events_even_in_bulk(lab, pistol, db_session):
    from qms.trail.models import AppendOnlyError

    event = db_session.scalars(sa.select(CustodyEvent)).first()
    event.notes = "changed"
    with pytest.raises(AppendOnlyError):
        db_session.flush()
    db_session.rollback()
    with pytest.raises(AppendOnlyError):
        db_session.execute(sa.update(CustodyEvent).values(notes="bulk"))
    db_session.rollback()
