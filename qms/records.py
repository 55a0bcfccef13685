"""One record by id, for a request: among the rows of the units it may see, or 404."""
from __future__ import annotations

from typing import Any

from flask import abort

from qms.extensions import db


def record_or_404(model: type[Any], record_id: int, what: str) -> Any:
    """The record with this id among those the request may see; another unit's record is unknown (404)."""
    record = db.session.get(model, record_id)
    if record is None:
        abort(404, description=f"No such {what} in this unit.")
    return record
