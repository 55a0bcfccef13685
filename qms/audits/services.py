"""Audit programme, audits, results, findings, corrective actions, re-audits and their counts.

Services add and flush; the request (or CLI command) commits. Refusals raise the refusal family of
`qms.errors` (InvalidInput, NotPermitted, NotFound, StateConflict) with a message that is safe to
show; the one handler turns them into the page again or a JSON problem body.

Meaning of the words used by every page, export and report:
- the *current result* of a checklist item is its latest `RequirementResult` row (highest id);
  earlier rows are its history. An item without any row counts as "not assessed".
- `audit_summary(audit)` counts items by current result, the same per section (top-level clause
  of each catalogue), and findings by grade; the report and exports use it, so every figure
  shown anywhere equals these counts.

Independence (an auditor may not audit their own work): nobody may lead or join the team of an
audit whose checklist covers a requirement that an SOP they own, or whose effective revision
they wrote, claims to meet (the SOP's requirement list, directly or through a catalogue mapping).

A corrective action closes only after an effectiveness review that found it effective, by an
auditor or quality manager who is neither its owner nor the one who recorded its implementation.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

import audits as content
from audits.checklist import Scope, expand_scopes, load_checklist
from audits.localized import load_checklist_titles
from qms.audits.models import (
    ActionStatus,
    ActionStep,
    Audit,
    AuditKind,
    AuditProgramme,
    AuditStatus,
    ChecklistItem,
    CorrectiveAction,
    Finding,
    Grade,
    ProgrammeEntry,
    RequirementResult,
    Result,
    ResultFile,
    ResultSopLink,
    RiskLevel,
    RootCauseMethod,
    StepKind,
    WORDS,
    TeamMember,
    TeamRole,
)
from qms.auth.models import Membership, Role, User
from qms.db import today, utcnow
from qms.errors import InvalidInput, NotFound, NotPermitted, Refused, StateConflict, TooLarge
from qms import fields
from qms.extensions import db
from qms.i18n import current_language
from qms.i18n.catalogues import pseudo_text
from qms.i18n.languages import PSEUDO, SOURCE
from qms.people import services as people
from qms.people.models import Gate
from qms.storage import object_store
from qms.trail.audited import audit_reason
from qms.uploads import check_image, display_name, image_kind

READERS = frozenset(Role) - {Role.ADMIN}
PLANNERS = frozenset({Role.QUALITY_MANAGER, Role.AUDITOR})  # plan and run audits, review actions
REVIEWERS = PLANNERS  # review effectiveness and close actions (never their own)
WRITERS = READERS - {Role.VIEWER}  # record results (when on the team) and own corrective actions

MAX_EVIDENCE_BYTES = 20 * 1024 * 1024
MAX_TEXT = 20_000
NONCONFORMITY_GRADES = (Grade.MAJOR, Grade.MINOR)
OPEN_ACTION_STATES = (ActionStatus.OPEN.value, ActionStatus.IMPLEMENTED.value)
# Order of results for progress: higher is better. Not applicable / not assessed are not ranked.
RANK = {Result.NON_CONFORMING.value: 0, Result.PARTIALLY_CONFORMING.value: 1, Result.CONFORMING.value: 2}
OWNER_STEPS = (StepKind.CORRECTION, StepKind.ROOT_CAUSE, StepKind.ACTION_PLAN, StepKind.IMPLEMENTATION)
EVIDENCE_IMAGES = ("png", "jpeg")  # what every browser shows; a TIFF is refused (convert it to PNG)
# A name promising an image must keep its promise: text named .png is refused, not stored as text.
_IMAGE_NAME = re.compile(r"\.(png|jpe?g|tiff?|gif|bmp|webp|svgz?|ico|heic)$", re.IGNORECASE)


# --- small helpers ----------------------------------------------------------------------------

def _text(value: str | None, what: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    """The shared text check (NUL refused too), with the audits' longer default limit."""
    return fields.text(value, what, required=required, limit=limit)


def _enum(enum_type: type[Any], value: str, what: str) -> Any:
    try:
        return enum_type(value)
    except ValueError:
        raise InvalidInput(_("Unknown %(what)s: %(value)r.", what=what, value=str(value)[:40])) from None


def _member(user_id: int | None, unit_id: int, what: str) -> User:
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not any(m.unit_id == unit_id for m in user.memberships):
        raise InvalidInput(_("The %(what)s must be a member of this unit.", what=what))
    return user


def roles_in(user: User, unit_id: int) -> frozenset[Role]:
    return frozenset(Role(m.role) for m in user.memberships if m.unit_id == unit_id)


def unit_members(unit_id: int) -> list[User]:
    stmt = (select(User).join(Membership).where(Membership.unit_id == unit_id, User.active.is_(True))
            .distinct().order_by(User.full_name))
    return list(db.session.scalars(stmt))


def auditors(unit_id: int) -> list[User]:
    stmt = (select(User).join(Membership).where(Membership.unit_id == unit_id, User.active.is_(True),
                                                Membership.role.in_([r.value for r in PLANNERS]))
            .distinct().order_by(User.full_name))
    return list(db.session.scalars(stmt))


# --- programme --------------------------------------------------------------------------------

def programmes() -> list[AuditProgramme]:
    return list(db.session.scalars(select(AuditProgramme).order_by(AuditProgramme.year.desc())))


def _require_planner_of(actor: User, unit_id: int) -> None:
    # The gate checks the page's roles; the service checks again so API, CLI and demo obey the same rule.
    if not roles_in(actor, unit_id) & PLANNERS:
        raise NotPermitted(_("Only auditors and quality managers plan audits."))


