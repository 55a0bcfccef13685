"""Management review (ISO/IEC 17020 8.5): the inputs of a period gathered from the records, the
decisions of the quality manager, and the signed minutes as PDF.

Nobody types the inputs: `gather(unit_id, start, end)` counts them from the audits, nonconformities,
corrective actions, proficiency tests, the competence matrix, the equipment register, the SOP
reviews, the custody chains and the casework of the period, so the minutes say what the database
says. Decisions are append-only; a decision may open a nonconformity (source management_review) or
a nonconformity with its corrective action. Signing (password re-entered) freezes the minutes: the
PDF rendered at that moment is kept with its SHA-256.
"""
from __future__ import annotations

import base64
import hashlib
import io
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from qms.audits import services as audits
from qms.audits.models import ActionStep, Audit, CorrectiveAction, Finding, Grade, StepKind
from qms.auth.models import Role, User
from qms.auth.services import check_password, roles_in
from qms.comparisons.models import BallisticEntry, CaseLink, Decision
from qms.db import today, utcnow
from qms.documents import services as documents
from qms.equipment import services as equipment
from qms.equipment.status import Status
from qms.errors import InvalidInput, NotFound, NotPermitted, StateConflict
from qms.evidence.checkpoints import verify_all
from qms.evidence.models import Case, Item
from qms.extensions import db
from qms.fields import choice, text
from qms.people import services as people
from qms.people.services import Signature
from qms.people.state import STANDING_LABELS, Standing
from qms.quality import complaints, proficiency
from qms.quality import services as quality
from qms.quality.complaints_models import Complaint, ComplaintEvent
from qms.quality.models import Nonconformity, Source
from qms.quality.proficiency_models import Outcome, ProficiencyTest
from qms.quality.review_models import DecisionKind, ManagementReview, ReviewDecision

MANAGERS = frozenset({Role.QUALITY_MANAGER})
READERS = frozenset(Role) - {Role.ADMIN}
MAX_PERIOD_DAYS = 366 * 10
SIGNATURE_MEANING = _l("Approved: these minutes record the management review and its decisions.")
KIND_LABELS = {DecisionKind.DECISION: _l("Decision"), DecisionKind.NONCONFORMITY: _l("Opens a nonconformity"),
               DecisionKind.CORRECTIVE_ACTION: _l("Opens a corrective action")}


# --- the inputs -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Custody:
    items_checked: int
    events_checked: int
    broken_items: int
    checkpoint_problems: int

    @property
    def ok(self) -> bool:
        return not self.broken_items and not self.checkpoint_problems


@dataclass(frozen=True)
class Workload:
    cases: int
    items: int
    ballistic_entries: int
    decisions: int
    leads: int


@dataclass(frozen=True)
class Inputs:
    """Everything the review considers for one period (counts are of records dated within it)."""

    start: date
    end: date
    audits_held: int
    audits_by_status: dict[str, int]
    findings_by_grade: dict[str, int]
    nonconformities_by_source: dict[Source, int]
    actions_by_status: dict[str, int]
    actions_overdue: int
    reviews_effective: int
    reviews_not_effective: int
    proficiency_by_outcome: dict[Outcome, int]
    proficiency_results: list[ProficiencyTest]
    competence: dict[Standing, int]
    equipment_by_status: dict[Status, int]
    impact_reviews_open: int
    sops_overdue: list[Any]
    custody: Custody
    workload: Workload
    complaints_by_state: dict[str, int] = field(default_factory=dict)  # received in the period, by state now
    charts: dict[str, str] = field(default_factory=dict)  # name -> data: URI of an SVG

    @property
    def nonconformities(self) -> int:
        return sum(self.nonconformities_by_source.values())

    @property
    def complaints(self) -> int:
        return sum(self.complaints_by_state.values())

    @property
    def findings(self) -> int:
        return sum(self.findings_by_grade.values())

    @property
    def actions(self) -> int:
        return sum(self.actions_by_status.values())


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period as instants: from the first day's midnight (UTC) to the midnight after the last day."""
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(end + timedelta(days=1), time.min,
                                                                           tzinfo=UTC)


def check_period(start: date | None, end: date | None) -> tuple[date, date]:
    if start is None or end is None:
        raise InvalidInput(_("Give the first and the last day of the period."))
    if start > end:
        raise InvalidInput(_("The period ends before it starts."))
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput(_("A review covers at most ten years."))
    return start, end


def _count(model: Any, column: Any, unit_id: int, low: Any, high: Any, *, inclusive: bool = False) -> int:
    upper = column <= high if inclusive else column < high
    return db.session.scalar(select(func.count(model.id)).where(model.unit_id == unit_id, column >= low,
                                                                upper)) or 0


