"""Gap analysis of a unit: each catalogue requirement's coverage by effective SOPs and by audit results.

Scores (stated once here, used by the page, the report and the tests):

* A requirement's **result** is its latest *assessed* result in the unit's audits: the current
  result (the latest row) of its checklist item in the most recent audit (by planned start,
  then id) whose current result for it is not "not assessed". So a re-audit that has not yet
  reached a requirement keeps showing the previous audit's judgement.
* **Conformity score** of a clause or section = the mean of its requirements' points, where
  conforming = 1, partially conforming = 0.5, non-conforming = 0; requirements not assessed
  (never, or only "not assessed") and not applicable are excluded. No scored requirement: no
  score (None), never 0. A section's score is the mean over its requirements, not over its
  clauses, so a clause with many sub-clauses weighs more.
* **SOP coverage** (separate from the score) = the share of requirements covered by at least one
  effective SOP, i.e. an SOP in force whose effective revision lists the requirement's id or the
  id of one of its clause groups (an SOP citing "17020:7.1" covers 7.1.1 to 7.1.9).
  Requirements whose result is "not applicable" are left out of the coverage count too.

Only requirements that apply to the unit's body type are listed: the body type of the unit's
most recent audit, or every requirement when the unit has not been audited yet. A unit that works
to both standards chooses the body type per department: a scope entry of that audit that names its
own ``body_type`` sets it for its catalogue (ISO/IEC 17025 items are not typed, so all are listed).

Beside the catalogues, **indicators from the records** (ISO/IEC 17020 6.1 and 6.2) count what the
people and equipment records show today (`record_indicators`): examiners and CSI officers without
any training record, people whose periodic witnessing is due, authorisations ending within 60 days,
instruments that affect results but are out of service (never calibrated, lapsed or failed), and
impact reviews still open. Each lists the people or instruments it counts.

Catalogues are listed in catalogue order (`audits.CATALOGUE_ORDER`: 17020, 17025, ILAC G19, best
practice). Each requirement says whether a recorded source confirms it (``verified``); the page, the
exports and the PDF flag those that no source confirms.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select

import audits
from qms.audits.models import Audit, ChecklistItem, RequirementResult, Result
from qms.db import utcnow
from qms.documents.models import Revision, Sop
from qms.extensions import db
from qms.i18n.requirements import catalogues as localized_catalogues

POINTS = {Result.CONFORMING.value: 1.0, Result.PARTIALLY_CONFORMING.value: 0.5, Result.NON_CONFORMING.value: 0.0}


@dataclass(frozen=True)
class SopRef:
    """An SOP in force and the number of its effective revision."""

    sop_id: int
    code: str
    title: str
    revision_id: int
    revision_number: int

    @property
    def label(self) -> str:
        return f"{self.code} rev. {self.revision_number}"


@dataclass(frozen=True)
class AssessedResult:
    """A requirement's latest assessed result and the audit it comes from."""

    result: str
    audit_id: int
    audit_title: str
    audit_start: date


@dataclass(frozen=True)
class RequirementGap:
    requirement_id: str
    clause: str
    title: str
    topic: str
    sops: tuple[SopRef, ...]
    assessed: AssessedResult | None
    verified: bool = True

    @property
    def result(self) -> str | None:
        return self.assessed.result if self.assessed else None

    @property
    def covered(self) -> bool:
        return bool(self.sops)

    @property
    def points(self) -> float | None:
        """1, 0.5 or 0 for a scored result; None when not assessed or not applicable."""
        return POINTS.get(self.result or "")


def conformity_score(requirements: Iterable[RequirementGap]) -> float | None:
    """Mean points of the scored requirements (see the module docstring), or None when none is scored."""
    points = [r.points for r in requirements if r.points is not None]
    return sum(points) / len(points) if points else None


def sop_coverage(requirements: Iterable[RequirementGap]) -> float | None:
    """Share of the requirements (not applicable ones left out) covered by an effective SOP."""
    counted = [r for r in requirements if r.result != Result.NOT_APPLICABLE.value]
    return sum(r.covered for r in counted) / len(counted) if counted else None


@dataclass(frozen=True)
class _Scored:
    """Scores shared by clauses, sections and catalogues (each lists its requirements)."""

    @property
    def all_requirements(self) -> tuple[RequirementGap, ...]:
        raise NotImplementedError

    @property
    def score(self) -> float | None:
        return conformity_score(self.all_requirements)

    @property
    def coverage(self) -> float | None:
        return sop_coverage(self.all_requirements)

    @property
    def counts(self) -> dict[str, int]:
        """Requirements by result ("never" for those without any assessed result)."""
        counts = {r.value: 0 for r in Result if r != Result.NOT_ASSESSED} | {"never": 0}
        for req in self.all_requirements:
            counts[req.result or "never"] += 1
        return counts

    @property
    def uncovered(self) -> int:
        return sum(not r.covered for r in self.all_requirements)


@dataclass(frozen=True)
class ClauseGap(_Scored):
    id: str
    clause: str
    title: str
    requirements: tuple[RequirementGap, ...]

    @property
    def all_requirements(self) -> tuple[RequirementGap, ...]:
        return self.requirements


