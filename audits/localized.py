"""Catalogue text in the reader's language: per-locale titles and topics beside the English reference.

English stays the reference: the catalogue files hold it, and every id, clause number, source and
flag comes from them alone. A translation file adds, for one catalogue in one language, the title
of the catalogue and of any of its requirements, and their topics::

    # audits/translations/<locale>/<catalogue id>.yaml
    catalogue: iso17020-2012
    locale: mk
    translated_by: who wrote it (a draft by the project, a translator's name)
    reviewed_by: ""            # a native speaker's name and date once reviewed; empty until then
    terms: the national adoption whose terms are used (e.g. MKS EN ISO/IEC 17020:2012)
    title: the catalogue's title
    requirements:
      "17020:6.1.3": {title: ..., topic: ...}   # either or both; a missing one stays in English

A requirement the file does not name stays in English, so a partial translation is usable and
`coverage` says how far it goes. An id the catalogue does not hold is an error, not ignored: a
renumbered clause must not quietly keep a stale translation.

The checklists' titles (what a person picks an audit from) are translated the same way, one file
per language for all of them::

    # audits/translations/<locale>/checklists.yaml
    locale: mk
    translated_by: ...
    reviewed_by: ""
    checklists:
      full-17020-internal-audit: {title: ...}   # a checklist not named keeps its English title
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml

from audits.catalogue import Catalogue, CatalogueError, Requirement, load_all
from audits.checklist import checklist_names

TRANSLATION_DIR = "translations"
FIELDS = ("title", "topic")
CHECKLIST_TITLES = "checklists.yaml"


@dataclass(frozen=True)
class CatalogueTranslation:
    catalogue_id: str
    locale: str
    translated_by: str
    reviewed_by: str
    terms: str
    title: str
    requirements: Mapping[str, Mapping[str, str]]  # requirement id -> {"title": ..., "topic": ...}


@dataclass(frozen=True)
class Coverage:
    """How much of one catalogue one language covers: requirements with a translated title, topics too."""

    catalogue_id: str
    locale: str
    titles: int
    topics: int
    requirements: int
    assessable: int
    reviewed_by: str


def translation_dir() -> Traversable:
    return resources.files("audits") / TRANSLATION_DIR


def parse_translation(text: str, source: str, catalogue: Catalogue) -> CatalogueTranslation:
    """Read one translation file and check it against its catalogue."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogueError(f"{source}: a translation file is a mapping")
    if data.get("catalogue") != catalogue.id:
        raise CatalogueError(f"{source}: translates {data.get('catalogue')!r}, not {catalogue.id!r}")
    unknown_keys = set(data) - {"catalogue", "locale", "translated_by", "reviewed_by", "terms", "title", "requirements"}
    if unknown_keys:
        raise CatalogueError(f"{source}: unknown keys {sorted(unknown_keys)}")
    requirements = _requirements(source, data.get("requirements") or {}, catalogue)
    return CatalogueTranslation(catalogue.id, str(data.get("locale") or ""), str(data.get("translated_by") or ""),
                                str(data.get("reviewed_by") or ""), str(data.get("terms") or ""),
                                str(data.get("title") or ""), requirements)


def _requirements(source: str, entries: Any, catalogue: Catalogue) -> dict[str, dict[str, str]]:
    if not isinstance(entries, dict):
        raise CatalogueError(f"{source}: `requirements` maps requirement ids to their title and topic")
    checked: dict[str, dict[str, str]] = {}
    for requirement_id, fields in entries.items():
        where = f"{source}: {requirement_id}"
        if str(requirement_id) not in catalogue:
            raise CatalogueError(f"{where}: not a requirement of {catalogue.id} (renumbered or removed?)")
        if not isinstance(fields, dict) or set(fields) - set(FIELDS):
            raise CatalogueError(f"{where}: give `title` and/or `topic`, nothing else")
        texts = {name: str(value).strip() for name, value in fields.items() if value is not None}
        if any(not value for value in texts.values()):
            raise CatalogueError(f"{where}: an empty translation; leave the field out to keep the English")
        checked[str(requirement_id)] = texts
    return checked


