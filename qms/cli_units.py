"""What every unit-scoped command needs first: the unit named by its code (`--unit`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from qms.auth.models import Unit


def unit_from_code(code: str) -> Unit:
    """The unit with this code (any case, spaces trimmed), or a one-line error for the command line."""
    from sqlalchemy import select

    from qms.auth.models import Unit
    from qms.extensions import db

    unit = db.session.scalar(select(Unit).where(Unit.code == code.strip().upper()))
    if unit is None:
        raise click.ClickException(f"No unit with the code {code!r}; create it with `qms create-unit`.")
    return unit
