"""Complaints and appeals (ISO/IEC 17020 7.5, 7.6): received, acknowledged, validated or rejected,
investigated, decided by someone independent of the work complained about, closed with a notice.

Each step is an append-only `ComplaintEvent`; `state_of` folds them into the current state. The
decision's independence is checked against what the records say about who worked on the case:
custody events of its items, ballistic entries acquired from them and decisions on those entries,
the lead and team of a named audit, and conflict-of-interest declarations.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from qms.auth.models import Role, User
from qms.auth.services import roles_in
from qms.db import today
from qms.errors import InvalidInput, NotFound, NotPermitted, StateConflict
from qms.extensions import db
from qms.fields import choice, text
from qms.quality.complaints_models import Channel, Complaint, ComplaintEvent, ComplaintKind, Step
from qms.quality.models import Nonconformity, Source

RECEIVERS = frozenset({Role.QUALITY_MANAGER, Role.AUDITOR, Role.EXAMINER, Role.CSI_OFFICER})
HANDLERS = frozenset({Role.QUALITY_MANAGER})  # acknowledge, validate, investigate, close
DECIDERS = frozenset({Role.QUALITY_MANAGER, Role.AUDITOR})  # and never someone involved
# Who may ask for a step: every role that does the unit's work, so could have worked on what a complaint is
# about. The step itself then refuses by role, and a decision first by involvement (an examiner who imaged
# the evidence is told that, not merely that examiners do not decide). A viewer has no role to act at all.
STEP_ROLES = RECEIVERS
READERS = frozenset(Role) - {Role.ADMIN}
ACKNOWLEDGE_WORKING_DAYS = 5
DECIDE_DAYS = 30
RECEIVED = "received"  # the state before any event
OPEN_STATES = (RECEIVED, Step.ACKNOWLEDGED, Step.VALIDATED, Step.INVESTIGATED)
# Which steps may follow the current state.
NEXT: dict[str, tuple[Step, ...]] = {
    RECEIVED: (Step.ACKNOWLEDGED, Step.REJECTED),
    Step.ACKNOWLEDGED: (Step.VALIDATED, Step.REJECTED),
    Step.VALIDATED: (Step.INVESTIGATED,),
    Step.INVESTIGATED: (Step.INVESTIGATED, Step.DECIDED),
    Step.DECIDED: (Step.CLOSED,),
    Step.REJECTED: (Step.CLOSED,),
    Step.CLOSED: (),
}
KIND_LABELS = {ComplaintKind.COMPLAINT: _l("Complaint"), ComplaintKind.APPEAL: _l("Appeal")}
CHANNEL_LABELS = {Channel.LETTER: _l("Letter"), Channel.EMAIL: _l("E-mail"), Channel.PHONE: _l("Phone"),
                  Channel.IN_PERSON: _l("In person")}
STATE_LABELS = {RECEIVED: _l("Received"), Step.ACKNOWLEDGED: _l("Acknowledged"), Step.VALIDATED: _l("Validated"),
                Step.REJECTED: _l("Rejected: not a complaint"), Step.INVESTIGATED: _l("Investigated"),
                Step.DECIDED: _l("Decided"), Step.CLOSED: _l("Closed")}
STEP_ORDER = (RECEIVED, Step.ACKNOWLEDGED, Step.VALIDATED, Step.INVESTIGATED, Step.DECIDED, Step.CLOSED)


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days (Monday to Friday) after `start`."""
    found = start
    while days > 0:
        found += timedelta(days=1)
        if found.weekday() < 5:
            days -= 1
    return found


@dataclass(frozen=True)
class Received:
    """A complaint or appeal as it came in."""

    complainant: str
    channel: str
    description: str
    kind: str = ComplaintKind.COMPLAINT.value
    contact: str = ""
    received_on: date | None = None
    case_number: str = ""  # a case of the unit
    audit_id: int | None = None
    report_ref: str = ""


