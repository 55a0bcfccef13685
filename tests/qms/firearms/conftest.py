"""Fixtures of the firearm register tests: a unit with an examiner and a viewer, and a record factory."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from qms.auth.models import Role
from qms.firearms import services as firearms
from qms.firearms.models import Firearm


@pytest.fixture()
def unit(make_unit):  # type: ignore[no-untyped-def]
    return make_unit(code="FIRE")


@pytest.fixture()
def examiner(unit, make_user):  # type: ignore[no-untyped-def]
    return make_user(unit, Role.EXAMINER, username="exam1")


@pytest.fixture()
def record(unit, examiner, db_session) -> Callable[..., Firearm]:  # type: ignore[no-untyped-def]
    """`record(serial, event=..., days_ago=..., **details)`: a firearm added through the service, committed."""

    def make(serial: str = "", *, event: str | None = None, days_ago: int = 0, **details: Any) -> Firearm:
        fields: dict[str, Any] = {"firearm_type": "pistol", "make": "Zastava", "model": "M57",
                                  "calibre": "7.62x25", **details}
        first = None
        if event is not None:
            report = event.startswith("reported")
            first = firearms.EventInput(kind=event, occurred_on=date.today() - timedelta(days=days_ago),
                                        place="Skopje" if report else "", reporter="Owner" if report else "",
                                        police_reference="SVR 1/2026" if report else "")
        found = firearms.add(unit.id, examiner, firearms.Details(serial_number=serial, **fields), first)
        db_session.commit()
        return found

    return make
