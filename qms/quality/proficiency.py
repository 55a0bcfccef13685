"""Proficiency tests and interlaboratory comparisons: record a result, judge it, and plan coverage.

A questionable or unsatisfactory outcome opens a nonconformity (source proficiency_test, one per
result). The plan shows, for each scope of authorisation of the unit, whether a test covered it
within the cycle (default 4 years), so the gaps show before an assessor finds them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from qms.auth.models import Role, User
from qms.auth.services import roles_in
from qms.db import today
from qms.equipment.status import add_months
from qms.errors import InvalidInput, NotFound, NotPermitted
from qms.extensions import db
from qms.fields import choice, text
from qms.people import services as people
from qms.people.models import Scope
from qms.quality.models import Nonconformity, Source
from qms.quality.proficiency_models import Outcome, ProficiencyTest, ReferenceKind
from qms.quality.services import Found, open_nonconformity

RECORDERS = frozenset({Role.QUALITY_MANAGER})
READERS = frozenset(Role) - {Role.ADMIN}
DEFAULT_CYCLE_YEARS = 4
MAX_CYCLE_YEARS = 20
MAX_Z = 1_000_000.0
OUTCOME_LABELS = {Outcome.SATISFACTORY: _l("Satisfactory"), Outcome.QUESTIONABLE: _l("Questionable"),
                  Outcome.UNSATISFACTORY: _l("Unsatisfactory")}
REFERENCE_LABELS = {ReferenceKind.ASSIGNED: _l("Assigned value"), ReferenceKind.CONSENSUS: _l("Consensus value")}


def outcome_of_z(z: float) -> Outcome:
    """|z| <= 2 satisfactory, 2 < |z| < 3 questionable, |z| >= 3 unsatisfactory (ISO 13528)."""
    size = abs(z)
    if size <= 2:
        return Outcome.SATISFACTORY
    if size < 3:
        return Outcome.QUESTIONABLE
    return Outcome.UNSATISFACTORY


@dataclass(frozen=True)
class Result:
    """What the record of a round says (from the form or the API)."""

    provider: str
    scheme: str
    round: str
    participant_id: int
    scope_id: int
    performed_on: date
    reported_result: str
    items: str = ""
    reference_kind: str = ReferenceKind.ASSIGNED.value
    reference_value: str = ""
    z_score: float | None = None
    outcome: str = ""  # the provider's verdict; may be left empty when a z-score is given
    notes: str = ""


def _outcome(result: Result) -> Outcome:
    if result.z_score is None:
        if not result.outcome:
            raise InvalidInput(_("Give the outcome or the z-score."))
        return choice(Outcome, result.outcome, _("outcome"))
    if not math.isfinite(result.z_score) or abs(result.z_score) > MAX_Z:
        raise InvalidInput(_("The z-score is not a usable number."))
    derived = outcome_of_z(result.z_score)
    if result.outcome and choice(Outcome, result.outcome, _("outcome")) is not derived:
        raise InvalidInput(_("The outcome does not match the z-score (%(z)s gives %(outcome)s).",
                             z=format(result.z_score, "g"), outcome=OUTCOME_LABELS[derived]))
    return derived


def record_result(unit_id: int, actor: User, result: Result) -> ProficiencyTest:
    """A quality manager records a participant's result; a questionable or unsatisfactory one opens a nonconformity."""
    if not roles_in(actor, unit_id) & RECORDERS:
        raise NotPermitted(_("Only a quality manager records proficiency test results."))
    participant = people.member(result.participant_id, unit_id)
    covered = people.scope(result.scope_id, unit_id)
    if result.performed_on > today():
        raise InvalidInput(_("The date of the round is in the future."))
    outcome = _outcome(result)
    record = ProficiencyTest(
        unit_id=unit_id, provider=text(result.provider, _("The provider"), required=True, limit=200),
        scheme=text(result.scheme, _("The scheme"), required=True, limit=200),
        round=text(result.round, _("The round"), required=True, limit=100),
        items=text(result.items, _("The test items")), participant_id=participant.id, scope_id=covered.id,
        performed_on=result.performed_on,
        reported_result=text(result.reported_result, _("The reported result"), required=True),
        reference_kind=choice(ReferenceKind, result.reference_kind, _("reference")).value,
        reference_value=text(result.reference_value, _("The reference value")), z_score=result.z_score,
        outcome=outcome.value, notes=text(result.notes, _("The notes")), recorded_by_id=actor.id)
    db.session.add(record)
    db.session.flush()
    if outcome is not Outcome.SATISFACTORY:
        record.nonconformity_id = _open_nonconformity(record, actor).id
        db.session.flush()
    return record


