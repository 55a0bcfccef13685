"""Acceptance 3 (the competence matrix as PDF and XLSX) and 5 (the competence records are append-only and
every grant is on the audit trail)."""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from qms.auth.models import Role
from qms.db import today
from qms.people import services
from qms.people.models import AuthorisationEvent, Gate, TrainingRecord, Witnessing
from qms.trail.models import AppendOnlyError, AuditEvent
from tests.conftest import PASSWORD

CYRILLIC_NAME = "Љубица Петровска"


@pytest.fixture()
def records(staff, make_user, db_session):  # type: ignore[no-untyped-def]
    """A Cyrillic-named examiner in training for comparison, granted imaging until next month (expiring)."""
    person = make_user(staff.unit, Role.EXAMINER, username="ljubica", authorised=False)
    person.full_name = CYRILLIC_NAME
    comparison = services.scope_by_code(staff.unit.id, Gate.COMPARISON.value)
    imaging = services.scope_by_code(staff.unit.id, Gate.IMAGING.value)
    day = today() - timedelta(days=10)
    services.record_training(staff.unit.id, staff.qm, user_id=person.id, training=services.TrainingInput(
        course="Firearms course", started_on=day, completed_on=day, outcome="passed", hours=40,
        scope_id=comparison.id))
    services.record_witnessing(staff.unit.id, staff.qm, user_id=person.id, scope_id=imaging.id,
                               observer_id=staff.examiner.id, observed_on=day, reference="Exercise 1",
                               outcome="satisfactory")
    services.grant(staff.unit.id, staff.qm, user_id=person.id, scope_id=imaging.id,
                   signature=services.Signature(PASSWORD), valid_until=today() + timedelta(days=30),
                   justification="Experienced")
    db_session.commit()
    return person


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_matrix_pdf_shows_people_scopes_states_and_cyrillic_names(staff, records, login_as, tmp_path) -> None:
    response = login_as(staff.qm).get("/people/matrix.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    path = Path(tmp_path) / "matrix.pdf"
    path.write_bytes(response.data)
    text = " ".join(subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True,
                                   text=True).stdout.split())
    assert CYRILLIC_NAME in text
    for words in ("Cartridge-case comparison", "Cartridge-case imaging", "Evidence custody", "in training",
                  "expiring", "authorised", staff.qm.full_name):
        assert words in text, words
    assert (today() + timedelta(days=30)).isoformat() in text


def test_the_matrix_xlsx_reads_back(staff, records, login_as) -> None:
    response = login_as(staff.examiner).get("/people/matrix.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header = rows[0]
    assert header[0] == "Person" and "Cartridge-case comparison" in header and header[-1] == "Witnessing due"
    mine = next(row for row in rows if row[0] == CYRILLIC_NAME)
    assert mine[header.index("Cartridge-case comparison")] == "in training"
    assert mine[header.index("Cartridge-case imaging")] == f"expiring {(today() + timedelta(days=30)).isoformat()}"
    examiner = next(row for row in rows if row[1] == "examiner")
    assert examiner[header.index("Evidence custody")] == "authorised"


def test_the_matrix_page_shows_the_states_with_their_classes(staff, records, login_as) -> None:
    page = login_as(staff.csi).get("/people/matrix").get_data(as_text=True)
    assert CYRILLIC_NAME in page and 'class="state-expiring"' in page and 'class="state-in_training"' in page


@pytest.mark.parametrize("model", [AuthorisationEvent, TrainingRecord, Witnessing])
def test_competence_records_are_append_only(model, records, db_session) -> None:
    row = db_session.scalars(sa.select(model).where(model.user_id == records.id)).first()
    assert row is not None
    field = "reason" if model is AuthorisationEvent else "notes"
    setattr(row, field, "changed")
    with pytest.raises(AppendOnlyError):
        db_session.flush()
    db_session.rollback()
    with pytest.raises(AppendOnlyError):
        db_session.execute(sa.update(model).values(**{field: "bulk"}))
    db_session.rollback()
    from qms.extensions import db

    with db.engine.connect() as connection:
        for statement in (f"UPDATE {model.__tablename__} SET {field} = 'x'", f"DELETE FROM {model.__tablename__}"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                connection.execute(sa.text(statement))
            connection.rollback()


def test_every_grant_writes_an_audit_trail_row(staff, records, db_session) -> None:
    event = db_session.scalars(sa.select(AuthorisationEvent).where(AuthorisationEvent.user_id == records.id)).one()
    trail = db_session.scalars(sa.select(AuditEvent).where(AuditEvent.entity_id == str(event.id),
                                                           AuditEvent.action == "insert")).all()
    assert [row for row in trail if "authorisation" in row.entity.lower()]
    assert any("electronic signature" in row.reason for row in trail)
