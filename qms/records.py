"""One record by id, for a request: among the rows of the units it may see, or 404."""
from __future__ import annotations

from typing import Any

from flask import abort
from flask_babel import lazy_gettext as _l

from qms.extensions import db

# Whole sentences, one per kind of record, so that each language can decline the noun as it must.
NOT_FOUND = {
    "audit": _l("No such audit in this unit."),
    "audit programme": _l("No such audit programme in this unit."),
    "ballistic entry": _l("No such ballistic entry in this unit."),
    "candidate": _l("No such candidate in this unit."),
    "case": _l("No such case in this unit."),
    "case link": _l("No such case link in this unit."),
    "checklist item": _l("No such checklist item in this unit."),
    "complaint": _l("No such complaint in this unit."),
    "corrective action": _l("No such corrective action in this unit."),
    "correlation job": _l("No such correlation job in this unit."),
    "finding": _l("No such finding in this unit."),
    "item": _l("No such item in this unit."),
    "partner key": _l("No such partner key in this unit."),
    "photograph": _l("No such photograph in this unit."),
    "risk": _l("No such risk in this unit."),
}
NO_SUCH_RECORD = _l("No such record in this unit.")


def record_or_404(model: type[Any], record_id: int, what: str) -> Any:
    """The record with this id among those the request may see; another unit's record is unknown (404)."""
    record = db.session.get(model, record_id)
    if record is None:
        abort(404, description=str(NOT_FOUND.get(what, NO_SUCH_RECORD)))
    return record
