"""Audit checklists: named scopes over the catalogues, expanded into an ordered list of requirements.

A checklist file (``audits/checklists/<id>.yaml``) lists scopes. Each scope names a catalogue and,
optionally, clause prefixes to include and exclude. Expansion keeps the order of the scopes, then the
order of the include prefixes, then catalogue (file) order, and drops duplicates, so the same
checklist always yields the same audit sheet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from audits.catalogue import BODY_TYPES, Catalogue, Requirement, load_all

CHECKLIST_DIR = "checklists"


class ChecklistError(ValueError):
    """A checklist file is malformed or its scope does not match the catalogues."""


@dataclass(frozen=True)
class Scope:
    """Part of a catalogue: clause prefixes to include (empty = all) and to exclude.

    ``department`` names the part of the unit the scope covers (the scene unit, the firearms
    laboratory) and ``body_type`` its ISO/IEC 17020 inspection-body type, which wins over the
    checklist's or audit's own for this scope; a unit that works to both standards chooses it per
    department. Catalogues without typed items (ISO/IEC 17025) ignore it.
    """

    catalogue: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    department: str = ""
    body_type: str | None = None

    def as_record(self) -> dict[str, Any]:
        """The scope as stored on an audit (JSON); keys without a value are left out."""
        record: dict[str, Any] = {"catalogue": self.catalogue, "include": list(self.include),
                                  "exclude": list(self.exclude)}
        if self.department:
            record["department"] = self.department
        if self.body_type:
            record["body_type"] = self.body_type
        return record


@dataclass(frozen=True)
class Checklist:
    """A checklist definition together with its expanded, ordered requirements."""

    id: str
    title: str
    description: str
    body_type: str | None
    scopes: tuple[Scope, ...]
    requirements: tuple[Requirement, ...]
    # (catalogue id, version) pairs, so an audit record can say exactly what it was audited against.
    catalogue_versions: tuple[tuple[str, str], ...] = ()


def _under(clause: str, prefix: str) -> bool:
    # Segment-wise match: "6.1" covers "6.1.3" but not "6.10".
    return clause == prefix or clause.startswith(prefix + ".")


def _expand_one(scope: Scope, catalogue: Catalogue, body_type: str | None, where: str) -> list[Requirement]:
    items = catalogue.assessable(body_type)
    prefixes = scope.include or ("",)
    chosen: list[Requirement] = []
    for prefix in prefixes:
        matched = [r for r in items if not prefix or _under(r.clause, prefix)]
        if not matched and prefix:
            raise ChecklistError(f"{where}: prefix {prefix!r} matches nothing in {catalogue.id}")
        chosen.extend(matched)
    return [r for r in chosen if not any(_under(r.clause, ex) for ex in scope.exclude)]


def expand_scopes(
    scopes: Sequence[Scope],
    catalogues: Mapping[str, Catalogue],
    *,
    body_type: str | None = None,
    where: str = "checklist",
) -> tuple[Requirement, ...]:
    """Expand scopes into assessable requirements, in order, without duplicates."""
    for checked in (body_type, *(s.body_type for s in scopes)):
        if checked is not None and checked not in BODY_TYPES:
            raise ChecklistError(f"{where}: body_type must be one of {', '.join(BODY_TYPES)}, got {checked!r}")
    seen: dict[str, Requirement] = {}
    for index, scope in enumerate(scopes):
        scope_where = f"{where}: scopes[{index}]"
        if scope.catalogue not in catalogues:
            raise ChecklistError(f"{scope_where}: unknown catalogue {scope.catalogue!r}")
        chosen = scope.body_type or body_type  # the department's own type wins
        for req in _expand_one(scope, catalogues[scope.catalogue], chosen, scope_where):
            seen.setdefault(req.id, req)
    return tuple(seen.values())


def _prefixes(where: str, raw: Any, key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ChecklistError(f"{where}: {key!r} must be a list of quoted clause prefixes, got {value!r}")
    return tuple(value)


def _scope(where: str, raw: Any) -> Scope:
    if not isinstance(raw, dict) or not isinstance(raw.get("catalogue"), str):
        raise ChecklistError(f"{where}: each scope needs a 'catalogue' id")
    unknown = set(raw) - {"catalogue", "include", "exclude", "department", "body_type"}
    if unknown:
        raise ChecklistError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    body_type = raw.get("body_type")
    if body_type is not None and body_type not in BODY_TYPES:
        raise ChecklistError(f"{where}: body_type must be one of {', '.join(BODY_TYPES)}, got {body_type!r}")
    return Scope(raw["catalogue"], _prefixes(where, raw, "include"), _prefixes(where, raw, "exclude"),
                 str(raw.get("department", "")).strip(), body_type)


def parse_checklist(
    text: str,
    source: str,
    catalogues: Mapping[str, Catalogue] | None = None,
    *,
    body_type: str | None = None,
) -> Checklist:
    """Parse checklist YAML and expand it; ``body_type`` overrides the file's own setting."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ChecklistError(f"{source}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict) or not {"id", "title", "scopes"} <= set(data):
        raise ChecklistError(f"{source}: needs a mapping with id, title and scopes")
    if not isinstance(data["scopes"], list) or not data["scopes"]:
        raise ChecklistError(f"{source}: 'scopes' must be a non-empty list")
    scopes = tuple(_scope(f"{source}: scopes[{i}]", s) for i, s in enumerate(data["scopes"]))
    chosen_type = body_type if body_type is not None else data.get("body_type")
    catalogues = load_all() if catalogues is None else catalogues
    requirements = expand_scopes(scopes, catalogues, body_type=chosen_type, where=source)
    used = dict.fromkeys(scope.catalogue for scope in scopes)
    return Checklist(
        id=str(data["id"]),
        title=str(data["title"]),
        description=str(data.get("description", "")).strip(),
        body_type=chosen_type,
        scopes=scopes,
        requirements=requirements,
        catalogue_versions=tuple((cat_id, catalogues[cat_id].version) for cat_id in used),
    )


def checklist_dir() -> Traversable:
    """The packaged checklist folder (checkout or installed package)."""
    return resources.files("audits") / CHECKLIST_DIR


def checklist_names() -> tuple[str, ...]:
    """Ids of the packaged checklists, sorted."""
    return tuple(
        sorted(p.name[: -len(".yaml")] for p in checklist_dir().iterdir() if p.name.endswith(".yaml"))
    )


def load_checklist(
    name_or_path: str | Path,
    catalogues: Mapping[str, Catalogue] | None = None,
    *,
    body_type: str | None = None,
) -> Checklist:
    """Load a packaged checklist by id, or a checklist file by path, and expand its scopes."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        source: Traversable | Path = Path(name_or_path)
    else:
        source = checklist_dir() / f"{text}.yaml"
        if not source.is_file():
            raise ChecklistError(
                f"no packaged checklist named {text!r}; known: {', '.join(checklist_names())}"
            )
    checklist = parse_checklist(
        source.read_text(encoding="utf-8"), source.name, catalogues, body_type=body_type
    )
    if source.name.rsplit(".", 1)[0] != checklist.id:
        raise ChecklistError(f"{source.name}: checklist id {checklist.id!r} differs from the file name")
    return checklist
