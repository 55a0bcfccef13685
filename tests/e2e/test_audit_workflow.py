"""Acceptance 2 in a browser: an auditor plans and runs an audit, records results and a finding,
raises a corrective action and downloads the PDF report; pdftotext shows the clause rows, the
summary numbers equal the counts in the database, and a Cyrillic evidence note comes back."""
from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from tests.e2e.steps import expect as _expect

pytestmark = pytest.mark.e2e

CYRILLIC = "Записник о одржавању микроскопа потписан"
TITLE = "Equipment audit (browser)"
LABELS = {"conforming": "Conforming", "partially_conforming": "Partially conforming",
          "non_conforming": "Non conforming", "not_applicable": "Not applicable", "not_assessed": "Not assessed"}


def _log_in(page, server, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(server.accounts[username])
    page.get_by_role("button", name="Log in").click()
    _expect()(page.get_by_role("heading", level=1)).to_have_text("Dashboard")


def _plan_and_start(page) -> int:  # type: ignore[no-untyped-def]
    expect = _expect()
    page.get_by_role("link", name="Audits", exact=True).first.click()
    page.get_by_role("button", name="Plan an audit").click()
    page.locator("#title").fill(TITLE)
    page.locator("#kind").select_option("technical")
    page.locator("#clauses").fill("17020:6.2")
    page.locator("#planned_start").fill(date.today().isoformat())
    page.locator("#planned_end").fill((date.today() + timedelta(days=1)).isoformat())
    page.locator("#lead_auditor_id").select_option(label="Dragan Auditor")
    page.locator("#auditee").fill("Firearms section")
    page.get_by_role("button", name="Plan the audit").click()
    expect(page.locator("#audit-status")).to_have_text("planned")
    page.get_by_role("button", name="Start the audit").click()
    expect(page.locator("#audit-status")).to_have_text("in progress")
    return int(re.search(r"/audits/(\d+)", page.url).group(1))  # type: ignore[union-attr]


def _record(page, requirement: str, result: str, note: str = "", justification: str = "") -> None:  # type: ignore[no-untyped-def]
    page.locator("#checklist").get_by_role("link", name=requirement, exact=True).click()
    page.locator("#result").select_option(result)
    page.locator("#evidence_note").fill(note)
    page.locator("#justification").fill(justification)
    page.get_by_role("button", name="Save result").click()


def _results_and_finding(page) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    _record(page, "17020:6.2.1", "conforming", CYRILLIC)
    expect(page.get_by_role("status")).to_contain_text("Result recorded for 17020:6.2.1")
    _record(page, "17020:6.2.2", "non_conforming", "No calibration record for the comparison microscope.")
    _record(page, "17020:6.2.3", "not_applicable")  # refused: no justification
    expect(page.get_by_role("alert")).to_contain_text("needs a justification")
    page.locator("#justification").fill("No reference materials are used in this section.")
    page.get_by_role("button", name="Save result").click()
    expect(page.get_by_role("status")).to_contain_text("Result recorded for 17020:6.2.3")
    page.locator("#checklist").get_by_role("link", name="17020:6.2.2", exact=True).click()
    page.locator("#grade").select_option("minor")
    page.locator("#statement").fill("The comparison microscope has no calibration record.")
    page.get_by_role("button", name="Raise finding").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Minor nonconformity")
    page.locator("#title").fill("Calibrate the comparison microscope")
    page.locator("#owner_id").select_option(label="Elena Examiner")
    page.locator("#due_on").fill((date.today() + timedelta(days=30)).isoformat())
    page.get_by_role("button", name="Raise action").click()
    expect(page.locator("#action-status")).to_have_text("open")


def _database_counts(instance: Path, audit_id: int) -> dict[str, int]:
    """Current result per checklist item (latest row), straight from the demo server's database."""
    with sqlite3.connect(f"file:{instance / 'qms.sqlite3'}?mode=ro", uri=True) as conn:
        items = conn.execute("SELECT count(*) FROM audit_checklist_item WHERE audit_id = ?", (audit_id,)).fetchone()[0]
        rows = conn.execute("""SELECT result, count(*) FROM audit_result WHERE id IN (
                                 SELECT max(id) FROM audit_result WHERE audit_id = ? GROUP BY item_id)
                               GROUP BY result""", (audit_id,)).fetchall()
        minor = conn.execute("SELECT count(*) FROM audit_finding WHERE audit_id = ? AND grade = 'minor'",
                             (audit_id,)).fetchone()[0]
    counts = {key: 0 for key in LABELS} | dict(rows)
    counts["not_assessed"] += items - sum(n for _, n in rows)
    return counts | {"total": items, "minor": minor}


def _pdf_figure(text: str, label: str) -> int:
    match = re.search(rf"^\s*{label}\s+(\d+)\s*$", text, flags=re.MULTILINE)
    assert match, f"no '{label}' row in the report summary"
    return int(match.group(1))


def test_plan_run_and_report_an_audit(browser_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    page, server = browser_session.page, browser_session.server
    _log_in(page, server, "auditor")
    audit_id = _plan_and_start(page)
    _results_and_finding(page)
    page.goto(f"audits/{audit_id}")
    _expect()(page.locator("#audit-summary")).to_contain_text("All 15 requirements")
    browser_session.shot("audit-in-progress")
    with page.expect_download() as download:
        page.get_by_role("button", name="Gap report (PDF)").click()
    pdf = tmp_path / "report.pdf"
    download.value.save_as(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout

    for clause in ("6.2.1", "6.2.2", "6.2.3", "6.2.15"):  # printed by their full id, catalogue and clause
        assert re.search(rf"^\s*17020:{re.escape(clause)}\s+\S", text, flags=re.MULTILINE), f"no checklist row {clause}"
    # Reading order, not layout: a note that wraps in its table cell still reads as one sentence.
    raw = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert CYRILLIC in " ".join(raw.split())
    counts = _database_counts(server.instance, audit_id)
    assert counts["conforming"] == 1 and counts["non_conforming"] == 1 and counts["not_applicable"] == 1
    for key, label in LABELS.items():
        assert _pdf_figure(text, label) == counts[key], label
    assert _pdf_figure(text, "Total requirements") == counts["total"] == 15
    assert _pdf_figure(text, "Minor nonconformity") == counts["minor"] == 1

    page.goto("trail?entity=RequirementResult&username=auditor")  # every result is on the trail
    _expect()(page.locator("table.trail > tbody > tr")).to_have_count(3)
    page.goto("trail?entity=CorrectiveAction&username=auditor")
    _expect()(page.locator("table.trail > tbody > tr")).to_have_count(1)
    browser_session.assert_clean()
