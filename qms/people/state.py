"""An authorisation's state: the fold of its signed events, as of a day. Pure: no database."""
from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from flask_babel import lazy_gettext as _l

EXPIRING_DAYS = 60


class Standing(enum.StrEnum):
    """What the competence matrix shows for one person and one scope."""

    AUTHORISED = "authorised"
    EXPIRING = "expiring"  # authorised, ends within EXPIRING_DAYS
    NOT_YET = "not_yet"  # granted from a later day
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    IN_TRAINING = "in_training"  # no authorisation, but training, supervised work or witnessing for the scope
    NONE = "none"

    @property
    def current(self) -> bool:
        return self in (Standing.AUTHORISED, Standing.EXPIRING)

    @property
    def label(self) -> str:
        return str(STANDING_LABELS[self])


STANDING_LABELS = {
    Standing.AUTHORISED: _l("authorised"), Standing.EXPIRING: _l("expiring"), Standing.NOT_YET: _l("not yet valid"),
    Standing.EXPIRED: _l("expired"), Standing.SUSPENDED: _l("suspended"), Standing.WITHDRAWN: _l("withdrawn"),
    Standing.IN_TRAINING: _l("in training"), Standing.NONE: _l("none"),
}


class Event(Protocol):
    kind: str
    valid_from: date | None
    valid_until: date | None


@dataclass(frozen=True)
class Authorisation:
    """The fold: the last grant's period and whether it is suspended or withdrawn."""

    granted: bool = False
    valid_from: date | None = None
    valid_until: date | None = None
    suspended: bool = False
    withdrawn: bool = False

    def standing(self, on: date, *, in_training: bool = False) -> Standing:
        if self.withdrawn:
            return Standing.WITHDRAWN
        if not self.granted:
            return Standing.IN_TRAINING if in_training else Standing.NONE
        if self.suspended:
            return Standing.SUSPENDED
        if self.valid_from is not None and on < self.valid_from:
            return Standing.NOT_YET
        if self.valid_until is not None and on > self.valid_until:
            return Standing.EXPIRED
        if self.valid_until is not None and self.valid_until - on <= timedelta(days=EXPIRING_DAYS):
            return Standing.EXPIRING
        return Standing.AUTHORISED

    def current_on(self, on: date) -> bool:
        return self.standing(on).current


def apply(state: Authorisation, event: Event) -> Authorisation:
    """One event on the state (the services refuse events that make no sense before writing them)."""
    if event.kind == "granted":  # a new grant (or a renewal) replaces everything before it
        return Authorisation(granted=True, valid_from=event.valid_from, valid_until=event.valid_until)
    if event.kind == "suspended":
        return Authorisation(state.granted, state.valid_from, state.valid_until, suspended=True)
    if event.kind == "reinstated":
        return Authorisation(state.granted, state.valid_from, state.valid_until, suspended=False)
    if event.kind == "withdrawn":
        return Authorisation(withdrawn=True)
    raise ValueError(f"unknown authorisation event kind {event.kind!r}")


def fold(events: Iterable[Event]) -> Authorisation:
    state = Authorisation()
    for event in events:
        state = apply(state, event)
    return state
