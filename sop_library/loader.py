"""Load SOP templates: Markdown files with YAML front matter in ``sop_library/templates/``.

Files are read through ``importlib.resources`` so the same code works in a checkout and in an
installed wheel. A template that breaks the rules raises TemplateError naming the file, because a
half-loaded library would let an incomplete procedure reach document control unnoticed.

Template format (file name starts with the code, e.g. ``CSI-SOP-007-making-firearm-safe.md``)::

    ---
    code: CSI-SOP-007
    title: Making a firearm safe
    discipline: health and safety        # one of DISCIPLINES
    review_months: 12                    # 1..60
    applies_to: [csi_officer, examiner]  # roles of the web application (ROLES)
    requirement_ids: ["17020:7.1.9", "bpm-firearms:8-01"]   # ids in the audits catalogues
    revision: "1"                        # optional
    summary: one line                    # optional
    ---
    # CSI-SOP-007 Making a firearm safe
    ## 1. Purpose ... ## 10. Revision history   (every heading in REQUIRED_SECTIONS)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # audits is only needed to check requirement ids, not to load templates
    from audits import Catalogue

TEMPLATE_DIR = "templates"
DISCIPLINES: tuple[str, ...] = (
    "scene examination",
    "firearms and ballistics",
    "evidence handling",
    "quality management",
    "health and safety",
    "equipment",
)
# The roles of the web application (DESIGN.md, "Access").
ROLES: tuple[str, ...] = ("admin", "quality_manager", "auditor", "examiner", "csi_officer", "viewer")
# Every template is a usable procedure, so each must carry these sections (as "## N. Name").
REQUIRED_SECTIONS: tuple[str, ...] = (
    "Purpose",
    "Scope",
    "Responsibilities",
    "Definitions",
    "Equipment",
    "Safety",
    "Procedure",
    "Records",
    "References",
    "Revision history",
)
_REQUIRED_KEYS = ("code", "title", "discipline", "review_months", "requirement_ids", "applies_to")
_OPTIONAL_KEYS = ("revision", "summary")
_CODE = re.compile(r"^CSI-SOP-\d{3}$")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.DOTALL)
_HEADING = re.compile(r"^##\s+(?:\d+\.\s+)?(.+?)\s*$", re.MULTILINE)


class TemplateError(ValueError):
    """An SOP template file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class SopTemplate:
    """One SOP template as shipped; ``content_sha256`` identifies this exact text on import."""

    code: str
    title: str
    discipline: str
    review_months: int
    requirement_ids: tuple[str, ...]
    applies_to: tuple[str, ...]
    body_markdown: str
    source_path: str
    content_sha256: str
    revision: str = "1"
    summary: str = ""


def _fail(source: str, message: str) -> TemplateError:
    return TemplateError(f"{source}: {message}")