def create_programme(*, unit_id: int, actor: User, year: int, title: str, risk_notes: str = "") -> AuditProgramme:
    """A unit's audit programme for one year."""
    _require_planner_of(actor, unit_id)
    if not 2000 <= year <= 2200:
        raise InvalidInput(_("The year must be between 2000 and 2200."))
    if db.session.scalar(select(AuditProgramme).where(AuditProgramme.unit_id == unit_id,
                                                      AuditProgramme.year == year)):
        raise StateConflict(_("This unit already has an audit programme for %(year)d.", year=year))
    programme = AuditProgramme(unit_id=unit_id, year=year, title=_text(title, _("A title"), required=True, limit=200),
                               risk_notes=_text(risk_notes, _("Risk notes")), created_by_id=actor.id)
    db.session.add(programme)
    db.session.flush()
    return programme


def parse_clauses(text: str) -> list[str]:
    """Requirement or clause-group ids from free text, each checked against the catalogues."""
    ids = list(dict.fromkeys(part for part in re.split(r"[\s,;]+", text or "") if part))
    unknown = [i for i in ids if not _resolves(i)]
    if unknown:
        raise InvalidInput(_("Unknown clause id(s): %(ids)s. Use ids such as 17020:7.1.",
                               ids=", ".join(unknown[:10])[:300]))
    return ids


def _resolves(requirement_id: str) -> bool:
    try:
        content.resolve(requirement_id)
    except content.UnknownRequirementError:
        return False
    return True


def add_entry(programme: AuditProgramme, actor: User, *, process: str, clauses: Sequence[str], planned_month: int,
              risk_level: str, rationale: str = "") -> ProgrammeEntry:
    """Plan one audit of a process; its risk level sets its priority in the programme."""
    _require_planner_of(actor, programme.unit_id)
    if not 1 <= planned_month <= 12:
        raise InvalidInput(_("The planned month must be 1 to 12."))
    risk = _enum(RiskLevel, risk_level, _("risk level"))
    entry = ProgrammeEntry(unit_id=programme.unit_id, programme=programme,
                           process=_text(process, _("A process"), required=True, limit=200),
                           clauses=parse_clauses(" ".join(clauses)), planned_month=planned_month,
                           risk_level=risk.value, rationale=_text(rationale, _("A rationale")))
    db.session.add(entry)
    db.session.flush()
    return entry


def entries_by_risk(programme: AuditProgramme) -> list[ProgrammeEntry]:
    """The programme's entries, highest risk first, then by month."""
    order = {RiskLevel.HIGH.value: 0, RiskLevel.MEDIUM.value: 1, RiskLevel.LOW.value: 2}
    return sorted(programme.entries, key=lambda e: (order[e.risk_level], e.planned_month, e.id))


# --- scope, checklist and independence ------------------------------------------------------------

ScopeParts = tuple[list[dict[str, Any]], list[Any], dict[str, str]]  # scope, requirements, catalogue versions


def scope_from_template(template_id: str, body_type: str) -> ScopeParts:
    """(scope, requirements, catalogue versions) of a checklist file in audits/checklists."""
    if template_id not in content.checklist_names():
        raise InvalidInput(_("Unknown checklist: %(name)r.", name=template_id[:64]))
    checklist = load_checklist(template_id, body_type=body_type)
    scope = [s.as_record() for s in checklist.scopes]
    return scope, list(checklist.requirements), dict(checklist.catalogue_versions)


def scope_from_clauses(clause_ids: Sequence[str], body_type: str) -> ScopeParts:
    """(scope, requirements, catalogue versions) of a list of clause ids such as 17020:6.1."""
    catalogues = content.load_all()
    by_catalogue: dict[str, list[str]] = {}
    for requirement_id in parse_clauses(" ".join(clause_ids)):
        requirement = content.resolve(requirement_id, catalogues)
        by_catalogue.setdefault(requirement.catalogue_id, []).append(requirement.clause)
    if not by_catalogue:
        raise InvalidInput(_("Name at least one clause, or choose a checklist."))
    scopes = [Scope(catalogue=cat, include=tuple(clauses)) for cat, clauses in by_catalogue.items()]
    requirements = expand_scopes(scopes, catalogues, body_type=body_type)
    scope = [{"catalogue": s.catalogue, "include": list(s.include), "exclude": []} for s in scopes]
    return scope, list(requirements), {cat: catalogues[cat].version for cat in by_catalogue}


@dataclass(frozen=True)
class ScopePart:
    """The clauses audited in one department of the unit, with that department's body type.

    A unit that works to both standards plans one audit over its departments, for example the scene
    unit against ISO/IEC 17020 as a type B inspection body and the firearms laboratory against
    ISO/IEC 17025 (where the body type does not apply).
    """

    department: str
    clauses: tuple[str, ...]
    body_type: str | None = None


def scope_from_parts(parts: Sequence[ScopePart], body_type: str) -> ScopeParts:
    """(scope, requirements, catalogue versions) of a scope over departments, in catalogue order."""
    catalogues = content.load_all()
    scopes: list[Scope] = []
    for part in parts:
        department = _text(part.department, _("A department"), required=True, limit=100)
        if part.body_type is not None and part.body_type not in content.BODY_TYPES:
            raise InvalidInput(_("The body type must be A, B or C."))
        by_catalogue: dict[str, list[str]] = {}
        for requirement_id in parse_clauses(" ".join(part.clauses)):
            requirement = content.resolve(requirement_id, catalogues)
            by_catalogue.setdefault(requirement.catalogue_id, []).append(requirement.clause)
        if not by_catalogue:
            raise InvalidInput(_("Name at least one clause for %(department)s.", department=department))
        scopes += [Scope(cat, tuple(clauses), department=department, body_type=part.body_type)
                   for cat, clauses in by_catalogue.items()]
    if not scopes:
        raise InvalidInput(_("Name at least one clause, or choose a checklist."))
    scopes.sort(key=lambda s: content.catalogue_rank(s.catalogue))
    # One checklist for every department, read catalogue by catalogue in each catalogue's own order.
    requirements = content.in_catalogue_order(expand_scopes(scopes, catalogues, body_type=body_type), catalogues)
    return ([s.as_record() for s in scopes], list(requirements),
            {s.catalogue: catalogues[s.catalogue].version for s in scopes})


