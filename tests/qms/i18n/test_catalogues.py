"""The shipped catalogues: current with the sources, compiling cleanly, and their state on the about page."""
from __future__ import annotations

import gettext
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from qms.i18n import catalogues
from qms.i18n.cli import extract_template
from qms.i18n.languages import CATALOGUES, LANGUAGES


def _read(path: Path, locale: str | None = None):  # type: ignore[no-untyped-def]
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _ids(catalog) -> set[object]:  # type: ignore[no-untyped-def]
    return {(message.context, message.id) for message in catalog if message.id}


def test_every_shipped_language_has_its_catalogue():
    assert sorted(path.parent.parent.name for path in catalogues.PACKAGE_DIR.glob("*/LC_MESSAGES/messages.po")) \
        == sorted(CATALOGUES)


def test_the_template_is_current_with_the_sources(tmp_path: Path):
    """Every string wrapped in the code is in messages.pot (and so in every catalogue and the pseudo-locale)."""
    fresh = tmp_path / "messages.pot"
    extract_template(fresh)
    extracted, committed = _ids(_read(fresh)), _ids(_read(catalogues.TEMPLATE))
    assert extracted - committed == set(), "new strings: run `qms translations update` (make translations)"
    assert committed - extracted == set(), "strings gone from the code: run `qms translations update`"


@pytest.mark.parametrize("code", CATALOGUES)
def test_each_catalogue_is_current_and_compiles_with_babels_checks(code: str, tmp_path: Path):
    catalog = _read(catalogues.po_path(code), code)
    assert _ids(catalog) == _ids(_read(catalogues.TEMPLATE)), "run `qms translations update`"
    fuzzy = [message.id for message in catalog if message.id and message.fuzzy]
    assert fuzzy == [], "fuzzy entries are guesses nobody checked: translate them or leave them empty"
    problems = {str(message.id): [str(error) for error in errors] for message, errors in catalog.check()}
    assert problems == {}, "placeholders or plural forms do not match"
    assert _brace_mismatches(catalog) == []
    mo = catalogues.compile_catalogue(code, catalogues.po_path(code), tmp_path)
    with mo.open("rb") as handle:
        translations = gettext.GNUTranslations(handle)
    translated = next((m for m in catalog if m.id and isinstance(m.id, str) and m.string), None)
    if translated is not None:
        assert translations.gettext(translated.id) == translated.string


def _brace_mismatches(catalog) -> list[str]:  # type: ignore[no-untyped-def]
    """{name} placeholders (str.format) must be the same in every translation; Babel checks only %(name)s."""
    def fields(text: str) -> set[str]:
        try:
            return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError:
            return {"<unbalanced braces>"}

    wrong = []
    for message in catalog:
        if not message.id or "python-brace-format" not in message.flags:
            continue
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        expected = set().union(*(fields(text) for text in ids))
        wrong += [str(ids[0]) for text in strings if text and not fields(text) <= expected]
    return wrong


def test_the_pseudo_locale_keeps_every_placeholder():
    template = _read(catalogues.TEMPLATE)
    pseudo = catalogues.pseudo_catalogue(template)
    assert list(pseudo.check()) == []
    assert catalogues.pseudo_text("Hello %(name)s, {count} items") .startswith("⟦Hello %(name)s, {count} items")
    assert len(catalogues.pseudo_text("x" * 30)) == 2 + 30 + 10  # markers, text, a third more


def _percent(code: str) -> int:
    """Translated share, rounded down, computed here with Babel alone (not with the code under test)."""
    catalog = _read(catalogues.po_path(code), code)
    messages = [m for m in catalog if m.id]
    done = [m for m in messages if not m.fuzzy and all(m.string if isinstance(m.string, (list, tuple))
                                                       else (m.string,))]
    return len(done) * 100 // len(messages)


@pytest.mark.parametrize("code", CATALOGUES)
def test_every_shipped_catalogue_is_translated_completely(code: str):
    """Issue 16's bar: a new string needs its translation in every shipped language before it lands."""
    catalog = _read(catalogues.po_path(code), code)
    missing = [str(m.id) for m in catalog if m.id and not all(
        m.string if isinstance(m.string, (list, tuple)) else (m.string,))]
    assert missing == [], f"{len(missing)} untranslated in {code}, e.g. {missing[:5]}"


def test_the_about_page_shows_each_catalogues_share_translated(client):
    page = client.get("/about").get_data(as_text=True)
    figures = {}
    for code in CATALOGUES:
        row = page.split(f'data-locale="{code}"', 1)[1].split("</tr>", 1)[0]
        shown = int(row.split('data-percent="', 1)[1].split('"', 1)[0])
        assert f"{shown} %" in row
        figures[code] = shown
        assert shown == _percent(code), code
    print("translated:", ", ".join(f"{code} {figure} %" for code, figure in figures.items()))
    for language in LANGUAGES:
        assert language.native_name in page
    assert "not yet" in page  # no catalogue has been reviewed by a native speaker yet


def test_the_about_page_shows_how_far_the_requirement_catalogues_are_translated(client):
    from audits.localized import coverage

    page = client.get("/about").get_data(as_text=True)
    found = coverage()
    for code in CATALOGUES:
        row = page.split(f'data-locale="{code}"', 1)[1].split("</tr>", 1)[0]
        mine = [c for c in found if c.locale == code]
        for entry in mine:
            assert f"<code>{entry.catalogue_id}</code> {round(100 * entry.titles / entry.requirements)} %" in row
        if not mine:
            assert "in English" in row, code