def receive(unit_id: int, actor: User, received: Received) -> Complaint:
    """Register a complaint or appeal; its due dates follow from the day it was received."""
    if not roles_in(actor, unit_id) & RECEIVERS:
        raise NotPermitted(_("Only staff of the unit record complaints."))
    kind = choice(ComplaintKind, received.kind, _("kind"))
    on = received.received_on or today()
    if on > today():
        raise InvalidInput(_("The date received is in the future."))
    complaint = Complaint(
        unit_id=unit_id, number=_next_number(unit_id, kind, on.year), kind=kind.value,
        complainant=text(received.complainant, _("The complainant"), required=True, limit=200),
        contact=text(received.contact, _("The contact"), limit=300),
        channel=choice(Channel, received.channel, _("channel")).value, received_on=on,
        case_id=_case_id(unit_id, received.case_number), audit_id=_audit_id(unit_id, received.audit_id),
        report_ref=text(received.report_ref, _("The report"), limit=200),
        description=text(received.description, _("The description"), required=True),
        acknowledge_by=add_working_days(on, ACKNOWLEDGE_WORKING_DAYS), decide_by=on + timedelta(days=DECIDE_DAYS),
        recorded_by_id=actor.id)
    db.session.add(complaint)
    db.session.flush()
    return complaint


def _next_number(unit_id: int, kind: ComplaintKind, year: int) -> str:
    prefix = f"{'APL' if kind is ComplaintKind.APPEAL else 'CMP'}-{year}-"
    count = db.session.scalar(select(func.count(Complaint.id)).where(
        Complaint.unit_id == unit_id, Complaint.number.startswith(prefix))) or 0
    return f"{prefix}{count + 1:04d}"


def _case_id(unit_id: int, case_number: str) -> int | None:
    from qms.evidence.models import Case

    wanted = text(case_number, _("The case number"), limit=64)
    if not wanted:
        return None
    case_id = db.session.scalar(select(Case.id).where(Case.unit_id == unit_id, Case.case_number == wanted))
    if case_id is None:
        raise InvalidInput(_("No case %(number)s in this unit.", number=wanted))
    return case_id


def _audit_id(unit_id: int, audit_id: int | None) -> int | None:
    from qms.audits.models import Audit

    if audit_id is None:
        return None
    audit = db.session.get(Audit, audit_id)
    if audit is None or audit.unit_id != unit_id:
        raise InvalidInput(_("No such audit in this unit."))
    return audit.id


def complaint(complaint_id: int, unit_id: int) -> Complaint:
    found = db.session.get(Complaint, complaint_id)
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such complaint in this unit."))
    return found


def events_of(record: Complaint) -> list[ComplaintEvent]:
    return list(db.session.scalars(select(ComplaintEvent).where(ComplaintEvent.complaint_id == record.id)
                                   .order_by(ComplaintEvent.id)))


def state_of(record: Complaint) -> str:
    """The current state: the step of the latest event (an investigation may be recorded more than once)."""
    state = RECEIVED
    for event in events_of(record):
        state = event.step
    return state


def latest(record: Complaint, step: Step) -> ComplaintEvent | None:
    return next((event for event in reversed(events_of(record)) if event.step == step.value), None)


# --- who worked on what the complaint is about ------------------------------------------------

def involvement(record: Complaint, user: User) -> list[str]:
    """Why this person is not independent of the complaint (empty when they are)."""
    reasons = []
    if record.case_id is not None:
        reasons += _case_work(record.case_id, user.id)
    if record.audit is not None and (record.audit.lead_auditor_id == user.id
                                     or any(member.user_id == user.id for member in record.audit.team)):
        reasons.append(_("they are on the team of audit %(title)s", title=record.audit.title))
    reasons += _declared(record, user)
    return reasons


def _case_work(case_id: int, user_id: int) -> list[str]:
    from qms.comparisons.models import BallisticEntry, Decision
    from qms.evidence.models import CustodyEvent, Item

    items = select(Item.id).where(Item.case_id == case_id)
    entries = select(BallisticEntry.id).where(BallisticEntry.item_id.in_(items))
    checks = (
        (select(CustodyEvent.id).where(CustodyEvent.item_id.in_(items),
                                       or_(CustodyEvent.actor_id == user_id, CustodyEvent.to_user_id == user_id)),
         _("they recorded or received custody of its evidence")),
        (select(BallisticEntry.id).where(BallisticEntry.id.in_(entries), BallisticEntry.acquired_by_id == user_id),
         _("they acquired a ballistic entry of its evidence")),
        (select(Decision.id).where(or_(Decision.entry_low_id.in_(entries), Decision.entry_high_id.in_(entries)),
                                   Decision.examiner_id == user_id),
         _("they recorded a comparison decision on its evidence")),
    )
    return [reason for stmt, reason in checks if db.session.scalar(stmt.limit(1)) is not None]


def _declared(record: Complaint, user: User) -> list[str]:
    from qms.people.services import declared_interests

    interests = declared_interests(user.id, record.unit_id).casefold()
    if not interests:
        return []
    named = [record.complainant] + ([record.case.case_number] if record.case is not None else [])
    return [_("their conflict-of-interest declaration names %(what)s", what=what)
            for what in named if what.strip() and what.casefold() in interests]


