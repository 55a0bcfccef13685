"""The lead report: one PDF an investigator can act on for a link between two entries.

A confirmed link (first decision and blind verification both "identification lead") gets the
report; a lead still waiting for its verification gets the same report marked PENDING, printed
only by its first examiner (the verifier must stay blind).

It names both cases and items, shows the review images (the two aligned surfaces, the overlay and
the CMC cell map, embedded as data: URIs so the sandboxed renderer fetches nothing), the scores
with the likelihood ratio and its calibration set, both examiners' signed decisions, and the
custody status of both items with the result of verifying their chains at printing time.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import select

from qms.auth.models import User
from qms.comparisons import explain, services
from qms.comparisons.models import (
    DERIVED_KIND_LABELS,
    BallisticEntry,
    Candidate,
    CaseLink,
    Conclusion,
    Decision,
    DerivedKind,
    label_of,
)
from qms.db import utcnow
from qms.equipment.services import STATUS_LABELS
from qms.errors import StateConflict
from qms.evidence import services as evidence
from qms.evidence.checkpoints import write_checkpoint
from qms.evidence.models import ITEM_STATE_LABELS, ITEM_TYPE_LABELS, Item
from qms.extensions import db
from qms.pdf import render_pdf
from qms.storage import ObjectCorrupted, ObjectMissing, object_store

IMAGE_KINDS = (DerivedKind.QUERY_VIEW.value, DerivedKind.ALIGNED_VIEW.value, DerivedKind.OVERLAY.value,
               DerivedKind.CELLMAP.value)  # in the report's order; captions are the kinds' labels

WIDE_IMAGES = {DerivedKind.OVERLAY.value, DerivedKind.CELLMAP.value}


@dataclass(frozen=True)
class Custody:
    """An item's custody at printing time, and whether its chain verifies."""

    state: str
    holder: str
    location: str
    seal: str
    verified: bool
    problems: list[str]


@dataclass(frozen=True)
class Side:
    """One of the two entries of the link, as the report shows it."""

    role: str
    entry: BallisticEntry
    item: Item | None
    custody: Custody | None

    @property
    def name(self) -> str:
        """The case of a local entry; an imported one by its source's name."""
        return _("Case %(number)s", number=self.item.case.case_number) if self.item is not None else self.entry.label


@dataclass(frozen=True)
class Image:
    title: str
    data_uri: str
    sha256: str
    wide: bool = False  # printed across the page (the overlay and the cell map must be read in detail)


def _custody(item: Item) -> Custody:
    report = evidence.verify_item(item)
    seal = (_("%(seal)s (intact)", seal=item.seal_number) if item.sealed else
            _("%(seal)s (broken)", seal=item.seal_number)) if item.seal_number else pgettext("seal", "none")
    return Custody(state=label_of(ITEM_STATE_LABELS, item.state),
                   holder=item.holder.full_name if item.holder else pgettext("holder", "nobody"),
                   location=item.location.path if item.location else "—", seal=seal, verified=report.ok,
                   problems=report.lines())


def _side(role: str, entry: BallisticEntry) -> Side:
    item = entry.item
    return Side(role, entry, item, _custody(item) if item is not None else None)


def _candidate_of(decision: Decision) -> Candidate | None:
    if decision.candidate_id is None:
        return None
    return db.session.scalar(select(Candidate).where(Candidate.id == decision.candidate_id))


def _images(candidate: Candidate | None) -> tuple[list[Image], str]:
    """The review images of the candidate (made on first use), or an empty list and the reason."""
    if candidate is None:
        return [], _("The decision was not made on a ranked candidate, so no review images exist.")
    try:
        views = explain.ensure_views(candidate, candidate.job.entry)
        store = object_store()
        images = [Image(label_of(DERIVED_KIND_LABELS, kind), "data:image/png;base64," + base64.b64encode(
            store.get(views[kind].sha256)).decode("ascii"), views[kind].sha256, kind in WIDE_IMAGES)
            for kind in IMAGE_KINDS if kind in views and views[kind].media_type == "image/png"]
    except explain.NotExplainable as error:
        return [], error.message
    except (ObjectMissing, ObjectCorrupted) as error:
        return [], _("The review images cannot be shown: %(reason)s.", reason=error)
    return images, ""


