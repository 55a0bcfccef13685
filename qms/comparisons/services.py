"""Ballistic entries, candidates, blind-verified decisions and case links.

Used by the views, the API and the exchange (`qms.comparisons.exchange`). The unit's search index
(processing, indexing, searching) is `qms.comparisons.unit_index`; the background job that runs it,
`qms.comparisons.jobs`. Services add and flush; the request, command or job commits.

For the exchange:
- `add_entry(item, ...)` turns an upload into an entry (and queues its correlation job);
- `enqueue_correlation(entry)` queues a job for any entry (an imported one too): the job processes
  it, adds it to its unit's index and searches; `unit_index.index_entry(entry, surface)` only indexes;
- `unit_index.search_entry(entry)` is the search the job runs: ranked candidates from the unit index;
- `unit_index.unit_index_path(unit_id)` is where a unit's index lives (one per kind of surface).
"""
from __future__ import annotations

import enum
import uuid
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ballistics.io import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    SurfaceFormatError,
    SurfaceWarning,
    read_surface_bytes,
    sniff_format,
)
from ballistics.surface import Surface
from qms.auth.models import Role, User
from qms.auth.services import roles_in
from qms.comparisons import jobs
from qms.comparisons.unit_index import INDEX_PIXEL_SIZE
from qms.comparisons.models import (
    BallisticEntry,
    Candidate,
    CaseLink,
    Conclusion,
    CorrelationJob,
    Decision,
    DecisionRole,
    DerivedObject,
    JobState,
    Origin,
    label_of,
)
from qms.db import utcnow
from qms.equipment import services as equipment
from qms.errors import AuthenticationFailed, InvalidInput, Refused, StateConflict
from qms.evidence.models import ITEM_TYPE_LABELS, Case, Item, ItemType
from qms.extensions import db
from qms.people import services as people
from qms.people.models import Gate
from qms.storage import object_store
from qms.uploads import display_name

READERS = frozenset({Role.EXAMINER, Role.QUALITY_MANAGER, Role.AUDITOR})
EXAMINERS = frozenset({Role.EXAMINER})


class EntryError(InvalidInput):
    """An upload or an action on it that is refused, with the reason for the examiner; nothing is stored."""


class DecisionError(Refused):
    """A decision that cannot be recorded (wrong person, already decided, not verifiable)."""


class DecisionConflict(DecisionError, StateConflict):
    """Another examiner recorded the same decision at the same moment."""


class SignatureRefused(DecisionError, AuthenticationFailed):
    """Wrong password or throttled: no decision is recorded, but the failed attempt is kept for the throttle."""


# --- the unit's index --------------------------------------------------------------------------------


# --- uploads ----------------------------------------------------------------------------------------

def upload_limit() -> int:
    return min(DEFAULT_MAX_BYTES, int(current_app.config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BYTES))


def too_large_message() -> str:
    """Why an upload over the server's request limit was refused (the generic 413 says nothing useful)."""
    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BYTES)
    return _("The file is larger than the %(mb)s MB this server accepts in one upload; nothing was stored. Upload "
             "a smaller scan, or split an exchange export into smaller packages.", mb=format(limit / 2**20, ".3g"))