def load_translation(catalogue: Catalogue, locale: str) -> CatalogueTranslation | None:
    """The packaged translation of a catalogue into a locale, or None when there is none."""
    resource = translation_dir() / locale / f"{catalogue.id}.yaml"
    if not resource.is_file():
        return None
    translation = parse_translation(resource.read_text(encoding="utf-8"), f"{locale}/{resource.name}", catalogue)
    if translation.locale != locale:
        raise CatalogueError(f"{locale}/{resource.name}: says it is in {translation.locale!r}")
    return translation


def translation_locales() -> tuple[str, ...]:
    folder = translation_dir()
    return tuple(sorted(entry.name for entry in folder.iterdir() if entry.is_dir())) if folder.is_dir() else ()


def localize(catalogue: Catalogue, translation: CatalogueTranslation | None) -> Catalogue:
    """The catalogue with the translated titles and topics; everything else as in the English."""
    if translation is None:
        return catalogue
    requirements = tuple(_localized_requirement(req, translation.requirements.get(req.id))
                         for req in catalogue.requirements)
    return dataclasses.replace(catalogue, title=translation.title or catalogue.title, requirements=requirements)


def _localized_requirement(requirement: Requirement, texts: Mapping[str, str] | None) -> Requirement:
    if not texts:
        return requirement
    title = texts.get("title", requirement.title)
    # An English topic that only repeats the title follows the translated title.
    same = requirement.topic == requirement.title
    topic = texts.get("topic", title if same else requirement.topic)
    return dataclasses.replace(requirement, title=title, topic=topic)


@functools.cache
def load_all_in(locale: str) -> Mapping[str, Catalogue]:
    """Every packaged catalogue in a language (English where a text is not translated). Cached per locale:
    the files never change at run time."""
    return {cid: localize(cat, load_translation(cat, locale)) for cid, cat in load_all().items()}


def coverage() -> list[Coverage]:
    """Every packaged translation's reach, by locale then catalogue."""
    found = []
    for locale in translation_locales():
        for catalogue in load_all().values():
            translation = load_translation(catalogue, locale)
            if translation is None:
                continue
            texts = translation.requirements
            found.append(Coverage(catalogue.id, locale, sum("title" in t for t in texts.values()),
                                  sum("topic" in t for t in texts.values()), len(catalogue.requirements),
                                  len(catalogue.assessable()), translation.reviewed_by))
    return found


# --- checklist titles ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChecklistTitles:
    locale: str
    translated_by: str
    reviewed_by: str
    titles: Mapping[str, str]  # checklist id -> title in the locale


def parse_checklist_titles(text: str, source: str, checklist_ids: tuple[str, ...]) -> ChecklistTitles:
    """Read one language's checklist titles and check them against the packaged checklists."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("checklists") or {}, dict):
        raise CatalogueError(f"{source}: a mapping whose `checklists` maps checklist ids to {{title: ...}}")
    unknown_keys = set(data) - {"locale", "translated_by", "reviewed_by", "checklists"}
    if unknown_keys:
        raise CatalogueError(f"{source}: unknown keys {sorted(unknown_keys)}")
    titles: dict[str, str] = {}
    for checklist_id, fields in (data.get("checklists") or {}).items():
        where = f"{source}: {checklist_id}"
        if str(checklist_id) not in checklist_ids:
            raise CatalogueError(f"{where}: not a packaged checklist (renamed or removed?)")
        if not isinstance(fields, dict) or set(fields) != {"title"} or not str(fields["title"] or "").strip():
            raise CatalogueError(f"{where}: give a non-empty `title`, nothing else")
        titles[str(checklist_id)] = str(fields["title"]).strip()
    return ChecklistTitles(str(data.get("locale") or ""), str(data.get("translated_by") or ""),
                           str(data.get("reviewed_by") or ""), titles)


@functools.cache
def load_checklist_titles(locale: str) -> ChecklistTitles | None:
    """The packaged checklist titles in a locale, or None when there are none. Cached: files never change
    at run time."""
    resource = translation_dir() / locale / CHECKLIST_TITLES
    if not resource.is_file():
        return None
    titles = parse_checklist_titles(resource.read_text(encoding="utf-8"), f"{locale}/{CHECKLIST_TITLES}",
                                    checklist_names())
    if titles.locale != locale:
        raise CatalogueError(f"{locale}/{CHECKLIST_TITLES}: says it is in {titles.locale!r}")
    return titles
