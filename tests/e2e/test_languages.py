"""Languages in a browser on the real `qms demo` (issue 16, acceptance 3 and 4).

Acceptance 3: the auditor switches to Macedonian in the header; the dashboard, the SOP register and
the gap report PDF (read back with pdftotext) are in Cyrillic Macedonian; switching to Albanian
changes them; dates are in the language's format and custody times in the unit's time zone with
the offset. The expected words are read from the shipped catalogues (the .po files), so the test
checks that the pages show the catalogue's translation, and that it is in the expected script.

Acceptance 4: in the language whose catalogue is longest, the dashboard, an audit's checklist page
and the gap analysis page neither overflow the window sideways nor wrap a header link onto two
lines, nor take more rows of navigation than in English (measured on the rendered elements; a
screenshot of each is kept with the test's files).
"""
from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from datetime import date
from functools import cache
from pathlib import Path

import pytest
from babel import dates as babel_dates
from babel.messages.pofile import read_po
from tests.e2e.steps import expect as _expect

pytestmark = pytest.mark.e2e

CATALOGUES = Path(__file__).resolve().parents[2] / "qms" / "translations"
CYRILLIC = re.compile(r"[\u0400-\u04FF]")
SKOPJE_IN_WINTER = "(UTC+01:00)"  # Europe/Skopje, the demo unit's zone, from late October to late March
REPORT_HEADINGS = ("Audit report", "Summary", "Checklist", "Findings and action plan", "Signatures")


@cache
def _catalogue(language: str) -> dict[str, str]:
    with (CATALOGUES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale=language)
    return {str(message.id): str(message.string) for message in catalogue
            if message.id and isinstance(message.id, str) and message.string and not message.context}


def _t(language: str, text: str) -> str:
    translated = _catalogue(language).get(text)
    assert translated, f"{text!r} is not translated in {language}"
    return translated


def _longest_language() -> str:
    """The catalogue whose translations are longest in total: the hardest for the layout."""
    languages = [path.name for path in CATALOGUES.iterdir() if (path / "LC_MESSAGES" / "messages.po").exists()]
    return max(languages, key=lambda code: sum(len(text) for text in _catalogue(code).values()))


