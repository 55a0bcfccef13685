"""The audit trail: one mechanism records every change; nobody can rewrite it."""
from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError

from qms.auth import services
from qms.auth.models import Role, Unit
from qms.trail.audited import audit_reason
from qms.trail.models import AppendOnlyError, AuditEvent


def _events(db_session, entity: str, entity_id: int) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.entity == entity, AuditEvent.entity_id == str(entity_id))
    return list(db_session.scalars(stmt.order_by(AuditEvent.id)))


def test_insert_and_update_are_recorded_with_before_and_after(db_session, make_unit):
    unit = make_unit(code="FC-TEST", name="Old name")
    unit.name = "New name"
    with audit_reason(db_session, "renamed after the reorganisation"):
        db_session.commit()
    insert, update = _events(db_session, "Unit", unit.id)
    assert insert.action == "insert" and insert.before is None and insert.after["name"] == "Old name"
    assert update.action == "update"
    assert update.before == {"name": "Old name"} and update.after == {"name": "New name"}
    assert update.reason == "renamed after the reorganisation"
    assert update.at.tzinfo is not None


def test_delete_is_recorded_with_the_values_it_removed(db_session, make_unit, make_user):
    unit = make_unit()
    user = make_user(unit, Role.VIEWER, Role.EXAMINER)
    services.revoke_role(user, unit.id, Role.EXAMINER)
    db_session.commit()
    deleted = [e for e in db_session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "Membership"))
               if e.action == "delete"]
    assert len(deleted) == 1 and deleted[0].before["role"] == "examiner" and deleted[0].after is None


def test_secrets_never_reach_the_trail(db_session, make_unit, make_user):
    user = make_user(make_unit(), Role.VIEWER)
    (insert,) = _events(db_session, "User", user.id)
    assert insert.after["password_hash"] == "[redacted]"
    assert "argon2" not in str(insert.after)


def test_web_change_records_who_and_why(make_unit, make_user, login_as, db_session):
    unit = make_unit()
    admin = make_user(unit, Role.ADMIN)
    target = make_user(unit, Role.VIEWER)
    client = login_as(admin)
    response = client.post(f"/admin/users/{target.id}/active", data={"active": "", "reason": "left the unit"})
    assert response.status_code == 302
    db_session.expire_all()
    (update,) = [e for e in _events(db_session, "User", target.id) if e.action == "update"]
    assert update.username == admin.username and update.user_id == admin.id
    assert update.reason == "left the unit" and update.before["active"] is True and update.after["active"] is False
    assert update.unit_id == unit.id and update.request_id


def test_a_required_reason_is_enforced(make_unit, make_user, login_as):
    unit = make_unit()
    admin, target = make_user(unit, Role.ADMIN), make_user(unit, Role.VIEWER)
    response = login_as(admin).post(f"/admin/users/{target.id}/active", data={"active": ""})
    assert response.status_code == 400 and b"reason" in response.data


def test_orm_refuses_to_update_or_delete_trail_rows(db_session, make_unit):
    unit = make_unit()
    event = _events(db_session, "Unit", unit.id)[0]
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        db_session.flush()
    db_session.rollback()
    db_session.delete(_events(db_session, "Unit", unit.id)[0])
    with pytest.raises(AppendOnlyError):
        db_session.flush()
    db_session.rollback()
    with pytest.raises(AppendOnlyError):
        db_session.execute(sa.update(AuditEvent).values(reason="bulk rewrite"))
    with pytest.raises(AppendOnlyError):
        db_session.execute(sa.delete(AuditEvent))


@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET reason = 'rewritten'",
    "DELETE FROM audit_event",
])
def test_raw_sql_update_or_delete_is_refused_by_the_database(db_session, make_unit, statement):
    make_unit()
    with pytest.raises(DatabaseError, match="append-only"):
        db_session.execute(sa.text(statement))
    db_session.rollback()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) >= 1


def test_raw_truncate_is_refused_on_postgresql(db_session, make_unit):
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists only on PostgreSQL")
    make_unit()
    with pytest.raises(DatabaseError, match="append-only"):
        db_session.execute(sa.text("TRUNCATE audit_event"))
    db_session.rollback()


def test_trail_page_filters_and_exports_csv(make_unit, make_user, login_as, db_session):
    unit = make_unit(code="FC-CSV", name="=HYPERLINK(\"evil\")")
    qm = make_user(unit, Role.QUALITY_MANAGER)
    client = login_as(qm)
    client.post("/admin/unit", data={"name": "irrelevant"})  # refused: not an admin
    page = client.get("/trail?entity=Membership")
    assert page.status_code == 200 and b"Membership" in page.data
    exported = client.get("/trail/export.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert {row["entity"] for row in rows} >= {"Membership"}
    assert all(not row["after"].startswith("=") for row in rows)



def test_the_trail_shows_stored_codes_by_their_translated_labels(make_unit, make_user, login_as):
    unit = make_unit(code="FC-LBL")
    make_user(unit, Role.CSI_OFFICER, username="officer.lbl")
    client = login_as(make_user(unit, Role.QUALITY_MANAGER))
    page = client.get("/trail?entity=Membership").get_data(as_text=True)
    assert "<td>CSI officer</td>" in page and ">csi_officer<" not in page
    macedonian = client.get("/trail?entity=Membership", headers={"Accept-Language": "mk"}).get_data(as_text=True)
    assert "<td>CSI officer</td>" not in macedonian  # the label is looked up in the reader's language


def test_every_code_label_mapping_the_trail_names_exists():
    from qms.trail.catalogue import record_types
    from qms.trail.records import code_labels

    named = [(record.name, column, reference)
             for record in record_types() for column, reference in record.codes.items()]
    assert named
    for name, column, reference in named:
        assert code_labels(reference), f"{name}.{column}: {reference} names no label mapping"

def test_trail_filter_with_a_bad_date_is_a_400_with_a_reason(make_unit, make_user, login_as):
    client = login_as(make_user(make_unit(), Role.AUDITOR))
    response = client.get("/trail?since=yesterday")
    assert response.status_code == 400 and b"2026-11-23" in response.data
    assert client.get("/trail?action=drop").status_code == 400


def test_trail_shows_only_the_readers_unit(make_unit, make_user, login_as, db_session):
    unit_a, unit_b = make_unit(code="AAA"), make_unit(code="BBB")
    make_user(unit_b, Role.VIEWER, username="secret.agent.b")
    client = login_as(make_user(unit_a, Role.QUALITY_MANAGER))
    body = client.get("/trail").get_data(as_text=True) + client.get("/trail/export.csv").get_data(as_text=True)
    assert "secret.agent.b" not in body
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Unit)) == 2


def test_missing_before_and_after_are_sql_null(db_session, make_unit):
    unit = make_unit()
    inserted = sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "Unit", AuditEvent.entity_id == str(unit.id), AuditEvent.before.is_(None))
    assert db_session.scalar(inserted) == 1