def read_upload(data: bytes, filename: str, *, pixel_size_um: float | None) -> tuple[Surface, str, list[str]]:
    """Decode an upload as the comparison engine would (size limits first); the surface, type, warnings.

    Read from memory under the uploaded file's own name (`qms.uploads.display_name`), so no message
    shows a server path; X3P archives with a member leading outside its folder (zip-slip) are refused.
    """
    name = display_name(filename)
    if not data:
        raise EntryError(_("%(name)s is empty; nothing was stored.", name=name))
    if len(data) > upload_limit():
        raise EntryError(_("%(name)s is larger than %(mb)d MB; nothing was stored.", name=name,
                           mb=upload_limit() // 1_000_000))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SurfaceWarning)
            file_type = sniff_format(data, name=name)
            surface = read_surface_bytes(data, name=name, max_bytes=upload_limit(), max_pixels=DEFAULT_MAX_PIXELS,
                                         pixel_size=None if pixel_size_um is None else pixel_size_um * 1e-6)
    except SurfaceFormatError as error:
        raise EntryError(_("The file cannot be read as a scan: %(reason)s. Nothing was stored.",
                           reason=str(error))) from None
    except ValueError as error:  # e.g. an image without a pixel size
        raise EntryError(_("%(reason)s. Nothing was stored.", reason=error)) from None
    return surface, file_type, [str(w.message) for w in caught]


_SCAN_FIELDS = ("instrument", "instrument_serial", "probing_system", "creator", "date", "calibration_date",
                "comment", "feature_type")
"""What a scan's own header says about itself (X3P Record1/Record2), kept with the entry."""


def scan_record(surface: Surface) -> dict[str, Any]:
    """The scan's own description: instrument, stated pixel size, whether it came processed, its
    processing notes (X3P Record2/Comment), and the pixel size it is compared at."""
    meta = surface.metadata
    record: dict[str, Any] = {
        "format": str(meta.get("format", "")), "pixel_size_um": surface.pixel_size_um,
        "pixel_size_from": str(meta.get("pixel_size_from", "file header" if meta.get("format") == "x3p" else "")),
        "processed": bool(surface.processed), "rows": surface.shape[0], "columns": surface.shape[1],
        "working_pixel_size_um": INDEX_PIXEL_SIZE * 1e6,
    }
    for key in _SCAN_FIELDS:
        value = str(meta.get(key) or "").strip()
        if value and value.lower() != "unknown":
            record[key] = "".join(ch for ch in value if ch.isprintable())[:500]
    return record


def printable_name(filename: str) -> str:
    """The uploaded file's own name, kept for the record without control characters (NUL breaks PostgreSQL)."""
    return "".join(ch for ch in Path(filename or "").name if ch.isprintable())[:200]


def imageable(item: Item) -> bool:
    """Only cartridge cases (scene finds, or test fires registered as sub-items of a firearm) are imaged."""
    return item.item_type == ItemType.CARTRIDGE_CASE.value


def add_entry(item: Item, *, actor: User, data: bytes, filename: str, device_id: int | None, calibre: str = "",
              firearm_make: str = "", firearm_model: str = "", settings: dict[str, Any] | None = None,
              pixel_size_um: float | None = None, acquired_at: datetime | None = None,
              search: bool = True) -> BallisticEntry:
    """An upload of a custody item's scan becomes an entry; its original is kept, its job is queued.

    With ``search=False`` no job is queued (the caller indexes the entry itself, e.g. the demo seed).
    """
    from qms.evidence import custody

    if not imageable(item):
        raise EntryError(_("Exhibit %(exhibit)s is a %(kind)s; only cartridge cases (scene finds or test fires) are "
                           "imaged for comparison.", exhibit=item.exhibit_number,
                           kind=label_of(ITEM_TYPE_LABELS, item.item_type).lower()))
    custody.check_imaging(item, actor)  # only the person who holds the item images it
    people.require(actor, item.unit_id, Gate.IMAGING)
    if device_id is None:
        raise EntryError(_("Choose the imaging instrument from the unit's equipment register."))
    device = equipment.require_in_service(device_id, item.unit_id)
    device_state = equipment.status_of(device)
    surface, file_type, notes = read_upload(data, filename, pixel_size_um=pixel_size_um)
    firearm = item.parent_item if item.parent_item is not None and item.parent_item.item_type == "firearm" else None
    digest = object_store().put(data)
    entry = BallisticEntry(
        unit_id=item.unit_id, item_id=item.id,
        calibre=(calibre or item.calibre or (firearm.calibre if firearm else ""))[:40],
        firearm_make=(firearm_make or (firearm.make if firearm else ""))[:80],
        firearm_model=(firearm_model or (firearm.model if firearm else ""))[:80], device=device.label[:120],
        device_id=device.id, device_status=device_state.status.value,
        device_calibrated_until=device_state.calibrated_until,
        settings={**(settings or {}), **({"reader_notes": notes} if notes else {}), "scan": scan_record(surface)},
        acquired_by_id=actor.id, acquired_by_name=actor.full_name[:120], acquired_at=acquired_at or utcnow(),
        kind=surface.kind, pixel_size_um=surface.pixel_size_um, original_sha256=digest,
        original_name=printable_name(filename), original_type=file_type, original_size=len(data),
        index_entry_id=uuid.uuid4().hex, origin=Origin.LOCAL.value)
    db.session.add(entry)
    db.session.flush()
    custody.record_imaging(item, actor=actor, device=entry.device, when=custody.When(entry.acquired_at),
                           details={"ballistic_entry_id": entry.id, "original_sha256": digest,
                                    "equipment_id": device.id})
    if search:
        enqueue_correlation(entry, requested_by=actor)
    return entry


def _entries_acquired_with(found: Any, since: date | None, until: date) -> list[equipment.Work]:
    """Entries imaged with the instrument between the days (inclusive, UTC), for its impact review."""
    stmt = select(BallisticEntry).where(BallisticEntry.unit_id == found.unit_id,
                                        BallisticEntry.device_id == found.id).order_by(BallisticEntry.id)
    work = []
    for entry in db.session.scalars(stmt):
        day = entry.acquired_at.date()
        if (since is None or since <= day) and day <= until:
            label = _("Ballistic entry %(label)s", label=entry.label)
            work.append(equipment.Work("ballistic_entry", entry.id, day, label, f"/comparisons/entries/{entry.id}"))
    return work


equipment.register_work_source("ballistic_entry", _entries_acquired_with)


def enqueue_correlation(entry: BallisticEntry, *, requested_by: User | None = None) -> CorrelationJob:
    """A correlation job for the entry, handed to the queue once the transaction commits."""
    job = CorrelationJob(unit_id=entry.unit_id, entry_id=entry.id,
                         requested_by_id=requested_by.id if requested_by else None)
    db.session.add(job)
    db.session.flush()
    jobs.enqueue_after_commit(db.session, job.id)
    return job


# --- processing and search (run by the job) ------------------------------------------------------------


# --- reads ------------------------------------------------------------------------------------------

def entries() -> list[BallisticEntry]:
    return list(db.session.scalars(select(BallisticEntry).order_by(BallisticEntry.id.desc())
                                   .options(selectinload(BallisticEntry.item).selectinload(Item.case))))


def entries_of_item(item: Item) -> list[BallisticEntry]:
    return list(db.session.scalars(select(BallisticEntry).where(BallisticEntry.item_id == item.id)
                                   .order_by(BallisticEntry.id)))


def imageable_items() -> list[Item]:
    return list(db.session.scalars(select(Item).where(Item.item_type == ItemType.CARTRIDGE_CASE.value)
                                   .options(selectinload(Item.case)).order_by(Item.id.desc())))


def latest_job(entry: BallisticEntry) -> CorrelationJob | None:
    return db.session.scalar(select(CorrelationJob).where(CorrelationJob.entry_id == entry.id)
                             .order_by(CorrelationJob.id.desc()).limit(1))


def jobs_of(entry: BallisticEntry) -> list[CorrelationJob]:
    return list(db.session.scalars(select(CorrelationJob).where(CorrelationJob.entry_id == entry.id)
                                   .order_by(CorrelationJob.id.desc())))


def candidates_of(job: CorrelationJob) -> list[Candidate]:
    return list(db.session.scalars(select(Candidate).where(Candidate.job_id == job.id).order_by(Candidate.rank)
                                   .options(selectinload(Candidate.entry))))


def derived_of(entry: BallisticEntry) -> list[DerivedObject]:
    return list(db.session.scalars(select(DerivedObject).where(DerivedObject.entry_id == entry.id)
                                   .order_by(DerivedObject.id)))


class ImagesState(enum.StrEnum):
    """Where a candidate's review images are: made, being made by its job, or made when an examiner asks."""

    READY = "ready"
    PREPARING = "preparing"
    ON_REQUEST = "on_request"

    @property
    def label(self) -> str:
        return str(IMAGES_STATE_LABELS[self])


IMAGES_STATE_LABELS = {ImagesState.READY: lazy_pgettext("review images", "ready"),
                       ImagesState.PREPARING: _l("review images are being prepared"),
                       ImagesState.ON_REQUEST: _l("made when an examiner asks")}


def images_states(job: CorrelationJob, candidates: list[Candidate]) -> dict[int, ImagesState]:
    """The review images' state of each of a job's candidates, by candidate id (one query)."""
    from qms.comparisons.explain import VIEW_KINDS

    ids = [c.id for c in candidates]
    counted = select(DerivedObject.candidate_id, func.count(func.distinct(DerivedObject.kind))).where(
        DerivedObject.candidate_id.in_(ids), DerivedObject.kind.in_([k.value for k in VIEW_KINDS])
    ).group_by(DerivedObject.candidate_id)
    made = {candidate_id: kinds for candidate_id, kinds in db.session.execute(counted)} if ids else {}
    working = job.state in (JobState.QUEUED.value, JobState.RUNNING.value)
    first = {c.id for c in sorted(candidates, key=lambda c: c.rank)[:jobs.images_top()]}
    return {c.id: ImagesState.READY if made.get(c.id) == len(VIEW_KINDS)
            else ImagesState.PREPARING if working and c.id in first else ImagesState.ON_REQUEST
            for c in candidates}


# --- decisions and links -------------------------------------------------------------------------------

def _pair(a: int, b: int) -> tuple[int, int]:
    if a == b:
        raise DecisionError(_("An entry cannot be compared with itself."))
    return (a, b) if a < b else (b, a)


def decisions_of(a: int, b: int) -> dict[str, Decision]:
    low, high = _pair(a, b)
    rows = db.session.scalars(select(Decision).where(Decision.entry_low_id == low, Decision.entry_high_id == high))
    return {d.role: d for d in rows}


@dataclass(frozen=True)
class PairView:
    """What one examiner may see of a pair's decisions: blind until they have recorded their own."""

    mine: Decision | None
    first: Decision | None  # None while hidden from a verifier who has not decided
    verification: Decision | None
    my_role: str | None  # the role this user can still record, if any
    blind: bool
    link: CaseLink | None


def pair_view(a: int, b: int, user: User, unit_id: int) -> PairView:
    """The decisions of a pair as `user` may see them (blind verification)."""
    decided = decisions_of(a, b)
    first, verification = decided.get(DecisionRole.FIRST.value), decided.get(DecisionRole.VERIFICATION.value)
    mine = next((d for d in decided.values() if d.examiner_id == user.id), None)
    may_decide = Role.EXAMINER in roles_in(user, unit_id)
    role: str | None = None
    if may_decide and first is None:
        role = DecisionRole.FIRST.value
    elif may_decide and verification is None and first is not None and first.examiner_id != user.id:
        role = DecisionRole.VERIFICATION.value
    # Until the verification is in, the first decision is shown to its author only.
    blind = first is not None and verification is None and mine is None
    low, high = _pair(a, b)
    link = db.session.scalar(select(CaseLink).where(CaseLink.entry_low_id == low, CaseLink.entry_high_id == high))
    return PairView(mine, None if blind else first, verification, role, blind, link)


def awaiting_verification(user: User) -> list[Decision]:
    """First decisions (leads and inconclusives) of other examiners that nobody has verified yet."""
    verified = select(Decision.entry_low_id, Decision.entry_high_id).where(
        Decision.role == DecisionRole.VERIFICATION.value)
    stmt = (select(Decision).where(Decision.role == DecisionRole.FIRST.value, Decision.examiner_id != user.id,
                                   Decision.conclusion != Conclusion.EXCLUDED.value,
                                   ~tuple_(Decision.entry_low_id, Decision.entry_high_id).in_(verified))
            .order_by(Decision.id))
    return list(db.session.scalars(stmt))


def record_decision(candidate: Candidate, *, examiner: User, unit_id: int, conclusion: str, note: str,
                    password: str) -> Decision:
    """Record the examiner's signed conclusion on a candidate pair; a verified lead links the cases."""
    if candidate.entry_id is None:
        raise DecisionError(_("This candidate has no entry record here; it cannot be decided."))
    try:
        chosen = Conclusion(conclusion)
    except ValueError:
        raise DecisionError(_("Choose identification lead, inconclusive or excluded.")) from None
    _confirm_password(examiner, password, unit_id)
    view = pair_view(candidate.job.entry_id, candidate.entry_id, examiner, unit_id)
    if view.my_role is None:
        raise DecisionError(_why_not(view))
    people.require(examiner, unit_id, Gate.VERIFICATION if view.my_role == DecisionRole.VERIFICATION.value
                   else Gate.COMPARISON)
    low, high = _pair(candidate.job.entry_id, candidate.entry_id)
    decision = Decision(unit_id=unit_id, entry_low_id=low, entry_high_id=high, candidate_id=candidate.id,
                        role=view.my_role, conclusion=chosen.value, note=(note or "").strip()[:4000],
                        examiner_id=examiner.id, signed_at=utcnow())
    db.session.add(decision)
    try:
        db.session.flush()
    except IntegrityError as error:  # the unique pair-and-role constraint: someone decided meanwhile
        raise DecisionConflict(_("Another examiner recorded this decision at the same time. Reload the page.")
                               ) from error
    if decision.role == DecisionRole.VERIFICATION.value:
        _link_if_confirmed(low, high)
    return decision


def _why_not(view: PairView) -> str:
    if view.mine is not None:
        return _("You have already recorded your decision on this pair; the second one must be another examiner's.")
    if view.verification is not None:
        return _("This pair has been decided and verified already.")
    return _("Only examiners of this unit record decisions.")


def _confirm_password(examiner: User, password: str, unit_id: int) -> None:
    """The examiner's signature: their password, through the one throttle (refusals keep the attempt)."""
    from qms.auth.services import check_password

    check_password(examiner, password, purpose="decision signature", unit_id=unit_id)


def _link_if_confirmed(low: int, high: int) -> CaseLink | None:
    decided = decisions_of(low, high)
    first, second = decided.get(DecisionRole.FIRST.value), decided.get(DecisionRole.VERIFICATION.value)
    lead = Conclusion.IDENTIFICATION_LEAD.value
    if first is None or second is None or first.conclusion != lead or second.conclusion != lead:
        return None
    entry_low, entry_high = db.session.get(BallisticEntry, low), db.session.get(BallisticEntry, high)
    link = CaseLink(unit_id=first.unit_id, entry_low_id=low, entry_high_id=high,
                    case_low_id=entry_low.case.id if entry_low and entry_low.case else None,
                    case_high_id=entry_high.case.id if entry_high and entry_high.case else None,
                    first_decision_id=first.id, verification_id=second.id, confirmed_at=utcnow())
    db.session.add(link)
    db.session.flush()
    return link


def links() -> list[CaseLink]:
    return list(db.session.scalars(select(CaseLink).order_by(CaseLink.id.desc())))


@dataclass(frozen=True)
class LinkedCase:
    case: Case | None
    label: str
    link: CaseLink
    firearms: list[Item]


def linked_cases(case: Case) -> list[LinkedCase]:
    """Cases joined to this one by confirmed links, transitively (the link graph), with their firearms."""
    seen, frontier, found = {case.id}, [case.id], []
    while frontier:
        rows = list(db.session.scalars(select(CaseLink).where(or_(CaseLink.case_low_id.in_(frontier),
                                                                  CaseLink.case_high_id.in_(frontier)))
                                     .order_by(CaseLink.id)))
        frontier = []
        for link in rows:
            for entry in (link.entry_low, link.entry_high):
                other = entry.case
                key = other.id if other is not None else None
                if key is not None and key in seen:
                    continue
                if key is not None:
                    seen.add(key)
                    frontier.append(key)
                found.append(LinkedCase(other, entry.label, link, _firearms(other) if other else []))
    return found


def _firearms(case: Case) -> list[Item]:
    return list(db.session.scalars(select(Item).where(Item.case_id == case.id,
                                                      Item.item_type == ItemType.FIREARM.value).order_by(Item.id)))


@dataclass(frozen=True)
class ItemLink:
    """A confirmed link seen from one side: the entry of an item asked about, and the entry at the other end."""

    link: CaseLink
    entry: BallisticEntry
    other: BallisticEntry


def confirmed_links_of_items(item_ids: Collection[int], unit_id: int) -> list[ItemLink]:
    """The unit's confirmed links that touch an entry of one of the items, oldest first.

    The pair is stored in id order; here each link comes once for every side whose item was asked
    about, so a caller never needs to know which side is "low". Used by the firearm register
    (`qms.firearms.ballistics`): a firearm's test fires, a case's casings.
    """
    wanted = set(item_ids)
    if not wanted:
        return []
    entries = select(BallisticEntry.id).where(BallisticEntry.unit_id == unit_id, BallisticEntry.item_id.in_(wanted))
    sides = [selectinload(side).selectinload(BallisticEntry.item).selectinload(Item.case)
             for side in (CaseLink.entry_low, CaseLink.entry_high)]
    signers = [selectinload(decision).selectinload(Decision.examiner)
               for decision in (CaseLink.first_decision, CaseLink.verification)]
    stmt = (select(CaseLink).where(CaseLink.unit_id == unit_id,
                                   or_(CaseLink.entry_low_id.in_(entries), CaseLink.entry_high_id.in_(entries)))
            .options(*sides, *signers).order_by(CaseLink.confirmed_at, CaseLink.id))
    return [ItemLink(link, entry, other) for link in db.session.scalars(stmt)
            for entry, other in ((link.entry_low, link.entry_high), (link.entry_high, link.entry_low))
            if entry.item_id in wanted]


def dashboard_panels(user: User, unit_id: int | None, roles: frozenset[Role]) -> list[Any]:
    """Pairs waiting for my blind verification, and my recent correlation jobs."""
    from qms.main.services import Panel

    if unit_id is None or Role.EXAMINER not in roles:
        return []
    waiting = awaiting_verification(user)
    recent = list(db.session.scalars(select(CorrelationJob).where(CorrelationJob.requested_by_id == user.id)
                                     .order_by(CorrelationJob.id.desc()).limit(5)))
    return [Panel(_("Ballistics"), "comparisons/_panel.html", {"waiting": waiting, "recent": recent}, order=30)]


