"""The impartiality risk register (ISO/IEC 17020 4.1.3, 4.1.4): identify, score, control, review.

A risk is scored likelihood x impact (1-5 each, so 1-25); every review is an append-only
`RiskReview` and sets the risk's current scores, controls and next review date.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from qms.auth.models import Role, User
from qms.auth.services import roles_in
from qms.db import today
from qms.errors import InvalidInput, NotFound, NotPermitted
from qms.extensions import db
from qms.fields import choice, text
from qms.quality.models import RiskGrade
from qms.quality.risks_models import Risk, RiskReview, RiskSource
from qms.quality.services import GRADE_LABELS
from qms.trail.audited import audit_reason

MANAGERS = frozenset({Role.QUALITY_MANAGER})
READERS = frozenset(Role) - {Role.ADMIN}
WRITERS = READERS - {Role.VIEWER}  # a risk's owner reviews it, whatever their role
SOURCE_LABELS = {RiskSource.COMMERCIAL_PRESSURE: _l("Commercial pressure"),
                 RiskSource.FINANCIAL_PRESSURE: _l("Financial pressure"), RiskSource.RELATIONSHIPS: _l("Relationships"),
                 RiskSource.CHAIN_OF_COMMAND: _l("Police chain of command"),
                 RiskSource.SHARED_RESOURCES: _l("Shared resources"), RiskSource.OTHER: _l("Other")}


def grade(score: int) -> str:
    """High from 15, medium from 6, low below (the usual 5 x 5 matrix bands)."""
    return "high" if score >= 15 else "medium" if score >= 6 else "low"


def grade_label(score: int) -> str:
    """The band of a score in words, the same words as a nonconformity's risk grade."""
    return str(GRADE_LABELS[RiskGrade(grade(score))])


def _scale(value: int, what: str) -> int:
    if not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidInput(_("%(what)s must be from 1 to 5.", what=what))
    return value


def _owner(unit_id: int, owner_id: int) -> User:
    owner = db.session.get(User, owner_id)
    if owner is None or not roles_in(owner, unit_id):
        raise InvalidInput(_("The owner must be a member of this unit."))
    return owner


def _require_manager(actor: User, unit_id: int) -> None:
    if not roles_in(actor, unit_id) & MANAGERS:
        raise NotPermitted(_("Only a quality manager keeps the impartiality risk register."))


@dataclass(frozen=True)
class Identified:
    """A risk as identified: what, from where, how likely and grave, its controls, owner and review date."""

    title: str
    source: str
    likelihood: int
    impact: int
    owner_id: int
    review_on: date
    description: str = ""
    controls: str = ""


def add_risk(unit_id: int, actor: User, identified: Identified) -> Risk:
    _require_manager(actor, unit_id)
    risk = Risk(unit_id=unit_id, title=text(identified.title, _("A title"), required=True, limit=200),
                source=choice(RiskSource, identified.source, _("source")).value,
                description=text(identified.description, _("The description")),
                likelihood=_scale(identified.likelihood, _("The likelihood")),
                impact=_scale(identified.impact, _("The impact")),
                controls=text(identified.controls, _("The controls")),
                owner_id=_owner(unit_id, identified.owner_id).id, review_on=identified.review_on,
                created_by_id=actor.id)
    db.session.add(risk)
    db.session.flush()
    return risk


def risk(risk_id: int, unit_id: int) -> Risk:
    found = db.session.get(Risk, risk_id)
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such risk in this unit."))
    return found


def review(found: Risk, actor: User, *, likelihood: int, impact: int, controls: str, note: str,
           next_review_on: date) -> RiskReview:
    """Record a review (by the owner or a quality manager); it sets the risk's current values."""
    if actor.id != found.owner_id:
        _require_manager(actor, found.unit_id)
    if next_review_on <= today():
        raise InvalidInput(_("The next review must be after today."))
    row = RiskReview(unit_id=found.unit_id, risk_id=found.id, likelihood=_scale(likelihood, _("The likelihood")),
                     impact=_scale(impact, _("The impact")), controls=text(controls, _("The controls")),
                     note=text(note, _("The note"), required=True), next_review_on=next_review_on,
                     reviewer_id=actor.id, reviewer_name=actor.full_name)
    db.session.add(row)
    with audit_reason(db.session, _("Reviewed: %(note)s", note=row.note[:200])):  # the trail says why it changed
        found.likelihood, found.impact, found.controls, found.review_on = (row.likelihood, row.impact, row.controls,
                                                                           next_review_on)
        db.session.flush()
    db.session.expire(found, ["reviews"])
    return row


def reviews_of(found: Risk) -> list[RiskReview]:
    return list(db.session.scalars(select(RiskReview).where(RiskReview.risk_id == found.id).order_by(RiskReview.id)))


def is_overdue(found: Risk, on: date | None = None) -> bool:
    return found.review_on < (on or today())


def register(unit_id: int, *, overdue: bool = False) -> list[Risk]:
    """The unit's risks, highest score first."""
    rows = list(db.session.scalars(select(Risk).where(Risk.unit_id == unit_id).order_by(Risk.id)))
    if overdue:
        rows = [row for row in rows if is_overdue(row)]
    return sorted(rows, key=lambda row: (-row.score, row.review_on, row.id))
