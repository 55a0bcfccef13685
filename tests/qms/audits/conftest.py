"""Factories for the audits tests: a unit with a quality manager, two auditors and an examiner."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from qms.audits import services
from qms.audits.models import Audit, ChecklistItem
from qms.auth.models import Role, Unit, User

CYRILLIC = "Доказ: записник о контроли опреме потписан"


@dataclass
class Staff:
    unit: Unit
    qm: User
    lead: User
    auditor: User
    examiner: User
    csi: User


@pytest.fixture(autouse=True)
def _fresh_request_outcome(app):  # type: ignore[no-untyped-def]
    """Each request starts unfailed, as in production (the test app context outlives requests)."""
    from flask import g

    def forget() -> None:
        g.pop("qms_failed", None)

    app.before_request_funcs.setdefault(None, []).insert(0, forget)


@pytest.fixture()
def staff(make_unit, make_user) -> Staff:
    unit = make_unit(code="FC-AUD")
    return Staff(unit, make_user(unit, Role.QUALITY_MANAGER, username="qm"),
                 make_user(unit, Role.AUDITOR, username="lead"),
                 make_user(unit, Role.AUDITOR, username="auditor2"),
                 make_user(unit, Role.EXAMINER, username="examiner"),
                 make_user(unit, Role.CSI_OFFICER, username="csi"))


def plan(staff: Staff, **changes: object) -> services.AuditPlan:
    """An internal audit of clauses 6.1 and 7.1 led by the lead auditor, starting today."""
    fields: dict[str, object] = dict(title="Personnel and methods", planned_start=date.today(),
                                     planned_end=date.today() + timedelta(days=2), lead_auditor_id=staff.lead.id,
                                     clauses=("17020:6.1", "17020:7.1"), auditee="Scene unit")
    fields.update(changes)
    return services.AuditPlan(**fields)  # type: ignore[arg-type]


@pytest.fixture()
def audit(staff: Staff, db_session) -> Audit:
    """A planned audit with auditor2 on the team."""
    made = services.create_audit(plan(staff, team=((staff.auditor.id, "auditor"),)), unit_id=staff.unit.id,
                                 actor=staff.qm)
    db_session.commit()
    return made


@pytest.fixture()
def running(audit: Audit, staff: Staff, db_session) -> Audit:
    services.start_audit(audit, staff.lead)
    db_session.commit()
    return audit


def item(audit: Audit, requirement_id: str) -> ChecklistItem:
    return next(i for i in audit.items if i.requirement_id == requirement_id)


def effective_sop(staff: Staff, db_session, owner: User, requirement_ids: list[str]):  # type: ignore[no-untyped-def]
    """An SOP owned and written by `owner`, in force, claiming to meet these requirements."""
    from qms.documents import services as documents
    from tests.conftest import PASSWORD

    sop = documents.create_sop(unit_id=staff.unit.id, code="CSI-SOP-301", title="Competence", author=owner,
                               discipline="quality management", owner_id=owner.id, applies_to=[],
                               content_markdown="# Competence\n", change_summary="First.",
                               requirement_ids=requirement_ids)
    documents.submit(sop.revisions[0], owner)
    documents.approve(sop.revisions[0], staff.qm if owner is not staff.qm else staff.examiner, password=PASSWORD)
    db_session.flush()
    return sop
