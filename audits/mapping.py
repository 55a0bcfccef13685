"""Mapping sets between catalogues, read in both directions.

A mapping file (``audits/mappings/<id>.yaml``) pairs requirement ids of two catalogues, for
example ISO/IEC 17025:2017 with ISO/IEC 17020:2012, so that an assessment against one can be read
against the other. A pair is stated once and is answered both ways: ``forward`` gives the target
ids of a source id, ``backward`` the source ids of a target id. ``relationship`` says how much of
the source the target covers (equal, subset, superset, intersect), as in CISO Assistant's sets.

File format::

    id: iso17025-iso17020         # equals the file name
    title: ...
    source: iso17025-2017         # catalogue ids
    target: iso17020-2012
    note: how the pairs were chosen (our own judgement, not a published correlation table)
    pairs:
      - {source: "17025:6.2.5", target: "17020:6.1.5", relationship: equal}
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from audits.catalogue import Catalogue, CatalogueError, load_all

MAPPING_DIR = "mappings"
RELATIONSHIPS = ("equal", "subset", "superset", "intersect")


@dataclass(frozen=True)
class Pair:
    source: str
    target: str
    relationship: str = "intersect"


@dataclass(frozen=True)
class MappingSet:
    """Pairs of requirement ids between a source and a target catalogue."""

    id: str
    title: str
    source: str
    target: str
    note: str
    pairs: tuple[Pair, ...]
    _forward: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _backward: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        forward: dict[str, list[str]] = {}
        backward: dict[str, list[str]] = {}
        for pair in self.pairs:
            forward.setdefault(pair.source, []).append(pair.target)
            backward.setdefault(pair.target, []).append(pair.source)
        object.__setattr__(self, "_forward", {k: tuple(v) for k, v in forward.items()})
        object.__setattr__(self, "_backward", {k: tuple(v) for k, v in backward.items()})

    def forward(self, requirement_id: str) -> tuple[str, ...]:
        """Target ids paired with a source id."""
        return self._forward.get(requirement_id, ())

    def backward(self, requirement_id: str) -> tuple[str, ...]:
        """Source ids paired with a target id."""
        return self._backward.get(requirement_id, ())

    def related(self, requirement_id: str) -> tuple[str, ...]:
        """Ids paired with this one, whichever side it is on."""
        return self.forward(requirement_id) + self.backward(requirement_id)


def _fail(where: str, message: str) -> CatalogueError:
    return CatalogueError(f"{where}: {message}")


def _pair(where: str, raw: Any) -> Pair:
    if not isinstance(raw, dict) or not {"source", "target"} <= set(raw):
        raise _fail(where, "each pair needs a source and a target id")
    unknown = set(raw) - {"source", "target", "relationship"}
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(sorted(unknown))}")
    relationship = str(raw.get("relationship", "intersect"))
    if relationship not in RELATIONSHIPS:
        raise _fail(where, f"relationship must be one of {', '.join(RELATIONSHIPS)}, got {relationship!r}")
    return Pair(str(raw["source"]), str(raw["target"]), relationship)


def parse_mapping(text: str, where: str) -> MappingSet:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(where, f"invalid YAML: {exc}") from exc
    needed = {"id", "title", "source", "target", "pairs"}
    if not isinstance(data, dict) or not needed <= set(data):
        raise _fail(where, f"needs a mapping with {', '.join(sorted(needed))}")
    if not isinstance(data["pairs"], list) or not data["pairs"]:
        raise _fail(where, "'pairs' must be a non-empty list")
    pairs = tuple(_pair(f"{where}: pairs[{i}]", raw) for i, raw in enumerate(data["pairs"]))
    if len(set((p.source, p.target) for p in pairs)) != len(pairs):
        raise _fail(where, "a pair is listed twice")
    return MappingSet(str(data["id"]), str(data["title"]), str(data["source"]), str(data["target"]),
                      str(data.get("note", "")).strip(), pairs)


def mapping_names() -> tuple[str, ...]:
    folder = resources.files("audits") / MAPPING_DIR
    return tuple(sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml")))


def load_mapping(name_or_path: str | Path) -> MappingSet:
    """A packaged mapping set by id, or a mapping file by path."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".yaml"):
        source: Any = Path(name_or_path)
    else:
        source = resources.files("audits") / MAPPING_DIR / f"{text}.yaml"
        if not source.is_file():
            raise CatalogueError(f"no packaged mapping named {text!r}; known: {', '.join(mapping_names())}")
    mapping = parse_mapping(source.read_text(encoding="utf-8"), source.name)
    if source.name.rsplit(".", 1)[0] != mapping.id:
        raise CatalogueError(f"{source.name}: mapping id {mapping.id!r} differs from the file name")
    return mapping


@functools.cache
def _packaged() -> tuple[MappingSet, ...]:
    return tuple(load_mapping(name) for name in mapping_names())


def load_mappings() -> dict[str, MappingSet]:
    """All packaged mapping sets keyed by id."""
    return {m.id: m for m in _packaged()}


def validate_mapping(mapping: MappingSet, catalogues: Mapping[str, Catalogue] | None = None) -> list[str]:
    """Problems of one mapping set: unknown catalogues, ids that do not resolve on either side."""
    catalogues = load_all() if catalogues is None else catalogues
    problems = []
    for side in (mapping.source, mapping.target):
        if side not in catalogues:
            problems.append(f"{mapping.id}: unknown catalogue {side!r}")
    if problems:
        return problems
    source, target = catalogues[mapping.source], catalogues[mapping.target]
    for pair in mapping.pairs:
        for requirement_id, catalogue in ((pair.source, source), (pair.target, target)):
            if requirement_id not in catalogue:
                problems.append(f"{mapping.id}: {requirement_id!r} is not in {catalogue.id}")
            elif not catalogue.get(requirement_id).assessable:
                problems.append(f"{mapping.id}: {requirement_id!r} is a clause group; map its items")
    return problems


def related_ids(requirement_id: str, mappings: Mapping[str, MappingSet] | None = None) -> tuple[str, ...]:
    """Ids paired with this one in any packaged mapping set, either direction, once each."""
    mappings = load_mappings() if mappings is None else mappings
    return tuple(dict.fromkeys(i for m in mappings.values() for i in m.related(requirement_id)))
