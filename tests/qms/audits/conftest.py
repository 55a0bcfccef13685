"""Fixtures for the audits tests: a planned and a running audit of the shared unit (tests/qms/conftest.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from qms.audits import services
from qms.audits.models import Audit, ChecklistItem
from qms.auth.models import User
from qms.db import today
from qms.documents import services as documents
from qms.documents.models import Sop
from tests.qms.conftest import Staff, make_effective

CYRILLIC = "Доказ: записник о контроли опреме потписан"


def plan(staff: Staff, **changes: object) -> services.AuditPlan:
    """An internal audit of clauses 6.1 and 7.1 led by the lead auditor, starting today."""
    fields: dict[str, object] = dict(title="Personnel and methods", planned_start=today(),
                                     planned_end=today() + timedelta(days=2), lead_auditor_id=staff.lead.id,
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


def effective_sop(staff: Staff, db_session, owner: User,  # type: ignore[no-untyped-def]
                  requirement_ids: list[str]) -> Sop:
    """An SOP owned and written by `owner`, in force, claiming to meet these requirements."""
    sop = documents.create_sop(unit_id=staff.unit.id, code="CSI-SOP-301", title="Competence", author=owner,
                               discipline="quality management", owner_id=owner.id, applies_to=[],
                               content_markdown="# Competence\n", change_summary="First.",
                               requirement_ids=requirement_ids)
    make_effective(staff, sop.revisions[0])
    db_session.flush()
    return sop
