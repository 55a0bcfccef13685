"""The quality manual, generated from the unit's own records (ISO/IEC 17020 8.2).

The structure follows the standard clause by clause, as the region's accreditation bodies expect:
for each clause, the unit's policy statement (written once, versioned), the SOPs in force that cover
it, and the records that evidence it; a clause with neither an SOP nor a record is marked as a gap.
Organisation and responsibilities come from the roles and the authorisations. The PDF becomes a
revision of the unit's quality-manual document (`QM-MANUAL`) and goes through approval like any SOP.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, select

import audits as content
from qms.auth.models import Membership, Role, Unit, User
from qms.auth.services import roles_in
from qms.db import today, utcnow
from qms.documents import services as documents
from qms.documents.models import Revision, Sop
from qms.errors import NotFound, NotPermitted
from qms.extensions import db
from qms.fields import text
from qms.i18n.requirements import catalogues
from qms.people import services as people
from qms.quality.manual_models import PolicyStatement

CATALOGUE = "iso17020-2012"
MANUAL_CODE = "QM-MANUAL"
MANAGERS = frozenset({Role.QUALITY_MANAGER})


def write_policy(unit_id: int, actor: User, *, requirement_id: str, statement: str) -> PolicyStatement:
    """A new version of the unit's policy for a clause (the earlier versions stay)."""
    if not roles_in(actor, unit_id) & MANAGERS:
        raise NotPermitted(_("Only a quality manager writes the quality manual's policy statements."))
    clause = _clause(requirement_id)
    row = PolicyStatement(unit_id=unit_id, requirement_id=clause.id, written_by_id=actor.id,
                          text=text(statement, _("The policy statement"), required=True, limit=20000))
    db.session.add(row)
    db.session.flush()
    return row


def _clause(requirement_id: str):  # type: ignore[no-untyped-def]
    catalogue = catalogues()[CATALOGUE]
    try:
        return catalogue.get(requirement_id)
    except content.UnknownRequirementError:
        raise NotFound(_("No clause %(id)s in ISO/IEC 17020.", id=requirement_id[:40])) from None


def policies(unit_id: int) -> dict[str, PolicyStatement]:
    """The current policy statement per clause (the latest version)."""
    latest: dict[str, PolicyStatement] = {}
    for row in db.session.scalars(select(PolicyStatement).where(PolicyStatement.unit_id == unit_id)
                                  .order_by(PolicyStatement.id)):
        latest[row.requirement_id] = row
    return latest


@dataclass
class ClauseEntry:
    id: str
    clause: str
    title: str
    depth: int
    assessable: bool
    policy: PolicyStatement | None
    sops: list[tuple[str, str, int]] = field(default_factory=list)  # (code, title, revision number)
    records: list[str] = field(default_factory=list)  # the kinds of record that evidence it

    @property
    def gap(self) -> bool:
        return self.assessable and not self.sops and not self.records


@dataclass
class Manual:
    unit: Unit
    generated_at: object
    clauses: list[ClauseEntry]
    organisation: list[tuple[str, list[str]]]  # role label, people
    authorisations: list[tuple[str, list[str]]]  # scope, people currently authorised

    @property
    def gaps(self) -> list[ClauseEntry]:
        return [entry for entry in self.clauses if entry.gap]


def build(unit: Unit) -> Manual:
    """The manual's content from the records, in catalogue order."""
    catalogue = catalogues()[CATALOGUE]
    covered = _sops_by_requirement(unit.id)
    evidence = _records_by_clause(unit.id)
    current = policies(unit.id)
    entries = []
    for requirement in catalogue.requirements:
        entries.append(ClauseEntry(
            requirement.id, requirement.clause, requirement.title, requirement.clause.count("."),
            requirement.assessable, current.get(requirement.id), covered.get(requirement.id, []),
            [label for prefix, label in evidence if requirement.clause.startswith(prefix)]))
    return Manual(unit, utcnow(), entries, _organisation(unit.id), _authorised(unit.id))


