"""Evidence reads for pages and the API, verification of the unit's chains, and the dashboard panel.

The custody actions themselves are in `custody.py`, the hash chain in `chain.py`, signed checkpoints
in `checkpoints.py`, labels and custody reports in `documents.py`, photographs in `photos.py`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from qms.auth.models import Membership, Role, User
from qms.errors import InvalidInput
from qms.evidence.checkpoints import VerificationReport, verify_all
from qms.evidence.custody import CUSTODIANS
from qms.evidence.models import Case, CustodyEvent, Item, ItemPhoto, ItemState, StorageLocation
from qms.evidence.state import Custody, cached, differences, fold_events
from qms.extensions import db

READERS = frozenset({Role.CSI_OFFICER, Role.EXAMINER, Role.QUALITY_MANAGER, Role.AUDITOR})
ACTORS = CUSTODIANS


def cases() -> list[Case]:
    return list(db.session.scalars(select(Case).order_by(Case.opened_on.desc(), Case.id.desc())))


def items_of(case: Case) -> list[Item]:
    return list(db.session.scalars(select(Item).where(Item.case_id == case.id).order_by(Item.id)
                                   .options(selectinload(Item.holder), selectinload(Item.location))))


def events_of(item: Item, *, limit: int | None = None) -> list[CustodyEvent]:
    stmt = select(CustodyEvent).where(CustodyEvent.item_id == item.id).order_by(CustodyEvent.seq)
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def users_by_id(events: list[CustodyEvent]) -> dict[int, User]:
    ids = {i for e in events for i in (e.actor_id, e.from_user_id, e.to_user_id, e.witness_id) if i}
    if not ids:
        return {}
    # Parties of an item's history are the unit's members; scoping on User already confines this.
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def photos_of(item: Item) -> list[ItemPhoto]:
    return list(db.session.scalars(select(ItemPhoto).where(ItemPhoto.item_id == item.id).order_by(ItemPhoto.id)))


def sub_items(item: Item) -> list[Item]:
    return list(db.session.scalars(select(Item).where(Item.parent_item_id == item.id).order_by(Item.id)))


def locations() -> list[StorageLocation]:
    rows = list(db.session.scalars(select(StorageLocation).options(selectinload(StorageLocation.parent))))
    return sorted(rows, key=lambda loc: loc.path)


def location(location_id: int) -> StorageLocation:
    place = db.session.get(StorageLocation, location_id)
    if place is None:
        raise InvalidInput(_("Choose a storage location of this unit."), errors={"parent_id": [_("Unknown place.")]})
    return place


@dataclass(frozen=True)
class ItemCustody:
    """What the item page shows: the fold of the item's stored events, with the people and place it names."""

    current: Custody
    holder: User | None
    pending_to: User | None
    location: StorageLocation | None
    disagreements: list[str]  # where the item's cached columns differ from its events (tampering)

    @property
    def state(self) -> str:
        return self.current.state

    @property
    def seal_number(self) -> str:
        return self.current.seal_number

    @property
    def sealed(self) -> bool:
        return self.current.sealed

    @property
    def final(self) -> bool:
        return self.current.final


def custody_of(item: Item, events: list[CustodyEvent], users: dict[int, User]) -> ItemCustody:
    """The item's custody from its events, and whether its cached columns say the same."""
    current = fold_events(events)

    def person(user_id: int | None) -> User | None:
        return None if user_id is None else users.get(user_id) or db.session.get(User, user_id)

    place = db.session.get(StorageLocation, current.location_id) if current.location_id else None
    return ItemCustody(current, person(current.holder_id), person(current.pending_to_id), place,
                       differences(cached(item), current))


def custodians(unit_id: int) -> list[User]:
    """Members of the unit who may hold evidence (CSI officers, examiners)."""
    stmt = (select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.unit_id == unit_id, Membership.role.in_([r.value for r in CUSTODIANS]),
                   User.active.is_(True)).distinct().order_by(User.username))
    return list(db.session.scalars(stmt))


def custodian(unit_id: int, user_id: str) -> User | None:
    """The chosen receiver among the unit's custodians (None when the choice is not one of them)."""
    return next((u for u in custodians(unit_id) if str(u.id) == user_id), None)


def find_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise InvalidInput(_("No such user in this unit."), errors={"receiver_username": [_("Unknown user.")]})
    return user


def verify_unit() -> VerificationReport:
    """Every chain of the current unit (the request scope decides which items) and every checkpoint."""
    item_ids = list(db.session.scalars(select(Item.id)))
    return verify_all(db.session.connection(), item_ids=item_ids)


def record_discrepancies(report: VerificationReport) -> list[Any]:
    """One custody-discrepancy nonconformity per unit whose items have problems, naming them (once a day).

    Problems of a checkpoint as a whole (its signature, its tree) name no item, hence no unit: the
    verification output reports them and nothing is opened for them here.
    """
    from qms.db import today
    from qms.quality import services as quality
    from qms.quality.models import RiskGrade, Source

    lines: dict[int, list[str]] = {}
    for brk in sorted(report.chains.breaks.values(), key=lambda b: b.item_id):
        where = f"event #{brk.seq}" if brk.seq is not None else (brk.where or "chain head")
        lines.setdefault(brk.item_id, []).append(f"{where}: {brk.reason}")
    for problem in report.problems:
        if problem.item_id is not None:
            lines.setdefault(problem.item_id, []).append(str(problem))
    by_unit: dict[int, list[str]] = {}
    for item in db.session.scalars(select(Item).where(Item.id.in_(lines)).order_by(Item.id)
                                   .options(selectinload(Item.case))):
        named = _("Case %(case)s, exhibit %(exhibit)s (item %(id)d)", case=item.case.case_number,
                  exhibit=item.exhibit_number, id=item.id)
        by_unit.setdefault(item.unit_id, []).extend(f"{named}: {line}" for line in lines[item.id])
    day = today()
    return [quality.open_nonconformity(unit_id, Source.CUSTODY_DISCREPANCY, quality.Found(
        title=_("Custody verification failed: %(count)d problem(s)", count=len(found)), description="\n".join(found),
        location=_("Chain of custody"), found_on=day, risk_grade=RiskGrade.HIGH.value),
        source_key=f"custody_verification:{unit_id}:{day.isoformat()}", source_url="/evidence/verify")
        for unit_id, found in sorted(by_unit.items())]


def verify_item(item: Item) -> VerificationReport:
    return verify_all(db.session.connection(), item_ids=[item.id], check_files=False)


@dataclass(frozen=True)
class Counts:
    cases: int
    items: int
    events: int


def counts() -> Counts:
    return Counts(db.session.scalar(select(func.count(Case.id))) or 0,
                  db.session.scalar(select(func.count(Item.id))) or 0,
                  db.session.scalar(select(func.count(CustodyEvent.id))) or 0)


def dashboard_panels(user: User, unit_id: int | None, roles: frozenset[Role]) -> list[Any]:
    """Items I hold and transfers waiting for me to accept."""
    from qms.main.services import Panel

    if unit_id is None or not roles & ACTORS:
        return []
    held = list(db.session.scalars(select(Item).where(Item.holder_id == user.id).order_by(Item.id).limit(20)))
    waiting = list(db.session.scalars(select(Item).where(
        Item.pending_to_id == user.id, Item.state == ItemState.IN_TRANSIT.value).order_by(Item.id)))
    return [Panel(_("My evidence"), "evidence/_panel.html", {"held": held, "waiting": waiting}, order=20)]
