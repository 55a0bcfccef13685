"""Issue 15 acceptance 6 in a browser, on `qms demo`: the quality manager receives a prosecutor's complaint about
the demo case; an auditor who declared an interest in that case is refused as decider, with the reason; the
quality manager, who took no part in the case, decides it; a nonconformity is opened from the complaint and a
corrective action raised on it; a new management review of the period shows the complaint and the nonconformity."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from tests.e2e.steps import expect as _expect, log_in as _log_in

pytestmark = pytest.mark.e2e
CASE = "FC-2026/0147"


def _log_out(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Log out").click()


def _step(page, step: str, text: str) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("form[action$='/steps']")
    form.get_by_label("Step").select_option(label=step)
    form.get_by_label("Text").fill(text)
    form.get_by_role("button", name="Record").click()


def _count(page, table: str, label: str) -> int:  # type: ignore[no-untyped-def]
    row = page.locator(f"#{table} tr", has=page.locator("td", has_text=re.compile(f"^{re.escape(label)}$")))
    return int(row.locator("td").nth(1).inner_text())


def test_a_complaint_is_decided_independently_and_reaches_the_management_review(browser_session) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page, accounts = browser_session.page, browser_session.server.accounts
    today = date.today()

    # An auditor declares an interest in the case (before the complaint comes in).
    _log_in(page, "auditor", accounts["auditor"])
    page.goto("people")
    page.locator("#people").get_by_role("link", name="Dragan Auditor").click()
    page.get_by_text("Sign a declaration").click()
    declaration = page.locator("form[action$='/people/declarations']")
    declaration.get_by_label("Declaration").select_option(label="conflict of interest")
    declaration.get_by_label("Interests to declare").fill(f"My brother-in-law is the suspect in case {CASE}.")
    declaration.get_by_role("button", name="Sign").click()
    expect(page.locator("#declarations")).to_contain_text(CASE)
    _log_out(page)

    # The quality manager receives the complaint and takes it through to the investigation.
    _log_in(page, "quality", accounts["quality"])
    page.goto("quality/complaints")
    received = page.locator("form[action$='/quality/complaints']")
    received.get_by_label("From whom").fill("Public Prosecutor E2E")
    received.get_by_label("Received by").select_option(label="E-mail")
    received.get_by_label("About case").fill(CASE)
    received.get_by_label("What the complaint says").fill("The report on the pistol contradicts the witness.")
    received.get_by_role("button", name="Record").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Complaint")
    number = page.get_by_role("heading", level=1).inner_text().split(":")[0].strip()
    complaint_url = page.url
    for step, text in (("Acknowledged", "Acknowledged by e-mail."), ("Validated", "About our report: valid."),
                       ("Investigated", "A second examiner re-examined the test fires: same conclusion.")):
        _step(page, step, text)
        expect(page.locator("#complaint-state")).to_have_text(step)
    _log_out(page)

    # The auditor who declared an interest in the case is refused, and told why.
    _log_in(page, "auditor", accounts["auditor"])
    page.goto(complaint_url)
    _step(page, "Decided", "Not upheld.")
    refusal = page.get_by_role("alert").first
    expect(refusal).to_contain_text(f"may not decide {number}")
    expect(refusal).to_contain_text(CASE)
    expect(page.locator("#complaint-state")).to_have_text("Investigated")
    _log_out(page)

    # The quality manager never worked on the case: they decide, open a nonconformity and a corrective action.
    _log_in(page, "quality", accounts["quality"])
    page.goto(complaint_url)
    _step(page, "Decided", "Not upheld: the conclusion stands; the report will explain the test firing better.")
    expect(page.locator("#complaint-state")).to_have_text("Decided")
    expect(page.locator("#complaint-events")).to_contain_text("by Besa Quality")
    opening = page.locator("form[action$='/nonconformity']")
    opening.get_by_label("Title of the nonconformity").fill("Report does not explain the test firing")
    opening.get_by_role("button", name="Open").click()
    page.locator("dl.facts").get_by_role("link", name="opened").click()
    expect(page.locator("#nc-source")).to_have_text("Complaint")
    nc_number, nc_url = page.get_by_role("heading", level=1).inner_text().split(":")[0].strip(), page.url
    raising = page.locator("#nc-action-form")
    raising.get_by_label("Corrective action").fill("Report template: a section on the test firing")
    raising.get_by_label("Owner").select_option(label="Elena Examiner")
    raising.get_by_label("Due by").fill((today + timedelta(days=30)).isoformat())
    raising.get_by_role("button", name="Raise").click()
    expect(page.locator("body")).to_contain_text("Corrective action raised.")  # on the action's own page
    page.goto(nc_url)
    expect(page.locator("#nc-actions")).to_contain_text("Report template: a section on the test firing")
    page.goto("quality/nonconformities")
    expect(page.locator("body")).to_contain_text(nc_number)

    # A new management review of the period shows the complaint and the nonconformity.
    page.goto("quality/reviews")
    creating = page.locator("form[action$='/quality/reviews']")
    creating.get_by_label("Title").fill("Management review E2E")
    creating.get_by_label("Period from").fill((today - timedelta(days=30)).isoformat())
    creating.get_by_label("Period to").fill(today.isoformat())
    creating.get_by_role("button", name="Create the review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Management review E2E")
    assert _count(page, "complaints", "Decided") == 1
    assert _count(page, "complaints", "Acknowledged") == 1  # the demo's prosecutor complaint, awaiting a decision
    assert _count(page, "complaints", "Received in total") == 2
    assert _count(page, "nonconformities", "Complaint") == 1
    browser_session.assert_clean()