def _sops_by_requirement(unit_id: int) -> dict[str, list[tuple[str, str, int]]]:
    stmt = (select(Sop.code, Sop.title, Revision.number, Revision.requirement_ids)
            .join(Revision, Revision.id == Sop.current_revision_id)
            .where(Sop.unit_id == unit_id, Sop.code != MANUAL_CODE).order_by(Sop.code))
    found: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for code, title, number, requirement_ids in db.session.execute(stmt):
        for requirement_id in requirement_ids or ():
            found[requirement_id].append((code, title, number))
    return found


def _records_by_clause(unit_id: int) -> list[tuple[str, str]]:
    """(clause prefix, what the system holds) for the records the unit keeps in CSI-QMS."""
    from qms.audits.models import Audit
    from qms.equipment.models import EquipmentRecord
    from qms.evidence.models import CustodyEvent
    from qms.people.models import AuthorisationEvent, Declaration, TrainingRecord, Witnessing
    from qms.quality.models import Nonconformity

    def count(model: type) -> int:
        return db.session.scalar(select(func.count(model.id)).where(model.unit_id == unit_id)) or 0

    held = [("4.1", Declaration, _("conflict-of-interest declarations")),
            ("6.1", TrainingRecord, _("training records")), ("6.1", Witnessing, _("witnessed examinations")),
            ("6.1", AuthorisationEvent, _("signed authorisations")),
            ("6.2", EquipmentRecord, _("calibration, check and maintenance records")),
            ("7.1", CustodyEvent, _("custody records (chain of custody)")),
            ("7.3", CustodyEvent, _("inspection records")),
            ("8.6", Audit, _("internal audits")), ("8.7", Nonconformity, _("nonconformities and corrective actions"))]
    return [(prefix, f"{label} ({total})") for prefix, model, label in held if (total := count(model))]


def _organisation(unit_id: int) -> list[tuple[str, list[str]]]:
    by_role: dict[str, list[str]] = defaultdict(list)
    stmt = (select(Membership.role, User.full_name).join(User, User.id == Membership.user_id)
            .where(Membership.unit_id == unit_id, User.active.is_(True)).order_by(User.full_name))
    for role, name in db.session.execute(stmt):
        by_role[role].append(name)
    return [(Role(role).label, names) for role, names in sorted(by_role.items())]


def _authorised(unit_id: int) -> list[tuple[str, list[str]]]:
    grid = people.matrix(unit_id)
    return [(people.scope_name(found), [person.full_name for person in grid.people
                                        if grid.cells[(person.id, found.id)].current])
            for found in grid.scopes]


def manual_pdf(unit: Unit) -> bytes:
    from qms.pdf import render_pdf

    return render_pdf("quality/manual_pdf.html", manual=build(unit), today=today())


def issue_revision(unit: Unit, actor: User, *, change_summary: str) -> Revision:
    """The generated manual as the draft of the unit's quality-manual document, for review and approval."""
    if not roles_in(actor, unit.id) & MANAGERS:
        raise NotPermitted(_("Only a quality manager issues the quality manual."))
    sop = db.session.scalar(select(Sop).where(Sop.unit_id == unit.id, Sop.code == MANUAL_CODE))
    if sop is None:
        sop = documents.create_sop(unit_id=unit.id, code=MANUAL_CODE, title=_("Quality manual"),
                                   discipline="quality management", author=actor, owner_id=actor.id,
                                   review_months=12, applies_to=[r.value for r in Role if r is not Role.ADMIN],
                                   change_summary=change_summary or _("First issue."))
        draft = sop.revisions[0]
    else:
        draft = documents.open_revision(sop) or documents.new_draft(sop, actor)
    # No requirement ids: the manual refers to the SOPs; claiming every clause would hide the gaps it shows
    # and make its owner dependent on every audit's scope.
    return documents.attach_file(draft, actor, manual_pdf(unit), f"{MANUAL_CODE}.pdf",
                                 change_summary=change_summary or _("Regenerated from the records."),
                                 requirement_ids=[])
