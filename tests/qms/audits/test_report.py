"""The PDF audit report, read back with pdftotext: rows, counts, notes, scripts, annex, pages, progress."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from babel import dates as babel_dates

import audits
from qms.audits import report, services
from qms.audits.models import Audit, Grade, Result
from qms.db import today
from qms.documents import services as documents
from tests.conftest import PASSWORD
from tests.qms.audits.conftest import item
from tests.qms.conftest import Staff

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                reason="pdftotext (Debian package poppler-utils) is not installed")

CYRILLIC = "Записник за увид 12/2026 прегледан, потписи усклађени."
ALBANIAN = "Dëshmitë u kontrolluan; çdo rast ishte i plotë."
FIRST_LOOK = "First look: two case files unsigned."
MARKUP = "<b>not bold</b> & <img src='file:///etc/passwd'>"
JUSTIFICATION = "No sampling is done at scenes by this unit."
ISO = re.escape("ISO/IEC 17020:2012")


def pages_of(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page in drawing order (row by row, cell by cell), whitespace collapsed."""
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, check=True, text=True).stdout
    return [" ".join(page.split()) for page in text.split("\f") if page.strip()]


def between(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end, text.index(start))]


@pytest.fixture()
def recorded(running: Audit, staff: Staff, db_session) -> Audit:
    """Results known by construction on the 6.1 + 7.1 audit: C 2, PC 1, NC 1, N/A 1, the rest not assessed;
    findings major 1 (with an action), minor 1 (with an action), observation 1."""
    sop = documents.create_sop(unit_id=staff.unit.id, code="SOP-REP", title="Personnel", author=staff.qm,
                               discipline="quality management", owner_id=staff.qm.id, content_markdown="# P\n",
                               requirement_ids=["17020:6.1.1"])
    documents.submit(sop.revisions[0], staff.qm)
    documents.approve(sop.revisions[0], staff.examiner, password=PASSWORD)
    lead = staff.lead
    services.record_result(item(running, "17020:6.1.1"), lead, result=Result.PARTIALLY_CONFORMING.value,
                           evidence_note=FIRST_LOOK)
    services.record_result(item(running, "17020:6.1.1"), lead, result=Result.CONFORMING.value,
                           evidence_note=CYRILLIC, revision_ids=[sop.revisions[0].id])
    services.record_result(item(running, "17020:6.1.2"), lead, result=Result.PARTIALLY_CONFORMING.value,
                           evidence_note=ALBANIAN)
    services.record_result(item(running, "17020:6.1.3"), lead, result=Result.NON_CONFORMING.value,
                           evidence_note=MARKUP)
    services.record_result(item(running, "17020:6.1.4"), lead, result=Result.NOT_APPLICABLE.value,
                           justification=JUSTIFICATION)
    services.record_result(item(running, "17020:7.1.1"), lead, result=Result.CONFORMING.value)
    major = services.raise_finding(item(running, "17020:6.1.3"), lead, grade=Grade.MAJOR.value,
                                   statement="Competence of two officers never assessed.")
    minor = services.raise_finding(item(running, "17020:6.1.2"), lead, grade=Grade.MINOR.value,
                                   statement="Training plan not dated.")
    services.raise_finding(item(running, "17020:7.1.1"), lead, grade=Grade.OBSERVATION.value,
                           statement="Method list could name the edition.")
    services.raise_action(major, lead, title="Assess the two officers", owner_id=staff.examiner.id,
                          due_on=today() + timedelta(days=14))
    services.raise_action(minor, lead, title="Date the training plan", owner_id=staff.qm.id,
                          due_on=today() + timedelta(days=7))
    db_session.commit()
    return running


def expected_items() -> list[audits.Requirement]:
    """The checklist of clauses 6.1 and 7.1, straight from the catalogue (ground truth)."""
    catalogue = audits.load_catalogue("iso17020-2012")
    return [r for r in catalogue.assessable("A") if r.clause.startswith(("6.1.", "7.1."))]


