"""A newcomer's first minutes: `qms demo`, log in with a printed account, look around, log out."""
from __future__ import annotations

import re

import pytest

from qms.auth.models import ROLE_LABELS
from qms.demo import ACCOUNTS
from tests.e2e.steps import expect as _expect

pytestmark = pytest.mark.e2e

FULL_NAMES = {username: full_name for username, full_name, *_ in ACCOUNTS}
ROLES = {username: roles for username, _, _, roles, _ in ACCOUNTS}


def _log_in(session, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page = session.page
    page.goto("login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_demo_prints_every_account(demo_server) -> None:  # type: ignore[no-untyped-def]
    assert set(demo_server.accounts) == set(FULL_NAMES)
    assert all(password.startswith("demo-") for password in demo_server.accounts.values())
    assert any("Multi-factor authentication is OFF" in line for line in demo_server.output)


def test_login_page_says_mfa_is_off(browser_session) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page = browser_session.page
    page.goto("login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_role("note")).to_contain_text("Multi-factor authentication is turned off for the demo")
    expect(page.locator("input[type=hidden][name=csrf_token]")).to_have_count(1)
    browser_session.shot("login")
    browser_session.assert_clean()


def test_quality_manager_logs_in_sees_trail_and_logs_out(browser_session) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page, server = browser_session.page, browser_session.server
    _log_in(browser_session, "quality", server.accounts["quality"])

    expect(page).to_have_url(server.base_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("banner")).to_contain_text(FULL_NAMES["quality"])
    role_label = ROLE_LABELS[ROLES["quality"][0]]
    expect(page.locator("#panel-account")).to_contain_text(f"Roles here: {role_label}")
    expect(page.locator("#panel-account")).to_contain_text("not required in the demo")
    browser_session.shot("dashboard")

    page.get_by_role("link", name="Audit trail", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/trail$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    # The seeded memberships of the quality manager's unit are on the trail: filter for them.
    page.get_by_label("Record type").select_option("Membership")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"entity=Membership"))
    rows = page.locator("table.trail > tbody > tr")  # each row's changes sit in a table of their own
    expect(rows.first).to_contain_text("Role membership")
    assert rows.count() >= 7 and all("Role membership" in text for text in rows.all_inner_texts())
    browser_session.shot("trail")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")
    page.goto("trail")
    expect(page).to_have_url(re.compile(r"/login"))  # the session is really gone
    browser_session.assert_clean()


def test_wrong_password_shows_an_error_and_stays_on_login(browser_session) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    page = browser_session.page
    _log_in(browser_session, "viewer", "not-the-demo-password")

    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("alert")).to_contain_text("Unknown user name or wrong password.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    browser_session.shot("login-failed")
    browser_session.assert_clean()