def _section(requirement: Any, catalogues: dict[str, Any]) -> tuple[str, str]:
    """The top-level clause (id, title) a requirement sits under."""
    current = requirement
    while current.parent:
        current = catalogues[current.catalogue_id].get(current.parent)
    return current.id, current.title


def _add_items(audit: Audit, requirements: Iterable[Any]) -> None:
    catalogues = content.load_all()
    for position, requirement in enumerate(requirements, start=1):
        section_id, section_title = _section(requirement, catalogues)
        db.session.add(ChecklistItem(unit_id=audit.unit_id, audit=audit, position=position,
                                     catalogue_id=requirement.catalogue_id, requirement_id=requirement.id,
                                     clause=requirement.clause, section_id=section_id,
                                     section_title=section_title[:200], title=requirement.title[:300],
                                     topic=requirement.topic))


def _covered_ids(requirement_ids: Iterable[str]) -> set[str]:
    """Requirement ids plus what they map to, so an SOP citing 17020 is matched by a best-practice item."""
    catalogues = content.load_all()
    covered: set[str] = set()
    for requirement_id in requirement_ids:
        covered.add(requirement_id)
        covered.update(content.related_ids(requirement_id))  # 17025 <-> 17020 and G19, both ways
        try:
            covered.update(content.resolve(requirement_id, catalogues).maps_to)
        except content.UnknownRequirementError:
            continue
    return covered


def own_work_conflicts(user_id: int, unit_id: int, requirement_ids: Iterable[str]) -> list[str]:
    """Codes of the SOPs this user owns or whose effective revision they wrote, met by these requirements."""
    from qms.documents.models import Revision, Sop

    covered = _covered_ids(requirement_ids)
    stmt = (select(Sop, Revision).outerjoin(Revision, Revision.id == Sop.current_revision_id)
            .where(Sop.unit_id == unit_id))
    codes = []
    for sop, revision in db.session.execute(stmt):
        if revision is None or not (sop.owner_id == user_id or revision.author_id == user_id):
            continue
        if covered & set(revision.requirement_ids or ()):
            codes.append(sop.code)
    return sorted(codes)


def _lead_auditor(user_id: int, unit_id: int, requirement_ids: Sequence[str], *, auditee: str = "",
                  areas: str = "") -> User:
    """The lead auditor: an auditor or quality manager of the unit, independent of the scope."""
    lead = _member(user_id, unit_id, _("lead auditor"))
    if not roles_in(lead, unit_id) & PLANNERS:
        raise InvalidInput(_("The lead auditor must hold the auditor or quality manager role in this unit."))
    check_independence(lead, unit_id, requirement_ids, auditee=auditee, areas=areas)
    people.require(lead, unit_id, Gate.AUDIT_LEAD)
    return lead


def check_independence(user: User, unit_id: int, requirement_ids: Iterable[str], *, auditee: str = "",
                       areas: str = "") -> None:
    """Refuse a lead auditor or team member whose own SOPs fall in the audit's scope, or whose
    conflict-of-interest declaration names the auditee or one of the audited areas."""
    conflicts = own_work_conflicts(user.id, unit_id, requirement_ids)
    if conflicts:
        raise NotPermitted(_("%(name)s may not audit their own work: the scope covers %(sops)s, which they own "
                             "or wrote.", name=user.full_name, sops=", ".join(conflicts[:5])))
    declared = declared_conflicts(user.id, unit_id, auditee=auditee, areas=areas)
    if declared:
        raise NotPermitted(_("%(name)s may not audit this: their conflict-of-interest declaration names %(what)s.",
                             name=user.full_name, what=", ".join(declared[:5])))


def declared_conflicts(user_id: int, unit_id: int, *, auditee: str = "", areas: str = "") -> list[str]:
    """The auditee or areas (areas split at commas, semicolons and lines) that the person's current
    conflict-of-interest declaration mentions, compared without regard to case."""
    interests = people.declared_interests(user_id, unit_id).casefold()
    if not interests:
        return []
    subjects = [auditee, *re.split(r"[,;\n]", areas)]
    return [subject.strip() for subject in subjects if subject.strip() and subject.strip().casefold() in interests]


# --- audits -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditPlan:
    """What a new audit needs; either a checklist file or a list of clauses sets its scope."""

    title: str
    planned_start: date
    planned_end: date
    lead_auditor_id: int
    kind: str = AuditKind.INTERNAL.value
    body_type: str = "A"
    checklist_template: str = ""
    clauses: tuple[str, ...] = ()
    parts: tuple[ScopePart, ...] = ()  # a scope over departments (each with its own body type)
    auditee: str = ""
    areas: str = ""
    programme_entry_id: int | None = None
    team: tuple[tuple[int, str], ...] = ()  # (user id, TeamRole value)


def audits(*, status: str | None = None) -> list[Audit]:
    stmt = select(Audit).order_by(Audit.planned_start.desc(), Audit.id.desc())
    if status:
        stmt = stmt.where(Audit.status == _enum(AuditStatus, status, _("status")).value)
    return list(db.session.scalars(stmt))


def _check_plan(plan: AuditPlan, unit_id: int) -> None:
    if plan.body_type not in content.BODY_TYPES:
        raise InvalidInput(_("The body type must be A, B or C."))
    kind = _enum(AuditKind, plan.kind, _("kind of audit"))
    if kind is AuditKind.RE_AUDIT:
        raise InvalidInput(_("A re-audit is started from a previous audit."))
    if plan.planned_end < plan.planned_start:
        raise InvalidInput(_("The planned end is before the planned start."))
    if plan.programme_entry_id is not None:
        entry = db.session.get(ProgrammeEntry, plan.programme_entry_id)
        if entry is None or entry.unit_id != unit_id:
            raise InvalidInput(_("No such programme entry in this unit."))