def _log_in(page, server, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(server.accounts[username])
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    _expect()(page).not_to_have_url(re.compile(r"/login"))


def _scripts_ready(page) -> None:  # type: ignore[no-untyped-def]
    """The switch submits itself from a deferred script: a change made before it runs would be lost."""
    page.wait_for_load_state("load")


def _switch_to(page, language: str) -> None:  # type: ignore[no-untyped-def]
    _scripts_ready(page)
    with page.expect_navigation():
        page.locator("#language-switch").select_option(language)
    _expect()(page.locator("html")).to_have_attribute("lang", language.replace("_", "-"))


def _query(instance: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{instance / 'qms.sqlite3'}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def _reported_audit(instance: Path) -> tuple[int, date]:
    audit_id, start = _query(instance, "SELECT id, planned_start FROM audit WHERE status = 'reported' ORDER BY id")[0]
    return int(audit_id), date.fromisoformat(str(start)[:10])


def _pdf_text(page, tmp_path: Path, name: str) -> str:  # type: ignore[no-untyped-def]
    with page.expect_download() as download:
        page.locator("#download-report").click()
    path = tmp_path / f"{name}.pdf"
    download.value.save_as(path)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True,
                          text=True).stdout


def _spaces(text: str) -> str:
    """Babel's narrow and no-break spaces (8 окт. 2026 г.) come out of pdftotext as plain ones."""
    return re.sub(r"[\u00a0\u202f ]+", " ", text)


def _assert_pages_in(page, language: str, instance: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    expect = _expect()
    expect(page.locator("h1")).to_have_text(_t(language, "Dashboard"))
    page.goto("documents")
    expect(page.locator("h1")).to_have_text(_t(language, "SOP register"))
    audit_id, planned_start = _reported_audit(instance)
    page.goto(f"audits/{audit_id}")
    local = babel_dates.format_date(planned_start, "medium", locale=language)
    expect(page.locator("dl.facts")).to_contain_text(local)
    text = _pdf_text(page, tmp_path, f"report-{language}")
    for heading in REPORT_HEADINGS:
        assert _t(language, heading) in text, f"{heading!r} is not in {language} in the PDF:\n{text[:1500]}"
    assert "Audit report" not in text and "Signatures" not in text
    assert _spaces(local) in _spaces(text)  # the audit's dates in the language's format in the PDF too
    page.goto("")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_macedonian_then_albanian_dashboard_register_and_gap_report(browser_session, tmp_path: Path) -> None:
    page, server = browser_session.page, browser_session.server
    _log_in(page, server, "auditor")
    _expect()(page.locator("h1")).to_have_text("Dashboard")
    _switch_to(page, "mk")
    _assert_pages_in(page, "mk", server.instance, tmp_path)
    assert CYRILLIC.search(_t("mk", "Dashboard")) and CYRILLIC.search(page.locator("h1").inner_text())
    _switch_to(page, "sq")
    _assert_pages_in(page, "sq", server.instance, tmp_path)
    assert not CYRILLIC.search(page.locator("h1").inner_text())
    browser_session.assert_clean()


def test_custody_times_in_the_units_zone_and_the_readers_format(browser_session) -> None:
    page, server = browser_session.page, browser_session.server
    item_id, occurred = _query(server.instance, "SELECT item_id, occurred_at FROM custody_event ORDER BY id")[0]
    _log_in(page, server, "csi")
    _switch_to(page, "sq")
    page.goto(f"evidence/items/{item_id}")
    cell = page.locator("time[datetime]").filter(has_text="UTC").first
    shown = cell.inner_text()
    moment = babel_dates.format_datetime(_utc(occurred), "medium", tzinfo=babel_dates.get_timezone("Europe/Skopje"),
                                         locale="sq")
    if _utc(occurred).astimezone(babel_dates.get_timezone("Europe/Skopje")).utcoffset().total_seconds() == 3600:
        assert SKOPJE_IN_WINTER in shown
    assert shown.startswith(moment), f"{shown!r} is not {moment!r} (Albanian format, Skopje time)"
    browser_session.assert_clean()


def _utc(stored: str):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromisoformat(str(stored)).replace(tzinfo=UTC)


LAYOUT_CHECK = """() => {
  const links = [...document.querySelectorAll('header nav a, header nav select, header nav button')];
  const wrapped = links
    .filter(el => el.getClientRects().length > 1 || el.scrollWidth > el.clientWidth + 1)
    .map(el => el.textContent.trim() || el.id);
  const navs = [...document.querySelectorAll('header nav > ul')].map(ul => ul.getBoundingClientRect().height);
  const lines = [...document.querySelectorAll('header .main-nav li')]
    .map(li => Math.round(li.getBoundingClientRect().top));
  return {overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          wrapped, navRows: new Set(lines).size, navHeights: navs};
}"""


def test_layout_holds_in_the_longest_language(browser_session, tmp_path: Path) -> None:
    page, server = browser_session.page, browser_session.server
    language = _longest_language()
    audit_id, _start = _reported_audit(server.instance)
    pages = (("dashboard", ""), ("checklist", f"audits/{audit_id}"), ("gap", "audits/gap"))
    _log_in(page, server, "auditor")
    _switch_to(page, "en")
    rows_in_english = {}
    for name, path in pages:
        page.goto(path)
        rows_in_english[name] = page.evaluate(LAYOUT_CHECK)["navRows"]
    _switch_to(page, language)
    for name, path in pages:
        page.goto(path)
        browser_session.shot(f"{name}-{language}")
        found = page.evaluate(LAYOUT_CHECK)
        assert found["overflow"] <= 0, f"{name} in {language} overflows the window by {found['overflow']} px"
        assert found["wrapped"] == [], f"{name} in {language}: header items wrapped: {found['wrapped']}"
        # The main navigation may flow onto another row in any language; a longer language must not need more.
        assert found["navRows"] <= rows_in_english[name], (
            f"{name} in {language}: the main navigation takes {found['navRows']} rows, "
            f"{rows_in_english[name]} in English")
    browser_session.assert_clean()
