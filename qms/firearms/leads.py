"""Register leads: records of the unit's register that may be the same firearm, to confirm or dismiss.

`match(firearm)` runs whenever a record is added or changed or gets a status event. It makes a lead
for every other record that
- has the same serial key and a compatible make (look-alike characters read alike: `serials`),
- agrees with a partly obliterated serial at every readable position (also with a compatible make), or
- has the same make, model and calibre while one of the two has no usable serial, one of them was
  reported stolen or lost and the other found, seized or surrendered within
  `matching.PROFILE_PERIOD_DAYS` after the report, and no more than `matching.PROFILE_MAX_CANDIDATES`
  records qualify (a make, model and calibre alone are too common to pair records otherwise).

A pair of records has at most one lead, whatever changes later; its decision is signed with the
password of the person deciding (through the one throttle, like a ballistic decision) and is final.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from qms.auth.models import User
from qms.db import utcnow
from qms.errors import NotFound, StateConflict
from qms.extensions import db
from qms.fields import choice as _choice
from qms.fields import text as _text
from qms.firearms import matching, serials
from qms.firearms.models import Firearm, FirearmEvent, FirearmLead, FirearmLeadDecision, LeadBasis, LeadOutcome
from qms.firearms.roles import RECORDERS, require
from qms.firearms.status import fold

BASIS_LABELS = {LeadBasis.SERIAL: _l("Same serial number and make"),
                LeadBasis.PARTIAL_SERIAL: _l("Partly obliterated serial agrees at every readable position"),
                LeadBasis.PROFILE: _l("Same make, model and calibre; reported and recovered within the period")}
OUTCOME_LABELS = {LeadOutcome.CONFIRMED: _l("Confirmed: the same firearm"),
                  LeadOutcome.DISMISSED: _l("Dismissed: not the same firearm")}


# --- matching -----------------------------------------------------------------------------------------

def match(found: Firearm) -> list[FirearmLead]:
    """Match one record against its unit's register; the new leads (pairs already led are skipped)."""
    keys = matching.keys_of(serial_number=found.serial_number, make=found.make, model=found.model,
                            calibre=found.calibre)
    basis: dict[int, LeadBasis] = {}
    for other in matching.serial_matches(found.unit_id, keys.serial_key, make_key=keys.make_key, exclude_id=found.id):
        partial = serials.is_partial(keys.serial_key) or other.serial_partial
        basis[other.id] = LeadBasis.PARTIAL_SERIAL if partial else LeadBasis.SERIAL
    standing = fold(db.session.scalars(select(FirearmEvent).where(FirearmEvent.firearm_id == found.id)))
    for other in matching.profile_matches(found.unit_id, keys, reported_on=standing.reported_on,
                                          recovered_on=standing.recovered_on, exclude_id=found.id):
        basis.setdefault(other.id, LeadBasis.PROFILE)
    return _new_leads(found, basis)


def _new_leads(found: Firearm, basis: dict[int, LeadBasis]) -> list[FirearmLead]:
    if not basis:
        return []
    led = set(db.session.execute(select(FirearmLead.firearm_low_id, FirearmLead.firearm_high_id).where(
        or_(FirearmLead.firearm_low_id == found.id, FirearmLead.firearm_high_id == found.id))).tuples())
    made = []
    for other_id, why in sorted(basis.items()):
        low, high = sorted((found.id, other_id))
        if (low, high) in led:
            continue
        lead = FirearmLead(unit_id=found.unit_id, firearm_low_id=low, firearm_high_id=high, basis=why.value)
        db.session.add(lead)
        made.append(lead)
    db.session.flush()
    return made


# --- reading leads ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LeadRow:
    lead: FirearmLead
    decision: FirearmLeadDecision | None


def leads(unit_id: int, *, open_only: bool = False) -> list[LeadRow]:
    """The unit's leads, newest first, each with its decision (open ones first when listing all)."""
    stmt = (select(FirearmLead, FirearmLeadDecision).outerjoin(FirearmLeadDecision,
                                                               FirearmLeadDecision.lead_id == FirearmLead.id)
            .where(FirearmLead.unit_id == unit_id).order_by(FirearmLead.id.desc()))
    if open_only:
        stmt = stmt.where(FirearmLeadDecision.id.is_(None))
    rows = [LeadRow(lead, decision) for lead, decision in db.session.execute(stmt).tuples()]
    return sorted(rows, key=lambda row: row.decision is not None)


def leads_of(found: Firearm) -> list[LeadRow]:
    stmt = (select(FirearmLead, FirearmLeadDecision).outerjoin(FirearmLeadDecision,
                                                               FirearmLeadDecision.lead_id == FirearmLead.id)
            .where(or_(FirearmLead.firearm_low_id == found.id, FirearmLead.firearm_high_id == found.id))
            .order_by(FirearmLead.id))
    return [LeadRow(lead, decision) for lead, decision in db.session.execute(stmt).tuples()]


def get_lead(lead_id: int | None, unit_id: int) -> FirearmLead:
    found = db.session.get(FirearmLead, lead_id) if lead_id is not None else None
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such register lead in this unit."))
    return found


def decision_of(lead: FirearmLead) -> FirearmLeadDecision | None:
    return db.session.scalar(select(FirearmLeadDecision).where(FirearmLeadDecision.lead_id == lead.id))


def other_side(lead: FirearmLead, found: Firearm) -> Firearm:
    return lead.firearm_high if lead.firearm_low_id == found.id else lead.firearm_low


# --- deciding -----------------------------------------------------------------------------------------

def decide(lead: FirearmLead, actor: User, *, outcome: str, note: str, password: str) -> FirearmLeadDecision:
    """Confirm or dismiss a lead, signed with the actor's password; a dismissal says why."""
    from qms.auth.services import check_password

    require(actor, lead.unit_id, RECORDERS, _("Only examiners and CSI officers decide register leads."))
    chosen = _choice(LeadOutcome, outcome, _("decision"))
    note = _text(note, _("The note"), required=chosen is LeadOutcome.DISMISSED)
    check_password(actor, password, purpose="firearm lead signature", unit_id=lead.unit_id)
    if decision_of(lead) is not None:
        raise StateConflict(_("This lead has been decided already; a decision is final."))
    decision = FirearmLeadDecision(unit_id=lead.unit_id, lead_id=lead.id, outcome=chosen.value, note=note,
                                   decided_by_id=actor.id, signed_at=utcnow())
    db.session.add(decision)
    try:
        db.session.flush()
    except IntegrityError as error:  # the unique lead: someone decided it at the same moment
        raise StateConflict(_("Someone decided this lead at the same time. Reload the page.")) from error
    return decision