def gather(unit_id: int, start: date, end: date, *, charts: bool = True) -> Inputs:
    """The review's inputs for the period [start, end], counted from the records of the unit."""
    start, end = check_period(start, end)
    low, high = _bounds(start, end)
    as_of = min(end, today())
    held = list(db.session.execute(select(Audit.status).where(
        Audit.unit_id == unit_id, Audit.started_at >= low, Audit.started_at < high)).scalars())
    grades = Counter(db.session.scalars(select(Finding.grade).where(
        Finding.unit_id == unit_id, Finding.raised_at >= low, Finding.raised_at < high)))
    nc_sources = _nonconformities_by_source(unit_id, start, end, low, high)
    actions = list(db.session.scalars(select(CorrectiveAction).where(
        CorrectiveAction.unit_id == unit_id, CorrectiveAction.created_at >= low, CorrectiveAction.created_at < high)))
    verdicts = Counter(db.session.scalars(select(ActionStep.effective).where(
        ActionStep.unit_id == unit_id, ActionStep.kind == StepKind.EFFECTIVENESS_REVIEW.value,
        ActionStep.at >= low, ActionStep.at < high)))
    tests = proficiency.results(unit_id, since=start, until=end)
    derived = equipment.statuses(unit_id, on=as_of).values()
    inputs = Inputs(
        start=start, end=end, audits_held=len(held), audits_by_status=dict(Counter(held)),
        findings_by_grade={grade.value: grades.get(grade.value, 0) for grade in Grade},
        nonconformities_by_source={source: nc_sources.get(source, 0) for source in Source},
        actions_by_status=dict(Counter(action.status for action in actions)),
        actions_overdue=sum(1 for action in actions if audits.is_overdue(action, as_of)),
        reviews_effective=verdicts.get(True, 0), reviews_not_effective=verdicts.get(False, 0),
        proficiency_by_outcome=proficiency.outcome_counts(tests), proficiency_results=tests,
        competence=people.matrix(unit_id, on=as_of).counts(),
        equipment_by_status={status: sum(1 for d in derived if d.status is status) for status in Status},
        impact_reviews_open=len(equipment.reviews(unit_id, open_only=True)),
        sops_overdue=documents.reviews_due(unit_id)[0], custody=custody(unit_id),
        workload=Workload(cases=_count(Case, Case.opened_on, unit_id, start, end, inclusive=True),
                          items=_count(Item, Item.created_at, unit_id, low, high),
                          ballistic_entries=_count(BallisticEntry, BallisticEntry.created_at, unit_id, low, high),
                          decisions=_count(Decision, Decision.signed_at, unit_id, low, high),
                          leads=_count(CaseLink, CaseLink.confirmed_at, unit_id, low, high)),
        complaints_by_state=_complaints_by_state(unit_id, start, end))
    if charts:
        inputs.charts.update(draw_charts(inputs))
    return inputs


def _nonconformities_by_source(unit_id: int, start: date, end: date, low: datetime, high: datetime) -> Counter[str]:
    """What `quality.register` lists for the period (nonconformities by the day found, audit findings graded major
    or minor by the day raised), counted in two grouped queries without building the register's rows."""
    totals: Counter[str] = Counter(dict(db.session.execute(
        select(Nonconformity.source, func.count(Nonconformity.id)).where(
            Nonconformity.unit_id == unit_id, Nonconformity.found_on >= start, Nonconformity.found_on <= end)
        .group_by(Nonconformity.source)).tuples().all()))
    totals[Source.AUDIT_FINDING.value] += db.session.scalar(select(func.count(Finding.id)).where(
        Finding.unit_id == unit_id, Finding.grade.in_((Grade.MAJOR.value, Grade.MINOR.value)),
        Finding.raised_at >= low, Finding.raised_at < high)) or 0
    return totals


def _complaints_by_state(unit_id: int, start: date, end: date) -> dict[str, int]:
    """Complaints and appeals received in the period, by their state now (one query for all their steps)."""
    received = select(Complaint.id).where(Complaint.unit_id == unit_id, Complaint.received_on >= start,
                                          Complaint.received_on <= end)
    states = {complaint_id: complaints.RECEIVED for complaint_id in db.session.scalars(received)}
    for complaint_id, step in db.session.execute(select(ComplaintEvent.complaint_id, ComplaintEvent.step).where(
            ComplaintEvent.complaint_id.in_(received)).order_by(ComplaintEvent.id)).tuples():
        states[complaint_id] = step  # the latest step is the state (as complaints.state_of folds them)
    found = Counter(states.values())
    return {str(state): found.get(str(state), 0) for state in complaints.STATE_LABELS}


