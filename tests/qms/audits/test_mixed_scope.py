"""A unit that works to both standards: one audit over the scene unit (ISO/IEC 17020, its own body type)
and the firearms laboratory (ISO/IEC 17025) gives one checklist and one gap report, in catalogue order,
and unverified catalogue items are flagged on the pages, in the CSV and in the PDF."""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pytest

import audits
from qms.audits import exports, gap, report, services
from qms.audits.models import Audit, Result
from tests.qms.audits.conftest import item, plan
from tests.qms.conftest import Staff

SCENE = services.ScopePart("Scene unit", ("17020:7.4", "17020:6.1"), body_type="B")
LAB = services.ScopePart("Firearms laboratory", ("17025:7.8.8", "17025:6.4.9"))


@pytest.fixture()
def mixed(staff: Staff, db_session) -> Audit:
    # The laboratory part is named first: the checklist still reads 17020 before 17025.
    made = services.create_audit(plan(staff, title="Scene and firearms laboratory", clauses=(), parts=(LAB, SCENE),
                                      body_type="A"), unit_id=staff.unit.id, actor=staff.qm)
    db_session.commit()
    return made


def expected_ids() -> list[str]:
    catalogues = audits.load_all()
    scene = [r.id for r in catalogues["iso17020-2012"].assessable("B") if r.clause.startswith(("6.1.", "7.4."))]
    lab = [r.id for r in catalogues["iso17025-2017"].assessable() if r.clause.startswith("7.8.8.")
           or r.clause == "6.4.9"]
    return scene + lab  # each in its catalogue's own order


def test_one_checklist_with_both_standards_in_catalogue_order(mixed: Audit):
    ids = [i.requirement_id for i in mixed.items]
    assert ids == expected_ids()
    assert [i.position for i in mixed.items] == list(range(1, len(ids) + 1))
    assert [(s["catalogue"], s["department"], s.get("body_type")) for s in mixed.scope] == [
        ("iso17020-2012", "Scene unit", "B"), ("iso17025-2017", "Firearms laboratory", None)]
    assert set(mixed.catalogue_versions) == {"iso17020-2012", "iso17025-2017"}


def test_department_body_type_applies_to_its_catalogue(staff: Staff, db_session):
    annex = services.ScopePart("Scene unit", ("17020:A",), body_type="C")
    made = services.create_audit(plan(staff, clauses=(), parts=(annex, LAB), body_type="A"),
                                 unit_id=staff.unit.id, actor=staff.qm)
    assert [i.requirement_id for i in made.items][0] == "17020:A.3"
    analysis = gap.unit_gap_analysis(staff.unit.id)
    assert analysis.body_types == {"iso17020-2012": "C"}
    ids = {r.requirement_id for r in analysis.catalogue("iso17020-2012").all_requirements}
    assert "17020:A.3" in ids and "17020:A.1" not in ids
    assert [c.id for c in analysis.catalogues][:2] == ["iso17020-2012", "iso17025-2017"]


def test_gap_report_pdf_holds_both_in_catalogue_order(mixed: Audit, staff: Staff, tmp_path: Path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian package poppler-utils) is not installed")
    services.start_audit(mixed, staff.lead)
    services.record_result(item(mixed, "17025:7.8.8.1"), staff.lead, result=Result.CONFORMING.value,
                           evidence_note="Amended report 12/2026 names the original.")
    pdf = report.gap_report_pdf(mixed)
    path = tmp_path / "mixed.pdf"
    path.write_bytes(pdf)
    text = " ".join(subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True,
                                   text=True).stdout.split())
    assert "Scene unit: ISO/IEC 17020:2012" in text and "Firearms laboratory: ISO/IEC 17025:2017" in text
    checklist = text[text.index("2 Checklist"):]
    # Every requirement appears once in the checklist, 17020 before 17025, each in its catalogue's order.
    # The checklist prints each requirement by its full id (catalogue and clause), never a bare clause number.
    positions = [checklist.index(f"{rid} ") for rid in ("17020:6.1.1", "17020:7.4.5", "17025:6.4.9", "17025:7.8.8.3")]
    assert positions == sorted(positions)
    assert checklist.index("17020 6 Resource requirements") < checklist.index("17025 7 Process requirements")
    # 7.4.5 has no confirming source: flagged; 7.8.8.1 is confirmed: not flagged.
    assert "UNVERIFIED catalogue item" in checklist
    assert "not confirmed by a recorded public source" in checklist


def test_csv_flags_unverified_items(mixed: Audit):
    rows = list(csv.DictReader(io.StringIO(exports.checklist_csv(mixed).decode("utf-8-sig"))))
    flags = {r["requirement id"]: r["catalogue check"] for r in rows}
    assert flags["17025:7.8.8.1"] == "verified"
    assert flags["17020:7.4.5"].startswith("UNVERIFIED")
    assert [r["requirement id"] for r in rows] == expected_ids()


def test_pages_flag_unverified_items(mixed: Audit, staff: Staff, login_as):
    client = login_as(staff.lead)
    page = client.get(f"/audits/{mixed.id}").get_data(as_text=True)
    assert page.count("Unverified catalogue item") == sum(not i.verified for i in mixed.items) > 0
    unverified = item(mixed, "17020:7.4.5")
    assert "Unverified catalogue item" in client.get(f"/audits/items/{unverified.id}").get_data(as_text=True)
    verified = item(mixed, "17025:7.8.8.1")
    assert "Unverified catalogue item" not in client.get(f"/audits/items/{verified.id}").get_data(as_text=True)
