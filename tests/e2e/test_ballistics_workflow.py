"""Acceptance 1 in a browser, on `qms demo` (with the worker it starts): an examiner uploads two Fadul
scans of one firearm into two cases, the job runs, the mate is ranked first, the examiner marks a
link; a second examiner verifies it blind; both case pages show the link; the lead report downloads
with both signatures.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.e2e.steps import expect as _expect, log_in as _log_in

pytestmark = pytest.mark.e2e
FADUL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fadul"
NOTE = "E2E-FIRST-NOTE: breech-face marks agree over the whole annulus"


def _pdf_text(data: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
    return " ".join(out.split())


def _case_with_casing(page, number: str) -> str:  # type: ignore[no-untyped-def]
    page.goto("evidence/cases/new")
    page.get_by_label("Case number").fill(number)
    page.get_by_label("Offence type").fill("Shooting")
    page.get_by_role("button", name="Register case").click()
    _expect()(page.get_by_role("heading", level=1)).to_have_text(f"Case {number}")
    case_url = page.url
    page.get_by_role("button", name="Register item", exact=True).click()
    page.get_by_label("Exhibit number").fill("1")
    page.get_by_label("Type").select_option(label="Cartridge case")
    page.get_by_label("Description").fill(f"Fired case 9x19 mm of {number}")
    page.get_by_role("button", name="Register item").click()
    _expect()(page.locator("table.items")).to_contain_text("Fired case")
    return case_url


def _upload(page, number: str, scan: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("comparisons/entries/new")
    page.get_by_label("Custody item").select_option(label=f"{number} / exhibit 1: Fired case 9x19 mm of {number}")
    page.get_by_label("Scan").set_input_files(str(FADUL / f"Fadul {scan}.x3p"))
    page.get_by_label("Imaging instrument").select_option(label="SCAN-01 Confocal 3D scanner (In service)")
    page.get_by_role("button", name="Upload and search").click()
    _expect()(page.get_by_role("heading", level=1)).to_contain_text("Entry #")


def _decide(page, conclusion: str, note: str, password: str) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("#decision-form")
    form.get_by_label(conclusion).check()
    form.get_by_label("Note").fill(note)
    form.get_by_label("Your password").fill(password)
    form.get_by_role("button").click()
    _expect()(page.get_by_role("status").first).to_contain_text("Decision recorded")


def test_two_scans_of_one_firearm_become_a_verified_link(browser_session) -> None:  # type: ignore[no-untyped-def]
    if not FADUL.is_dir():
        pytest.skip(f"the Fadul scans are not at {FADUL}")
    expect = _expect()
    page, server = browser_session.page, browser_session.server
    accounts = server.accounts

    _log_in(page, "examiner", accounts["examiner"])
    first_case = _case_with_casing(page, "E2E-BAL/1")
    second_case = _case_with_casing(page, "E2E-BAL/2")
    _upload(page, "E2E-BAL/1", "1-1")
    _upload(page, "E2E-BAL/2", "1-2")
    entry_url = page.url

    # The page follows the job (comparisons.js polls it) and shows the ranked candidates when done.
    page.locator("#candidates").wait_for(timeout=180_000)
    expect(page.locator("#job-state")).to_have_text("Done", timeout=180_000)  # the review images follow the ranking
    first_row = page.locator("#candidates tbody tr").first
    expect(first_row).to_contain_text("E2E-BAL/1 / 1")
    browser_session.shot("candidates")

    # Keyboard: j moves the focus down the list; Enter opens the review; j/k move between candidates.
    page.locator("body").press("j")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rank 1")
    # The keys work once the page's script has run: the heading can show before DOMContentLoaded.
    page.wait_for_load_state("load")
    page.keyboard.press("j")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rank 2")
    page.wait_for_load_state("load")
    page.keyboard.press("k")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rank 1")
    expect(page.locator("#candidate-label")).to_contain_text("E2E-BAL/1 / 1")
    slider, top = page.locator("#overlay-slider"), page.locator("#overlay-top")
    slider.fill("20")
    assert top.evaluate("e => e.style.opacity") == "0.2"
    for image in page.locator("main img").all():
        assert image.evaluate("e => e.complete && e.naturalWidth > 0"), image.get_attribute("src")
    expect(page.locator("#lr")).to_contain_text("log10 LR")  # the demo's Fadul calibration
    expect(page.locator("#lr")).to_contain_text("Fadul 2011")
    review_url = page.url
    browser_session.shot("review")
    _decide(page, "Identification lead", NOTE, accounts["examiner"])
    expect(page.locator("#first-decision")).to_contain_text("Identification lead")
    page.get_by_role("button", name="Log out").click()

    # The verifier works blind: the first decision is not on the page until they record their own.
    _log_in(page, "verifier", accounts["verifier"])
    page.goto("comparisons/verification")
    page.locator("#waiting a").first.click()
    expect(page.locator("#blind-notice")).to_be_visible()
    assert NOTE not in page.content() and page.locator("#first-decision").count() == 0
    browser_session.shot("blind")
    _decide(page, "Identification lead", "Agree: identification lead", accounts["verifier"])
    expect(page.locator("#link-confirmed")).to_be_visible()
    expect(page.locator("#first-decision")).to_contain_text(NOTE)

    for case_url, other in ((first_case, "E2E-BAL/2"), (second_case, "E2E-BAL/1")):
        page.goto(case_url)
        expect(page.locator("#linked-cases")).to_contain_text(f"Case {other}")

    page.goto(review_url)
    report = page.request.get(page.locator("#lead-report").get_attribute("href"))
    assert report.ok and report.headers["content-type"] == "application/pdf"
    text = _pdf_text(report.body())
    assert "Elena Examiner" in text and "Fatmir Verifier" in text, text[:1500]
    assert entry_url
    browser_session.assert_clean()
