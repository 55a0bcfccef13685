"""Acceptance 4 in a browser: a CSI officer registers a case with items and prints labels, hands an item
to a custodian who accepts it (with their password, from their own account) and stores it, an examiner
takes it out and examines it; the custody report PDF lists every event.

Runs on the demo data set (qms.demo.seed_demo) with one more CSI officer, the custodian.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import threading

import pytest

from tests.conftest import authorise_everything
from tests.e2e.steps import expect as _expect
from tests.e2e.steps import log_in as _log_in

pytestmark = pytest.mark.e2e

KEEPER, KEEPER_PASSWORD = "keeper", "custody-passphrase-for-e2e-7"


def _pdf_text(data: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
    return " ".join(out.split())


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The demo data set served by waitress in a thread (overrides conftest's subprocess server so the
    test runs against this checkout), plus a second CSI officer who acts as the evidence custodian."""
    from waitress.server import create_server

    from qms import create_app
    from qms.auth import services
    from qms.auth.models import Role, Unit
    from qms.cli import upgrade_database
    from qms.demo import seed_demo
    from qms.extensions import db
    from tests.e2e.conftest import DemoServer

    instance = tmp_path_factory.mktemp("custody-demo")
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{instance / 'qms.sqlite3'}",
                      "DEMO": True, "MFA_REQUIRED": False, "SECRET_KEY": "e2e-custody",
                      "PASSWORD_HASH_FAST_FOR_TESTS": True})
    with app.app_context():
        upgrade_database()
        accounts = {account.username: account.password for account in seed_demo()}
        unit = db.session.scalar(db.select(Unit).where(Unit.code == "FC-MOI"))
        keeper = services.create_user(username=KEEPER, full_name="Kire Keeper", password=KEEPER_PASSWORD, unit=unit,
                                      roles=(Role.CSI_OFFICER,))
        authorise_everything(unit, keeper)
        db.session.commit()
        db.session.remove()
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield DemoServer(base_url=f"http://127.0.0.1:{server.effective_port}/", instance=instance,
                         accounts=accounts | {KEEPER: KEEPER_PASSWORD}, output=[])
    finally:
        server.close()
        thread.join(timeout=5)


def _log_out(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Log out").click()


def _record(page, kind: str, **fields: str) -> None:  # type: ignore[no-untyped-def]
    box = page.locator("#action-event")
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    box.get_by_label("Event", exact=True).select_option(label=kind)
    for label, value in fields.items():
        control = box.get_by_label(label.replace("_", " "), exact=True)
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(label=value)
        else:
            control.fill(value)
    box.get_by_role("button", name="Record event").click()
    _expect()(page.get_by_role("status").first).to_contain_text("Recorded")


def test_custody_from_the_scene_to_the_examination(browser_session) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page, server = browser_session.page, browser_session.server

    # The CSI officer registers a case with two items and prints their labels.
    _log_in(page, "csi", server.accounts["csi"])
    page.get_by_role("link", name="Evidence", exact=True).first.click()
    page.get_by_role("button", name="New case").click()
    page.get_by_label("Case number").fill("E2E-2026/9")
    page.get_by_label("Offence type").fill("Attempted murder")
    page.get_by_role("button", name="Register case").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Case E2E-2026/9")
    for exhibit, kind, description in (("1", "Firearm", "Revolver, 6 chambers"),
                                       ("2", "Cartridge case", "Fired case .38 Special")):
        page.get_by_role("button", name="Register item", exact=True).click()
        page.get_by_label("Exhibit number").fill(exhibit)
        page.get_by_label("Type").select_option(label=kind)
        page.get_by_label("Description").fill(description)
        page.get_by_label("Seal number").fill(f"E2E-SEAL-{exhibit}")
        page.get_by_role("button", name="Register item").click()
        expect(page.locator("table.items")).to_contain_text(description)
    labels_url = page.get_by_role("button", name="Print labels (PDF)").get_attribute("href")
    labels = page.request.get(labels_url)
    assert labels.ok and labels.headers["content-type"] == "application/pdf"
    text = _pdf_text(labels.body())
    assert "E2E-2026/9" in text and re.search(r"Code [A-Z2-7]{4}-[A-Z2-7]{4}", text), text[:500]
    browser_session.shot("case")

    # ... and offers exhibit 1 to the custodian; until accepted, the CSI officer keeps custody.
    page.get_by_role("link", name="1", exact=True).click()
    item_url = page.url
    page.locator("#action-offer summary").click()
    page.locator("#action-offer").get_by_label("Hand over to").select_option(label="Kire Keeper (keeper)")
    page.get_by_role("button", name="Offer transfer").click()
    expect(page.locator("#pending")).to_contain_text("Kire Keeper")
    expect(page.locator("#holder")).to_contain_text("Goran Scene")
    _log_out(page)

    # The custodian accepts from their own account (a wrong password first), then stores the item.
    _log_in(page, KEEPER, KEEPER_PASSWORD)
    page.get_by_role("link", name="E2E-2026/9 · exhibit 1").click()
    accept = page.locator("#action-accept")
    accept.get_by_label("Password").fill("not-my-password")
    accept.get_by_role("button", name="Accept custody").click()
    expect(page.get_by_role("alert").first).to_contain_text("wrong password")
    expect(page.locator("#holder")).to_contain_text("Goran Scene")
    page.locator("#action-accept").get_by_label("Password").fill(KEEPER_PASSWORD)
    page.locator("#action-accept").get_by_role("button", name="Accept custody").click()
    expect(page.locator("#holder")).to_contain_text("Kire Keeper")
    page.goto("evidence/locations")
    page.get_by_label("Kind").select_option(label="Building")
    page.get_by_label("Name").fill("E2E store")
    page.get_by_role("button", name="Add location").click()
    page.goto(item_url)
    _record(page, "Stored", Storage_location="E2E store")
    expect(page.locator("#location")).to_contain_text("E2E store")
    _log_out(page)

    # The examiner takes it out of storage and examines it.
    _log_in(page, "examiner", server.accounts["examiner"])
    page.goto(item_url)
    _record(page, "Removed from storage")
    expect(page.locator("#holder")).to_contain_text("Elena Examiner")
    _record(page, "Examined", Notes="Rifling 6 right; test-fired into water tank")
    browser_session.shot("item")

    report = page.request.get(page.get_by_role("button", name="Custody report (PDF)").get_attribute("href"))
    assert report.ok
    text = _pdf_text(report.body())
    for kind in ("Collected", "Sealed", "Transfer offered", "Transfer accepted", "Stored", "Removed from storage",
                 "Examined"):
        assert kind in text, f"{kind} missing from the custody report"
    assert "Kire Keeper" in text and "Elena Examiner" in text and "VERIFIED" in text
    assert "NOT VERIFIED" not in text
    browser_session.assert_clean()