def create_audit(plan: AuditPlan, *, unit_id: int, actor: User) -> Audit:
    """Plan an audit: its scope, dates and team, and generate its checklist from the scope."""
    _require_planner_of(actor, unit_id)
    _check_plan(plan, unit_id)
    if plan.checklist_template:
        scope, requirements, versions = scope_from_template(plan.checklist_template, plan.body_type)
    elif plan.parts:
        scope, requirements, versions = scope_from_parts(plan.parts, plan.body_type)
    else:
        scope, requirements, versions = scope_from_clauses(plan.clauses, plan.body_type)
    if not requirements:
        raise InvalidInput(_("The scope holds no assessable requirement for this body type."))
    ids = [r.id for r in requirements]
    lead = _lead_auditor(plan.lead_auditor_id, unit_id, ids, auditee=plan.auditee, areas=plan.areas)
    for user_id, role in plan.team:  # everyone is checked before anything is added
        check_independence(_team_member(user_id, unit_id, _enum(TeamRole, role, _("team role"))), unit_id, ids,
                           auditee=plan.auditee, areas=plan.areas)
    audit = Audit(unit_id=unit_id, title=_text(plan.title, _("A title"), required=True, limit=200), kind=plan.kind,
                  body_type=plan.body_type, scope=scope, checklist_template=plan.checklist_template,
                  catalogue_versions=versions, planned_start=plan.planned_start, planned_end=plan.planned_end,
                  lead_auditor_id=lead.id, auditee=_text(plan.auditee, _("The auditee"), limit=200),
                  areas=_text(plan.areas, _("The areas")), programme_entry_id=plan.programme_entry_id,
                  created_by_id=actor.id)
    db.session.add(audit)
    _add_items(audit, requirements)
    db.session.flush()
    for user_id, role in plan.team:
        add_team_member(audit, actor, user_id=user_id, role=role)
    return audit


def _team_member(user_id: int, unit_id: int, role: TeamRole) -> User:
    """A member of the unit who may take this team role: only observers may be viewers."""
    user = _member(user_id, unit_id, _("team member"))
    if role is not TeamRole.OBSERVER and not roles_in(user, unit_id) & WRITERS:
        raise InvalidInput(_("%(name)s may only observe: recording results needs a staff role, not viewer.",
                               name=user.full_name))
    return user


def add_team_member(audit: Audit, actor: User, *, user_id: int, role: str = TeamRole.AUDITOR.value) -> TeamMember:
    """Add someone to the audit team, after checking they would not audit their own work."""
    _require_planner_of(actor, audit.unit_id)
    if audit.status in (AuditStatus.REPORTED.value, AuditStatus.CLOSED.value):
        raise StateConflict(_("The team of a reported or closed audit cannot change."))
    team_role = _enum(TeamRole, role, _("team role"))
    user = _team_member(user_id, audit.unit_id, team_role)
    if user.id == audit.lead_auditor_id or any(m.user_id == user.id for m in audit.team):
        raise StateConflict(_("%(name)s is already on this audit.", name=user.full_name))
    check_independence(user, audit.unit_id, (item.requirement_id for item in audit.items), auditee=audit.auditee,
                       areas=audit.areas)
    member = TeamMember(unit_id=audit.unit_id, audit=audit, user_id=user.id, role=team_role.value)
    db.session.add(member)
    db.session.flush()
    return member


def may_record(audit: Audit, user: User) -> bool:
    """The lead auditor and the team's auditors and technical experts record results and findings."""
    if user.id == audit.lead_auditor_id:
        return True
    return any(m.user_id == user.id and m.role != TeamRole.OBSERVER.value for m in audit.team)


def _require_recorder(audit: Audit, user: User) -> None:
    if not may_record(audit, user):
        raise NotPermitted(_("Only the lead auditor and the audit team record results and findings."))


def _require_status(audit: Audit, *allowed: AuditStatus, doing: str) -> None:
    if audit.status not in {s.value for s in allowed}:
        raise StateConflict(_("This audit is %(status)s: it cannot %(doing)s.", status=WORDS[audit.status],
                               doing=doing))


def _require_planner(audit: Audit, user: User) -> None:
    if not roles_in(user, audit.unit_id) & PLANNERS:
        raise NotPermitted(_("Only auditors and quality managers run audits."))


def start_audit(audit: Audit, actor: User) -> Audit:
    """Planned → in progress: results can now be recorded."""
    _require_planner(audit, actor)
    _require_status(audit, AuditStatus.PLANNED, doing=_("start"))
    audit.status = AuditStatus.IN_PROGRESS.value
    audit.started_at = utcnow()
    db.session.flush()
    return audit


def report_audit(audit: Audit, actor: User, conclusion: str) -> Audit:
    """In progress → reported, with the lead auditor's conclusion."""
    if actor.id != audit.lead_auditor_id:
        raise NotPermitted(_("Only the lead auditor reports the audit."))
    _require_status(audit, AuditStatus.IN_PROGRESS, doing=_("be reported"))
    audit.conclusion = _text(conclusion, _("A conclusion"), required=True)
    audit.status = AuditStatus.REPORTED.value
    audit.reported_at = utcnow()
    db.session.flush()
    return audit


