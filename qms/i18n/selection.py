"""Which language and time zone a request is answered in.

Language: the person's own choice, else their unit's language, else the browser's Accept-Language
among the shipped languages, else English. API calls answer in their Accept-Language (else English):
a script's error messages should not change because its owner reads the pages in another language.
Time zone: the unit's, else `QMS_DEFAULT_TIMEZONE`.
"""
from __future__ import annotations

from collections.abc import Iterable

from babel import Locale, UnknownLocaleError
from flask import current_app, g, has_request_context, request

from qms.auth.models import Unit
from qms.extensions import db
from qms.i18n.languages import ALIASES, PSEUDO, SOURCE, is_shipped


class PseudoLocale(Locale):
    """`en_XA`: English locale data (dates, numbers) under its own name, so its own catalogue loads.

    CLDR has no data for the pseudo-locale, so Babel cannot parse `en_XA` itself.
    """

    def __init__(self) -> None:
        super().__init__("en")
        self.territory = "XA"


def pseudo_enabled() -> bool:
    return bool(current_app.config.get("PSEUDO_LOCALE"))


def offered(code: str) -> bool:
    """A language this server answers in: the shipped ones, and the pseudo-locale when testing."""
    return is_shipped(code) or (code == PSEUDO and pseudo_enabled())


def _current_unit() -> Unit | None:
    unit_id = g.get("qms_unit_id")
    return db.session.get(Unit, unit_id) if unit_id is not None else None


def match_tag(tag: str) -> str | None:
    """The offered language for one Accept-Language tag: `sr-Latn-RS` -> sr_Latn, `sr-RS` -> sr, `cnr` -> sr_Latn_ME."""
    name = tag.replace("-", "_")
    name = ALIASES.get(name, ALIASES.get(name.lower(), name))
    if name.lower() == PSEUDO.lower():
        return PSEUDO if offered(PSEUDO) else None
    try:
        locale = Locale.parse(name)  # adds likely subtags: sr_ME -> sr_Latn_ME
    except (ValueError, UnknownLocaleError):
        locale = None
    if locale is None:
        return None
    candidates = []
    if locale.script:
        candidates += [f"{locale.language}_{locale.script}_{locale.territory}", f"{locale.language}_{locale.script}"]
    candidates.append(locale.language)
    return next((code for code in candidates if offered(code)), None)


def from_accept_language() -> str | None:
    for tag, _quality in request.accept_languages:  # best first
        if tag != "*" and (code := match_tag(tag)) is not None:
            return code
    return None


def chosen_language(person: object, units: Iterable[object] = ()) -> str | None:
    """The language a person chose, else that of their (first) unit, if this server offers it."""
    codes = (getattr(person, "language", ""), *(getattr(unit, "language", "") for unit in units))
    return next((code for code in codes if code and offered(code)), None)


def select_locale() -> str | Locale | None:
    """Flask-Babel's locale selector (None: English)."""
    if not has_request_context():
        return None
    if request.path.startswith("/api/"):
        chosen = from_accept_language()
    else:
        chosen = chosen_language(g.get("qms_user"), [_current_unit()]) or from_accept_language()
    if chosen == PSEUDO:
        return PseudoLocale()
    return chosen or SOURCE


def unit_timezone_name(unit: Unit | None) -> str:
    return (getattr(unit, "timezone", "") or current_app.config.get("DEFAULT_TIMEZONE") or "UTC")


def select_timezone() -> str:
    """Flask-Babel's time zone selector: the active unit's zone, else the configured default."""
    return unit_timezone_name(_current_unit() if has_request_context() else None)
