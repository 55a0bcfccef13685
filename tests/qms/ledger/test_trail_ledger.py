"""Audit-trail rows are leaves of the transparency log: tampering with an acknowledged row is named.

The trail is written by the application (units and users created, one commit each), so every row
is in the log with a signed head. The attacker then plays a database owner who drops the trail's
append-only triggers and rewrites, deletes, swaps or forges rows after the latest head.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from qms.auth import services
from qms.db import append_only_ddl, drop_append_only_ddl
from qms.extensions import db
from qms.ledger import ledger_path, verify_instance
from qms.ledger.store import read_lines
from qms.trail.models import AuditEvent

TRAIL = AuditEvent.__table__


@contextmanager
def trail_owner(connection: sa.Connection) -> Iterator[None]:
    """Drop the trail's append-only triggers as its owner could; restore them afterwards."""
    dialect = connection.dialect.name
    db.session.rollback()  # the application's session must hold no lock on the table (PostgreSQL DDL)
    for statement in drop_append_only_ddl("audit_event", dialect):
        connection.execute(sa.text(statement))
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        for statement in append_only_ddl("audit_event", dialect):
            connection.execute(sa.text(statement))
        connection.commit()


@pytest.fixture()
def trail(app, make_unit, make_user) -> list[int]:  # type: ignore[no-untyped-def]
    """Trail rows written by several commits; their ids in order."""
    unit = make_unit(code="TRL")
    for n in range(3):
        user = make_user(unit, username=f"trail{n}")
        user.full_name = f"Renamed {n}"
        db.session.commit()
    ids = list(db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id)))
    assert len(ids) >= 6
    return ids


def _report(connection: sa.Connection) -> dict[int, str]:
    report = verify_instance(connection)
    assert all(problem.table == "audit_event" for problem in report.problems), report.lines()
    return report.trail_rows()


def _logged_trail_leaves() -> list[str]:
    return [leaf for line in read_lines(ledger_path())[0] if "tx" in line.body
            for leaf in line.body["leaves"] if leaf.startswith("audit_event ")]


def test_every_trail_row_is_logged_and_an_untouched_database_verifies_clean(trail):
    assert sorted(int(leaf.split()[1]) for leaf in _logged_trail_leaves()) == trail
    with db.engine.connect() as connection:
        report = verify_instance(connection)
    assert report.ok, report.lines()


def test_a_rewritten_trail_row_is_named(trail, app):
    victim = trail[len(trail) // 2]
    with db.engine.connect() as connection, trail_owner(connection):
        connection.execute(sa.update(TRAIL).where(TRAIL.c.id == victim).values(reason="nothing happened"))
        connection.commit()
    with db.engine.connect() as connection:
        assert _report(connection) == {victim: "rewritten"}
    result = app.test_cli_runner().invoke(args=["custody", "verify"])
    assert result.exit_code == 1
    assert f"audit trail row {victim}: rewritten" in result.output


def test_a_deleted_trail_row_is_named(trail):
    victim = trail[1]
    with db.engine.connect() as connection, trail_owner(connection):
        connection.execute(sa.delete(TRAIL).where(TRAIL.c.id == victim))
        assert _report(connection) == {victim: "deleted"}


def test_a_truncated_trail_is_named_at_its_first_missing_row(trail):
    with db.engine.connect() as connection, trail_owner(connection):
        connection.execute(sa.delete(TRAIL).where(TRAIL.c.id >= trail[-2]))
        assert _report(connection) == {trail[-2]: "truncated"}


def test_swapped_trail_rows_are_named_reordered(trail):
    first, second = trail[1], trail[3]
    with db.engine.connect() as connection, trail_owner(connection):
        columns = [c for c in TRAIL.c if c.name != "id"]
        rows = {row.id: {c.name: getattr(row, c.name) for c in columns}
                for row in connection.execute(sa.select(TRAIL).where(TRAIL.c.id.in_([first, second])))}
        connection.execute(sa.update(TRAIL).where(TRAIL.c.id == first).values(rows[second]))
        connection.execute(sa.update(TRAIL).where(TRAIL.c.id == second).values(rows[first]))
        assert _report(connection) == {first: "reordered", second: "reordered"}


def test_a_forged_trail_row_after_the_latest_head_is_named(trail, app):
    with db.engine.connect() as connection:
        latest = connection.execute(sa.select(TRAIL).where(TRAIL.c.id == trail[-1])).one()._asdict()
        forged = connection.execute(sa.insert(TRAIL).values(
            {**{k: v for k, v in latest.items() if k != "id"}, "reason": "approved by the director"})
            .returning(TRAIL.c.id)).scalar_one()
        connection.commit()
    with db.engine.connect() as connection:
        assert _report(connection) == {forged: "unlogged"}
    result = app.test_cli_runner().invoke(args=["custody", "verify"])
    assert result.exit_code == 1
    assert f"audit trail row {forged}: unlogged" in result.output


def test_trail_rows_of_a_rolled_back_savepoint_are_not_logged_and_a_released_one_is(app, make_unit):
    unit = make_unit(code="SVP")
    with pytest.raises(RuntimeError):
        with db.session.begin_nested():
            services.create_unit(code="GONE", name="Rolled back")
            db.session.flush()
            raise RuntimeError("undo the savepoint")
    with db.session.begin_nested():
        unit.name = "Kept in a released savepoint"
    services.create_unit(code="KEPT", name="After the savepoints")
    db.session.commit()
    stored = set(db.session.scalars(sa.select(AuditEvent.id)))
    assert sorted(int(leaf.split()[1]) for leaf in _logged_trail_leaves()) == sorted(stored)
    with db.engine.connect() as connection:
        report = verify_instance(connection)
    assert report.ok, report.lines()
