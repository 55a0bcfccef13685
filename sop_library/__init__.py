"""SOP templates for CSI and firearms units, as Markdown with YAML front matter, plus their loader.

Plain Python and PyYAML only; `qms import-library` turns these templates into controlled documents.
"""

from sop_library.loader import (
    DISCIPLINES,
    REQUIRED_SECTIONS,
    ROLES,
    SOURCE_LOCALE,
    SopTemplate,
    TemplateError,
    check_translation,
    load_template,
    load_templates,
    load_translations,
    missing_sections,
    parse_template,
    requirement_coverage,
    template_locales,
    unresolved_requirements,
)

__all__ = [
    "DISCIPLINES",
    "REQUIRED_SECTIONS",
    "ROLES",
    "SOURCE_LOCALE",
    "SopTemplate",
    "TemplateError",
    "check_translation",
    "load_template",
    "load_templates",
    "load_translations",
    "missing_sections",
    "parse_template",
    "requirement_coverage",
    "template_locales",
    "unresolved_requirements",
]