def close_audit(audit: Audit, actor: User) -> Audit:
    """Reported → closed, once every nonconformity has a corrective action and all actions are closed."""
    _require_planner(audit, actor)
    _require_status(audit, AuditStatus.REPORTED, doing=_("be closed"))
    for finding in audit.findings:
        if Grade(finding.grade) in NONCONFORMITY_GRADES and not finding.actions:
            raise StateConflict(_("Finding %(number)d is a nonconformity without a corrective action.",
                                     number=finding.number))
        if any(a.status != ActionStatus.CLOSED.value for a in finding.actions):
            raise StateConflict(_("Finding %(number)d still has an open corrective action.", number=finding.number))
    audit.status = AuditStatus.CLOSED.value
    audit.closed_at = utcnow()
    db.session.flush()
    return audit


# --- results ----------------------------------------------------------------------------------

def current_results(audit: Audit) -> dict[int, RequirementResult]:
    """The current result of each checklist item that has one: its latest row (highest id)."""
    latest = (select(func.max(RequirementResult.id)).where(RequirementResult.audit_id == audit.id)
              .group_by(RequirementResult.item_id))
    rows = db.session.scalars(select(RequirementResult).where(RequirementResult.id.in_(latest)))
    return {row.item_id: row for row in rows}


def result_of(item_id: int, results: dict[int, RequirementResult]) -> str:
    """The current result value of an item; an item never assessed is "not assessed"."""
    row = results.get(item_id)
    return row.result if row else Result.NOT_ASSESSED.value


@dataclass(frozen=True)
class Evidence:
    """An uploaded file of objective evidence."""

    data: bytes
    filename: str


