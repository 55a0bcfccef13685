"""Ballistics joined in: the cases a registered firearm is tied to by confirmed ballistic links, and back.

A seized firearm is a custody item; its test fires are sub-items of that item (`Item.parent_item_id`,
written by `qms.evidence.custody.sample`). A test fire's scan is a ballistic entry, and a `CaseLink`
(a first examiner's identification lead, verified blind by another) joins it to a casing of some case.
So: firearm -> its item -> the item's test fires -> their confirmed links -> the casings at the other
end -> their cases. Only confirmed links count: a pending or excluded decision ties nothing.

The links themselves are read through the comparisons' service (`confirmed_links_of_items`); the case
page of the evidence domain shows `fired_by` through a template partial and a context processor
registered by the firearm views, so the evidence domain never imports the register.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from qms.auth.models import User
from qms.comparisons import services as comparisons
from qms.comparisons.models import BallisticEntry, CaseLink
from qms.evidence.models import Case, Item, ItemType
from qms.extensions import db
from qms.firearms.models import Firearm


@dataclass(frozen=True)
class LinkedCase:
    """A casing matched to one of the firearm's test fires by a confirmed link, and its case."""

    link: CaseLink
    test_fire: BallisticEntry
    casing: BallisticEntry

    @property
    def case(self) -> Case | None:
        """None for an entry imported from another unit (it names its source instead: `casing.label`)."""
        return self.casing.case

    @property
    def confirmed_at(self) -> datetime:
        return self.link.confirmed_at

    @property
    def first_examiner(self) -> User:
        return self.link.first_decision.examiner

    @property
    def verifier(self) -> User:
        return self.link.verification.examiner


@dataclass(frozen=True)
class FiredBy:
    """An item of a case matched by a confirmed link to a test fire of a registered firearm."""

    item: Item
    firearm: Firearm
    seized_in: Case  # the case of the firearm's custody item
    link: CaseLink
    test_fire: BallisticEntry


def linked_cases(found: Firearm) -> list[LinkedCase]:
    """Every casing (and its case) tied to the firearm's test fires by a confirmed link, oldest link first."""
    if found.item_id is None:
        return []
    test_fires = _test_fires_of(found.item_id, found.unit_id)
    return [LinkedCase(row.link, row.entry, row.other)
            for row in comparisons.confirmed_links_of_items(test_fires, found.unit_id)
            if row.other.item_id not in test_fires]  # two test fires of the firearm matched: no other case


def fired_by(case: Case) -> list[FiredBy]:
    """The case's items matched to a registered firearm's test fires by confirmed links: one row per item and
    firearm (its first link), in the order of the links."""
    items = set(db.session.scalars(select(Item.id).where(Item.case_id == case.id, Item.unit_id == case.unit_id)))
    rows = comparisons.confirmed_links_of_items(items, case.unit_id)
    firearms = _firearms_by_item({_parent_of(row.other) for row in rows}, case.unit_id)
    found: dict[tuple[int, int], FiredBy] = {}
    for row in rows:
        firearm, item = firearms.get(_parent_of(row.other)), row.entry.item
        if firearm is None or firearm.item is None or item is None or item.parent_item_id == firearm.item_id:
            continue  # not a registered firearm's test fire, or the firearm's own test fires matched together
        found.setdefault((item.id, firearm.id), FiredBy(item, firearm, firearm.item.case, row.link, row.other))
    return list(found.values())


def _parent_of(entry: BallisticEntry) -> int | None:
    """The item a test fire was taken from (its firearm's custody item), if the entry is a sub-item's."""
    return entry.item.parent_item_id if entry.item is not None else None


def _test_fires_of(item_id: int, unit_id: int) -> set[int]:
    """The cartridge cases taken as sub-items of the firearm's custody item (its test fires)."""
    return set(db.session.scalars(select(Item.id).where(
        Item.parent_item_id == item_id, Item.unit_id == unit_id,
        Item.item_type == ItemType.CARTRIDGE_CASE.value)))


def _firearms_by_item(item_ids: set[int | None], unit_id: int) -> dict[int | None, Firearm]:
    wanted = item_ids - {None}
    if not wanted:
        return {}
    stmt = select(Firearm).where(Firearm.unit_id == unit_id, Firearm.item_id.in_(wanted))
    return {found.item_id: found for found in db.session.scalars(stmt) if found.item_id is not None}
