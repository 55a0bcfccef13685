"""Gap report corrections, read back with pdftotext: catalogue and id of every requirement, ids unbroken,
evidence files listed, DRAFT until reported, the lead auditor when the team is empty, the file name dated
in the unit's time zone, unverified catalogue items flagged."""
from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from qms.audits import report, services
from qms.audits.models import Audit, Grade, Result
from tests.qms.audits.conftest import item, plan
from tests.qms.audits.test_report import between, pages_of
from tests.qms.conftest import Staff

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                reason="pdftotext (Debian package poppler-utils) is not installed")

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
BEST_PRACTICE = "bpm-scene:4.1-01"
G19 = "g19:M1.1"
LONG_ID = "17020:6.1.10"


@pytest.fixture()
def mixed(staff: Staff, db_session) -> Audit:
    """A running audit over ISO 17020 6.1, a best-practice group and a G19 module, with nobody on the team
    but the lead auditor: a best-practice nonconformity with an evidence file, a G19 item not applicable."""
    audit = services.create_audit(plan(staff, clauses=("17020:6.1", "bpm-scene:4.1", "g19:M1")),
                                  unit_id=staff.unit.id, actor=staff.qm)
    services.start_audit(audit, staff.lead)
    services.record_result(item(audit, BEST_PRACTICE), staff.lead, result=Result.NON_CONFORMING.value,
                           evidence_note="Scene log not countersigned.",
                           files=[services.Evidence(PDF, "scene_log_2026-11.pdf")])
    services.record_result(item(audit, G19), staff.lead, result=Result.NOT_APPLICABLE.value,
                           justification="No laboratory module in this unit.")
    services.record_result(item(audit, LONG_ID), staff.lead, result=Result.CONFORMING.value)
    services.raise_finding(item(audit, BEST_PRACTICE), staff.lead, grade=Grade.MINOR.value,
                           statement="Countersignature missing.")
    db_session.commit()
    return audit


def text_of(audit: Audit, tmp_path) -> list[str]:  # type: ignore[no-untyped-def]
    return pages_of(report.gap_report_pdf(audit, generated_by="Tester"), tmp_path)


def test_findings_and_annex_print_catalogue_and_id(mixed, tmp_path) -> None:
    text = " ".join(text_of(mixed, tmp_path))
    findings = between(text, "3 Findings and action plan", "Annex A")
    annex = between(text, "Annex A", "Signatures")
    # The finding's requirement is its full id and catalogue, not "4.1" (which reads as an ISO clause).
    assert f"F1 {BEST_PRACTICE} bpm-scene" in findings
    assert f"{G19} ILAC G19" in annex
    assert "F1 4.1 " not in findings


def test_requirement_ids_are_never_broken(mixed, tmp_path) -> None:
    checklist = between(" ".join(text_of(mixed, tmp_path)), "2 Checklist", "3 Findings")
    for row in mixed.items:
        assert row.requirement_id in checklist, row.requirement_id
    assert LONG_ID in checklist and "ISO/IEC 17020:2012" in checklist


def test_evidence_files_are_listed(mixed, tmp_path) -> None:
    checklist = between(" ".join(text_of(mixed, tmp_path)), "2 Checklist", "3 Findings")
    assert "File: scene_log_2026-11.pdf" in checklist


def test_draft_watermark_until_reported(mixed, staff, db_session, tmp_path) -> None:
    pages = text_of(mixed, tmp_path)
    assert all("DRAFT" in page for page in pages)
    services.report_audit(mixed, staff.lead, "Scene practice mostly conforms.")
    db_session.commit()
    assert not any("DRAFT" in page for page in text_of(mixed, tmp_path))


def test_empty_team_prints_the_lead_auditor(mixed, staff, tmp_path) -> None:
    cover = text_of(mixed, tmp_path)[0]
    assert f"Audit team {staff.lead.full_name} (Lead auditor)" in cover


def test_team_is_printed_when_there_is_one(running, staff, tmp_path) -> None:
    cover = text_of(running, tmp_path)[0]
    assert f"Audit team {staff.auditor.full_name} (Auditor)" in cover


def test_file_name_carries_the_date_in_the_unit_time_zone(mixed, app, monkeypatch) -> None:
    late_evening = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already 1 January in Skopje
    reference = report.audit_reference(mixed)
    assert report.report_file_name(mixed, at=late_evening) == f"{reference}-report-2027-01-01.pdf"
    monkeypatch.setitem(app.config, "DEFAULT_TIMEZONE", "America/New_York")
    assert report.report_file_name(mixed, at=late_evening) == f"{reference}-report-2026-12-31.pdf"


def test_download_is_named_by_reference_and_date(mixed, staff, login_as) -> None:
    response = login_as(staff.csi).get(f"/audits/{mixed.id}/report.pdf")
    assert response.status_code == 200
    expected = report.report_file_name(mixed)
    assert f"filename={expected}" in response.headers["Content-Disposition"]


def test_unverified_items_are_flagged_in_the_pdf(staff, db_session, tmp_path) -> None:
    import audits

    catalogue = audits.load_all()["iso17020-2012"]
    unverified = next(r for r in catalogue.requirements if r.assessable and not r.verified)
    audit = services.create_audit(plan(staff, clauses=(unverified.id,)), unit_id=staff.unit.id, actor=staff.qm)
    db_session.commit()
    checklist = between(" ".join(text_of(audit, tmp_path)), "2 Checklist", "3 Findings")
    assert f"{unverified.id} ISO/IEC 17020:2012 UNVERIFIED" in checklist
