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
    *_numbered("7.4", 5),  # 7.4.4 and 7.4.2 g) quoted publicly; 7.4.5 amendments
    *_numbered("7.5", 5),
    *_numbered("7.6", 5),
    *_numbered("8.1", 3),
    *_numbered("8.2", 5),
    *_numbered("8.3", 2),
    *_numbered("8.4", 2),
    *_numbered("8.5", 3),
    *_numbered("8.6", 5),  # ILAC IC FAQ 53 cites 8.6.4, EA FAQ 31.1 cites 8.6.5 b)
    *_numbered("8.7", 3),
    *_numbered("8.8", 3),
    "17020:A.1",
    "17020:A.2",
    "17020:A.3",
]

def _sub(prefix: str, last: int, standard: str = "17025") -> list[str]:
    return [f"{standard}:{prefix}.{n}" for n in range(1, last + 1)]


# Every ISO/IEC 17025:2017 sub-clause, written out by hand (not derived from the YAML), in clause order.
EXPECTED_17025_SUBCLAUSES: list[str] = [
    *_sub("4.1", 5),
    *_sub("4.2", 4),
    *_sub("5", 7),
    "17025:6.1",
    *_sub("6.2", 6),
    *_sub("6.3", 5),
    *_sub("6.4", 13),
    *_sub("6.5", 3),
    *_sub("6.6", 3),
    *_sub("7.1", 8),
    *_sub("7.2.1", 7),
    *_sub("7.2.2", 4),
    *_sub("7.3", 3),
    *_sub("7.4", 4),
    *_sub("7.5", 2),
    *_sub("7.6", 3),
    *_sub("7.7", 3),
    *_sub("7.8.1", 3),
    *_sub("7.8.2", 2),
    *_sub("7.8.3", 2),
    *_sub("7.8.4", 3),
    "17025:7.8.5",
    *_sub("7.8.6", 2),
    *_sub("7.8.7", 3),
    *_sub("7.8.8", 3),
    *_sub("7.9", 7),
    *_sub("7.10", 3),
    *_sub("7.11", 6),
    *_sub("8.1", 3),
    *_sub("8.2", 5),
    *_sub("8.3", 2),
    *_sub("8.4", 2),
    *_sub("8.5", 3),
    *_sub("8.6", 2),
    *_sub("8.7", 3),
    *_sub("8.8", 2),
    *_sub("8.9", 3),
]
EXPECTED_CATALOGUES = {"iso17020-2012", "iso17025-2017", "ilac-g19", "bpm-scene", "bpm-firearms"}
EXPECTED_MAPPINGS = {"iso17025-iso17020": ("iso17025-2017", "iso17020-2012"),
                     "iso17025-ilac-g19": ("iso17025-2017", "ilac-g19")}
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


def test_17025_holds_every_subclause_in_order(catalogues):
    assessable = [r.id for r in catalogues["iso17025-2017"].requirements if r.assessable]
    assert sorted(set(EXPECTED_17025_SUBCLAUSES) - set(assessable)) == []
    assert sorted(set(assessable) - set(EXPECTED_17025_SUBCLAUSES)) == []
    assert assessable == EXPECTED_17025_SUBCLAUSES


def test_17025_items_are_complete(catalogues):
    cat = catalogues["iso17025-2017"]
    for req in cat.assessable():
        assert req.topic != req.title and req.evidence, req.id
        assert req.clause == req.id.split(":", 1)[1]
        assert req.parent in cat and not cat.get(req.parent).assessable, req.id
    # Clause groups carry the standard's clause titles (4.1 to 8.9 are public).
    assert cat.get("17025:7.7").title == "Ensuring the validity of results"
    assert cat.get("17025:8.5").title.startswith("Actions to address risks and opportunities")


def test_mappings_resolve_in_both_directions(catalogues):
    mappings = audits.load_mappings()
    assert {m: (s.source, s.target) for m, s in mappings.items()} == EXPECTED_MAPPINGS
    for mapping in mappings.values():
        assert audits.validate_mapping(mapping, catalogues) == []
        source, target = catalogues[mapping.source], catalogues[mapping.target]
        for pair in mapping.pairs:
            assert pair.source in source and pair.target in target, pair
            assert pair.target in mapping.forward(pair.source)
            assert pair.source in mapping.backward(pair.target)
            assert pair.source in audits.related_ids(pair.target) and pair.target in audits.related_ids(pair.source)


