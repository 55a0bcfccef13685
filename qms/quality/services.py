"""Nonconformities from any source, and corrective actions on them.

Other domains open a nonconformity through `open_nonconformity` when their records show one (an
equipment impact review, a failed custody verification, an unsatisfactory proficiency result...);
people record the rest by hand. The corrective action is the audits domain's `CorrectiveAction`:
the same steps, the same independent effectiveness review, whatever the source.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Subquery, case, func, select
from sqlalchemy.orm import InstrumentedAttribute

from qms.audits import services as audits
from qms.audits.models import ActionStatus, Audit, CorrectiveAction, Finding, Grade
from qms.auth.models import Role, User
from qms.auth.services import roles_in
from qms.db import today
from qms.errors import InvalidInput, NotFound, NotPermitted
from qms.extensions import db
from qms.fields import choice, text
from qms.quality.models import Nonconformity, RiskGrade, Source

RECORDERS = frozenset({Role.QUALITY_MANAGER, Role.AUDITOR, Role.EXAMINER, Role.CSI_OFFICER})
READERS = frozenset(Role) - {Role.ADMIN}
SOURCE_LABELS = {Source.AUDIT_FINDING: _l("Audit finding"), Source.COMPLAINT: _l("Complaint"),
                 Source.CUSTODY_DISCREPANCY: _l("Custody discrepancy"),
                 Source.EQUIPMENT_IMPACT: _l("Equipment impact review"),
                 Source.PROFICIENCY_TEST: _l("Proficiency test"), Source.MANAGEMENT_REVIEW: _l("Management review"),
                 Source.OTHER: _l("Other")}
GRADE_LABELS = {RiskGrade.HIGH: _l("High"), RiskGrade.MEDIUM: _l("Medium"), RiskGrade.LOW: _l("Low")}


@dataclass(frozen=True)
class Found:
    """What a nonconformity says: what, where, when, who found it, how grave, the immediate correction."""

    title: str
    description: str = ""
    location: str = ""
    found_on: date | None = None
    risk_grade: str = RiskGrade.MEDIUM.value
    immediate_correction: str = ""


def open_nonconformity(unit_id: int, source: Source, found: Found, *, found_by: User | None = None,
                       source_key: str = "", source_url: str = "") -> Nonconformity:
    """A new nonconformity; a source that already opened one (same `source_key`) gets that one back."""
    if source_key:
        existing = db.session.scalar(select(Nonconformity).where(Nonconformity.unit_id == unit_id,
                                                                 Nonconformity.source_key == source_key))
        if existing is not None:
            return existing
    found_on = found.found_on or today()
    if found_on > today():
        raise InvalidInput(_("The date found is in the future."))
    record = Nonconformity(
        unit_id=unit_id, number=_next_number(unit_id, found_on.year), source=source.value,
        source_key=source_key[:120], source_url=source_url[:300],
        title=text(found.title, _("A title"), required=True, limit=200),
        description=text(found.description, _("The description")), location=text(found.location, _("Where"),
                                                                                  limit=200),
        found_on=found_on, found_by_id=found_by.id if found_by else None,
        found_by_name=found_by.full_name if found_by else _("the system"),
        risk_grade=choice(RiskGrade, found.risk_grade, _("risk grade")).value,
        immediate_correction=text(found.immediate_correction, _("The immediate correction")))
    db.session.add(record)
    db.session.flush()
    return record


def _next_number(unit_id: int, year: int) -> str:
    prefix = f"NC-{year}-"
    count = db.session.scalar(select(func.count(Nonconformity.id)).where(
        Nonconformity.unit_id == unit_id, Nonconformity.number.startswith(prefix))) or 0
    return f"{prefix}{count + 1:04d}"


def record_nonconformity(unit_id: int, actor: User, source: str, found: Found) -> Nonconformity:
    """A nonconformity recorded by a person (sources with their own records open theirs themselves)."""
    if not roles_in(actor, unit_id) & RECORDERS:
        raise NotPermitted(_("Only staff of the unit record nonconformities."))
    chosen = choice(Source, source, _("source"))
    if chosen is Source.AUDIT_FINDING:
        raise InvalidInput(_("Audit findings are raised in their audit."))
    return open_nonconformity(unit_id, chosen, found, found_by=actor)


def nonconformity(nc_id: int, unit_id: int) -> Nonconformity:
    found = db.session.get(Nonconformity, nc_id)
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such nonconformity in this unit."))
    return found


def actions_of(record: Nonconformity) -> list[CorrectiveAction]:
    return list(db.session.scalars(select(CorrectiveAction).where(CorrectiveAction.nonconformity_id == record.id)
                                   .order_by(CorrectiveAction.id)))


def raise_action(record: Nonconformity, actor: User, *, title: str, owner_id: int, due_on: date) -> CorrectiveAction:
    """A corrective action on the nonconformity: the same steps and reviews as one from an audit."""
    if Role.QUALITY_MANAGER not in roles_in(actor, record.unit_id):
        raise NotPermitted(_("Only a quality manager raises corrective actions on a nonconformity."))
    return audits.create_action(record.unit_id, actor, title=title, owner_id=owner_id, due_on=due_on,
                                nonconformity_id=record.id)


@dataclass(frozen=True)
class RegisterRow:
    """One line of the register: a nonconformity, or an audit finding of grade major or minor."""

    source: Source
    number: str
    title: str
    found_on: date
    risk_grade: str
    open_actions: int
    url: str
    is_open: bool = True  # no corrective action yet, or one not closed


# An audit finding's grade as a risk grade in the register (observations and opportunities are not listed).
FINDING_GRADES = {Grade.MAJOR.value: RiskGrade.HIGH.value, Grade.MINOR.value: RiskGrade.MEDIUM.value}


def register(unit_id: int, *, source: str = "", grade: str = "") -> list[RegisterRow]:
    """Every nonconformity of the unit, from any source, newest first.

    Two queries whatever the number of rows: the nonconformities and the audit findings, each joined to
    its corrective actions counted by origin (a query per row took seconds for five years of records).
    """
    wanted = choice(Source, source, _("source")) if source else None
    risk = choice(RiskGrade, grade, _("risk grade")).value if grade else None
    rows = []
    if wanted is not Source.AUDIT_FINDING:
        rows += _nonconformity_rows(unit_id, wanted, risk)
    if wanted in (None, Source.AUDIT_FINDING):
        rows += _finding_rows(unit_id, risk)
    return sorted(rows, key=lambda row: (row.found_on, row.number), reverse=True)


def _tally(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _actions_by(origin: InstrumentedAttribute[int | None]) -> Subquery:
    """Per origin (nonconformity or finding): its corrective actions, the open ones and those not closed."""
    return (select(origin.label("origin_id"), func.count(CorrectiveAction.id).label("total"),
                   _tally(CorrectiveAction.status.in_(audits.OPEN_ACTION_STATES)).label("open"),
                   _tally(CorrectiveAction.status != ActionStatus.CLOSED.value).label("unclosed"))
            .where(origin.is_not(None)).group_by(origin).subquery())


def _counted(actions: Subquery) -> tuple[ColumnElement[int], ColumnElement[int], ColumnElement[int]]:
    return (func.coalesce(actions.c.total, 0), func.coalesce(actions.c.open, 0), func.coalesce(actions.c.unclosed, 0))


def _is_open(total: int, unclosed: int) -> bool:
    """Open while no corrective action is raised yet, or one is not closed."""
    return total == 0 or unclosed > 0


def _nonconformity_rows(unit_id: int, source: Source | None, risk: str | None) -> list[RegisterRow]:
    actions = _actions_by(CorrectiveAction.nonconformity_id)
    stmt = (select(Nonconformity.id, Nonconformity.source, Nonconformity.number, Nonconformity.title,
                   Nonconformity.found_on, Nonconformity.risk_grade, *_counted(actions))
            .outerjoin(actions, actions.c.origin_id == Nonconformity.id).where(Nonconformity.unit_id == unit_id))
    if source is not None:
        stmt = stmt.where(Nonconformity.source == source.value)
    if risk is not None:
        stmt = stmt.where(Nonconformity.risk_grade == risk)
    return [RegisterRow(Source(found), number, title, found_on, grade, open_actions,
                        f"/quality/nonconformities/{nc_id}", _is_open(total, unclosed))
            for nc_id, found, number, title, found_on, grade, total, open_actions, unclosed
            in db.session.execute(stmt).tuples()]


def _finding_rows(unit_id: int, risk: str | None) -> list[RegisterRow]:
    actions = _actions_by(CorrectiveAction.finding_id)
    grades = [grade for grade, as_risk in FINDING_GRADES.items() if risk in (None, as_risk)]
    stmt = (select(Finding.id, Audit.title, Finding.number, Finding.statement, Finding.raised_at, Finding.grade,
                   *_counted(actions))
            .join(Audit, Audit.id == Finding.audit_id).outerjoin(actions, actions.c.origin_id == Finding.id)
            .where(Finding.unit_id == unit_id, Finding.grade.in_(grades)))
    return [RegisterRow(Source.AUDIT_FINDING, f"{audit_title} #{number}", statement[:200], raised_at.date(),
                        FINDING_GRADES[grade], open_actions, f"/audits/findings/{finding_id}",
                        _is_open(total, unclosed))
            for finding_id, audit_title, number, statement, raised_at, grade, total, open_actions, unclosed
            in db.session.execute(stmt).tuples()]


def counts(unit_id: int) -> dict[Source, int]:
    """Nonconformities per source (the dashboard and the management review read these)."""
    totals: dict[Source, int] = {}
    for row in register(unit_id):
        totals[row.source] = totals.get(row.source, 0) + 1
    return totals


def open_counts(unit_id: int) -> dict[Source, int]:
    """Open nonconformities per source: none of their actions raised yet, or one not closed."""
    totals: dict[Source, int] = {}
    for row in register(unit_id):
        if row.is_open:
            totals[row.source] = totals.get(row.source, 0) + 1
    return totals


def dashboard_panels(user: User, unit_id: int | None, roles: frozenset[Role]) -> list[Any]:
    """Open nonconformities per source, and overdue corrective actions whatever their origin."""
    from qms.main.services import Panel

    if unit_id is None or not roles & READERS:
        return []
    overdue = audits.actions(overdue=True)
    return [Panel(_("Nonconformities"), "quality/_panel_nonconformities.html",
                  {"open": sorted(open_counts(unit_id).items(), key=lambda pair: pair[0].value),
                   "labels": SOURCE_LABELS, "overdue": overdue}, order=29)]
