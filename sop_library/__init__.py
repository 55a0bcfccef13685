"""SOP templates for CSI and firearms units, as Markdown with YAML front matter, plus their loader.

Plain Python and PyYAML only; `qms import-library` turns these templates into controlled documents.
"""

from sop_library.loader import (
    DISCIPLINES,
    REQUIRED_SECTIONS,
    ROLES,
    SopTemplate,
    TemplateError,
    load_template,
    load_templates,
    missing_sections,
    parse_template,
    requirement_coverage,
    unresolved_requirements,
)

__all__ = [
    "DISCIPLINES",
    "REQUIRED_SECTIONS",
    "ROLES",
    "SopTemplate",
    "TemplateError",
    "load_template",
    "load_templates",
    "missing_sections",
    "parse_template",
    "requirement_coverage",
    "unresolved_requirements",
]
