"""Factories for the documents tests: a unit with a quality manager, an examiner and a CSI officer."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from qms.auth.models import Role, Unit, User
from qms.documents import services
from qms.documents.models import Revision, Sop

CONTENT = "# CSI-SOP-900 Test procedure\n\n## 1. Purpose\n\nTo test.\n"


@dataclass
class Staff:
    unit: Unit
    qm: User
    examiner: User
    csi: User


@pytest.fixture(autouse=True)
def _fresh_request_outcome(app):  # type: ignore[no-untyped-def]
    """Each request starts unfailed, as in production.

    The test app context outlives requests, so `g.qms_failed` set by one refused request would
    make every later request of the test roll back (reported to the foundation owner).
    """
    from flask import g

    def forget() -> None:
        g.pop("qms_failed", None)

    app.before_request_funcs.setdefault(None, []).insert(0, forget)


@pytest.fixture()
def staff(make_unit, make_user) -> Staff:
    unit = make_unit(code="FC-DOC")
    return Staff(unit, make_user(unit, Role.QUALITY_MANAGER, username="qm"),
                 make_user(unit, Role.EXAMINER, username="examiner"),
                 make_user(unit, Role.CSI_OFFICER, username="csi"))


@pytest.fixture()
def draft(staff: Staff, db_session) -> Revision:
    """Revision 1 of a new SOP, written by the quality manager, still a draft."""
    sop = services.create_sop(unit_id=staff.unit.id, code="CSI-SOP-900", title="Test procedure",
                              discipline="scene examination", author=staff.qm, owner_id=staff.qm.id,
                              applies_to=["csi_officer"], content_markdown=CONTENT,
                              change_summary="First issue.", requirement_ids=["17020:8.3.1"])
    db_session.commit()
    return sop.revisions[0]


def make_effective(staff: Staff, rev: Revision) -> Revision:
    """Submit (by the QM) and approve (by the examiner, today): the revision takes effect."""
    from tests.conftest import PASSWORD

    services.submit(rev, staff.qm)
    services.approve(rev, staff.examiner, password=PASSWORD)
    return rev


def sop_of(rev: Revision) -> Sop:
    return rev.sop