def _split(text: str, source: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise _fail(source, "must start with YAML front matter between two '---' lines")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise _fail(source, f"invalid YAML in front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise _fail(source, "front matter must be a mapping")
    return meta, match.group(2)


def _check_keys(source: str, meta: Mapping[str, Any]) -> None:
    missing = [k for k in _REQUIRED_KEYS if k not in meta]
    if missing:
        raise _fail(source, f"front matter lacks {', '.join(missing)}")
    unknown = sorted(set(meta) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        raise _fail(source, f"unknown front matter field(s) {', '.join(unknown)}")


def _text(source: str, meta: Mapping[str, Any], key: str) -> str:
    value = meta[key]
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, f"{key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _choices(
    source: str, meta: Mapping[str, Any], key: str, allowed: Iterable[str] | None
) -> tuple[str, ...]:
    value = meta[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise _fail(source, f"{key!r} must be a non-empty list of strings, got {value!r}")
    if allowed is not None and (bad := [v for v in value if v not in allowed]):
        raise _fail(source, f"{key!r} has unknown value(s) {bad}; allowed: {', '.join(allowed)}")
    if len(set(value)) != len(value):
        raise _fail(source, f"{key!r} lists a value twice")
    return tuple(value)


def _review_months(source: str, meta: Mapping[str, Any]) -> int:
    value = meta["review_months"]
    # bool is an int subclass; "review_months: yes" must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 60:
        raise _fail(source, f"'review_months' must be a whole number from 1 to 60, got {value!r}")
    return value


def missing_sections(body_markdown: str) -> tuple[str, ...]:
    """Required sections absent from a template body, in the required order."""
    present = {h.casefold() for h in _HEADING.findall(body_markdown)}
    return tuple(s for s in REQUIRED_SECTIONS if s.casefold() not in present)


def parse_template(text: str, source: str) -> SopTemplate:
    """Parse one template; ``source`` names it in errors and becomes ``source_path``."""
    # Hash normalised text so a CRLF checkout does not look like a changed template.
    text = text.replace("\r\n", "\n")
    meta, body = _split(text, source)
    _check_keys(source, meta)
    code = _text(source, meta, "code")
    if not _CODE.match(code):
        raise _fail(source, f"code {code!r} must look like CSI-SOP-001")
    if not Path(source).name.startswith(code):
        raise _fail(source, f"file name must start with the code {code!r}")
    discipline = _text(source, meta, "discipline")
    if discipline not in DISCIPLINES:
        raise _fail(source, f"discipline {discipline!r} is not one of: {', '.join(DISCIPLINES)}")
    if gaps := missing_sections(body):
        raise _fail(source, f"missing section(s) {', '.join(gaps)}")
    return SopTemplate(
        code=code,
        title=_text(source, meta, "title"),
        discipline=discipline,
        review_months=_review_months(source, meta),
        requirement_ids=_choices(source, meta, "requirement_ids", None),
        applies_to=_choices(source, meta, "applies_to", ROLES),
        body_markdown=body.strip() + "\n",
        source_path=source,
        content_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        revision=str(meta.get("revision", "1")),
        summary=str(meta.get("summary", "")).strip(),
    )


def template_dir() -> Traversable:
    """The packaged template folder (checkout or installed package)."""
    return resources.files("sop_library") / TEMPLATE_DIR


def load_template(path: str | Path) -> SopTemplate:
    """Load a single template file from disk (for authors checking a new template)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(str(path), f"cannot read template: {exc}") from exc
    return parse_template(text, str(path))


def load_templates() -> list[SopTemplate]:
    """All packaged templates, sorted by code; raises TemplateError on the first bad file."""
    templates = [
        parse_template(entry.read_text(encoding="utf-8"), f"sop_library/{TEMPLATE_DIR}/{entry.name}")
        for entry in template_dir().iterdir()
        if entry.name.endswith(".md")
    ]
    seen: dict[str, str] = {}
    for template in templates:
        if template.code in seen:
            raise _fail(template.source_path, f"code {template.code} is also used by {seen[template.code]}")
        seen[template.code] = template.source_path
    return sorted(templates, key=lambda t: t.code)


def unresolved_requirements(
    templates: Iterable[SopTemplate], catalogues: Mapping[str, Catalogue] | None = None
) -> list[str]:
    """Requirement ids cited by templates that no catalogue defines (empty when all resolve)."""
    from audits import UnknownRequirementError, load_all, resolve

    catalogues = load_all() if catalogues is None else catalogues
    problems = []
    for template in templates:
        for requirement_id in template.requirement_ids:
            try:
                resolve(requirement_id, catalogues)
            except UnknownRequirementError:
                problems.append(f"{template.source_path}: {template.code} cites unknown {requirement_id!r}")
    return problems


def requirement_coverage(
    templates: Iterable[SopTemplate], catalogues: Mapping[str, Catalogue] | None = None
) -> dict[str, tuple[str, ...]]:
    """For each requirement id, the SOP codes that address it, directly or via a mapped item.

    A template citing a best-practice item also covers the 17020 clauses that item maps to, which
    is what a gap analysis against ISO/IEC 17020 needs.
    """
    from audits import load_all, resolve

    catalogues = load_all() if catalogues is None else catalogues
    coverage: dict[str, list[str]] = {}
    for template in templates:
        for requirement_id in template.requirement_ids:
            targets = (requirement_id, *resolve(requirement_id, catalogues).maps_to)
            for target in targets:
                codes = coverage.setdefault(target, [])
                if template.code not in codes:
                    codes.append(template.code)
    return {target: tuple(codes) for target, codes in coverage.items()}
