"""The lead report: one PDF an investigator can act on for a confirmed link between two entries.

It names both cases and items, shows the review images (the two aligned surfaces, the overlay and
the CMC cell map, embedded as data: URIs so the sandboxed renderer fetches nothing), the scores
with the likelihood ratio and its calibration set, both examiners' signed decisions, and the
custody status of both items with the result of verifying their chains at printing time.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from qms.auth.models import User
from qms.comparisons import explain
from qms.comparisons.models import BallisticEntry, Candidate, CaseLink, DerivedKind
from qms.db import utcnow
from qms.evidence import services as evidence
from qms.evidence.checkpoints import write_checkpoint
from qms.evidence.models import Item
from qms.extensions import db
from qms.pdf import render_pdf
from qms.storage import ObjectCorrupted, ObjectMissing, object_store

IMAGE_TITLES = {DerivedKind.QUERY_VIEW.value: "Query surface", DerivedKind.ALIGNED_VIEW.value: "Candidate, aligned",
                DerivedKind.OVERLAY.value: "Overlay", DerivedKind.CELLMAP.value: "CMC cell map"}


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


@dataclass(frozen=True)
class Image:
    title: str
    data_uri: str
    sha256: str


def _custody(item: Item) -> Custody:
    report = evidence.verify_item(item)
    seal = f"{item.seal_number} ({'intact' if item.sealed else 'broken'})" if item.seal_number else "none"
    return Custody(state=item.state.replace("_", " "), holder=item.holder.full_name if item.holder else "nobody",
                   location=item.location.path if item.location else "—", seal=seal, verified=report.ok,
                   problems=report.lines())


def _side(role: str, entry: BallisticEntry) -> Side:
    item = entry.item
    return Side(role, entry, item, _custody(item) if item is not None else None)


def _candidate_of(link: CaseLink) -> Candidate | None:
    if link.first_decision.candidate_id is not None:
        return db.session.get(Candidate, link.first_decision.candidate_id)
    return None


def _images(candidate: Candidate | None) -> tuple[list[Image], str]:
    """The review images of the candidate (made on first use), or an empty list and the reason."""
    if candidate is None:
        return [], "The decision was not made on a ranked candidate, so no review images exist."
    try:
        views = explain.ensure_views(candidate, candidate.job.entry)
        store = object_store()
        images = [Image(IMAGE_TITLES[kind], "data:image/png;base64," + base64.b64encode(
            store.get(views[kind].sha256)).decode("ascii"), views[kind].sha256)
            for kind in IMAGE_TITLES if kind in views and views[kind].media_type == "image/png"]
    except (explain.NotExplainable, ObjectMissing, ObjectCorrupted) as error:
        return [], f"The review images cannot be shown: {error}."
    return images, ""


def _ordered(link: CaseLink, candidate: Candidate | None) -> tuple[Side, Side]:
    """Query first, candidate second, when the link came from a search; else the stored order."""
    query_id = candidate.job.entry_id if candidate is not None else link.entry_low_id
    first, second = ((link.entry_low, link.entry_high) if link.entry_low_id == query_id
                     else (link.entry_high, link.entry_low))
    return _side("Query", first), _side("Candidate", second)


def report_context(link: CaseLink) -> dict[str, Any]:
    """Everything the template shows, gathered in one place (also handy to test without a PDF)."""
    candidate = _candidate_of(link)
    query, other = _ordered(link, candidate)
    images, images_note = _images(candidate)
    return {"link": link, "candidate": candidate, "sides": [query, other], "images": images,
            "images_note": images_note, "first": link.first_decision, "verification": link.verification}


def lead_report_pdf(link: CaseLink, *, printed_by: User) -> bytes:
    """The lead report of a confirmed link, as PDF bytes; like every export, it signs a custody checkpoint first."""
    checkpoint = write_checkpoint(db.session, reason=f"lead report of link {link.id} by {printed_by.username}")
    return render_pdf("comparisons/lead_report_pdf.html", printed_at=utcnow(), printed_by=printed_by,
                      checkpoint=checkpoint, **report_context(link))