def test_every_17025_item_maps_to_17020_and_lab_modules_map_back(catalogues):
    to_17020 = audits.load_mapping("iso17025-iso17020")
    for req in catalogues["iso17025-2017"].assessable():
        assert to_17020.forward(req.id), f"{req.id} has no 17020 counterpart"
    to_g19 = audits.load_mapping("iso17025-ilac-g19")
    lab_modules = [r for r in catalogues["ilac-g19"].assessable() if r.clause in {"4.7", "4.8", "4.9"}]
    assert lab_modules
    for req in lab_modules:
        assert to_g19.backward(req.id), f"{req.id} has no 17025 counterpart"


def test_verified_items_have_a_recorded_source(catalogues):
    for cat in catalogues.values():
        for req in cat.requirements:
            if req.verified:
                assert req.source in cat.sources, req.id
                assert req.citation and cat.sources[req.source].title in req.citation
            elif req.assessable:
                assert req.note, f"{req.id} is unverified and does not say why"


def test_verified_true_without_a_source_is_refused(write_catalogue):
    with pytest.raises(CatalogueError, match=r"id 'broken:1'.*verified: true needs a recorded source"):
        load_catalogue(write_catalogue('  - {id: "broken:1", clause: "1", title: A, verified: true}\n'))


def test_source_must_be_a_recorded_citation(write_catalogue):
    with pytest.raises(CatalogueError, match=r"source 'toc' is not among the catalogue's sources"):
        load_catalogue(write_catalogue('  - {id: "broken:1", clause: "1", title: A, source: toc, verified: true}\n'))


def test_unverified_is_the_default(write_catalogue):
    cat = load_catalogue(write_catalogue('  - {id: "broken:1", clause: "1", title: A}\n'))
    assert [r.id for r in cat.unverified()] == ["broken:1"]


def test_17020_items_once_unverified_are_sourced_or_explained(catalogues):
    cat = catalogues["iso17020-2012"]
    # Confirmed by the public quotations recorded in the catalogue's sources.
    for clause in ("7.4.2", "7.4.4", "8.6.4", "8.6.5", "8.1.3"):
        assert cat.get(f"17020:{clause}").verified, clause
    for clause in ("7.5.1", "8.2.5", "8.6.1", "6.1.12"):
        assert not cat.get(f"17020:{clause}").verified, clause


def test_body_type_switch(catalogues):
    cat = catalogues["iso17020-2012"]
    assert cat.get("17020:4.1.6").body_type_dependent
    for body_type, annex in zip("ABC", ("17020:A.1", "17020:A.2", "17020:A.3"), strict=True):
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


def test_scope_body_type_wins_per_department(catalogues):
    scopes = [Scope("iso17020-2012", include=("A",), department="Scene unit", body_type="C"),
              Scope("iso17025-2017", include=("7.7",), department="Firearms laboratory")]
    ids = [r.id for r in expand_scopes(scopes, catalogues, body_type="A")]
    assert ids == ["17020:A.3", *_sub("7.7", 3)]


def test_mixed_checklist_is_in_catalogue_order(catalogues):
    checklist = load_checklist("scene-and-firearms-lab-audit", catalogues, body_type="B")
    ids = [r.id for r in checklist.requirements]
    assert ids == [r.id for r in audits.in_catalogue_order(checklist.requirements, catalogues)]
    first_17025 = next(i for i, r in enumerate(ids) if r.startswith("17025:"))
    assert all(r.startswith("17020:") for r in ids[:first_17025])
    assert all(r.startswith("17025:") for r in ids[first_17025:])
    assert [s.department for s in checklist.scopes] == ["Scene unit", "Firearms laboratory"]


def test_full_17025_checklist_is_every_subclause(catalogues):
    checklist = load_checklist("full-17025-internal-audit", catalogues)
    assert [r.id for r in checklist.requirements] == EXPECTED_17025_SUBCLAUSES


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
