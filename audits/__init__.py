"""Requirement catalogues (ISO/IEC 17020, ILAC G19, best-practice items) and audit checklists.

Plain Python and PyYAML only, so the web app, CLI commands and tests can import it without Flask.
"""

from audits.catalogue import (
    BODY_TYPES,
    Catalogue,
    CatalogueError,
    Guidance,
    Requirement,
    UnknownRequirementError,
    catalogue_names,
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

__all__ = [
    "BODY_TYPES",
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
