"""An item's current custody as a fold over its events: `apply(state, event)` is the one rule.

The item's columns (state, holder, pending receiver, location, seal) are a cache of this fold, kept
for queries ("the items I hold"). Appending an event sets them from `apply`; the item page shows
the fold of the stored events; verification reports an item whose columns disagree with it, since
only the events are hash-chained and signed: a column changed behind the application's back would
otherwise go unseen.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from functools import reduce
from typing import Any

from qms.evidence.models import CustodyEvent, EventKind, ItemState

# What `apply` reads of an event; an ORM event or a plain row both give these.
EVENT_FACTS = ("kind", "actor_id", "to_user_id", "location_id", "seal_number")


@dataclass(frozen=True)
class Custody:
    """Where an item stands after its events: the value of the fold, and of the item's cached columns."""

    state: str = ItemState.IN_CUSTODY.value
    holder_id: int | None = None
    pending_to_id: int | None = None
    location_id: int | None = None
    seal_number: str = ""
    sealed: bool = False

    @property
    def final(self) -> bool:
        return self.state in (ItemState.RETURNED, ItemState.DESTROYED)


CACHED_COLUMNS = tuple(f.name for f in fields(Custody))
START = Custody()


def _collected(state: Custody, event: Mapping[str, Any]) -> Custody:
    return Custody(holder_id=event["actor_id"])


def _sealed(state: Custody, event: Mapping[str, Any]) -> Custody:
    return replace(state, sealed=True, seal_number=event["seal_number"] or "")


def _seal_broken(state: Custody, event: Mapping[str, Any]) -> Custody:
    return replace(state, sealed=False)


def _offered(state: Custody, event: Mapping[str, Any]) -> Custody:
    # The sender keeps custody until the receiver accepts.
    return replace(state, state=ItemState.IN_TRANSIT.value, pending_to_id=event["to_user_id"])


def _accepted(state: Custody, event: Mapping[str, Any]) -> Custody:
    return replace(state, state=ItemState.IN_CUSTODY.value, holder_id=event["to_user_id"], pending_to_id=None)


def _cancelled(state: Custody, event: Mapping[str, Any]) -> Custody:
    return replace(state, state=ItemState.IN_CUSTODY.value, pending_to_id=None)


def _stored(state: Custody, event: Mapping[str, Any]) -> Custody:
    return replace(state, state=ItemState.IN_STORAGE.value, holder_id=None, pending_to_id=None,
                   location_id=event["location_id"])


def _removed(state: Custody, event: Mapping[str, Any]) -> Custody:
    return replace(state, state=ItemState.IN_CUSTODY.value, holder_id=event["actor_id"], location_id=None)


def _returned(state: Custody, event: Mapping[str, Any]) -> Custody:
    return replace(state, state=ItemState.RETURNED.value, holder_id=None, pending_to_id=None, location_id=None)


def _destroyed(state: Custody, event: Mapping[str, Any]) -> Custody:
    # The seal went with the item: a destroyed item never shows an intact seal.
    return replace(state, state=ItemState.DESTROYED.value, holder_id=None, pending_to_id=None, location_id=None,
                   sealed=False)


RULES = {
    EventKind.COLLECTED.value: _collected,
    EventKind.SEALED.value: _sealed,
    EventKind.RESEALED.value: _sealed,
    EventKind.SEAL_BROKEN.value: _seal_broken,
    EventKind.TRANSFER_OFFERED.value: _offered,
    EventKind.TRANSFER_ACCEPTED.value: _accepted,
    EventKind.TRANSFER_CANCELLED.value: _cancelled,
    EventKind.STORED.value: _stored,
    EventKind.REMOVED_FROM_STORAGE.value: _removed,
    EventKind.RETURNED_TO_OWNER.value: _returned,
    EventKind.DESTROYED.value: _destroyed,
    EventKind.DISPOSED.value: _destroyed,
}  # examined, sampled, photographed, imaged and corrections leave custody as it was


def apply(state: Custody, event: Mapping[str, Any]) -> Custody:
    """The custody after one more event. Total and pure: whether the event was allowed is the services' question."""
    rule = RULES.get(event["kind"])
    return state if rule is None else rule(state, event)


def facts(event: CustodyEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in EVENT_FACTS}


def fold(events: Iterable[Mapping[str, Any]]) -> Custody:
    """The custody after these events (one item's, in seq order)."""
    return reduce(apply, events, START)


def fold_events(events: Iterable[CustodyEvent]) -> Custody:
    return fold(facts(event) for event in events)


def cached(item: Any) -> Custody:
    """The item's cached columns (an ORM item or a row) as a Custody; unset columns read as their defaults."""
    return Custody(state=getattr(item, "state", None) or START.state, holder_id=getattr(item, "holder_id", None),
                   pending_to_id=getattr(item, "pending_to_id", None), location_id=getattr(item, "location_id", None),
                   seal_number=getattr(item, "seal_number", None) or "", sealed=bool(getattr(item, "sealed", False)))


def differences(recorded: Custody, derived: Custody) -> list[str]:
    """What the cached columns say that the events do not, column by column (empty when they agree)."""
    return [f"{name} is {getattr(recorded, name)!r} but its events give {getattr(derived, name)!r}"
            for name in CACHED_COLUMNS if getattr(recorded, name) != getattr(derived, name)]