@dataclass(frozen=True)
class SectionGap(_Scored):
    id: str
    clause: str
    title: str
    clauses: tuple[ClauseGap, ...]

    @property
    def all_requirements(self) -> tuple[RequirementGap, ...]:
        return tuple(r for c in self.clauses for r in c.requirements)


@dataclass(frozen=True)
class CatalogueGap(_Scored):
    id: str
    title: str
    version: str
    sections: tuple[SectionGap, ...]

    @property
    def all_requirements(self) -> tuple[RequirementGap, ...]:
        return tuple(r for s in self.sections for r in s.all_requirements)


@dataclass(frozen=True)
class Indicator:
    """A count computed from the unit's records, with the clause it gives evidence for and what it counts."""

    key: str
    clause: str
    label: str
    count: int
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class GapAnalysis:
    unit_id: int
    body_type: str | None
    generated_at: datetime
    body_types: dict[str, str] = field(default_factory=dict)  # per catalogue, where a department chose one
    catalogues: tuple[CatalogueGap, ...] = field(default_factory=tuple)
    audits_considered: int = 0
    indicators: tuple[Indicator, ...] = field(default_factory=tuple)

    @property
    def indicators_by_clause(self) -> dict[str, list[Indicator]]:
        """The indicators by the requirement id they give evidence for (shown beside that requirement)."""
        found: dict[str, list[Indicator]] = {}
        for indicator in self.indicators:
            found.setdefault(indicator.clause, []).append(indicator)
        return found

    def catalogue(self, catalogue_id: str) -> CatalogueGap:
        return next(c for c in self.catalogues if c.id == catalogue_id)

    def requirement(self, requirement_id: str) -> RequirementGap:
        return next(r for c in self.catalogues for r in c.all_requirements if r.requirement_id == requirement_id)


# --- placement in the catalogue ---------------------------------------------------------------

def ancestors(req: audits.Requirement, catalogue: audits.Catalogue) -> list[audits.Requirement]:
    """The requirement's parents, nearest first, up to its section (the top-level group)."""
    chain = []
    while req.parent is not None:
        req = catalogue.get(req.parent)
        chain.append(req)
    return chain


def section_and_clause(req: audits.Requirement, catalogue: audits.Catalogue) -> tuple[audits.Requirement,
                                                                                        audits.Requirement]:
    """(section, clause) of an assessable requirement: its top-level group and its direct group.

    For an item placed directly under a section (Annex A's A.1, an ILAC G19 module's items) the
    section is also the clause.
    """
    chain = ancestors(req, catalogue)
    if not chain:
        return req, req
    return chain[-1], chain[0]


def ordered_catalogues() -> list[audits.Catalogue]:
    """The catalogues in catalogue order: ISO/IEC 17020, ISO/IEC 17025, ILAC G19, best practice."""
    catalogues = localized_catalogues()
    return sorted(catalogues.values(), key=lambda c: audits.catalogue_rank(c.id))


def body_types_by_catalogue(audit: Audit | None) -> dict[str, str]:
    """The body type chosen for each catalogue of an audit: a scope's own, else the audit's."""
    if audit is None:
        return {}
    chosen: dict[str, str] = {}
    for entry in audit.scope or []:
        catalogue, own = str(entry.get("catalogue", "")), entry.get("body_type")
        if own in audits.BODY_TYPES:
            chosen[catalogue] = str(own)
    return chosen


# --- the data ---------------------------------------------------------------------------------

def effective_sops(unit_id: int) -> dict[str, list[SopRef]]:
    """The unit's SOPs in force today, keyed by each requirement id their effective revision lists.

    `Sop.current_revision_id` is the in-force query on effective dates: nothing is written to read it.
    """
    stmt = (select(Sop, Revision).join(Revision, Revision.id == Sop.current_revision_id)
            .where(Sop.unit_id == unit_id, Sop.retired_at.is_(None)).order_by(Sop.code))
    by_requirement: dict[str, list[SopRef]] = {}
    for sop, rev in db.session.execute(stmt):
        ref = SopRef(sop.id, sop.code, sop.title, rev.id, rev.number)
        for requirement_id in dict.fromkeys(rev.requirement_ids or []):
            by_requirement.setdefault(requirement_id, []).append(ref)
    return by_requirement


def covering_sops(req: audits.Requirement, catalogue: audits.Catalogue,
                  by_requirement: dict[str, list[SopRef]]) -> tuple[SopRef, ...]:
    """Effective SOPs that list the requirement or one of its clause groups, by code, once each."""
    ids = [req.id, *(a.id for a in ancestors(req, catalogue))]
    refs = {ref.sop_id: ref for requirement_id in ids for ref in by_requirement.get(requirement_id, [])}
    return tuple(sorted(refs.values(), key=lambda ref: ref.code))


