"""Fixtures shared by the tests of the qms domains: one unit's staff, and SOP revisions put in force.

Documents and audits tests use the same unit and people, so a fixture changed here changes for
both (a unit code, a username) and neither keeps its own copy.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from qms.auth.models import Role, Unit, User
from qms.documents import services as documents
from qms.documents.models import Revision
from tests.conftest import PASSWORD


@dataclass
class Staff:
    unit: Unit
    qm: User
    lead: User
    auditor: User
    examiner: User
    csi: User


@pytest.fixture()
def staff(make_unit, make_user) -> Staff:
    """Unit FC: a quality manager, two auditors (the lead and auditor2), an examiner and a CSI officer."""
    unit = make_unit(code="FC")
    return Staff(unit, make_user(unit, Role.QUALITY_MANAGER, username="qm"),
                 make_user(unit, Role.AUDITOR, username="lead"),
                 make_user(unit, Role.AUDITOR, username="auditor2"),
                 make_user(unit, Role.EXAMINER, username="examiner"),
                 make_user(unit, Role.CSI_OFFICER, username="csi"))


def make_effective(staff: Staff, rev: Revision) -> Revision:
    """Submit (by its author) and approve (by the QM, or the examiner when the QM wrote it): in force today."""
    documents.submit(rev, rev.author)
    documents.approve(rev, staff.examiner if rev.author_id == staff.qm.id else staff.qm, password=PASSWORD)
    return rev
