"""Requirement catalogues: load, check and resolve versioned YAML outlines of standards.

Catalogue files live in ``audits/catalogues/<id>.yaml`` and are read through ``importlib.resources``,
so the same code works in a checkout and in an installed wheel (even a zipped one). Every entry is
our own paraphrase of a topic; no text of a standard is stored.

File format (``audits/schema.json`` states the same rules for editors)::

    id: iso17020-2012            # equals the file name
    id_prefix: "17020"           # every requirement id is "<id_prefix>:<something>"
    title, version, source_note  # required; version is a quoted string
    framework, provider, publication_date, locale, copyright_note   # optional
    requirements:                # file order is reading order; parents before children
      - id: "17020:6.1.3"
        parent: "17020:6.1"      # optional; must be defined above
        clause: "6.1.3"          # quoted, or 6.10 would load as the float 6.1
        title: Qualified inspectors
        topic: our paraphrase    # defaults to the title
        evidence: [typical objective evidence, ...]
        body_types: [B, C]       # default: all of A, B, C
        body_type_dependent: true  # the requirement reads differently per body type
        maps_to: ["17020:7.1.5"] # ids in other catalogues
        assessable: false        # clause groups; default true
        source: asnzs-toc        # key of the header's `sources`: the public source that confirms
        verified: true           #   number, title and topic; default false (unchecked)
        note: why an item stays unverified, or what the source does not confirm
        guidance: [{source: ILAC-P15:05/2020, note_ref: "4.1.6", text: paraphrase}]
    sources:                     # header, optional: citations the items' `source` keys name
      asnzs-toc: {title: "AS/NZS ISO/IEC 17020:2013 table of contents", url: "https://...",
                  covers: what the source confirms}

An item is `verified: true` only when a recorded source confirms its number, title and topic; the
loader refuses `verified: true` without a `source`, so an unchecked item can never pass as checked.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

BODY_TYPES: tuple[str, ...] = ("A", "B", "C")
CATALOGUE_DIR = "catalogues"

_REQUIREMENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]*:[A-Za-z0-9][A-Za-z0-9.\-]*$")
_CATALOGUE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class CatalogueError(ValueError):
    """A catalogue file is unreadable, malformed or breaks the schema; the message names file and entry."""


class UnknownRequirementError(LookupError):
    """A requirement id does not resolve in any loaded catalogue."""


@dataclass(frozen=True)
class Guidance:
    """An application note keyed to a requirement (for example ILAC P15), paraphrased."""

    source: str
    note_ref: str
    text: str


@dataclass(frozen=True)
class Source:
    """A public document that confirms catalogue items (a published checklist, a table of contents)."""

    key: str
    title: str
    url: str = ""
    covers: str = ""

    @property
    def citation(self) -> str:
        return f"{self.title} <{self.url}>" if self.url else self.title


@dataclass(frozen=True)
class Requirement:
    """One node of a catalogue: a clause group (not assessable) or an assessable item."""

    id: str
    catalogue_id: str
    clause: str
    title: str
    topic: str
    evidence: tuple[str, ...]
    body_types: tuple[str, ...]
    body_type_dependent: bool
    maps_to: tuple[str, ...]
    parent: str | None
    assessable: bool
    verified: bool
    guidance: tuple[Guidance, ...] = ()
    source: str = ""  # key of the catalogue's `sources`; "" when nothing confirms the item
    citation: str = ""  # that source's title and address, resolved when loading
    note: str = ""  # what is unconfirmed and why

    def applies_to_body_type(self, body_type: str) -> bool:
        """True when this requirement applies to an inspection body of ``body_type``."""
        return body_type in self.body_types


@dataclass(frozen=True)
class Catalogue:
    """A versioned requirement catalogue; ``requirements`` keeps file order (parents before children)."""

    id: str
    title: str
    version: str
    source_note: str
    id_prefix: str
    requirements: tuple[Requirement, ...]
    provider: str = ""
    publication_date: str = ""
    locale: str = "en"
    sources: Mapping[str, Source] = field(default_factory=dict)
    _by_id: Mapping[str, Requirement] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.id: r for r in self.requirements})

    def get(self, requirement_id: str) -> Requirement:
        """Return the requirement with this id or raise UnknownRequirementError."""
        try:
            return self._by_id[requirement_id]
        except KeyError:
            raise UnknownRequirementError(f"{requirement_id!r} is not in catalogue {self.id!r}") from None

    def __contains__(self, requirement_id: object) -> bool:
        return requirement_id in self._by_id

    def children(self, parent_id: str | None) -> tuple[Requirement, ...]:
        """Direct children of ``parent_id`` (top-level nodes for None), in file order."""
        return tuple(r for r in self.requirements if r.parent == parent_id)

    def unverified(self) -> tuple[Requirement, ...]:
        """Assessable items whose number, title or topic no recorded source confirms."""
        return tuple(r for r in self.assessable() if not r.verified)

    def assessable(self, body_type: str | None = None) -> tuple[Requirement, ...]:
        """Assessable items, optionally only those applying to ``body_type``."""
        return tuple(
            r
            for r in self.requirements
            if r.assessable and (body_type is None or r.applies_to_body_type(body_type))
        )


# --- field schema ---------------------------------------------------------------------------
# A small declarative schema keeps the runtime free of jsonschema (not a runtime dependency);
# audits/schema.json states the same rules for editors and is checked against the files in tests.

_HEADER_REQUIRED = ("id", "title", "version", "source_note", "id_prefix", "requirements")
_HEADER_OPTIONAL = ("framework", "provider", "publication_date", "locale", "copyright_note", "sources")
_ITEM_REQUIRED = ("id", "clause", "title")
_ITEM_OPTIONAL = (
    "topic",
    "evidence",
    "body_types",
    "body_type_dependent",
    "maps_to",
    "parent",
    "assessable",
    "verified",
    "guidance",
    "source",
    "note",
)
_GUIDANCE_KEYS = ("source", "note_ref", "text")
_SOURCE_KEYS = ("title",)
_SOURCE_OPTIONAL = ("url", "covers")


def _fail(where: str, message: str) -> CatalogueError:
    return CatalogueError(f"{where}: {message}")


def _check_keys(
    where: str, data: Mapping[str, Any], required: Iterable[str], optional: Iterable[str]
) -> None:
    missing = [k for k in required if k not in data]
    if missing:
        raise _fail(where, f"missing required field(s) {', '.join(missing)}")
    # Unknown keys are rejected because a misspelt key would otherwise be silently ignored.
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(unknown)}")


def _text(where: str, data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"field {key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _text_list(where: str, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(where, f"field {key!r} must be a list of non-empty strings, got {value!r}")
    return tuple(v.strip() for v in value)


def _flag(where: str, data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise _fail(where, f"field {key!r} must be true or false, got {value!r}")
    return value


def _guidance(where: str, data: Mapping[str, Any]) -> tuple[Guidance, ...]:
    raw = data.get("guidance", [])
    if not isinstance(raw, list):
        raise _fail(where, "field 'guidance' must be a list")
    notes = []
    for index, note in enumerate(raw):
        note_where = f"{where} guidance[{index}]"
        if not isinstance(note, dict):
            raise _fail(note_where, "must be a mapping with source, note_ref and text")
        _check_keys(note_where, note, _GUIDANCE_KEYS, ())
        notes.append(Guidance(*(_text(note_where, note, k) for k in _GUIDANCE_KEYS)))
    return tuple(notes)


def _body_types(where: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    if "body_types" not in data:
        return BODY_TYPES  # applies to every type unless restricted
    types = _text_list(where, data, "body_types")
    if not types:
        raise _fail(where, "body_types, when given, must name at least one type")
    bad = [t for t in types if t not in BODY_TYPES]
    if bad:
        raise _fail(where, f"body_types must be among {', '.join(BODY_TYPES)}, got {bad}")
    return tuple(t for t in BODY_TYPES if t in types)  # canonical order


def _sources(where: str, data: Mapping[str, Any]) -> dict[str, Source]:
    raw = data.get("sources", {})
    if not isinstance(raw, dict):
        raise _fail(where, "field 'sources' must map keys to {title, url, covers}")
    sources = {}
    for key, entry in raw.items():
        entry_where = f"{where} sources[{key!r}]"
        if not isinstance(entry, dict):
            raise _fail(entry_where, "must be a mapping with title, url and covers")
        _check_keys(entry_where, entry, _SOURCE_KEYS, _SOURCE_OPTIONAL)
        sources[str(key)] = Source(str(key), _text(entry_where, entry, "title"),
                                   str(entry.get("url", "")).strip(), str(entry.get("covers", "")).strip())
    return sources


def _verification(where: str, data: Mapping[str, Any], sources: Mapping[str, Source]) -> tuple[bool, str, str]:
    """(verified, source key, citation): verified only with a source the header records."""
    verified = _flag(where, data, "verified", False)
    key = _text(where, data, "source") if "source" in data else ""
    if key and key not in sources:
        raise _fail(where, f"source {key!r} is not among the catalogue's sources ({', '.join(sources) or 'none'})")
    if verified and not key:
        raise _fail(where, "verified: true needs a recorded source (field 'source')")
    return verified, key, sources[key].citation if key else ""


def _requirement(where: str, data: Any, catalogue_id: str, prefix: str,
                 sources: Mapping[str, Source] | None = None) -> Requirement:
    if not isinstance(data, dict):
        raise _fail(where, "must be a mapping")
    if isinstance(data.get("id"), str):
        where = f"{where} (id {data['id']!r})"  # name the entry in every message that follows
    _check_keys(where, data, _ITEM_REQUIRED, _ITEM_OPTIONAL)
    req_id = _text(where, data, "id")
    if not _REQUIREMENT_ID.match(req_id) or not req_id.startswith(prefix + ":"):
        raise _fail(where, f"id must look like '{prefix}:<clause>'")
    parent = data.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise _fail(where, f"field 'parent' must be a requirement id, got {parent!r}")
    verified, source, citation = _verification(where, data, sources or {})
    return Requirement(
        id=req_id,
        catalogue_id=catalogue_id,
        # Clauses must be quoted strings: unquoted 6.10 would load as the float 6.1.
        clause=_text(where, data, "clause"),
        title=_text(where, data, "title"),
        topic=_text(where, data, "topic", default=data.get("title")),
        evidence=_text_list(where, data, "evidence"),
        body_types=_body_types(where, data),
        body_type_dependent=_flag(where, data, "body_type_dependent", False),
        maps_to=_text_list(where, data, "maps_to"),
        parent=parent,
        assessable=_flag(where, data, "assessable", True),
        verified=verified,
        guidance=_guidance(where, data),
        source=source,
        citation=citation,
        note=_text(where, data, "note") if "note" in data else "",
    )


def _check_structure(where: str, requirements: Iterable[Requirement]) -> None:
    by_id: dict[str, Requirement] = {}
    for req in requirements:
        if req.id in by_id:
            raise _fail(where, f"duplicate requirement id {req.id!r}")
        # Parents must come first so that file order is a valid reading (and checklist) order.
        if req.parent is not None and req.parent not in by_id:
            raise _fail(where, f"requirement {req.id!r}: parent {req.parent!r} is not defined above it")
        by_id[req.id] = req


def parse_catalogue(text: str, source: str) -> Catalogue:
    """Parse catalogue YAML ``text``; ``source`` names the file in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(source, f"invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise _fail(source, "top level must be a mapping")
    _check_keys(source, data, _HEADER_REQUIRED, _HEADER_OPTIONAL)
    cat_id = _text(source, data, "id")
    if not _CATALOGUE_ID.match(cat_id):
        raise _fail(source, f"catalogue id {cat_id!r} must be lower-case letters, digits and hyphens")
    prefix = _text(source, data, "id_prefix")
    raw_items = data["requirements"]
    if not isinstance(raw_items, list) or not raw_items:
        raise _fail(source, "field 'requirements' must be a non-empty list")
    sources = _sources(source, data)
    items = tuple(
        _requirement(f"{source}: requirements[{i}]", item, cat_id, prefix, sources)
        for i, item in enumerate(raw_items)
    )
    _check_structure(source, items)
    return Catalogue(
        id=cat_id,
        title=_text(source, data, "title"),
        version=_text(source, data, "version"),
        source_note=_text(source, data, "source_note"),
        id_prefix=prefix,
        requirements=items,
        provider=str(data.get("provider", "")),
        publication_date=str(data.get("publication_date", "")),
        locale=str(data.get("locale", "en")),
        sources=sources,
    )


# --- finding and loading files ----------------------------------------------------------------


def catalogue_dir() -> Traversable:
    """The packaged catalogue folder (works from a checkout and from an installed package)."""
    return resources.files("audits") / CATALOGUE_DIR


def catalogue_names() -> tuple[str, ...]:
    """Ids of the packaged catalogues, sorted."""
    return tuple(
        sorted(p.name[: -len(".yaml")] for p in catalogue_dir().iterdir() if p.name.endswith(".yaml"))
    )


def _source_for(name_or_path: str | Path) -> Traversable | Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        return Path(name_or_path)
    resource = catalogue_dir() / f"{text}.yaml"
    if not resource.is_file():
        raise CatalogueError(f"no packaged catalogue named {text!r}; known: {', '.join(catalogue_names())}")
    return resource


def load_catalogue(name_or_path: str | Path) -> Catalogue:
    """Load a packaged catalogue by id (``"iso17020-2012"``) or any catalogue file by path."""
    source = _source_for(name_or_path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{source}: cannot read catalogue: {exc}") from exc
    catalogue = parse_catalogue(text, source.name)
    # The file stem is the name users pass in; it must agree with the id other data refer to.
    if source.name.rsplit(".", 1)[0] != catalogue.id:
        raise CatalogueError(f"{source.name}: catalogue id {catalogue.id!r} differs from the file name")
    return catalogue


@functools.cache
def _packaged() -> tuple[Catalogue, ...]:
    # Packaged files never change at run time, so parse them once per process.
    return tuple(load_catalogue(name) for name in catalogue_names())


def load_all() -> dict[str, Catalogue]:
    """All packaged catalogues keyed by catalogue id."""
    return {cat.id: cat for cat in _packaged()}


def _index(catalogues: Mapping[str, Catalogue]) -> dict[str, Requirement]:
    return {req.id: req for cat in catalogues.values() for req in cat.requirements}


def resolve(requirement_id: str, catalogues: Mapping[str, Catalogue] | None = None) -> Requirement:
    """Find a requirement by id (for example ``"17020:6.1.3"``) across catalogues."""
    catalogues = load_all() if catalogues is None else catalogues
    prefix = requirement_id.partition(":")[0]
    for cat in catalogues.values():
        if cat.id_prefix == prefix and requirement_id in cat:
            return cat.get(requirement_id)
    raise UnknownRequirementError(f"requirement {requirement_id!r} is not in any loaded catalogue")


def validate_references(catalogues: Mapping[str, Catalogue]) -> list[str]:
    """Problems with cross-catalogue references (empty list when all is well)."""
    problems: list[str] = []
    prefixes: dict[str, str] = {}
    for cat in catalogues.values():
        if cat.id_prefix in prefixes:
            problems.append(f"{cat.id}: id prefix {cat.id_prefix!r} also used by {prefixes[cat.id_prefix]}")
        prefixes[cat.id_prefix] = cat.id
    known = _index(catalogues)
    for cat in catalogues.values():
        for req in cat.requirements:
            problems.extend(_reference_problems(req, known))
    return problems


def _reference_problems(req: Requirement, known: Mapping[str, Requirement]) -> list[str]:
    problems = []
    for target in req.maps_to:
        if target not in known:
            problems.append(f"{req.catalogue_id}: {req.id} maps_to unknown requirement {target!r}")
        elif known[target].catalogue_id == req.catalogue_id:
            problems.append(f"{req.catalogue_id}: {req.id} maps_to {target!r} in its own catalogue")
    if req.assessable is False and req.maps_to:
        problems.append(f"{req.catalogue_id}: group {req.id} should not carry maps_to; map its items")
    return problems


def mapped_from(catalogues: Mapping[str, Catalogue]) -> dict[str, tuple[str, ...]]:
    """Reverse mappings: for each target id, the ids of items that map to it (for gap analysis)."""
    reverse: dict[str, list[str]] = {}
    for cat in catalogues.values():
        for req in cat.requirements:
            for target in req.maps_to:
                reverse.setdefault(target, []).append(req.id)
    return {target: tuple(sources) for target, sources in reverse.items()}


# --- catalogue order ----------------------------------------------------------------------------

# The order in which catalogues are read together (a mixed checklist, a gap report): the two
# accreditation standards first, then the ILAC guide, then the best-practice catalogues.
CATALOGUE_ORDER: tuple[str, ...] = ("iso17020-2012", "iso17025-2017", "ilac-g19", "bpm-scene", "bpm-firearms")


def catalogue_rank(catalogue_id: str) -> tuple[int, str]:
    """Sort key of a catalogue id: its place in CATALOGUE_ORDER, unknown catalogues last by id."""
    try:
        return CATALOGUE_ORDER.index(catalogue_id), ""
    except ValueError:
        return len(CATALOGUE_ORDER), catalogue_id


def in_catalogue_order(requirements: Iterable[Requirement],
                       catalogues: Mapping[str, Catalogue] | None = None) -> tuple[Requirement, ...]:
    """Requirements sorted by catalogue (CATALOGUE_ORDER), then by their place in their catalogue file."""
    catalogues = load_all() if catalogues is None else catalogues
    position = {req.id: i for cat in catalogues.values() for i, req in enumerate(cat.requirements)}
    return tuple(sorted(requirements, key=lambda r: (catalogue_rank(r.catalogue_id), position.get(r.id, 0))))
