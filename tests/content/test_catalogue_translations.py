"""Catalogue text in other languages (audits.localized): the files are checked against their catalogue,
the English stays the reference for everything but titles and topics, and every packaged translation
loads."""
from __future__ import annotations

import pytest

from audits import CatalogueError, load_all
from audits.localized import coverage, load_all_in, load_translation, localize, parse_translation, translation_locales

CATALOGUE = "iso17020-2012"


def _parse(text: str):  # type: ignore[no-untyped-def]
    return parse_translation(text, "test.yaml", load_all()[CATALOGUE])


def test_a_translation_replaces_titles_and_topics_and_nothing_else() -> None:
    english = load_all()[CATALOGUE]
    translation = _parse('catalogue: iso17020-2012\nlocale: mk\ntitle: "ISO/IEC 17020:2012 Оцена на сообразност"\n'
                         'requirements:\n  "17020:6.1.3": {title: Квалификувани контролори, topic: Тема}\n'
                         '  "17020:6.1": {title: Персонал}\n')
    localized = localize(english, translation)
    item, group = localized.get("17020:6.1.3"), localized.get("17020:6.1")
    assert (item.title, item.topic) == ("Квалификувани контролори", "Тема")
    assert group.title == "Персонал" and localized.title.startswith("ISO/IEC 17020:2012 Оцена")
    reference = english.get("17020:6.1.3")
    assert (item.id, item.clause, item.verified, item.evidence, item.maps_to, item.body_types) == (
        reference.id, reference.clause, reference.verified, reference.evidence, reference.maps_to, reference.body_types)
    untouched = localized.get("17020:6.1.1")
    assert untouched == english.get("17020:6.1.1")  # not in the file: English


@pytest.mark.parametrize(("text", "problem"), [
    ('catalogue: iso17020-2012\nlocale: mk\nrequirements:\n  "17020:6.1.99": {title: X}\n', "not a requirement"),
    ('catalogue: ilac-g19\nlocale: mk\n', "not 'iso17020-2012'"),
    ('catalogue: iso17020-2012\nlocale: mk\nrequirements:\n  "17020:6.1.3": {title: X, evidence: Y}\n', "nothing else"),
    ('catalogue: iso17020-2012\nlocale: mk\nrequirements:\n  "17020:6.1.3": {title: ""}\n', "empty translation"),
    ('catalogue: iso17020-2012\nlocale: mk\nnotes: x\n', "unknown keys"),
    ("catalogue: [unclosed\n", "not valid YAML"),
])
def test_a_bad_translation_file_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(CatalogueError, match=problem):
        _parse(text)


def test_every_packaged_translation_loads_and_says_who_wrote_it() -> None:
    found = coverage()
    for locale in translation_locales():
        catalogues = load_all_in(locale)
        assert set(catalogues) == set(load_all())
        for catalogue in load_all().values():
            translation = load_translation(catalogue, locale)
            if translation is not None:
                assert translation.translated_by, f"{locale}/{catalogue.id}: who translated it?"
    for entry in found:
        assert 0 < entry.titles <= entry.requirements and entry.topics <= entry.requirements
