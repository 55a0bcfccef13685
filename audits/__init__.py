"""Requirement catalogues (ISO/IEC 17020, ISO/IEC 17025, ILAC G19, best-practice items), mappings and checklists.

Plain Python and PyYAML only, so the web app, CLI commands and tests can import it without Flask.
"""

from audits.catalogue import (
    BODY_TYPES,
    CATALOGUE_ORDER,
    Catalogue,
    CatalogueError,
    Guidance,
    Requirement,
    Source,
    UnknownRequirementError,
    catalogue_names,
    catalogue_rank,
    in_catalogue_order,
    load_all,
    load_catalogue,
    mapped_from,
    parse_catalogue,
    resolve,
    validate_references,
)
from audits.checklist import (
    Checklist,
    ChecklistError,
    Scope,
    checklist_names,
    expand_scopes,
    load_checklist,
    parse_checklist,
)
from audits.mapping import MappingSet, Pair, load_mapping, load_mappings, mapping_names, related_ids, validate_mapping

__all__ = [
    "BODY_TYPES",
    "CATALOGUE_ORDER",
    "MappingSet",
    "Pair",
    "Source",
    "catalogue_rank",
    "in_catalogue_order",
    "load_mapping",
    "load_mappings",
    "mapping_names",
    "related_ids",
    "validate_mapping",
    "Catalogue",
    "CatalogueError",
    "Checklist",
    "ChecklistError",
    "Guidance",
    "Requirement",
    "Scope",
    "UnknownRequirementError",
    "catalogue_names",
    "checklist_names",
    "expand_scopes",
    "load_all",
    "load_catalogue",
    "load_checklist",
    "mapped_from",
    "parse_catalogue",
    "parse_checklist",
    "resolve",
    "validate_references",
]
