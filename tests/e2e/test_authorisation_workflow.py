"""Issue 14 acceptance 4 in a browser, on `qms demo`: the trainee examiner cannot sign a comparison; a
quality manager records a training and a witnessed examination and grants the comparison authorisation
with their signature; the trainee then signs the decision."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from tests.e2e.steps import expect as _expect, log_in as _log_in

pytestmark = pytest.mark.e2e

FADUL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fadul"  # the demo's scans
SCOPE = "Cartridge-case comparison"


def _review_of_the_demo_test_fire(page) -> str:  # type: ignore[no-untyped-def]
    """The first ranked candidate of the demo's searched test fire (exhibit 1-TF1 of the homicide case; the raid
    case's test fire is exhibit 1-TF1 too)."""
    page.goto("comparisons")
    page.locator("#entries tr", has_text="FC-2026/0147 / 1-TF1").get_by_role("link").click()
    page.locator("#candidates").wait_for(timeout=180_000)
    page.locator("#candidates a[data-candidate-link]").first.click()
    _expect()(page.get_by_role("heading", level=1)).to_contain_text("Rank 1")
    return page.url


def _sign(page, password: str) -> None:  # type: ignore[no-untyped-def]
    form = page.locator("#decision-form")
    form.get_by_label("Excluded").check()
    form.get_by_label("Note").fill("Different breech-face marks")
    form.get_by_label("Your password").fill(password)
    form.get_by_role("button").click()


def test_a_granted_authorisation_lets_the_trainee_sign(browser_session) -> None:  # type: ignore[no-untyped-def]
    if not FADUL.is_dir():
        pytest.skip(f"the demo's searched test fire comes from the Fadul scans, not at {FADUL}")
    expect = _expect()
    page, accounts = browser_session.page, browser_session.server.accounts
    today = date.today()

    _log_in(page, "trainee", accounts["trainee"])
    review_url = _review_of_the_demo_test_fire(page)
    _sign(page, accounts["trainee"])
    expect(page.get_by_role("alert").first).to_contain_text(SCOPE)  # refused, naming the missing scope
    page.get_by_role("button", name="Log out").click()

    _log_in(page, "quality", accounts["quality"])
    page.goto("people")
    page.get_by_role("link", name="Kiril Trainee").click()
    training = page.locator("form[action$='/training']")
    page.get_by_text("Record a training").click()
    training.get_by_label("Course").fill("Cartridge-case comparison: competency test")
    training.get_by_label("Provider").fill("Forensic Centre training unit")
    training.get_by_label("Started on").fill((today - timedelta(days=3)).isoformat())
    training.get_by_label("Completed on").fill((today - timedelta(days=1)).isoformat())
    training.get_by_label("Hours").fill("40")
    training.get_by_label("Towards the scope").select_option(label=SCOPE)
    training.get_by_role("button", name="Record the training").click()
    expect(page.locator("#training")).to_contain_text("competency test")

    witnessing = page.locator("form[action$='/witnessing']")
    page.get_by_text("Record a witnessed examination").click()
    witnessing.get_by_label("Scope").select_option(label=SCOPE)
    witnessing.get_by_label("Observer").select_option(label="Elena Examiner")
    witnessing.get_by_label("Observed on").fill(today.isoformat())
    witnessing.get_by_label("Case or exercise").fill("Exercise E2E-W1")
    witnessing.get_by_role("button", name="Record", exact=True).click()
    expect(page.locator("#witnessing")).to_contain_text("Exercise E2E-W1")

    row = page.locator("#authorisations tr", has_text=SCOPE)
    row.get_by_text("Grant", exact=True).click()
    grant = row.locator("form[action$='/grant']")
    grant.get_by_label("Justification").fill("Competency test passed; supervised cases continue under review.")
    grant.get_by_label("Your password").fill(accounts["quality"])
    grant.get_by_role("button", name="Grant and sign").click()
    expect(page.locator("#authorisations tr", has_text=SCOPE)).to_contain_text("authorised")
    browser_session.shot("granted")
    page.get_by_role("button", name="Log out").click()

    _log_in(page, "trainee", accounts["trainee"])
    page.goto(review_url)
    _sign(page, accounts["trainee"])
    expect(page.get_by_role("status").first).to_contain_text("Decision recorded")
    browser_session.assert_clean()
