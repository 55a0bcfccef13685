"""Steps the browser tests share: Playwright's `expect` (imported when a test runs, so collecting the
tests needs no Playwright) and logging in as a demo account."""
from __future__ import annotations

from typing import Any


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def log_in(page: Any, username: str, password: str) -> None:
    """Log in on the login page and land on the dashboard."""
    page.goto("login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect()(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
