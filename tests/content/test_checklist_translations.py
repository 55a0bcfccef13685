"""Checklist titles in other languages (audits/translations/<locale>/checklists.yaml): checked against the
packaged checklists, shipped for every language that has catalogue translations, and shown on the audit
planning page in the reader's language."""
from __future__ import annotations

import pytest

from audits import CatalogueError
from audits.checklist import checklist_names, load_checklist
from audits.localized import load_checklist_titles, parse_checklist_titles, translation_locales
from qms.auth.models import Role


def test_every_language_titles_every_packaged_checklist_and_says_who_translated_it() -> None:
    assert translation_locales()
    for locale in translation_locales():
        titles = load_checklist_titles(locale)
        assert titles is not None, f"{locale}: no checklists.yaml"
        assert titles.translated_by, f"{locale}: who translated the checklist titles?"
        assert set(titles.titles) == set(checklist_names()), f"{locale}: checklists without a title"
        for name, title in titles.titles.items():
            assert title != load_checklist(name).title, f"{locale}/{name}: still the English title"


@pytest.mark.parametrize(("text", "problem"), [
    ("locale: mk\nchecklists:\n  no-such-checklist: {title: X}\n", "not a packaged checklist"),
    ("locale: mk\nchecklists:\n  scene-technical-audit: {title: X, description: Y}\n", "nothing else"),
    ("locale: mk\nchecklists:\n  scene-technical-audit: {title: ''}\n", "non-empty"),
    ("locale: mk\nnotes: x\n", "unknown keys"),
    ("checklists: [unclosed\n", "not valid YAML"),
])
def test_a_bad_checklist_title_file_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(CatalogueError, match=problem):
        parse_checklist_titles(text, "test.yaml", checklist_names())


def test_the_audit_planning_page_offers_the_checklists_in_the_readers_language(db_session, make_unit, make_user,
                                                                              login_as) -> None:
    titles = load_checklist_titles("mk")
    assert titles is not None
    user = make_user(make_unit(), Role.QUALITY_MANAGER)
    user.language = "mk"
    db_session.commit()
    page = login_as(user).get("/audits/new").get_data(as_text=True)
    for name, title in titles.titles.items():
        assert title in page and load_checklist(name).title not in page