def _open_nonconformity(record: ProficiencyTest, actor: User) -> Nonconformity:
    z = "" if record.z_score is None else f" (z = {record.z_score:g})"
    found = Found(title=_("%(outcome)s proficiency result: %(scheme)s, round %(round)s",
                          outcome=OUTCOME_LABELS[Outcome(record.outcome)], scheme=record.scheme,
                          round=record.round)[:200],
                  description=_("%(who)s reported %(reported)s against the %(kind)s %(reference)s%(z)s for scope "
                                "%(scope)s.", who=record.participant.full_name, reported=record.reported_result,
                                kind=str(REFERENCE_LABELS[ReferenceKind(record.reference_kind)]).lower(),
                                reference=record.reference_value or "-", z=z, scope=people.scope_name(record.scope)),
                  location=record.provider[:200], found_on=record.performed_on,
                  risk_grade="high" if record.outcome == Outcome.UNSATISFACTORY.value else "medium")
    return open_nonconformity(record.unit_id, Source.PROFICIENCY_TEST, found, found_by=actor,
                              source_key=f"proficiency:{record.id}", source_url=f"/quality/proficiency/{record.id}")


def results(unit_id: int, *, since: date | None = None, until: date | None = None) -> list[ProficiencyTest]:
    """The unit's results, newest first, optionally within a period."""
    stmt = select(ProficiencyTest).where(ProficiencyTest.unit_id == unit_id)
    if since is not None:
        stmt = stmt.where(ProficiencyTest.performed_on >= since)
    if until is not None:
        stmt = stmt.where(ProficiencyTest.performed_on <= until)
    stmt = stmt.options(selectinload(ProficiencyTest.scope), selectinload(ProficiencyTest.participant))
    return list(db.session.scalars(stmt.order_by(ProficiencyTest.performed_on.desc(), ProficiencyTest.id.desc())))


def result(test_id: int, unit_id: int) -> ProficiencyTest:
    found = db.session.get(ProficiencyTest, test_id)
    if found is None or found.unit_id != unit_id:
        raise NotFound(_("No such proficiency test result in this unit."))
    return found


def nonconformity_of(record: ProficiencyTest) -> Nonconformity | None:
    return db.session.get(Nonconformity, record.nonconformity_id) if record.nonconformity_id else None


@dataclass(frozen=True)
class PlanRow:
    """One scope of authorisation: the tests that covered it within the cycle, the last one, and whether it is a gap."""

    scope: Scope
    tests: int
    last_on: date | None
    next_due: date | None

    @property
    def gap(self) -> bool:
        return self.tests == 0


def plan(unit_id: int, *, cycle_years: int = DEFAULT_CYCLE_YEARS, on: date | None = None) -> list[PlanRow]:
    """Each scope of the unit covered at least once within the last `cycle_years` (up to `on`)?"""
    if not 1 <= cycle_years <= MAX_CYCLE_YEARS:
        raise InvalidInput(_("The cycle is from 1 to %(most)d years.", most=MAX_CYCLE_YEARS))
    on = on or today()
    start = add_months(on, -12 * cycle_years)
    dates: dict[int, list[date]] = {}
    for scope_id, performed_on in db.session.execute(
            select(ProficiencyTest.scope_id, ProficiencyTest.performed_on).where(ProficiencyTest.unit_id == unit_id)):
        dates.setdefault(scope_id, []).append(performed_on)
    rows = []
    for found in people.scopes(unit_id):
        within = [day for day in dates.get(found.id, []) if start < day <= on]
        last = max(dates.get(found.id, []), default=None)
        rows.append(PlanRow(found, len(within), last, add_months(last, 12 * cycle_years) if last else None))
    return rows


def outcome_counts(records: list[ProficiencyTest]) -> dict[Outcome, int]:
    totals = {outcome: 0 for outcome in Outcome}
    for record in records:
        totals[Outcome(record.outcome)] += 1
    return totals