def custody(unit_id: int) -> Custody:
    """The custody chains of the unit's items and the checkpoints that signed them (as `verify_unit` does in a
    request, but naming the unit, so it also holds outside a request: the CLI, the benchmark)."""
    item_ids = list(db.session.scalars(select(Item.id).where(Item.unit_id == unit_id)))
    report = verify_all(db.session.connection(), item_ids=item_ids)
    ours = set(item_ids)
    return Custody(items_checked=report.chains.items_checked, events_checked=report.chains.events_checked,
                   broken_items=len(report.chains.breaks),
                   checkpoint_problems=sum(1 for p in report.problems if p.item_id is None or p.item_id in ours))


# --- charts -----------------------------------------------------------------------------------

_SVG_RC: dict[str, Any] = {"svg.hashsalt": "csi-qms-management-review", "svg.fonttype": "path",
                           "font.family": "DejaVu Sans", "font.size": 8.0}
OUTCOME_COLOURS = {Outcome.SATISFACTORY.value: "#2e7d32", Outcome.QUESTIONABLE.value: "#f9a825",
                   Outcome.UNSATISFACTORY.value: "#c62828"}


def bars_svg(counts: Mapping[str, int], ylabel: str, colours: Mapping[str, str] | None = None,
             labels: Mapping[Any, Any] | None = None) -> str:
    """Vertical bars, one per code (zero included), each with its count and the code's label; the same
    figures as the tables."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_SVG_RC):  # type: ignore[arg-type]
        fig = Figure(figsize=(85 / 25.4, 55 / 25.4))
        ax = fig.add_subplot()
        codes = [str(code) for code in counts]
        values = list(counts.values())
        bars = ax.bar([str((labels or {}).get(code, code.replace("_", " "))) for code in codes], values,
                      color=[(colours or {}).get(code, "#1565c0") for code in codes])
        ax.bar_label(bars, fontsize=7)
        ax.set_ylabel(ylabel)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_ylim(0, max(values + [1]) * 1.2)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def draw_charts(inputs: Inputs) -> dict[str, str]:
    """The charts in the reader's words: the bars carry the tables' labels, the axis the tables' "Number"."""
    from qms.audits.charts import GRADE_COLOURS
    from qms.audits.models import GRADE_LABELS

    number = _("Number")
    return {"findings": _data_uri(bars_svg(inputs.findings_by_grade, number, GRADE_COLOURS, GRADE_LABELS)),
            "nonconformities": _data_uri(bars_svg({s.value: n for s, n in inputs.nonconformities_by_source.items()},
                                                  number, labels=quality.SOURCE_LABELS)),
            "proficiency": _data_uri(bars_svg({o.value: n for o, n in inputs.proficiency_by_outcome.items()},
                                              number, OUTCOME_COLOURS, proficiency.OUTCOME_LABELS)),
            "equipment": _data_uri(bars_svg({s.value: n for s, n in inputs.equipment_by_status.items()},
                                            number, labels=equipment.STATUS_LABELS))}


# --- reviews and decisions --------------------------------------------------------------------

def _require_manager(actor: User, unit_id: int) -> None:
    if not roles_in(actor, unit_id) & MANAGERS:
        raise NotPermitted(_("Only a quality manager holds the management review."))


def create_review(unit_id: int, actor: User, *, title: str, period_start: date | None, period_end: date | None,
                  held_on: date | None = None, attendees: str = "") -> ManagementReview:
    _require_manager(actor, unit_id)
    start, end = check_period(period_start, period_end)
    review = ManagementReview(unit_id=unit_id, title=text(title, _("A title"), required=True, limit=200),
                              period_start=start, period_end=end, held_on=held_on or today(),
                              attendees=text(attendees, _("The attendees")), created_by_id=actor.id)
    db.session.add(review)
    db.session.flush()
    return review


def reviews(unit_id: int) -> list[ManagementReview]:
    return list(db.session.scalars(select(ManagementReview).where(ManagementReview.unit_id == unit_id)
                                   .order_by(ManagementReview.period_end.desc(), ManagementReview.id.desc())))


def review(review_id: int, unit_id: int) -> ManagementReview:
    found = db.session.get(ManagementReview, review_id)
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such management review in this unit."))
    return found


@dataclass(frozen=True)
class ActionPlan:
    """The corrective action a decision opens: what, who owns it, by when."""

    title: str
    owner_id: int | None
    due_on: date | None