def latest_assessed_results(unit_id: int) -> dict[str, AssessedResult]:
    """Per requirement id, the latest assessed current result over the unit's audits (module docstring)."""
    current = (select(func.max(RequirementResult.id).label("id"))
               .join(ChecklistItem, ChecklistItem.id == RequirementResult.item_id)
               .where(ChecklistItem.unit_id == unit_id).group_by(RequirementResult.item_id).subquery())
    stmt = (select(ChecklistItem.requirement_id, RequirementResult.result, Audit.id, Audit.title,
                   Audit.planned_start)
            .join(current, current.c.id == RequirementResult.id)
            .join(ChecklistItem, ChecklistItem.id == RequirementResult.item_id)
            .join(Audit, Audit.id == ChecklistItem.audit_id)
            .where(RequirementResult.result != Result.NOT_ASSESSED.value)
            .order_by(Audit.planned_start, Audit.id))
    latest: dict[str, AssessedResult] = {}
    for requirement_id, result, audit_id, title, start in db.session.execute(stmt):
        latest[requirement_id] = AssessedResult(result, audit_id, title, start)  # later audits overwrite
    return latest


def _latest_audit(unit_id: int) -> tuple[Audit | None, int]:
    stmt = select(Audit).where(Audit.unit_id == unit_id).order_by(Audit.planned_start.desc(), Audit.id.desc())
    audits_of_unit = list(db.session.scalars(stmt))
    return (audits_of_unit[0] if audits_of_unit else None), len(audits_of_unit)


# --- the analysis -----------------------------------------------------------------------------

def unit_gap_analysis(unit_id: int, *, catalogue_ids: Sequence[str] | None = None) -> GapAnalysis:
    """Every applicable requirement of the catalogues with its SOP coverage and latest audit result."""
    latest_audit, considered = _latest_audit(unit_id)
    body_type = latest_audit.body_type if latest_audit else None
    per_catalogue = body_types_by_catalogue(latest_audit)
    sops, results = effective_sops(unit_id), latest_assessed_results(unit_id)
    chosen = [c for c in ordered_catalogues() if catalogue_ids is None or c.id in catalogue_ids]
    return GapAnalysis(unit_id=unit_id, body_type=body_type, generated_at=utcnow(), audits_considered=considered,
                       body_types=per_catalogue, indicators=record_indicators(unit_id),
                       catalogues=tuple(_catalogue_gap(c, per_catalogue.get(c.id, body_type), sops, results)
                                        for c in chosen))


def _catalogue_gap(catalogue: audits.Catalogue, body_type: str | None, sops: dict[str, list[SopRef]],
                   results: dict[str, AssessedResult]) -> CatalogueGap:
    sections: dict[str, tuple[audits.Requirement, dict[str, tuple[audits.Requirement, list[RequirementGap]]]]] = {}
    for req in catalogue.assessable(body_type):
        section, clause = section_and_clause(req, catalogue)
        clauses = sections.setdefault(section.id, (section, {}))[1]
        gap = RequirementGap(req.id, req.clause, req.title, req.topic, covering_sops(req, catalogue, sops),
                             results.get(req.id), req.verified)
        clauses.setdefault(clause.id, (clause, []))[1].append(gap)
    return CatalogueGap(catalogue.id, catalogue.title, catalogue.version, tuple(
        SectionGap(section.id, section.clause, section.title,
                   tuple(ClauseGap(clause.id, clause.clause, clause.title, tuple(items))
                         for clause, items in clauses.values()))
        for section, clauses in sections.values()))


# --- indicators from the people and equipment records (17020 6.1, 6.2) ------------------------

INDICATOR_LABELS = {
    "untrained": ("17020:6.1.6", _l("Examiners and CSI officers with no training record")),
    "witnessing_due": ("17020:6.1.9", _l("People with a current authorisation whose witnessing is due")),
    "expiring": ("17020:6.1.5", _l("Authorisations ending within 60 days")),
    "uncalibrated": ("17020:6.2.6", _l("Instruments affecting results without a current calibration "
                                       "(out of service or never calibrated)")),
    "open_reviews": ("17020:6.2.14", _l("Impact reviews of failed instruments still open")),
}


def record_indicators(unit_id: int) -> tuple[Indicator, ...]:
    """What the unit's people and equipment records show today (module docstring), through their services."""
    from qms.equipment import services as equipment
    from qms.i18n import local_date
    from qms.people import services as people

    found: dict[str, list[str]] = {
        "untrained": [p.full_name for p in people.technical_staff_without_training(unit_id)],
        "witnessing_due": [f"{p.full_name} ({', '.join(people.scope_name(s) for s in scopes)})"
                           for p, scopes in people.witnessing_due_people(unit_id)],
        "expiring": [Markup("{}: {} ({})").format(p.full_name, people.scope_name(s), local_date(until))
                     for p, s, until in people.authorisations_expiring(unit_id)],
        "uncalibrated": [f"{e.label} ({equipment.status_label(d)})"
                         for e, d in equipment.without_current_calibration(unit_id)],
        "open_reviews": [Markup("{} ({})").format(r.equipment.identifier, local_date(r.until))
                         for r in equipment.reviews(unit_id, open_only=True)],
    }
    return tuple(Indicator(key, clause, str(label), len(found[key]), tuple(found[key]))
                 for key, (clause, label) in INDICATOR_LABELS.items())