def test_every_checklist_row_is_in_the_pdf_in_catalogue_order(recorded: Audit, tmp_path: Path) -> None:
    text = " ".join(pages_of(report.gap_report_pdf(recorded), tmp_path))
    checklist = between(text, "2 Checklist", "3 Findings and action plan")
    # Each row: the full requirement id, its catalogue (an unverified item flagged), then its title.
    found = [re.search(rf"{re.escape(r.id)} {ISO} (UNVERIFIED )?{re.escape(r.title)}", checklist)
             for r in expected_items()]
    assert None not in found, [r.clause for r, m in zip(expected_items(), found, strict=True) if m is None]
    positions = [m.start() for m in found if m is not None]
    assert positions == sorted(positions)
    assert "SOP-REP rev. 1" in checklist  # the examined revision, which is also in force
    assert "Assess the two officers" in checklist and "Major nonconformity" in checklist


def test_summary_numbers_equal_the_counts_in_the_database(recorded: Audit, tmp_path: Path) -> None:
    text = " ".join(pages_of(report.gap_report_pdf(recorded), tmp_path))
    summary = between(text, "1 Summary", "2 Checklist")
    total = len(expected_items())
    by_construction = {Result.CONFORMING: 2, Result.PARTIALLY_CONFORMING: 1, Result.NON_CONFORMING: 1,
                       Result.NOT_APPLICABLE: 1, Result.NOT_ASSESSED: total - 5}
    counted = services.audit_summary(recorded)
    for result, expected in by_construction.items():
        assert counted.by_result[result.value] == expected
        assert re.search(rf"\b{result.label} {expected}\b", summary), result.label
    assert f"Total requirements {total}" in summary
    for grade, expected in {Grade.MAJOR: 1, Grade.MINOR: 1, Grade.OBSERVATION: 1, Grade.OPPORTUNITY: 0}.items():
        assert re.search(rf"\b{grade.label} {expected}\b", summary), grade.label
    assert "Total findings 3" in summary
    # Section 6: C 1, PC 1, NC 1, N/A 1, 9 not assessed of 13; score (1 + 0.5 + 0) / 3.
    assert re.search(r"6 Resource requirements 1 1 1 1 9 13 50 %", summary)


def test_every_auditor_note_comes_back_in_cyrillic_and_albanian_and_markup_stays_text(
        recorded: Audit, tmp_path: Path) -> None:
    text = " ".join(pages_of(report.gap_report_pdf(recorded), tmp_path))
    assert "Записник за увид" in text and CYRILLIC in text
    assert ALBANIAN in text and "ë" in text and "ç" in text
    assert FIRST_LOOK in text  # an earlier result's note is objective evidence too
    # Printed, never fetched (the long URL may wrap, so compare without spaces).
    assert "<b>not bold</b> &" in text and "<imgsrc='file:///etc/passwd'>" in text.replace(" ", "")


def test_fonts_are_embedded(recorded: Audit, tmp_path: Path) -> None:
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) is not installed")
    path = tmp_path / "report.pdf"
    path.write_bytes(report.gap_report_pdf(recorded))
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    # name, type ("CID TrueType"), encoding, emb, sub, uni, object id: every font is embedded.
    assert rows and all(row[0].split("+")[-1].startswith("QMS-Sans") and row[4] == "yes" for row in rows), fonts


def test_action_plan_and_not_applicable_annex(recorded: Audit, staff: Staff, tmp_path: Path) -> None:
    text = " ".join(pages_of(report.gap_report_pdf(recorded), tmp_path))
    plan = between(text, "3 Findings and action plan", "Annex A Not-applicable justifications")
    due = babel_dates.format_date(today() + timedelta(days=14), "medium", locale="en")  # the reader's format
    assert re.search(rf"F1 17020:6\.1\.3 {ISO} (UNVERIFIED )?Major nonconformity "
                     r"Competence of two officers never assessed\. "
                     rf"Assess the two officers {staff.examiner.full_name} {due} open", plan)
    assert re.search(rf"F3 17020:7\.1\.1 {ISO} (UNVERIFIED )?Observation Method list could name the edition\. "
                     r"No corrective action raised\.", plan)
    annex = between(text, "Annex A Not-applicable justifications", "Signatures")
    assert re.search(rf"17020:6\.1\.4 {ISO} (UNVERIFIED )?{re.escape(item(recorded, '17020:6.1.4').title)} "
                     rf"{JUSTIFICATION}", annex)
    assert text.index("Signatures") > text.index(annex)