def decide(found: ManagementReview, actor: User, *, kind: str, text_: str,
           action: ActionPlan | None = None) -> ReviewDecision:
    """Record a decision (append-only); it may open a nonconformity, or a nonconformity and its corrective action."""
    _require_manager(actor, found.unit_id)
    if found.signed:
        raise StateConflict(_("The minutes of this review are signed: no decision is added."))
    chosen = choice(DecisionKind, kind, _("kind of decision"))
    said = text(text_, _("The decision"), required=True)
    number = (db.session.scalar(select(func.max(ReviewDecision.number)).where(
        ReviewDecision.review_id == found.id)) or 0) + 1
    decision = ReviewDecision(unit_id=found.unit_id, review_id=found.id, number=number, kind=chosen.value, text=said,
                              decided_by_id=actor.id, decided_by_name=actor.full_name)
    if chosen is not DecisionKind.DECISION:
        nonconformity = quality.open_nonconformity(
            found.unit_id, Source.MANAGEMENT_REVIEW,
            quality.Found(title=said[:200], description=said, location=found.title[:200]), found_by=actor,
            source_key=f"management_review:{found.id}:{number}", source_url=f"/quality/reviews/{found.id}")
        decision.nonconformity_id = nonconformity.id
        if chosen is DecisionKind.CORRECTIVE_ACTION:
            if action is None or action.owner_id is None or action.due_on is None:
                raise InvalidInput(_("A corrective action needs its title, owner and due date."))
            decision.action_id = quality.raise_action(nonconformity, actor, title=action.title or said[:200],
                                                      owner_id=action.owner_id, due_on=action.due_on).id
    db.session.add(decision)
    db.session.flush()
    return decision


# --- the minutes ------------------------------------------------------------------------------

def minutes_pdf(found: ManagementReview, *, inputs: Inputs | None = None) -> bytes:
    """The minutes: the signed PDF as kept, or (before signing) a draft rendered from the records now."""
    if found.minutes_pdf is not None:
        return found.minutes_pdf
    return render_minutes(found, inputs or gather(found.unit_id, found.period_start, found.period_end))


def render_minutes(found: ManagementReview, inputs: Inputs) -> bytes:
    from qms.auth.models import Unit
    from qms.pdf import render_pdf

    return render_pdf("quality/review_minutes_pdf.html", review=found, inputs=inputs, inputs_rows=table_rows(inputs),
                      unit=db.session.get(Unit, found.unit_id), decisions=list(found.decisions),
                      kind_labels=KIND_LABELS, source_labels=quality.SOURCE_LABELS,
                      outcome_labels=proficiency.OUTCOME_LABELS, generated_at=utcnow())


def sign(found: ManagementReview, actor: User, signature: Signature) -> ManagementReview:
    """The quality manager signs the minutes (password re-entered); the PDF of that moment is kept."""
    _require_manager(actor, found.unit_id)
    if found.signed:
        raise StateConflict(_("These minutes are already signed."))
    meaning = text(signature.meaning, _("The meaning of the signature"), required=True, limit=200)
    check_password(actor, signature.password, otp=signature.otp or "", purpose="management review signature")
    found.signed_by_id, found.signed_by_name, found.signature_meaning = actor.id, actor.full_name, meaning
    found.signed_at = utcnow()
    pdf = render_minutes(found, gather(found.unit_id, found.period_start, found.period_end))
    found.minutes_pdf, found.minutes_sha256 = pdf, hashlib.sha256(pdf).hexdigest()
    db.session.flush()
    return found


def rows(counts: Mapping[Any, int], labels: Mapping[Any, Any] | None = None) -> list[tuple[str, int]]:
    """(label, count) pairs for a table."""
    return [(str((labels or {}).get(key, str(key).replace("_", " ").capitalize())), value)
            for key, value in counts.items()]


def table_rows(inputs: Inputs) -> dict[str, list[tuple[str, int]]]:
    """The counted inputs as (label, count) rows, the same for the page and the minutes."""
    from qms.audits.models import ACTION_STATUS_LABELS, GRADE_LABELS, ActionStatus

    return {"findings": rows({Grade(g): n for g, n in inputs.findings_by_grade.items()}, GRADE_LABELS),
            "nonconformities": rows(inputs.nonconformities_by_source, quality.SOURCE_LABELS),
            "actions": rows({status.value: inputs.actions_by_status.get(status.value, 0) for status in ActionStatus},
                            ACTION_STATUS_LABELS),
            "complaints": rows(inputs.complaints_by_state, complaints.STATE_LABELS),
            "proficiency": rows(inputs.proficiency_by_outcome, proficiency.OUTCOME_LABELS),
            "competence": rows({s: inputs.competence.get(s, 0) for s in Standing},
                               {s: _sentence(str(label)) for s, label in STANDING_LABELS.items()}),
            "equipment": rows(inputs.equipment_by_status, equipment.STATUS_LABELS)}


def _sentence(label: str) -> str:
    """A label that opens a table row with a capital (the competence matrix's words are lower case)."""
    return label[:1].upper() + label[1:]