def _ordered(low: BallisticEntry, high: BallisticEntry, candidate: Candidate | None) -> tuple[Side, Side]:
    """Query first, candidate second, when the decision came from a search; else the stored order."""
    query_id = candidate.job.entry_id if candidate is not None else low.id
    first, second = (low, high) if low.id == query_id else (high, low)
    return _side(_("Query"), first), _side(_("Candidate"), second)


def _context(low: BallisticEntry, high: BallisticEntry, first: Decision, verification: Decision | None,
             link: CaseLink | None) -> dict[str, Any]:
    candidate = _candidate_of(first)
    query, other = _ordered(low, high, candidate)
    images, images_note = _images(candidate)
    return {"link": link, "candidate": candidate, "sides": [query, other], "images": images,
            "item_type_labels": {str(kind): str(label) for kind, label in ITEM_TYPE_LABELS.items()},
            "images_note": images_note, "first": first, "verification": verification,
            "devices": [device_at_acquisition(side.entry) for side in (query, other)]}


def device_at_acquisition(entry: BallisticEntry) -> str:
    """The instrument's status and calibration when the scan was made (as recorded with the entry)."""
    if entry.device_id is None:
        return ""
    status = STATUS_LABELS.get(entry.device_status)  # type: ignore[call-overload]
    until = entry.device_calibrated_until
    return _("%(status)s at acquisition, calibrated until %(until)s", status=status or entry.device_status,
             until=format_date(until) if until else _("not stated"))


def report_context(link: CaseLink) -> dict[str, Any]:
    """Everything the template shows for a confirmed link (also handy to test without a PDF)."""
    return _context(link.entry_low, link.entry_high, link.first_decision, link.verification, link)


def _render(context: dict[str, Any], *, printed_by: User, what: str) -> bytes:
    checkpoint = write_checkpoint(db.session, reason=f"lead report of {what} by {printed_by.username}")
    return render_pdf("comparisons/lead_report_pdf.html", printed_at=utcnow(), printed_by=printed_by,
                      checkpoint=checkpoint, **context)


def lead_report_pdf(link: CaseLink, *, printed_by: User) -> bytes:
    """The lead report of a confirmed link, as PDF bytes; like every export, it signs a custody checkpoint first."""
    return _render(report_context(link), printed_by=printed_by, what=f"link {link.id}")


class ReportRefused(StateConflict):
    """No lead report for this pair now; the message says why."""


def pending_report_pdf(candidate: Candidate, *, printed_by: User, unit_id: int) -> bytes:
    """The report of a lead still waiting for its blind verification, marked as pending.

    Only the first examiner may print it: anyone else could be the verifier, who must not see the
    first decision before recording their own (the same rule as the review page).
    """
    if candidate.entry_id is None:
        raise ReportRefused(_("This candidate has no entry record here."))
    view = services.pair_view(candidate.job.entry_id, candidate.entry_id, printed_by, unit_id)
    if view.link is not None:
        raise ReportRefused(_("This lead is confirmed: print the report of link %(link)d.", link=view.link.id))
    if view.first is None or view.first.examiner_id != printed_by.id:
        raise ReportRefused(_("Only the examiner who recorded the lead may print it before the blind verification."))
    if view.first.conclusion != Conclusion.IDENTIFICATION_LEAD.value:
        raise ReportRefused(_("The decision on this pair is %(conclusion)s, not a lead.",
                              conclusion=view.first.conclusion_label.lower()))
    low, high = sorted((candidate.job.entry, candidate.entry), key=lambda entry: entry.id)
    return _render(_context(low, high, view.first, view.verification, None), printed_by=printed_by,
                   what=f"pending lead on candidate {candidate.id}")
