"""SOP template library: completeness, front matter, references to catalogues, error messages."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import audits
import sop_library
from sop_library import (
    DISCIPLINES,
    REQUIRED_SECTIONS,
    ROLES,
    SopTemplate,
    TemplateError,
    load_template,
    load_templates,
    parse_template,
    requirement_coverage,
    unresolved_requirements,
)

# Topics the library must cover (issue 5) -> the code and a word that must appear in its title.
REQUIRED_TOPICS: dict[str, tuple[str, str]] = {
    "scene attendance and initial actions": ("CSI-SOP-001", "initial actions"),
    "scene documentation": ("CSI-SOP-002", "photography"),
    "search and recovery of firearms and cartridge cases": ("CSI-SOP-003", "recovery of firearms"),
    "packaging, labelling and sealing": ("CSI-SOP-004", "sealing"),
    "chain of custody and transfers": ("CSI-SOP-005", "custody"),
    "evidence storage and retention": ("CSI-SOP-006", "retention"),
    "making a firearm safe": ("CSI-SOP-007", "firearm safe"),
    "imaging cartridge cases": ("CSI-SOP-008", "imaging cartridge cases"),
    "comparison and blind verification": ("CSI-SOP-009", "blind verification"),
    "firearms stolen, lost or found": ("CSI-SOP-010", "stolen, lost or found"),
    "test-firing and range safety": ("CSI-SOP-011", "range safety"),
    "document control": ("CSI-SOP-012", "document control"),
    "internal audits": ("CSI-SOP-013", "internal audits"),
    "corrective actions": ("CSI-SOP-014", "corrective"),
    "equipment calibration and checks": ("CSI-SOP-015", "calibration"),
}

GOOD_FRONT_MATTER = {
    "code": "CSI-SOP-900",
    "title": "Test procedure",
    "discipline": "equipment",
    "review_months": "12",
    "requirement_ids": '["17020:6.2.6"]',
    "applies_to": "[examiner]",
}
GOOD_BODY = "\n".join(f"## {n}. {name}\n\nText.\n" for n, name in enumerate(REQUIRED_SECTIONS, start=1))


def _template_text(body: str = GOOD_BODY, **fields: str | None) -> str:
    meta = {**GOOD_FRONT_MATTER, **fields}
    lines = [f"{key}: {value}" for key, value in meta.items() if value is not None]
    return "---\n" + "\n".join(lines) + "\n---\n\n" + body


@pytest.fixture(scope="module")
def templates() -> list[SopTemplate]:
    return load_templates()


def test_at_least_fifteen_templates(templates):
    assert len(templates) >= 15


def test_codes_unique_and_sorted(templates):
    codes = [t.code for t in templates]
    assert len(codes) == len(set(codes))
    assert codes == sorted(codes)


@pytest.mark.parametrize("topic", sorted(REQUIRED_TOPICS))
def test_required_topic_present(templates, topic):
    code, title_word = REQUIRED_TOPICS[topic]
    by_code = {t.code: t for t in templates}
    assert code in by_code, f"no template for {topic}"
    assert title_word.casefold() in by_code[code].title.casefold()


def test_every_requirement_id_resolves(templates):
    assert unresolved_requirements(templates) == []


def test_front_matter_complete(templates):
    for t in templates:
        assert t.title and t.summary, t.code
        assert t.discipline in DISCIPLINES
        assert 1 <= t.review_months <= 60
        assert t.requirement_ids and t.applies_to
        assert set(t.applies_to) <= set(ROLES)
        assert any(r.startswith("17020:") for r in t.requirement_ids), f"{t.code} cites no 17020 clause"


def test_every_discipline_has_a_template(templates):
    assert {t.discipline for t in templates} == set(DISCIPLINES)


def test_bodies_are_usable_procedures(templates):
    for t in templates:
        assert t.body_markdown.startswith(f"# {t.code} "), t.code
        procedure = re.search(r"^## \d+\. Procedure\n(.*?)^## ", t.body_markdown, re.MULTILINE | re.DOTALL)
        assert procedure, f"{t.code}: no procedure section"
        steps = re.findall(r"^(\d+)\. ", procedure.group(1), re.MULTILINE)
        # Steps run 1, 2, 3... across the sub-sections, so a step can be cited by number alone.
        assert [int(n) for n in steps] == list(range(1, len(steps) + 1)), f"{t.code}: steps {steps}"
        assert len(steps) >= 5, f"{t.code}: too few steps for a usable procedure"
        assert "| Revision | Date |" in t.body_markdown, f"{t.code}: no revision history table"


def test_cross_references_point_to_existing_templates(templates):
    codes = {t.code for t in templates}
    for t in templates:
        cited = set(re.findall(r"CSI-SOP-\d{3}", t.body_markdown)) - {t.code}
        assert cited <= codes, f"{t.code} cites missing {sorted(cited - codes)}"


def test_content_hash_is_of_normalised_text(templates):
    template = templates[0]
    text = (Path(sop_library.__file__).parent / template.source_path.split("/", 1)[1]).read_text(
        encoding="utf-8"
    )
    assert template.content_sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    crlf = parse_template(text.replace("\n", "\r\n"), template.source_path)
    assert crlf == template


def test_load_single_file(tmp_path):
    path = tmp_path / "CSI-SOP-900-test.md"
    path.write_text(_template_text(), encoding="utf-8")
    template = load_template(path)
    assert template.code == "CSI-SOP-900" and template.review_months == 12
    assert template.requirement_ids == ("17020:6.2.6",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# No front matter\n", "must start with YAML front matter"),
        (_template_text(title="[unclosed"), "invalid YAML in front matter"),
        (_template_text(review_months=None), "front matter lacks review_months"),
        (_template_text(owner="me"), r"unknown front matter field\(s\) owner"),
        (_template_text(code="SOP-1"), "code 'SOP-1' must look like CSI-SOP-001"),
        (_template_text(code="CSI-SOP-901"), "file name must start with the code 'CSI-SOP-901'"),
        (_template_text(discipline="ballistics"), "discipline 'ballistics' is not one of"),
        (_template_text(review_months="yes"), "'review_months' must be a whole number"),
        (_template_text(review_months="0"), "'review_months' must be a whole number"),
        (_template_text(applies_to="[detective]"), r"'applies_to' has unknown value\(s\) \['detective'\]"),
        (_template_text(requirement_ids="[]"), "'requirement_ids' must be a non-empty list"),
        (_template_text(body="## 1. Purpose\n"), r"missing section\(s\) Scope, Responsibilities"),
    ],
)
def test_malformed_template_names_file(tmp_path, text, expected):
    path = tmp_path / "CSI-SOP-900-test.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=expected) as info:
        load_template(path)
    assert str(info.value).startswith(str(path))


def test_duplicate_codes_rejected(tmp_path, monkeypatch):
    for name in ("CSI-SOP-900-a.md", "CSI-SOP-900-b.md"):
        (tmp_path / name).write_text(_template_text(), encoding="utf-8")
    monkeypatch.setattr(sop_library.loader, "template_dir", lambda: tmp_path)
    with pytest.raises(TemplateError, match="code CSI-SOP-900 is also used by"):
        load_templates()


def test_unknown_requirement_is_reported():
    template = parse_template(_template_text(requirement_ids='["17020:9.9"]'), "CSI-SOP-900-x.md")
    assert unresolved_requirements([template]) == ["CSI-SOP-900-x.md: CSI-SOP-900 cites unknown '17020:9.9'"]


@given(st.integers(min_value=-5, max_value=80))
def test_review_months_bounds(months):
    text = _template_text(review_months=str(months))
    if 1 <= months <= 60:
        assert parse_template(text, "CSI-SOP-900.md").review_months == months
    else:
        with pytest.raises(TemplateError, match="review_months"):
            parse_template(text, "CSI-SOP-900.md")


# Clauses a unit answers in its quality manual (legal status, organisation, management-system
# option and policy) rather than in an operating procedure; type A independence does not apply to
# police units. Every other ISO/IEC 17020 sub-clause must be addressed by at least one template.
QUALITY_MANUAL_CLAUSES = {
    *(f"17020:5.1.{n}" for n in range(1, 6)),
    "17020:5.2.1",
    *(f"17020:5.2.{n}" for n in range(4, 8)),
    "17020:8.1.1",
    "17020:8.1.2",
    "17020:8.1.3",
    "17020:8.2.1",
    "17020:8.2.3",
    "17020:A.1",
}


def test_templates_cover_iso17020_outside_the_quality_manual(templates):
    coverage = requirement_coverage(templates)
    clauses = {r.id for r in audits.load_catalogue("iso17020-2012").assessable()}
    assert sorted(clauses - set(coverage) - QUALITY_MANUAL_CLAUSES) == []


def test_coverage_follows_mappings(templates):
    coverage = requirement_coverage(templates)
    # CSI-SOP-008 cites bpm-firearms:4.2-02, which maps to 17020:6.2.8 (reference standards).
    assert "CSI-SOP-008" in coverage["bpm-firearms:4.2-02"]
    assert "CSI-SOP-008" in coverage["17020:6.2.8"]


def test_cited_requirements_are_assessable_items(templates):
    for t in templates:
        for requirement_id in t.requirement_ids:
            assert audits.resolve(requirement_id).assessable, f"{t.code} cites group {requirement_id}"