def check_independent(record: Complaint, user: User) -> None:
    """Refuse someone who worked on what the complaint is about, or declared an interest in it."""
    reasons = involvement(record, user)
    if reasons:
        raise NotPermitted(_("%(name)s may not decide %(number)s: %(reasons)s. A quality manager or an auditor "
                             "who took no part in the work complained about decides it.", name=user.full_name,
                             number=record.number, reasons="; ".join(reasons)))


# --- the steps ----------------------------------------------------------------------------------

def _step(record: Complaint, actor: User, step: Step, value: str, what: str) -> ComplaintEvent:
    state = state_of(record)
    if step not in NEXT[state]:
        raise StateConflict(_("%(number)s is %(state)s: it cannot be %(step)s now.", number=record.number,
                              state=STATE_LABELS[state], step=STATE_LABELS[step]))
    event = ComplaintEvent(unit_id=record.unit_id, complaint_id=record.id, step=step.value,
                           text=text(value, what, required=True), actor_id=actor.id, actor_name=actor.full_name)
    db.session.add(event)
    db.session.flush()
    db.session.expire(record, ["events"])
    return event


def _require(record: Complaint, actor: User, allowed: frozenset[Role], message: str) -> None:
    if not roles_in(actor, record.unit_id) & allowed:
        raise NotPermitted(message)


def acknowledge(record: Complaint, actor: User, note: str) -> ComplaintEvent:
    _require(record, actor, HANDLERS, _("Only a quality manager handles complaints."))
    return _step(record, actor, Step.ACKNOWLEDGED, note, _("The acknowledgement"))


def validate(record: Complaint, actor: User, note: str) -> ComplaintEvent:
    _require(record, actor, HANDLERS, _("Only a quality manager handles complaints."))
    return _step(record, actor, Step.VALIDATED, note, _("The validation"))


def reject(record: Complaint, actor: User, reason: str) -> ComplaintEvent:
    """Not a complaint (or appeal) about the unit's inspection work: the reason is required."""
    _require(record, actor, HANDLERS, _("Only a quality manager handles complaints."))
    return _step(record, actor, Step.REJECTED, reason, _("The reason"))


def investigate(record: Complaint, actor: User, findings: str) -> ComplaintEvent:
    _require(record, actor, HANDLERS, _("Only a quality manager handles complaints."))
    return _step(record, actor, Step.INVESTIGATED, findings, _("The findings"))


def decide(record: Complaint, actor: User, decision: str) -> ComplaintEvent:
    """The decision, taken by someone not involved in the work complained about.

    Involvement is checked before the deciding role (as the declared interests are): whoever took part in
    the work is refused for that reason, whatever their role; someone with no role to act is refused for that.
    """
    refused = _("Only a quality manager or an auditor decides complaints.")
    _require(record, actor, STEP_ROLES, refused)
    check_independent(record, actor)
    _require(record, actor, DECIDERS, refused)
    return _step(record, actor, Step.DECIDED, decision, _("The decision"))


def close(record: Complaint, actor: User, notice: str) -> ComplaintEvent:
    """Close with the notice sent to the complainant (its PDF is `notice_pdf`)."""
    _require(record, actor, HANDLERS, _("Only a quality manager handles complaints."))
    return _step(record, actor, Step.CLOSED, notice, _("The notice"))


def record_step(record: Complaint, actor: User, step: str, value: str) -> ComplaintEvent:
    """Any step by its name (the page's one form)."""
    doing = {Step.ACKNOWLEDGED: acknowledge, Step.VALIDATED: validate, Step.REJECTED: reject,
             Step.INVESTIGATED: investigate, Step.DECIDED: decide, Step.CLOSED: close}
    return doing[choice(Step, step, _("step"))](record, actor, value)


def open_nonconformity(record: Complaint, actor: User, *, title: str, risk_grade: str = "medium") -> Nonconformity:
    """A nonconformity found through the complaint (one per complaint)."""
    from qms.quality import services as quality

    _require(record, actor, HANDLERS, _("Only a quality manager handles complaints."))
    found = quality.open_nonconformity(
        record.unit_id, Source.COMPLAINT,
        quality.Found(title=title, description=record.description, location=record.case.case_number
                      if record.case is not None else record.report_ref, risk_grade=risk_grade),
        found_by=actor, source_key=f"complaint:{record.id}", source_url=f"/quality/complaints/{record.id}")
    record.nonconformity_id = found.id
    db.session.flush()
    return found


