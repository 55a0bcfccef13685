"""The requirement catalogues (ISO/IEC 17020, best practice...) in the language a request is answered in.

The `audits` package holds the English reference and the per-locale titles and topics
(`audits.localized`); this picks the reader's. In the pseudo-locale every title and topic is marked
like a translated string, so the page walk proves that catalogue text reaches pages through here.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping

import audits
from audits.catalogue import Catalogue
from audits.localized import CatalogueTranslation, load_all_in, localize
from qms.i18n import current_language
from qms.i18n.catalogues import pseudo_text
from qms.i18n.languages import PSEUDO, SOURCE


def catalogues() -> Mapping[str, Catalogue]:
    """Every packaged catalogue in the reader's language (English where a text is not translated)."""
    language = current_language()
    if language == SOURCE:
        return audits.load_all()
    if language == PSEUDO:
        return _pseudo()
    return load_all_in(language)


@functools.cache
def _pseudo() -> Mapping[str, Catalogue]:
    return {cid: localize(cat, _pseudo_translation(cat)) for cid, cat in audits.load_all().items()}


def _pseudo_translation(catalogue: Catalogue) -> CatalogueTranslation:
    texts = {req.id: {"title": pseudo_text(req.title), "topic": pseudo_text(req.topic)}
             for req in catalogue.requirements}
    return CatalogueTranslation(catalogue.id, PSEUDO, "", "", "", pseudo_text(catalogue.title), texts)


def requirement(requirement_id: str) -> audits.Requirement:
    """One requirement in the reader's language."""
    return audits.resolve(requirement_id, catalogues())