def sniff_evidence(data: bytes, filename: str) -> str:
    """The media type of an evidence file (PDF, PNG, JPEG or plain UTF-8 text); anything else is refused.

    Images are decoded under the upload limits (`qms.uploads.check_image`): bombs, damaged images
    and polyglots are refused with the file's name.
    """
    name = display_name(filename)
    if not data:
        raise InvalidInput(_("The file %(name)s is empty.", name=name))
    if len(data) > MAX_EVIDENCE_BYTES:
        raise TooLarge(_("The file %(name)s is larger than %(limit)d MB.", name=name,
                          limit=MAX_EVIDENCE_BYTES // (1024 * 1024)))
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    kind = image_kind(data)
    if kind is not None and kind not in EVIDENCE_IMAGES:
        raise InvalidInput(_("The file %(name)s is a %(kind)s image; evidence images are PNG or JPEG.", name=name,
                             kind=kind.upper()))
    if kind is not None or _IMAGE_NAME.search(name):
        return check_image(data, filename=filename, max_bytes=MAX_EVIDENCE_BYTES)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(_("The file %(name)s is not a PDF, PNG, JPEG or text file.", name=name)) from None
    return "text/plain"


def _sop_revisions(revision_ids: Iterable[int], unit_id: int) -> list[Any]:
    from qms.documents.models import Revision

    revisions = []
    for revision_id in dict.fromkeys(revision_ids):
        revision = db.session.get(Revision, revision_id)
        if revision is None or revision.unit_id != unit_id:
            raise InvalidInput(_("No such SOP revision in this unit."))
        revisions.append(revision)
    return revisions


def record_result(item: ChecklistItem, actor: User, *, result: str, evidence_note: str = "",
                  justification: str = "", revision_ids: Sequence[int] = (),
                  files: Sequence[Evidence] = ()) -> RequirementResult:
    """Append a result for a requirement; not applicable needs a justification."""
    audit = item.audit
    _require_recorder(audit, actor)
    _require_status(audit, AuditStatus.IN_PROGRESS, doing=_("take results"))
    # Checked again here, not only when the team was formed: an SOP revision the auditor wrote since
    # then may now claim this requirement, and nobody judges their own work.
    check_independence(actor, audit.unit_id, [item.requirement_id])
    value = _enum(Result, result, _("result"))
    justification = _text(justification, _("The justification"))
    if value is Result.NOT_APPLICABLE and not justification:
        raise InvalidInput(_("A requirement marked not applicable needs a justification."))
    revisions = _sop_revisions(revision_ids, audit.unit_id)
    kinds = [(evidence, sniff_evidence(evidence.data, evidence.filename)) for evidence in files]
    row = RequirementResult(unit_id=audit.unit_id, audit_id=audit.id, item=item, result=value.value,
                            evidence_note=_text(evidence_note, _("The evidence note")), justification=justification,
                            recorded_by_id=actor.id)
    db.session.add(row)
    for revision in revisions:
        db.session.add(ResultSopLink(unit_id=audit.unit_id, result=row, revision_id=revision.id))
    for evidence, media_type in kinds:
        db.session.add(ResultFile(unit_id=audit.unit_id, result=row, sha256=object_store().put(evidence.data),
                                  filename=(evidence.filename or "evidence")[:255], media_type=media_type,
                                  size=len(evidence.data)))
    db.session.flush()
    return row


def item_history(item: ChecklistItem) -> list[RequirementResult]:
    return list(item.results)


def result_file(file_id: int) -> tuple[ResultFile, bytes]:
    row = db.session.get(ResultFile, file_id)
    if row is None:
        raise NotFound(_("No such evidence file in this unit."))
    return row, object_store().get(row.sha256)


@dataclass(frozen=True)
class ChecklistRow:
    item: ChecklistItem
    result: RequirementResult | None

    @property
    def value(self) -> str:
        return self.result.result if self.result else Result.NOT_ASSESSED.value


def checklist(audit: Audit, *, section: str = "", result: str = "") -> list[ChecklistRow]:
    """The checklist with each item's current result, optionally filtered by section and result."""
    if result:
        result = _enum(Result, result, _("result")).value
    current = current_results(audit)
    rows = [ChecklistRow(item, current.get(item.id)) for item in audit.items]
    return [row for row in rows if (not section or row.item.section_id == section)
            and (not result or row.value == result)]


def sections(audit: Audit) -> list[tuple[str, str]]:
    """(section id, title) of the audit's checklist, in checklist order."""
    return list(dict.fromkeys((item.section_id, item.section_title) for item in audit.items))


# --- summary ----------------------------------------------------------------------------------

@dataclass
class AuditSummary:
    """The counts of an audit; every figure on pages, exports and the report comes from here."""

    items: int = 0
    by_result: dict[str, int] = field(default_factory=dict)  # every Result value, 0 when none
    by_section: dict[str, dict[str, int]] = field(default_factory=dict)  # section id -> result -> count
    section_titles: dict[str, str] = field(default_factory=dict)
    findings_by_grade: dict[str, int] = field(default_factory=dict)  # every Grade value
    actions_by_status: dict[str, int] = field(default_factory=dict)  # every ActionStatus value
    overdue_actions: int = 0


def _zeroes(values: Iterable[Any]) -> dict[str, int]:
    return {v.value: 0 for v in values}


def audit_summary(audit: Audit) -> AuditSummary:
    """Counts by current result (overall and per section), findings by grade, actions by status."""
    summary = AuditSummary(by_result=_zeroes(Result), findings_by_grade=_zeroes(Grade),
                           actions_by_status=_zeroes(ActionStatus))
    current = current_results(audit)
    for item in audit.items:
        value = result_of(item.id, current)
        summary.items += 1
        summary.by_result[value] += 1
        summary.section_titles.setdefault(item.section_id, item.section_title)
        summary.by_section.setdefault(item.section_id, _zeroes(Result))[value] += 1
    for finding in audit.findings:
        summary.findings_by_grade[finding.grade] += 1
        for action in finding.actions:
            summary.actions_by_status[action.status] += 1
            summary.overdue_actions += is_overdue(action)
    return summary


# --- findings ---------------------------------------------------------------------------------

def _check_grade_fits(item: ChecklistItem, grade: Grade) -> None:
    if grade not in NONCONFORMITY_GRADES:
        return
    current = current_results(item.audit).get(item.id)
    if current is None or current.result not in (Result.NON_CONFORMING.value, Result.PARTIALLY_CONFORMING.value):
        raise InvalidInput(_("A nonconformity needs the requirement's result to be non-conforming or partially "
                             "conforming: record the result first."))


def raise_finding(item: ChecklistItem, actor: User, *, grade: str, statement: str, evidence: str = "") -> Finding:
    """A graded finding against one requirement of the checklist."""
    audit = item.audit
    _require_recorder(audit, actor)
    _require_status(audit, AuditStatus.IN_PROGRESS, doing=_("take findings"))
    check_independence(actor, audit.unit_id, [item.requirement_id])  # as for results
    value = _enum(Grade, grade, _("grade"))
    _check_grade_fits(item, value)
    number = (db.session.scalar(select(func.max(Finding.number)).where(Finding.audit_id == audit.id)) or 0) + 1
    finding = Finding(unit_id=audit.unit_id, audit=audit, item=item, number=number, grade=value.value,
                      statement=_text(statement, _("A statement"), required=True),
                      evidence=_text(evidence, _("The evidence")), raised_by_id=actor.id)
    db.session.add(finding)
    db.session.flush()
    return finding


def revise_finding(finding: Finding, actor: User, *, grade: str, statement: str, evidence: str,
                   reason: str) -> Finding:
    """Correct a finding's grade or wording before the audit is reported; the reason goes to the trail."""
    _require_recorder(finding.audit, actor)
    _require_status(finding.audit, AuditStatus.IN_PROGRESS, doing=_("change findings"))
    value = _enum(Grade, grade, _("grade"))
    _check_grade_fits(finding.item, value)
    why = _text(reason, _("A reason for the change"), required=True, limit=500)
    with audit_reason(db.session, why):
        finding.grade = value.value
        finding.statement = _text(statement, _("A statement"), required=True)
        finding.evidence = _text(evidence, _("The evidence"))
        db.session.flush()
    return finding


def findings(*, grade: str = "") -> list[Finding]:
    stmt = select(Finding).order_by(Finding.raised_at.desc(), Finding.id.desc())
    if grade:
        stmt = stmt.where(Finding.grade == _enum(Grade, grade, _("grade")).value)
    return list(db.session.scalars(stmt))


# --- corrective actions -----------------------------------------------------------------------

def is_overdue(action: CorrectiveAction, on: date | None = None) -> bool:
    """Open or implemented-but-unreviewed past its due date."""
    return action.status in OPEN_ACTION_STATES and action.due_on < (on or today())


def may_raise_action(audit: Audit, user: User) -> bool:
    """The audit team and the unit's quality managers raise corrective actions."""
    return may_record(audit, user) or Role.QUALITY_MANAGER in roles_in(user, audit.unit_id)


def raise_action(finding: Finding, actor: User, *, title: str, owner_id: int, due_on: date) -> CorrectiveAction:
    """A corrective action for a finding, owned by one member of the unit and due by a date."""
    audit = finding.audit
    if not may_raise_action(audit, actor):
        raise NotPermitted(_("Only the audit team or a quality manager raises corrective actions."))
    _require_status(audit, AuditStatus.IN_PROGRESS, AuditStatus.REPORTED, doing=_("take corrective actions"))
    action = create_action(audit.unit_id, actor, title=title, owner_id=owner_id, due_on=due_on,
                           finding_id=finding.id, audit_id=audit.id)
    db.session.expire(finding, ["actions"])  # loaded before the action existed
    return action


def create_action(unit_id: int, actor: User, *, title: str, owner_id: int, due_on: date,
                  finding_id: int | None = None, audit_id: int | None = None,
                  nonconformity_id: int | None = None) -> CorrectiveAction:
    """A corrective action on a finding or a nonconformity (the callers check who may raise it)."""
    owner = _member(owner_id, unit_id, _("owner"))
    if not roles_in(owner, unit_id) & WRITERS:
        raise InvalidInput(_("The owner of an action must be staff who can record its steps (not a viewer)."))
    if due_on < today():
        raise InvalidInput(_("The due date is in the past."))
    action = CorrectiveAction(unit_id=unit_id, finding_id=finding_id, audit_id=audit_id,
                              nonconformity_id=nonconformity_id, owner_id=owner.id,
                              title=_text(title, _("A title"), required=True, limit=200), due_on=due_on,
                              raised_by_id=actor.id)
    db.session.add(action)
    db.session.flush()
    return action


def _step(action: CorrectiveAction, actor: User, kind: StepKind, text: str, **fields: Any) -> ActionStep:
    step = ActionStep(unit_id=action.unit_id, action=action, kind=kind.value,
                      text=_text(text, _("The %(step)s", step=kind.label.lower()), required=True), actor_id=actor.id,
                      actor_name=actor.full_name, **fields)
    db.session.add(step)
    db.session.flush()
    return step


def _require_owner_or_manager(action: CorrectiveAction, actor: User) -> None:
    if actor.id != action.owner_id and Role.QUALITY_MANAGER not in roles_in(actor, action.unit_id):
        raise NotPermitted(_("Only the action's owner (or a quality manager) records its steps."))


def record_step(action: CorrectiveAction, actor: User, *, kind: str, text: str, method: str = "",
                planned_due_on: date | None = None, evidence: Evidence | None = None) -> ActionStep:
    """Record the correction, root cause, action plan or implementation of an action."""
    step_kind = _enum(StepKind, kind, _("step"))
    if step_kind not in OWNER_STEPS:
        raise InvalidInput(_("Effectiveness reviews and closure have their own forms."))
    _require_owner_or_manager(action, actor)
    if action.status != ActionStatus.OPEN.value:
        raise StateConflict(_("This action is %(status)s: its steps are recorded while it is open.",
                               status=action.status))
    fields: dict[str, Any] = {}
    if step_kind is StepKind.ROOT_CAUSE:
        fields["method"] = _enum(RootCauseMethod, method, _("root cause method")).value
    if step_kind is StepKind.ACTION_PLAN and planned_due_on is not None:
        if planned_due_on > action.due_on:
            raise InvalidInput(_("The plan must finish by the action's due date."))
        fields["planned_due_on"] = planned_due_on
    if step_kind is StepKind.IMPLEMENTATION:
        _require_steps_before_implementation(action)
        if evidence is not None:
            sniff_evidence(evidence.data, evidence.filename)
            fields.update(file_sha256=object_store().put(evidence.data), filename=evidence.filename[:255])
    step = _step(action, actor, step_kind, text, **fields)
    if step_kind is StepKind.IMPLEMENTATION:
        action.status = ActionStatus.IMPLEMENTED.value
        db.session.flush()
    return step


def _require_steps_before_implementation(action: CorrectiveAction) -> None:
    missing = [k.label.lower() for k in (StepKind.ROOT_CAUSE, StepKind.ACTION_PLAN) if action.latest(k) is None]
    if missing:
        raise StateConflict(_("Record the %(steps)s before the implementation.", steps=_(" and the ").join(missing)))


def _own_action(action: CorrectiveAction, user: User) -> bool:
    implementation = action.latest(StepKind.IMPLEMENTATION)
    return user.id == action.owner_id or (implementation is not None and implementation.actor_id == user.id)


def may_review(action: CorrectiveAction, user: User) -> bool:
    """An auditor or quality manager who neither owns the action nor recorded its implementation."""
    return bool(roles_in(user, action.unit_id) & REVIEWERS) and not _own_action(action, user)


def may_close(action: CorrectiveAction, user: User) -> bool:
    """An auditor or quality manager other than the action's owner."""
    return bool(roles_in(user, action.unit_id) & REVIEWERS) and user.id != action.owner_id


def review_effectiveness(action: CorrectiveAction, reviewer: User, *, effective: bool, text: str) -> ActionStep:
    """Someone other than the owner judges whether the implemented action worked."""
    if _own_action(action, reviewer):
        raise NotPermitted(_("The effectiveness of an action is reviewed by someone other than its owner "
                             "and whoever implemented it."))
    if not roles_in(reviewer, action.unit_id) & REVIEWERS:
        raise NotPermitted(_("Only auditors and quality managers review effectiveness."))
    if action.status != ActionStatus.IMPLEMENTED.value:
        raise StateConflict(_("Only an implemented action can be reviewed for effectiveness."))
    step = _step(action, reviewer, StepKind.EFFECTIVENESS_REVIEW, text, effective=effective)
    # Not effective: back to open, so the owner revisits the root cause and plan.
    action.status = ActionStatus.EFFECTIVE.value if effective else ActionStatus.OPEN.value
    db.session.flush()
    return step


def close_action(action: CorrectiveAction, actor: User, *, text: str) -> ActionStep:
    """Close an action whose latest effectiveness review, by someone other than the owner, found it effective."""
    if not may_close(action, actor):
        raise NotPermitted(_("An action is closed by an auditor or quality manager other than its owner."))
    review = action.latest(StepKind.EFFECTIVENESS_REVIEW)
    if (action.status != ActionStatus.EFFECTIVE.value or review is None or not review.effective
            or review.actor_id == action.owner_id):
        raise StateConflict(_("An action cannot close without an effectiveness review, by someone other than "
                              "its owner, that found it effective."))
    step = _step(action, actor, StepKind.CLOSURE, text)
    action.status = ActionStatus.CLOSED.value
    action.closed_at = utcnow()
    db.session.flush()
    return step


def actions(*, owner_id: int | None = None, status: str = "", overdue: bool = False) -> list[CorrectiveAction]:
    stmt = select(CorrectiveAction).order_by(CorrectiveAction.due_on, CorrectiveAction.id)
    if owner_id is not None:
        stmt = stmt.where(CorrectiveAction.owner_id == owner_id)
    if status:
        stmt = stmt.where(CorrectiveAction.status == _enum(ActionStatus, status, _("status")).value)
    if overdue:
        stmt = stmt.where(CorrectiveAction.status.in_(OPEN_ACTION_STATES), CorrectiveAction.due_on < today())
    return list(db.session.scalars(stmt))


def action_step_file(step_id: int) -> tuple[ActionStep, bytes]:
    step = db.session.get(ActionStep, step_id)
    if step is None or step.file_sha256 is None:
        raise NotFound(_("No such evidence file in this unit."))
    return step, object_store().get(step.file_sha256)


# --- re-audit and progress --------------------------------------------------------------------

def start_reaudit(previous: Audit, actor: User, *, title: str, planned_start: date, planned_end: date,
                  lead_auditor_id: int) -> Audit:
    """A new audit of the same checklist as a reported or closed one, with every result reset."""
    _require_planner(previous, actor)
    _require_status(previous, AuditStatus.REPORTED, AuditStatus.CLOSED, doing=_("be re-audited yet"))
    if planned_end < planned_start:
        raise InvalidInput(_("The planned end is before the planned start."))
    lead = _lead_auditor(lead_auditor_id, previous.unit_id, [item.requirement_id for item in previous.items],
                         auditee=previous.auditee, areas=previous.areas)
    audit = Audit(unit_id=previous.unit_id, title=_text(title, _("A title"), required=True, limit=200),
                  kind=AuditKind.RE_AUDIT.value, body_type=previous.body_type, scope=previous.scope,
                  checklist_template=previous.checklist_template, catalogue_versions=previous.catalogue_versions,
                  planned_start=planned_start, planned_end=planned_end, lead_auditor_id=lead.id,
                  auditee=previous.auditee, areas=previous.areas, previous_audit_id=previous.id,
                  programme_entry_id=previous.programme_entry_id, created_by_id=actor.id)
    db.session.add(audit)
    # The same items as before (not a fresh expansion), so every row compares with its predecessor.
    for item in previous.items:
        db.session.add(ChecklistItem(unit_id=audit.unit_id, audit=audit, position=item.position,
                                     catalogue_id=item.catalogue_id, requirement_id=item.requirement_id,
                                     clause=item.clause, section_id=item.section_id,
                                     section_title=item.section_title, title=item.title, topic=item.topic))
    db.session.flush()
    return audit


@dataclass(frozen=True)
class ProgressRow:
    item: ChecklistItem
    before: str
    after: str

    @property
    def change(self) -> str:
        """improved, worse, same, or unranked (not applicable / not assessed on either side)."""
        if self.before not in RANK or self.after not in RANK:
            return "unranked"
        delta = RANK[self.after] - RANK[self.before]
        return "improved" if delta > 0 else "worse" if delta < 0 else "same"


@dataclass(frozen=True)
class Progress:
    previous: Audit
    rows: list[ProgressRow]

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(row.change for row in self.rows)
        return {key: counted.get(key, 0) for key in ("improved", "same", "worse", "unranked")}


def progress(audit: Audit) -> Progress:
    """Each requirement's result in the previous audit beside its result in this re-audit."""
    if audit.previous_audit is None:
        raise Refused(_("This audit does not follow a previous audit."))
    before_items = {item.requirement_id: item.id for item in audit.previous_audit.items}
    before, after = current_results(audit.previous_audit), current_results(audit)
    rows = [ProgressRow(item, result_of(before_items.get(item.requirement_id, 0), before),
                        result_of(item.id, after)) for item in audit.items]
    return Progress(audit.previous_audit, rows)


# --- dashboard --------------------------------------------------------------------------------

def dashboard_panels(user: User, unit_id: int | None, roles: frozenset[Role]) -> list[Any]:
    """Overdue actions (planners), the user's own open actions, audits in progress."""
    from qms.main.services import Panel

    if unit_id is None or not roles & READERS:
        return []
    panels = []
    mine = [a for a in actions(owner_id=user.id) if a.status in OPEN_ACTION_STATES]
    panels.append(Panel(_("My corrective actions"), "audits/_panel_my_actions.html",
                        {"actions": mine, "today": today()}, order=30))
    if roles & PLANNERS:
        panels.append(Panel(_("Overdue corrective actions"), "audits/_panel_overdue.html",
                            {"actions": actions(overdue=True), "today": today()}, order=31))
        panels.append(Panel(_("Audits in progress"), "audits/_panel_in_progress.html",
                            {"audits": audits(status=AuditStatus.IN_PROGRESS.value)}, order=32))
    return panels


# --- choices for forms ------------------------------------------------------------------------

def effective_revisions(unit_id: int) -> list[Any]:
    """The unit's SOP revisions in force, to link as evidence of a result."""
    from qms.documents.models import Revision, Sop

    stmt = (select(Revision).join(Sop, Sop.current_revision_id == Revision.id)
            .where(Sop.unit_id == unit_id).order_by(Sop.code))
    return list(db.session.scalars(stmt))


def checklist_templates() -> list[tuple[str, str]]:
    """(id, title) of the checklist files an audit can start from, titled in the reader's language."""
    return [(name, _checklist_title(name, load_checklist(name).title)) for name in content.checklist_names()]


def _checklist_title(name: str, english: str) -> str:
    # Titles come with the content (audits/translations/<locale>/checklists.yaml), like the catalogues';
    # the pseudo-locale marks the English so the page walk sees they went through here.
    language = current_language()
    if language == PSEUDO:
        return pseudo_text(english)
    translated = load_checklist_titles(language) if language != SOURCE else None
    return translated.titles.get(name, english) if translated else english
