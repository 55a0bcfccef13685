"""A firearm's status, folded from its append-only events (pure: takes rows, returns a frozen value).

The status is the latest event by the date it happened, then by the order it was entered (a stolen
report entered after the seizure but dated before it does not make the firearm wanted again).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from qms.firearms.models import EventKind


class EventRow(Protocol):
    id: int
    kind: str
    occurred_on: date


@dataclass(frozen=True)
class Standing:
    status: EventKind | None  # None: recorded, no event yet
    since: date | None
    reported_on: date | None  # the latest stolen or lost report
    recovered_on: date | None  # the latest finding, seizure or surrender
    destroyed_on: date | None

    @property
    def wanted(self) -> bool:
        """Reported stolen or lost and not recovered since."""
        return self.status is not None and self.status.is_report


def ordered(events: Iterable[EventRow]) -> list[EventRow]:
    return sorted(events, key=lambda event: (event.occurred_on, event.id))


def fold(events: Iterable[EventRow]) -> Standing:
    rows = ordered(events)
    reports = [e.occurred_on for e in rows if EventKind(e.kind).is_report]
    recoveries = [e.occurred_on for e in rows if EventKind(e.kind).is_recovery]
    destroyed = [e.occurred_on for e in rows if e.kind == EventKind.DESTROYED.value]
    last = rows[-1] if rows else None
    return Standing(status=EventKind(last.kind) if last else None, since=last.occurred_on if last else None,
                    reported_on=max(reports, default=None), recovered_on=max(recoveries, default=None),
                    destroyed_on=min(destroyed, default=None))
