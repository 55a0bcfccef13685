"""SOP templates in Macedonian and Albanian (issue 16): each translation is the same procedure as its English
original, a translation that drifts from it is refused with the reason, and a missing one falls back to English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sop_library
from sop_library import (
    TemplateError,
    check_translation,
    load_template,
    load_templates,
    load_translations,
    parse_template,
    template_locales,
)

# The five procedures used on most cases, translated into North Macedonia's two official languages.
MOST_USED = ("CSI-SOP-001", "CSI-SOP-004", "CSI-SOP-005", "CSI-SOP-007", "CSI-SOP-009")
CYRILLIC = re.compile(r"[\u0400-\u04FF]")
ALBANIAN_LETTERS = re.compile(r"[ëçËÇ]")
TEMPLATES = Path(sop_library.__file__).parent / "templates"


@pytest.mark.parametrize("locale", ["mk", "sq"])
def test_the_most_used_templates_are_translated(locale):
    assert locale in template_locales()
    translated = {t.code: t for t in load_translations(locale)}
    assert set(MOST_USED) <= set(translated)
    for template in translated.values():
        assert template.locale == locale and template.is_translation
        assert "not yet reviewed by a native speaker" in template.translated_by
        assert template.reviewed_by == ""


@pytest.mark.parametrize("locale", ["mk", "sq"])
def test_every_translation_is_the_same_procedure_as_its_original(locale):
    english = {t.code: t for t in load_templates()}
    for translation in load_translations(locale):
        original = english[translation.code]
        check_translation(original, translation)  # raises on any drift
        assert translation.title != original.title and translation.summary != original.summary
        assert translation.body_markdown != original.body_markdown
        # Codes, clauses and cross-references are kept as they are in the original.
        assert set(re.findall(r"CSI-SOP-\d{3}", translation.body_markdown)) == set(
            re.findall(r"CSI-SOP-\d{3}", original.body_markdown)), translation.code
        assert "| Revision | Date |" not in translation.body_markdown, f"{translation.code}: table not translated"


def test_macedonian_is_in_cyrillic_and_albanian_in_albanian():
    for template in load_translations("mk"):
        letters = re.findall(r"[^\W\d_]", template.body_markdown)
        assert len(CYRILLIC.findall(template.body_markdown)) > 0.8 * len(letters), template.code
    for template in load_translations("sq"):
        assert not CYRILLIC.search(template.body_markdown), template.code
        assert len(ALBANIAN_LETTERS.findall(template.body_markdown)) > 50, template.code


@pytest.mark.parametrize("locale", ["mk", "sq"])
def test_locale_loader_gives_translations_and_english_for_the_rest(locale):
    english = load_templates()
    mixed = load_templates(locale)
    assert [t.code for t in mixed] == [t.code for t in english]
    translated = {t.code for t in load_translations(locale)}
    for template in mixed:
        assert template.locale == (locale if template.code in translated else "en"), template.code
    untranslated = next(t for t in mixed if t.code not in translated)
    assert untranslated == next(t for t in english if t.code == untranslated.code)


@pytest.mark.parametrize("locale", [None, "en", "sr", "xx", "../templates"])
def test_english_or_an_untranslated_locale_gives_the_english_library(locale):
    assert load_templates(locale) == load_templates()


# --- refusals, on copies of a real translation ---------------------------------------------------------

@pytest.fixture
def library(tmp_path, monkeypatch):
    """A copy of the library with the Macedonian CSI-SOP-005 only, that a test can break."""
    name = next(p.name for p in TEMPLATES.glob("CSI-SOP-005-*.md"))
    (tmp_path / "mk").mkdir()
    for path in TEMPLATES.glob("*.md"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    translation = tmp_path / "mk" / name
    translation.write_text((TEMPLATES / "mk" / name).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(sop_library.loader, "template_dir", lambda: tmp_path)
    return translation


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_the_copy_loads(library):
    assert [t.code for t in load_translations("mk")] == ["CSI-SOP-005"]
    assert template_locales() == ("mk",)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("code: CSI-SOP-005", "code: CSI-SOP-006",
         "file name must start with the code 'CSI-SOP-006'"),
        ("review_months: 24", "review_months: 12",
         "review_months is 12 but the English sop_library/templates/CSI-SOP-005-chain-of-custody.md has 24"),
        ('  - "g19:M4.6"\n', "",
         "requirement_ids is 17020:7.2.3, .* but the English .* has 17020:7.2.3, .*g19:M4.6"),
        ("applies_to: [csi_officer, examiner]", "applies_to: [csi_officer]",
         "applies_to is csi_officer but the English .* has csi_officer, examiner"),
        ("locale: mk", "locale: sq", "'locale' is 'sq' but the file is in the 'mk' folder"),
        ("locale: mk\n", "", "front matter lacks locale"),
        ('reviewed_by: ""', "reviewed_by: 3", "'reviewed_by' must be text"),
        ("## 4. ", "## 5. ", r"numbered '## 1.' to '## 10.' in order; found \[1, 2, 3, 5, 5,"),
        ("## 10. ", "### 10. ", "numbered '## 1.' to '## 10.' in order; found .*9\\]"),
        ("\n1. ", "\n- ", r"the procedure \(section 7\) has \d+ numbered steps, the English has \d+"),
        ("# CSI-SOP-005 ", "# ", "the body must start with the heading '# CSI-SOP-005"),
    ],
)
def test_a_translation_that_drifts_from_its_original_is_refused(library, old, new, expected):
    _edit(library, old, new)
    with pytest.raises(TemplateError, match=expected) as info:
        load_templates("mk")
    assert str(info.value).startswith("sop_library/templates/mk/CSI-SOP-005-chain-of-custody.md: ")


def test_an_outdated_translation_is_refused_when_the_english_is_revised(library):
    _edit(library.parent.parent / library.name, 'revision: "1"', 'revision: "2"')
    with pytest.raises(TemplateError, match="revision is '1' but the English .* has '2'"):
        load_templates("mk")


def test_a_translation_without_an_original_is_refused(library):
    library.rename(library.parent / "CSI-SOP-005-renamed.md")
    with pytest.raises(TemplateError, match="no English template templates/CSI-SOP-005-renamed.md"):
        load_templates("mk")


def test_the_english_library_does_not_read_the_translations(library):
    _edit(library, "locale: mk", "locale: sq")
    assert len(load_templates()) == len(list(TEMPLATES.glob("*.md")))


def test_a_single_translation_file_can_be_checked(tmp_path):
    body = "# CSI-SOP-900 Проба\n\n" + "\n".join(f"## {n}. Дел\n\nТекст.\n" for n in range(1, 11))
    text = ("---\ncode: CSI-SOP-900\ntitle: Проба\ndiscipline: equipment\nreview_months: 12\n"
            'requirement_ids: ["17020:6.2.6"]\napplies_to: [examiner]\nlocale: mk\n'
            'translated_by: "test"\nreviewed_by: ""\n---\n\n' + body)
    path = tmp_path / "CSI-SOP-900-test.md"
    path.write_text(text, encoding="utf-8")
    assert load_template(path, "mk").title == "Проба"
    with pytest.raises(TemplateError, match=r"unknown front matter field\(s\) locale, reviewed_by, translated_by"):
        load_template(path)  # read as English, a translation's own fields are not allowed
    with pytest.raises(TemplateError, match="a translation needs the 10 sections"):
        parse_template(text.replace("## 10. Дел", "Дел"), "CSI-SOP-900-x.md", "mk")
