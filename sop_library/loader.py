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
_TRANSLATION_KEYS = ("locale", "translated_by", "reviewed_by")
# What a translation must repeat unchanged from its English original.
_SHARED_FIELDS = ("code", "discipline", "review_months", "requirement_ids", "applies_to", "revision")
SOURCE_LOCALE = "en"
_LOCALE = re.compile(r"^[a-z]{2,3}(?:_[A-Za-z]{2,4})*$")
_NUMBERED_HEADING = re.compile(r"^##\s+(\d+)\.\s", re.MULTILINE)
_PROCEDURE_STEP = re.compile(r"^\d+\. ", re.MULTILINE)
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
    locale: str = SOURCE_LOCALE
    translated_by: str = ""  # translations only: who translated it
    reviewed_by: str = ""  # translations only: the native speaker who reviewed it ("" = nobody yet)

    @property
    def is_translation(self) -> bool:
        return self.locale != SOURCE_LOCALE


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


def _check_keys(source: str, meta: Mapping[str, Any], translation: bool = False) -> None:
    required = _REQUIRED_KEYS + (_TRANSLATION_KEYS if translation else ())
    missing = [k for k in required if k not in meta]
    if missing:
        raise _fail(source, f"front matter lacks {', '.join(missing)}")
    unknown = sorted(set(meta) - set(required) - set(_OPTIONAL_KEYS))
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


def section_numbers(body_markdown: str) -> tuple[int, ...]:
    """The numbers of the "## N." headings, in order (what a translation's headings are checked by)."""
    return tuple(int(n) for n in _NUMBERED_HEADING.findall(body_markdown))


def procedure_steps(body_markdown: str) -> int:
    """How many numbered steps the procedure section (section 7) has; 0 when there is none."""
    parts = re.split(r"^##\s+", body_markdown, flags=re.MULTILINE)
    procedure = next((p for p in parts if p.startswith("7.")), "")
    return len(_PROCEDURE_STEP.findall(procedure))


def _check_translated_sections(source: str, body: str) -> None:
    expected = tuple(range(1, len(REQUIRED_SECTIONS) + 1))
    if (found := section_numbers(body)) != expected:
        raise _fail(source, f"a translation needs the {len(expected)} sections numbered '## 1.' to "
                            f"'## {len(expected)}.' in order; found {list(found)}")


def _translation_fields(source: str, meta: Mapping[str, Any], locale: str) -> tuple[str, str]:
    """(translated_by, reviewed_by) of a translation whose ``locale`` matches its folder."""
    if meta["locale"] != locale:
        raise _fail(source, f"'locale' is {meta['locale']!r} but the file is in the {locale!r} folder")
    reviewed_by = meta["reviewed_by"]
    if not isinstance(reviewed_by, str):
        raise _fail(source, f"'reviewed_by' must be text (\"\" until a native speaker reviews it), got {reviewed_by!r}")
    return _text(source, meta, "translated_by"), reviewed_by.strip()


def parse_template(text: str, source: str, locale: str = SOURCE_LOCALE) -> SopTemplate:
    """Parse one template; ``source`` names it in errors and becomes ``source_path``.

    With a ``locale`` other than English the text is a translation: it needs the translation
    fields and its headings are checked by number, not by their English names.
    """
    # Hash normalised text so a CRLF checkout does not look like a changed template.
    text = text.replace("\r\n", "\n")
    meta, body = _split(text, source)
    translation = locale != SOURCE_LOCALE
    _check_keys(source, meta, translation)
    code = _text(source, meta, "code")
    if not _CODE.match(code):
        raise _fail(source, f"code {code!r} must look like CSI-SOP-001")
    if not Path(source).name.startswith(code):
        raise _fail(source, f"file name must start with the code {code!r}")
    discipline = _text(source, meta, "discipline")
    if discipline not in DISCIPLINES:
        raise _fail(source, f"discipline {discipline!r} is not one of: {', '.join(DISCIPLINES)}")
    if translation:
        _check_translated_sections(source, body)
    elif gaps := missing_sections(body):
        raise _fail(source, f"missing section(s) {', '.join(gaps)}")
    translated_by, reviewed_by = _translation_fields(source, meta, locale) if translation else ("", "")
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
        locale=locale,
        translated_by=translated_by,
        reviewed_by=reviewed_by,
    )


