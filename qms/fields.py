"""Checks of free text and choices that services share: one wording of each refusal."""
from __future__ import annotations

import enum
from typing import TypeVar

from flask_babel import gettext as _

from qms.errors import InvalidInput

MAX_TEXT = 4000
E = TypeVar("E", bound=enum.Enum)


def text(value: str | None, what: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    """The value stripped; refused when required and empty, too long, or holding NUL (PostgreSQL refuses it)."""
    cleaned = (value or "").strip()
    if "\x00" in cleaned:
        raise InvalidInput(_("%(what)s contains a NUL character.", what=what))
    if required and not cleaned:
        raise InvalidInput(_("%(what)s is required.", what=what))
    if len(cleaned) > limit:
        raise InvalidInput(_("%(what)s is longer than %(limit)d characters.", what=what, limit=limit))
    return cleaned


def choice(values: type[E], value: str, what: str) -> E:
    """The member of the enumeration, or a refusal listing the choices."""
    try:
        return values(value)
    except ValueError:
        choices = ", ".join(str(v.value) for v in values if v.value)
        raise InvalidInput(_("Unknown %(what)s: choose one of %(choices)s.", what=what, choices=choices)) from None