def test_every_page_is_numbered_and_the_checklist_header_repeats(staff: Staff, db_session, tmp_path: Path) -> None:
    full = services.create_audit(services.AuditPlan(
        title="Full audit", planned_start=today(), planned_end=today(), lead_auditor_id=staff.lead.id,
        checklist_template="full-17020-internal-audit"), unit_id=staff.unit.id, actor=staff.qm)
    services.start_audit(full, staff.lead)
    for each in full.items:
        services.record_result(each, staff.lead, result=Result.CONFORMING.value,
                               evidence_note=f"Records for {each.clause} sampled: twenty case files, all complete.")
    db_session.commit()
    pages = pages_of(report.gap_report_pdf(full), tmp_path)
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
    first = next(i for i, page in enumerate(pages) if "2 Checklist" in page)
    last = next(i for i, page in enumerate(pages) if "3 Findings and action plan" in page) - 1
    assert last - first >= 2, "the checklist should span several pages for this test to mean anything"
    for page in pages[first:last + 1]:
        assert "Clause Requirement topic QMS document reference Objective evidence" in page


def test_a_reaudit_report_shows_progress_against_the_previous_audit(recorded: Audit, staff: Staff, db_session,
                                                                     tmp_path: Path) -> None:
    services.report_audit(recorded, staff.lead, "Two nonconformities in personnel.")
    again = services.start_reaudit(recorded, staff.qm, title="Follow-up", planned_start=today(),
                                   planned_end=today(), lead_auditor_id=staff.lead.id)
    services.start_audit(again, staff.lead)
    services.record_result(item(again, "17020:6.1.3"), staff.lead, result=Result.CONFORMING.value)  # NC -> C
    services.record_result(item(again, "17020:6.1.1"), staff.lead, result=Result.NON_CONFORMING.value)  # C -> NC
    db_session.commit()
    built = report.build_gap_report(again)
    assert built.progress is not None
    assert built.progress.counts == services.progress(again).counts
    text = " ".join(pages_of(report.render_gap_report(built), tmp_path))
    previous = report.audit_reference(recorded)
    assert f"Progress since {previous} (Personnel and methods" in text
    assert "Requirements improved 1, unchanged 0, worse 1" in text
    assert re.search(rf"6 Resource requirements {built.progress.sections[0].previous_score * 100:.0f} % 50 %",
                     text)


def test_the_report_data_uses_the_audit_summary_counts(recorded: Audit) -> None:
    built = report.build_gap_report(recorded)
    counted = services.audit_summary(recorded)
    assert built.summary.by_result == counted.by_result
    assert {s.id: s.counts for s in built.sections} == counted.by_section
    assert [r.requirement_id for r in built.rows] == [r.id for r in expected_items()]
    assert [n.text for n in built.rows[0].notes] == [FIRST_LOOK, CYRILLIC]


def test_sections_of_two_catalogues_are_named_with_their_catalogue(staff: Staff, db_session, tmp_path: Path) -> None:
    from tests.qms.audits.conftest import plan

    mixed = services.create_audit(plan(staff, clauses=("17020:6.1", "bpm-scene:4.1")), unit_id=staff.unit.id,
                                  actor=staff.qm)
    db_session.commit()
    text = " ".join(pages_of(report.gap_report_pdf(mixed), tmp_path))
    summary = between(text, "1 Summary", "2 Checklist")
    iso, bpm = (len([r for r in audits.load_catalogue(c).assessable("A") if r.parent == p])
                for c, p in (("iso17020-2012", "17020:6.1"), ("bpm-scene", "bpm-scene:4.1")))
    assert re.search(rf"17020 6 Resource requirements 0 0 0 0 {iso} {iso} –", summary)
    assert re.search(rf"bpm-scene 4 Resources 0 0 0 0 {bpm} {bpm} –", summary)
    checklist = between(text, "2 Checklist", "3 Findings and action plan")
    assert checklist.index("17020 6 Resource requirements") < checklist.index("bpm-scene 4 Resources")
