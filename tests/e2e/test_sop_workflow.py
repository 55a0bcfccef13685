"""Acceptance 2 in a browser: a quality manager drafts an SOP, the examiner signs it with a password,
it takes effect, a CSI officer acknowledges it and downloads the controlled copy (checked with pdftotext)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.e2e.steps import expect as _expect

pytestmark = pytest.mark.e2e

CODE = "CSI-SOP-901"
CONTENT = """# CSI-SOP-901 Sealing evidence bags

## 1. Purpose

Every bag is sealed, signed and dated before it leaves the scene.

Пакувањето се запечатува и потпишува.
"""


def _log_in(page, server, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(server.accounts[username])
    page.get_by_role("button", name="Log in").click()
    _expect()(page.get_by_role("heading", level=1)).to_have_text("Dashboard")


def _log_out(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Log out").click()
    _expect()(page).to_have_url(re.compile(r"/login"))


def _draft_and_submit(page) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page.get_by_role("link", name="SOPs", exact=True).first.click()
    page.get_by_role("button", name="New SOP").click()
    page.locator("#code").fill(CODE)
    page.locator("#title").fill("Sealing evidence bags")
    page.locator("#discipline").select_option("evidence handling")
    page.locator("#applies_to").select_option(["csi_officer"])
    page.get_by_role("button", name="Save").click()
    page.locator("#content_markdown").fill(CONTENT)
    page.locator("#change_summary").fill("First issue.")
    page.locator("#requirement_ids").fill("17020:7.1.5")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#revision-state")).to_have_text("draft")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#revision-state")).to_have_text("in review")


def _sign(page, server) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page.goto("documents?q=" + CODE)
    page.get_by_role("link", name=CODE).click()
    page.get_by_role("link", name="open it").click()
    page.locator("#password").fill("not the password")
    page.get_by_role("button", name="Sign and approve").click()
    expect(page.get_by_role("alert")).to_contain_text("The password is not correct")
    page.locator("#password").fill(server.accounts["examiner"])
    page.get_by_role("button", name="Sign and approve").click()
    expect(page.locator("#revision-state")).to_have_text("effective")


def test_draft_sign_acknowledge_and_print(browser_session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    expect = _expect()
    page, server = browser_session.page, browser_session.server

    _log_in(page, server, "quality")
    _draft_and_submit(page)
    browser_session.shot("sop-submitted")
    _log_out(page)

    _log_in(page, server, "examiner")
    _sign(page, server)
    browser_session.shot("sop-effective")
    _log_out(page)

    _log_in(page, server, "csi")
    expect(page.locator("#panel-sops-to-read")).to_contain_text(CODE)
    page.get_by_role("link", name=re.compile(CODE)).first.click()
    page.get_by_role("button", name="I have read and understood revision 1").click()
    expect(page.locator("#ack-status")).to_contain_text("You acknowledged revision 1")
    with page.expect_download() as download:
        page.get_by_role("button", name="Controlled copy (PDF)").click()
    pdf = tmp_path / "controlled-copy.pdf"
    download.value.save_as(pdf)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert CODE in text and "Revision 1" in text and "Status: EFFECTIVE" in text
    # printed in the reader's format and the unit's zone, with the offset: "Dec 7, 2026, 2:01:50 PM (UTC+01:00)"
    assert re.search(r"Controlled copy, printed \w{3} \d{1,2}, \d{4}, [\d:]+\s[AP]M \(UTC[+-]\d\d:\d\d\) "
                     r"by Goran Scene \(csi\)", text), text[-400:]
    assert "Пакувањето се запечатува" in text
    _log_out(page)

    _log_in(page, server, "quality")  # every step is on the audit trail
    page.goto("trail?entity=RevisionEvent&username=quality")
    expect(page.locator("table.trail > tbody > tr")).to_have_count(1)  # submitted
    page.goto("trail?entity=RevisionEvent&username=examiner")
    expect(page.locator("table.trail > tbody > tr")).to_have_count(1)  # approved (the signature); in force by date
    page.goto("trail?entity=Acknowledgement")
    expect(page.locator("table.trail > tbody > tr")).to_contain_text(["Goran Scene"])  # the actor by name
    browser_session.assert_clean()