# --- lists and progress -------------------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    """Where a complaint stands: its state, the steps done of the usual path, and what is overdue."""

    state: str
    done: int
    of: int
    acknowledge_overdue: bool
    decide_overdue: bool

    @property
    def label(self) -> str:
        return str(STATE_LABELS[self.state])

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.of)


def progress(record: Complaint, on: date | None = None) -> Progress:
    return _progress(record, state_of(record), on or today())


def _progress(record: Complaint, state: str, on: date) -> Progress:
    done = len(STEP_ORDER) - 1 if state == Step.CLOSED else (
        STEP_ORDER.index(state) if state in STEP_ORDER else 1)
    acknowledged = state != RECEIVED
    decided = state in (Step.DECIDED, Step.CLOSED, Step.REJECTED)
    return Progress(state, done, len(STEP_ORDER) - 1, not acknowledged and on > record.acknowledge_by,
                    not decided and on > record.decide_by)


def complaints(unit_id: int, *, state: str = "") -> list[tuple[Complaint, Progress]]:
    """The unit's complaints and appeals, newest first, each with its progress (two queries whatever their number)."""
    wanted = "" if not state else state if state == RECEIVED else choice(Step, state, _("state")).value
    records = list(db.session.scalars(select(Complaint).where(Complaint.unit_id == unit_id).order_by(
        Complaint.received_on.desc(), Complaint.id.desc())))
    states = _states_of(records)
    on = today()
    rows = [(record, _progress(record, states[record.id], on)) for record in records]
    return [row for row in rows if row[1].state == wanted] if wanted else rows


def _states_of(records: list[Complaint]) -> dict[int, str]:
    """Each complaint's state in one query: its last step, as `state_of` folds it."""
    states = {record.id: RECEIVED for record in records}
    for complaint_id, step in db.session.execute(select(ComplaintEvent.complaint_id, ComplaintEvent.step).where(
            ComplaintEvent.complaint_id.in_(list(states))).order_by(ComplaintEvent.id)).tuples():
        states[complaint_id] = step
    return states


def notice_pdf(record: Complaint) -> bytes:
    """The close-out notice to the complainant: the complaint, its decision and the closing text."""
    from qms.pdf import render_pdf

    closed = latest(record, Step.CLOSED)
    if closed is None:
        raise StateConflict(_("%(number)s is not closed yet: there is no notice.", number=record.number))
    return render_pdf("quality/complaints_notice_pdf.html", complaint=record, closed=closed,
                      decided=latest(record, Step.DECIDED), rejected=latest(record, Step.REJECTED),
                      kind_label=KIND_LABELS[ComplaintKind(record.kind)])


def awaiting_decision(unit_id: int, on: date | None = None) -> list[tuple[Complaint, Progress]]:
    """Open complaints and appeals not yet decided (nor rejected), overdue ones first, then by their decide-by date.

    Two queries whatever their number: the complaints with no deciding step, then their steps, folded
    into each one's state as `state_of` does.
    """
    on = on or today()
    settled = select(ComplaintEvent.id).where(ComplaintEvent.complaint_id == Complaint.id, ComplaintEvent.step.in_(
        (Step.DECIDED.value, Step.REJECTED.value, Step.CLOSED.value)))
    records = list(db.session.scalars(select(Complaint).where(Complaint.unit_id == unit_id, ~settled.exists())))
    states = _states_of(records)
    rows = [(record, _progress(record, states[record.id], on)) for record in records]
    return sorted(rows, key=lambda row: (not (row[1].acknowledge_overdue or row[1].decide_overdue),
                                         row[0].decide_by, row[0].number))


def dashboard_panels(user: User, unit_id: int | None, roles: frozenset[Role]) -> list[Any]:
    """For the quality manager: complaints awaiting a decision, the overdue ones marked.

    Not found through `qms.quality.services` like the domain's other panel (that module opens the
    nonconformities this one links to, so importing this one from it is a cycle): the complaints
    pages register it with the dashboard when the blueprint is set up (`complaints_views`).
    """
    from qms.main.services import Panel

    if unit_id is None or Role.QUALITY_MANAGER not in roles:
        return []
    rows = awaiting_decision(unit_id)
    overdue = sum(found.acknowledge_overdue or found.decide_overdue for _record, found in rows)
    return [Panel(_("Complaints awaiting a decision"), "quality/complaints_panel.html",
                  {"rows": rows, "overdue": overdue}, order=30)]
