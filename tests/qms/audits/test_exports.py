"""CSV and XLSX exports of the checklist: parsed back, in catalogue order, with formulas neutralised."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

import openpyxl
import pytest

import audits
from qms.audits import exports, services
from qms.audits.models import Audit, Grade, Result
from qms.db import today
from tests.qms.audits.conftest import item
from tests.qms.conftest import Staff

CYRILLIC = "Записник за увид: опрема проверена"
ALBANIAN = "Dëshmitë u kontrolluan në çdo rast"
FORMULAS = {"17020:6.1.2": '=HYPERLINK("http://example.invalid","click")', "17020:6.1.3": "+1+1",
            "17020:6.1.5": "-2+3", "17020:6.1.6": "@SUM(1)", "17020:6.1.7": "\t=1+1"}


@pytest.fixture()
def recorded(running: Audit, staff: Staff, db_session) -> Audit:
    services.record_result(item(running, "17020:6.1.1"), staff.lead, result=Result.CONFORMING.value,
                           evidence_note=CYRILLIC)
    services.record_result(item(running, "17020:7.1.1"), staff.lead, result=Result.NON_CONFORMING.value,
                           evidence_note=ALBANIAN + "\x07")  # a control character XML cannot carry
    services.record_result(item(running, "17020:6.1.4"), staff.lead, result=Result.NOT_APPLICABLE.value,
                           justification="=cmd|' /C calc'!A0")
    for requirement_id, note in FORMULAS.items():
        services.record_result(item(running, requirement_id), staff.lead, result=Result.CONFORMING.value,
                               evidence_note=note)
    finding = services.raise_finding(item(running, "17020:7.1.1"), staff.lead, grade=Grade.MINOR.value,
                                     statement="Method validation record missing.")
    services.raise_action(finding, staff.lead, title="Validate the method", owner_id=staff.examiner.id,
                          due_on=today() + timedelta(days=20))
    db_session.commit()
    return running


def catalogue_order() -> list[audits.Requirement]:
    catalogue = audits.load_catalogue("iso17020-2012")
    return [r for r in catalogue.assessable("A") if r.clause.startswith(("6.1.", "7.1."))]


def csv_rows(audit: Audit) -> list[dict[str, str]]:
    data = exports.checklist_csv(audit)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheets then read UTF-8
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    header = next(reader)
    assert tuple(header) == exports.COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


def xlsx_rows(audit: Audit, sheet: str = "Checklist") -> list[dict[str, object]]:
    book = openpyxl.load_workbook(io.BytesIO(exports.checklist_xlsx(audit)))
    rows = list(book[sheet].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_csv_rows_follow_the_catalogue_with_section_clause_and_sub_clause(recorded: Audit) -> None:
    rows = csv_rows(recorded)
    assert [r["requirement id"] for r in rows] == [r.id for r in catalogue_order()]
    first = rows[0]
    assert (first["section"], first["section title"], first["clause"], first["clause title"], first["sub-clause"]) \
        == ("6", "Resource requirements", "6.1", "Personnel", "6.1.1")
    assert rows[-1]["clause"] == "7.1" and rows[-1]["section"] == "7"
    assert first["result"] == "Conforming" and CYRILLIC in first["objective evidence"]
    validation = next(r for r in rows if r["requirement id"] == "17020:7.1.1")
    assert "F1 Minor nonconformity: Method validation record missing." in validation["findings"]
    assert f"Validate the method ({recorded.findings[0].actions[0].owner.full_name}" in validation["corrective actions"]


def test_xlsx_holds_the_same_rows_as_the_csv(recorded: Audit) -> None:
    from_csv, from_xlsx = csv_rows(recorded), xlsx_rows(recorded)
    assert [{k: v or "" for k, v in row.items()} for row in from_xlsx] == \
        [{k: v.replace("\x07", "") for k, v in row.items()} for row in from_csv]
    assert ALBANIAN in next(r for r in from_xlsx if r["requirement id"] == "17020:7.1.1")["objective evidence"]
    plan = xlsx_rows(recorded, "Action plan")
    assert [(p["finding"], p["action"], p["due on"]) for p in plan] == \
        [("F1", "Validate the method", (today() + timedelta(days=20)).isoformat())]


def test_counts_in_the_xlsx_equal_the_audit_summary(recorded: Audit) -> None:
    facts = {row["field"]: row["value"] for row in xlsx_rows(recorded, "Audit")}
    summary = services.audit_summary(recorded)
    for value, count in summary.by_result.items():
        assert facts[Result(value).label] == str(count)
    assert facts["requirements"] == str(len(catalogue_order()))


def test_formula_injection_is_neutralised_in_csv_and_xlsx(recorded: Audit) -> None:
    by_id = {r["requirement id"]: r for r in csv_rows(recorded)}
    for requirement_id, note in FORMULAS.items():
        assert by_id[requirement_id]["objective evidence"].startswith("'" + note.strip())  # notes are stripped
    assert by_id["17020:6.1.4"]["not-applicable justification"] == "'=cmd|' /C calc'!A0"

    data = exports.checklist_xlsx(recorded)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        sheets = [name for name in package.namelist() if name.startswith("xl/worksheets/")]
        assert sheets and not any(b"<f>" in package.read(name) or b"<f " in package.read(name) for name in sheets)
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]
    assert cells and all(c.data_type == "s" for c in cells)
    texts = {str(c.value) for c in cells}
    assert "'=cmd|' /C calc'!A0" in texts
    assert not any(t.startswith(("=", "+", "-", "@")) for t in texts)


def test_neutralise_leaves_ordinary_text_alone() -> None:
    assert exports.neutralise("6.1.3 conforming") == "6.1.3 conforming"
    assert exports.neutralise("=1") == "'=1"
    assert exports.neutralise(None) == ""


def test_an_audit_over_two_catalogues_keeps_each_catalogue_in_its_order(staff: Staff, db_session) -> None:
    from tests.qms.audits.conftest import plan

    mixed = services.create_audit(plan(staff, clauses=("17020:6.1", "bpm-scene:4.1")), unit_id=staff.unit.id,
                                  actor=staff.qm)
    db_session.commit()
    rows = csv_rows(mixed)
    iso = [r.id for r in audits.load_catalogue("iso17020-2012").assessable("A") if r.clause.startswith("6.1.")]
    bpm = [r.id for r in audits.load_catalogue("bpm-scene").assessable("A") if r.parent == "bpm-scene:4.1"]
    assert [r["requirement id"] for r in rows] == iso + bpm
    scene = rows[len(iso)]
    assert (scene["catalogue"], scene["section"], scene["clause"], scene["clause title"]) == \
        ("bpm-scene", "4", "4.1", "Personnel")
    assert {r["result"] for r in rows} == {"Not assessed"}