def template_dir() -> Traversable:
    """The packaged template folder (checkout or installed package)."""
    return resources.files("sop_library") / TEMPLATE_DIR


def load_template(path: str | Path, locale: str = SOURCE_LOCALE) -> SopTemplate:
    """Load a single template file from disk (for authors checking a new template or translation)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(str(path), f"cannot read template: {exc}") from exc
    return parse_template(text, str(path), locale)


def _english_templates() -> list[SopTemplate]:
    return [
        parse_template(entry.read_text(encoding="utf-8"), f"sop_library/{TEMPLATE_DIR}/{entry.name}")
        for entry in template_dir().iterdir()
        if entry.is_file() and entry.name.endswith(".md")
    ]


def template_locales() -> tuple[str, ...]:
    """The locales some templates are translated into (folder names under templates/), sorted."""
    return tuple(sorted(
        entry.name for entry in template_dir().iterdir()
        if entry.is_dir() and _LOCALE.match(entry.name) and any(f.name.endswith(".md") for f in entry.iterdir())
    ))


def check_translation(original: SopTemplate, translation: SopTemplate) -> None:
    """Refuse a translation that is not the same procedure as its English original."""
    source = translation.source_path
    for field in _SHARED_FIELDS:
        theirs, ours = getattr(original, field), getattr(translation, field)
        if theirs != ours:
            raise _fail(source, f"{field} is {_shown(ours)} but the English {original.source_path} has "
                                f"{_shown(theirs)}; a translation must repeat the English {field}")
    sections = (len(section_numbers(original.body_markdown)), len(section_numbers(translation.body_markdown)))
    if sections[0] != sections[1]:
        raise _fail(source, f"has {sections[1]} numbered sections, the English has {sections[0]}")
    steps = (procedure_steps(original.body_markdown), procedure_steps(translation.body_markdown))
    if steps[0] != steps[1]:
        raise _fail(source, f"the procedure (section 7) has {steps[1]} numbered steps, the English has "
                            f"{steps[0]}; a step was added or left out")
    if not translation.body_markdown.startswith(f"# {original.code} "):
        raise _fail(source, f"the body must start with the heading '# {original.code} <translated title>'")


def _shown(value: object) -> str:
    return ", ".join(value) if isinstance(value, tuple) else repr(value)


def load_translations(locale: str) -> list[SopTemplate]:
    """The templates translated into ``locale``, each checked against its English original, by code."""
    if locale == SOURCE_LOCALE:
        return []
    folder = template_dir() / locale
    if not _LOCALE.match(locale) or not folder.is_dir():
        return []
    originals = {Path(t.source_path).name: t for t in _english_templates()}
    translations = []
    for entry in folder.iterdir():
        if not (entry.is_file() and entry.name.endswith(".md")):
            continue
        source = f"sop_library/{TEMPLATE_DIR}/{locale}/{entry.name}"
        if entry.name not in originals:
            raise _fail(source, f"no English template {TEMPLATE_DIR}/{entry.name} to be a translation of")
        translation = parse_template(entry.read_text(encoding="utf-8"), source, locale)
        check_translation(originals[entry.name], translation)
        translations.append(translation)
    return sorted(translations, key=lambda t: t.code)


def load_templates(locale: str | None = None) -> list[SopTemplate]:
    """All packaged templates, sorted by code; raises TemplateError on the first bad file.

    With a ``locale``, each template comes in that language where a translation exists and in
    English otherwise (``template.locale`` says which); an unknown locale gives all English.
    """
    templates = _english_templates()
    seen: dict[str, str] = {}
    for template in templates:
        if template.code in seen:
            raise _fail(template.source_path, f"code {template.code} is also used by {seen[template.code]}")
        seen[template.code] = template.source_path
    if locale and locale != SOURCE_LOCALE:
        translated = {t.code: t for t in load_translations(locale)}
        templates = [translated.get(t.code, t) for t in templates]
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
