"""Requirement catalogues and checklists: completeness, references, errors, expansion order."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import audits
from audits import (
    CatalogueError,
    ChecklistError,
    Scope,
    UnknownRequirementError,
    expand_scopes,
    load_all,
    load_catalogue,
    load_checklist,
    resolve,
    validate_references,
)


def _numbered(prefix: str, last: int) -> list[str]:
    return [f"17020:{prefix}.{n}" for n in range(1, last + 1)]


# Written out from shared/research/standards.md section 1.1 (clause skeleton), not derived from the
# catalogue, so that a sub-clause missing from the YAML fails here.
EXPECTED_17020_SUBCLAUSES: list[str] = [
    *_numbered("4.1", 6),
    *_numbered("4.2", 3),
    *_numbered("5.1", 5),
    *_numbered("5.2", 7),
    *_numbered("6.1", 13),
    *_numbered("6.2", 15),
    *_numbered("6.3", 4),
    *_numbered("7.1", 9),
    *_numbered("7.2", 4),
    *_numbered("7.3", 2),
    *_numbered("7.4", 4),
    *_numbered("7.5", 5),
    *_numbered("7.6", 5),
    *_numbered("8.1", 3),
    *_numbered("8.2", 4),
    *_numbered("8.3", 2),
    *_numbered("8.4", 2),
    *_numbered("8.5", 3),
    *_numbered("8.6", 3),
    *_numbered("8.7", 3),
    *_numbered("8.8", 3),
    "17020:A.1",
    "17020:A.2",
    "17020:A.3",
]
EXPECTED_CATALOGUES = {"iso17020-2012", "ilac-g19", "bpm-scene", "bpm-firearms"}
ENFSI_CHAPTERS = ["4.1", "4.2", "5", "6", "7", "8", "9", "10", "12", "13", "14"]

GOOD_HEADER = """\
id: broken
id_prefix: broken
title: Broken catalogue
version: "1"
source_note: test fixture
requirements:
"""


@pytest.fixture(scope="module")
def catalogues() -> dict[str, audits.Catalogue]:
    return load_all()


@pytest.fixture
def write_catalogue(tmp_path: Path):
    def write(body: str, name: str = "broken.yaml") -> Path:
        path = tmp_path / name
        path.write_text(GOOD_HEADER + body, encoding="utf-8")
        return path

    return write


def test_every_packaged_catalogue_loads(catalogues):
    assert set(catalogues) == EXPECTED_CATALOGUES
    for cat in catalogues.values():
        assert cat.requirements and cat.version and cat.source_note
        assert all(r.catalogue_id == cat.id for r in cat.requirements)


def test_every_reference_resolves(catalogues):
    assert validate_references(catalogues) == []


def test_17020_holds_every_subclause(catalogues):
    cat = catalogues["iso17020-2012"]
    assessable = [r.id for r in cat.requirements if r.assessable]
    missing = [i for i in EXPECTED_17020_SUBCLAUSES if i not in assessable]
    extra = [i for i in assessable if i not in EXPECTED_17020_SUBCLAUSES]
    assert missing == [] and extra == []
    assert assessable == EXPECTED_17020_SUBCLAUSES  # clause order, too


def test_17020_items_are_complete(catalogues):
    for req in catalogues["iso17020-2012"].assessable():
        assert req.topic != req.title, req.id
        assert req.evidence, f"{req.id} has no typical evidence"
        assert req.clause == req.id.split(":", 1)[1]
        assert req.parent is not None and req.parent in catalogues["iso17020-2012"]


def test_body_type_switch(catalogues):
    cat = catalogues["iso17020-2012"]
    assert cat.get("17020:4.1.6").body_type_dependent
    for body_type, annex in zip("ABC", ("17020:A.1", "17020:A.2", "17020:A.3")):
        ids = {r.id for r in cat.assessable(body_type)}
        assert annex in ids
        assert len({"17020:A.1", "17020:A.2", "17020:A.3"} & ids) == 1


def test_ilac_p15_notes_present(catalogues):
    cat = catalogues["iso17020-2012"]
    for clause in ("17020:4.1.6", "17020:7.1.1", "17020:7.1.3"):
        assert any(g.source.startswith("ILAC-P15") for g in cat.get(clause).guidance), clause


def test_ids_unique_across_catalogues(catalogues):
    ids = [r.id for cat in catalogues.values() for r in cat.requirements]
    assert len(ids) == len(set(ids))


def test_g19_has_nine_modules_each_mapped(catalogues):
    cat = catalogues["ilac-g19"]
    modules = [r for r in cat.requirements if r.parent is None]
    assert [m.id for m in modules] == [f"g19:M{n}" for n in range(1, 10)]
    for module in modules:
        items = cat.children(module.id)
        assert items, module.id
        assert all(any(t.startswith("17020:") for t in item.maps_to) for item in items)


@pytest.mark.parametrize("name", ["bpm-scene", "bpm-firearms"])
def test_bpm_follows_enfsi_chapters_and_maps_to_17020(catalogues, name):
    cat = catalogues[name]
    for chapter in ENFSI_CHAPTERS:
        assert cat.children(f"{name}:{chapter}"), f"{name} has no items in chapter {chapter}"
    for req in cat.assessable():
        assert req.maps_to and all(t.startswith("17020:") for t in req.maps_to), req.id


def test_every_17020_subclause_group_is_reachable_from_mappings(catalogues):
    reverse = audits.mapped_from(catalogues)
    mapped_groups = {resolve(target, catalogues).parent for target in reverse}
    # Technical clause groups must have best-practice support; management clauses need not.
    for group in ("17020:6.1", "17020:6.2", "17020:7.1", "17020:7.2", "17020:7.3", "17020:7.4"):
        assert group in mapped_groups


def test_resolve(catalogues):
    assert resolve("17020:6.1.3").title
    assert resolve("bpm-firearms:6-01", catalogues).catalogue_id == "bpm-firearms"
    with pytest.raises(UnknownRequirementError, match="17020:9.9"):
        resolve("17020:9.9")


def test_load_by_path_equals_load_by_name():
    path = Path(str(resources.files("audits") / "catalogues" / "ilac-g19.yaml"))
    assert load_catalogue(path) == load_catalogue("ilac-g19")


def test_unknown_catalogue_name():
    with pytest.raises(CatalogueError, match="no packaged catalogue named 'nope'"):
        load_catalogue("nope")


def test_files_match_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((resources.files("audits") / "schema.json").read_text(encoding="utf-8"))
    for path in (resources.files("audits") / "catalogues").iterdir():
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '  - {id: "broken:1", clause: "1"}\n',
            r"broken.yaml: requirements\[0\].*missing required field\(s\) title",
        ),
        (
            '  - {id: "broken:1", clause: "1", title: A}\n  - {id: "broken:2", clause: 2, title: B}\n',
            r"requirements\[1\] \(id 'broken:2'\): field 'clause' must be a non-empty string",
        ),
        (
            '  - {id: "broken:1", clause: "1", title: A, evidnce: [x]}\n',
            r"id 'broken:1'.*unknown field\(s\) evidnce",
        ),
        ('  - {id: "other:1", clause: "1", title: A}\n', r"id 'other:1'.*must look like 'broken:<clause>'"),
        ('  - {id: "broken:1", clause: "1", title: A, body_types: [D]}\n', r"id 'broken:1'.*body_types"),
        (
            '  - {id: "broken:1", clause: "1", title: A, body_types: []}\n',
            r"id 'broken:1'.*at least one type",
        ),
        (
            '  - {id: "broken:1", clause: "1", title: A}\n  - {id: "broken:1", clause: "1", title: B}\n',
            r"broken.yaml: duplicate requirement id 'broken:1'",
        ),
        (
            '  - {id: "broken:2", parent: "broken:1", clause: "2", title: A}\n',
            r"'broken:2': parent 'broken:1' is not defined above it",
        ),
        ("  - {id: [unclosed\n", r"broken.yaml: invalid YAML"),
    ],
)
def test_malformed_catalogue_names_file_and_entry(write_catalogue, body, expected):
    with pytest.raises(CatalogueError, match=expected):
        load_catalogue(write_catalogue(body))


def test_catalogue_id_must_match_file_name(write_catalogue):
    path = write_catalogue('  - {id: "broken:1", clause: "1", title: A}\n', name="other.yaml")
    with pytest.raises(CatalogueError, match="other.yaml: catalogue id 'broken' differs from the file name"):
        load_catalogue(path)


def test_dangling_mapping_is_reported(write_catalogue, catalogues):
    broken = load_catalogue(
        write_catalogue('  - {id: "broken:1", clause: "1", title: A, maps_to: ["17020:99"]}\n')
    )
    problems = validate_references({**catalogues, broken.id: broken})
    assert problems == ["broken: broken:1 maps_to unknown requirement '17020:99'"]


# --- checklists -------------------------------------------------------------------------------


def test_full_audit_checklist_is_ordered_and_complete(catalogues):
    checklist = load_checklist("full-17020-internal-audit", catalogues)
    assert [r.id for r in checklist.requirements] == EXPECTED_17020_SUBCLAUSES


def test_full_audit_for_a_type_b_body_keeps_only_annex_a2(catalogues):
    checklist = load_checklist("full-17020-internal-audit", catalogues, body_type="B")
    ids = [r.id for r in checklist.requirements]
    assert ids == [i for i in EXPECTED_17020_SUBCLAUSES if i not in ("17020:A.1", "17020:A.3")]


def test_firearms_checklist_order(catalogues):
    checklist = load_checklist("firearms-technical-audit", catalogues)
    ids = [r.id for r in checklist.requirements]
    assert len(ids) == len(set(ids))
    # Scope order first, then catalogue order inside each scope.
    expected_17020 = [
        i
        for i in EXPECTED_17020_SUBCLAUSES
        if i.split(":")[1].rsplit(".", 1)[0] in {"6.1", "6.2", "7.1", "7.2", "7.3", "7.4"}
        and i != "17020:6.2.11"
    ]
    g19 = [r.id for r in catalogues["ilac-g19"].assessable() if r.clause[:3] in {"4.7", "4.8", "4.9"}]
    bpm = [r.id for r in catalogues["bpm-firearms"].assessable()]
    assert ids == expected_17020 + g19 + bpm


def test_every_packaged_checklist_expands():
    for name in audits.checklist_names():
        checklist = load_checklist(name)
        assert checklist.title and checklist.requirements
        assert all(r.assessable for r in checklist.requirements)


def test_include_order_and_segment_matching(catalogues):
    scopes = [Scope("iso17020-2012", include=("7.3", "6.1")), Scope("iso17020-2012", include=("7.3.1",))]
    ids = [r.id for r in expand_scopes(scopes, catalogues)]
    assert ids == ["17020:7.3.1", "17020:7.3.2", *_numbered("6.1", 13)]  # "6.1" must not catch "6.10"


def test_checklist_errors(catalogues, tmp_path):
    with pytest.raises(ChecklistError, match="prefix '9.9' matches nothing"):
        expand_scopes([Scope("iso17020-2012", include=("9.9",))], catalogues)
    with pytest.raises(ChecklistError, match="unknown catalogue 'nope'"):
        expand_scopes([Scope("nope")], catalogues)
    with pytest.raises(ChecklistError, match="body_type"):
        expand_scopes([Scope("iso17020-2012")], catalogues, body_type="D")
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text("id: other\ntitle: T\nscopes:\n  - {catalogue: ilac-g19}\n", encoding="utf-8")
    with pytest.raises(ChecklistError, match="renamed.yaml: checklist id 'other' differs"):
        load_checklist(renamed, catalogues)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\ntitle: Bad\nscopes:\n  - {catalogue: ilac-g19, includes: ['4.1']}\n", encoding="utf-8"
    )
    with pytest.raises(ChecklistError, match=r"bad.yaml: scopes\[0\]: unknown field\(s\) includes"):
        load_checklist(bad, catalogues)


def test_checklist_records_catalogue_versions(catalogues):
    checklist = load_checklist("scene-technical-audit", catalogues)
    assert checklist.catalogue_versions == (
        ("ilac-g19", catalogues["ilac-g19"].version),
        ("bpm-scene", catalogues["bpm-scene"].version),
        ("iso17020-2012", catalogues["iso17020-2012"].version),
    )


def test_unreadable_catalogue_path(tmp_path):
    with pytest.raises(CatalogueError, match="cannot read catalogue"):
        load_catalogue(tmp_path / "missing.yaml")


def _matches(clause: str, prefix: str) -> bool:
    return clause == prefix or clause.startswith(prefix + ".")


_GROUPS = [r.clause for r in load_catalogue("iso17020-2012").requirements if not r.assessable]


@given(
    include=st.lists(st.sampled_from(_GROUPS), max_size=6),
    exclude=st.lists(st.sampled_from(_GROUPS), max_size=2),
)
def test_expansion_is_exactly_the_matching_items_in_order(include, exclude):
    items = load_all()["iso17020-2012"].assessable()
    result = expand_scopes([Scope("iso17020-2012", tuple(include), tuple(exclude))], load_all())
    wanted = {
        r.id
        for r in items
        if (not include or any(_matches(r.clause, p) for p in include))
        and not any(_matches(r.clause, p) for p in exclude)
    }
    ids = [r.id for r in result]
    assert len(ids) == len(set(ids))
    assert set(ids) == wanted
    # Ordered by the first include prefix that matches, then by position in the catalogue.
    position = {r.id: i for i, r in enumerate(items)}
    keys = [
        (next((i for i, p in enumerate(include) if _matches(r.clause, p)), 0), position[r.id]) for r in result
    ]
    assert keys == sorted(keys)
